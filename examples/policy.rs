//! The policy tool: check and format zt policies (docs/policy.md, section 12).
//!
//! ```text
//! cargo run --example policy -- check policy.zt
//! cargo run --example policy -- fmt policy.zt --check
//! cargo run --example policy -- fmt policy.zt --to json
//! ```
//!
//! `lint`, `test` and `explain` come with the policy engine.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use serde_json::json;
use zt_core::policy::{
    Diagnostic, Policy, check, from_json, parse, print, push_limited, render_all, to_json,
};

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(
    name = "policy",
    version,
    about = "Check and format zt policies (docs/policy.md)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Parse and type-check each file; print diagnostics; exit 1 on errors.
    Check {
        /// Policy files (`.json` files are read as the JSON form).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Print one JSON array of diagnostics instead.
        #[arg(long)]
        json: bool,
    },
    /// Print the canonical form of each file.
    Fmt {
        /// Policy files (`.json` files are read as the JSON form).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Rewrite the files in place.
        #[arg(long, conflicts_with = "check")]
        write: bool,
        /// List files that are not in canonical form; exit 1 if any.
        #[arg(long)]
        check: bool,
        /// Output form.
        #[arg(long, value_enum)]
        to: Option<Form>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Form {
    /// The text form.
    Zt,
    /// The JSON form.
    Json,
}

/// A policy read from a file, with what was wrong with it.
struct Loaded {
    source: String,
    policy: Policy,
    diagnostics: Vec<Diagnostic>,
    json_error: Option<String>,
    is_json: bool,
}

fn load(path: &Path) -> Result<Loaded, String> {
    let source = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let is_json = path.extension().is_some_and(|ext| ext == "json");
    if is_json {
        return Ok(match from_json(&source) {
            Ok(policy) => {
                let diagnostics = check(&policy, "");
                Loaded {
                    source,
                    policy,
                    diagnostics,
                    json_error: None,
                    is_json,
                }
            }
            Err(error) => Loaded {
                source,
                policy: Policy::default(),
                diagnostics: Vec::new(),
                json_error: Some(format!(
                    "error[syntax]: {}\n --> {}#{}",
                    error.message,
                    path.display(),
                    error.pointer
                )),
                is_json,
            },
        });
    }
    let (policy, mut diagnostics) = parse(&source);
    for diagnostic in check(&policy, &source) {
        push_limited(&mut diagnostics, diagnostic);
    }
    diagnostics.sort_by_key(|d| (d.span.start, d.span.end));
    Ok(Loaded {
        source,
        policy,
        diagnostics,
        json_error: None,
        is_json,
    })
}

/// Loads `path`, reporting an I/O error on stderr.
fn load_or_report(path: &Path) -> Option<Loaded> {
    load(path).map_err(|error| eprintln!("error: {error}")).ok()
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Check { files, json } => run_check(&files, json),
        Command::Fmt {
            files,
            write,
            check,
            to,
        } => run_fmt(&files, write, check, to),
    }
}

fn run_check(files: &[PathBuf], json: bool) -> ExitCode {
    let mut failed = false;
    let mut all = Vec::new();
    for path in files {
        let Some(loaded) = load_or_report(path) else {
            return ExitCode::from(2);
        };
        let name = path.display().to_string();
        failed |= !loaded.diagnostics.is_empty() || loaded.json_error.is_some();
        if json {
            for d in &loaded.diagnostics {
                let (line, column) = d.line_column(&loaded.source);
                let end = Diagnostic {
                    span: zt_core::policy::Span::new(d.span.end, d.span.end),
                    ..d.clone()
                };
                let (end_line, end_column) = end.line_column(&loaded.source);
                all.push(json!({
                    "file": name, "severity": d.severity.as_str(), "code": d.code, "message": d.message,
                    "line": line, "column": column, "end_line": end_line, "end_column": end_column,
                    "hint": d.hint,
                }));
            }
            if let Some(error) = &loaded.json_error {
                all.push(
                    json!({"file": name, "severity": "error", "code": "syntax", "message": error}),
                );
            }
        } else if let Some(error) = &loaded.json_error {
            println!("{error}\n\n{name}: 1 error");
        } else if loaded.is_json && !loaded.diagnostics.is_empty() {
            for d in &loaded.diagnostics {
                println!("error[{}]: {}\n --> {name}", d.code, d.message);
                if let Some(hint) = &d.hint {
                    println!("  = hint: {hint}");
                }
                println!();
            }
            println!("{name}: {} errors", loaded.diagnostics.len());
        } else {
            print!(
                "{}",
                render_all(
                    &name,
                    &loaded.source,
                    &loaded.diagnostics,
                    loaded.policy.rules.len()
                )
            );
        }
    }
    if json {
        println!("{}", serde_json::Value::Array(all));
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn run_fmt(files: &[PathBuf], write: bool, check_only: bool, to: Option<Form>) -> ExitCode {
    let mut unformatted = false;
    for path in files {
        let Some(loaded) = load_or_report(path) else {
            return ExitCode::from(2);
        };
        if loaded.json_error.is_some() || !loaded.diagnostics.is_empty() {
            eprintln!(
                "error: {} has errors; run `policy check` first",
                path.display()
            );
            return ExitCode::from(1);
        }
        let form = to.unwrap_or(if loaded.is_json { Form::Json } else { Form::Zt });
        let formatted = match form {
            Form::Zt => print(&loaded.policy),
            Form::Json => match serde_json::to_string_pretty(&to_json(&loaded.policy)) {
                Ok(text) => text + "\n",
                Err(error) => {
                    eprintln!("error: {error}");
                    return ExitCode::from(2);
                }
            },
        };
        if check_only {
            if formatted != loaded.source {
                println!("{}", path.display());
                unformatted = true;
            }
        } else if write {
            if formatted != loaded.source
                && let Err(error) = std::fs::write(path, &formatted)
            {
                eprintln!("error: {}: {error}", path.display());
                return ExitCode::from(2);
            }
        } else {
            print!("{formatted}");
        }
    }
    if unformatted {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
