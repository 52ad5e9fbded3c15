//! The policy tool: check, lint, test, explain and format zt policies
//! (docs/policy.md, section 12).
//!
//! ```text
//! cargo run --example policy -- check policy.zt
//! cargo run --example policy -- lint policy.zt --deny-warnings
//! cargo run --example policy -- test policy.zt --cases cases.json
//! cargo run --example policy -- explain policy.zt --request '{"request": {"path": "/"}}'
//! cargo run --example policy -- fmt policy.zt --check
//! cargo run --example policy -- fmt policy.zt --to json
//! ```

/// Writes to standard output like `print!`; a reader that went away (`... | head`) ends
/// the program quietly instead of panicking, and other write errors are reported.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(error) = write!(std::io::stdout(), $($arg)*) {
            if error.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
            eprintln!("error: cannot write to standard output: {error}");
            std::process::exit(2);
        }
    }};
}

/// [`out!`] with a newline.
macro_rules! outln {
    ($($arg:tt)*) => {
        out!("{}\n", format_args!($($arg)*))
    };
}

mod decide;
mod load;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use serde_json::{Value, json};
use zt_core::policy::{Diagnostic, Severity, lint, print, push_limited, to_json};

use crate::load::{Loaded, load_or_report};

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(
    name = "policy",
    version,
    about = "Check, lint, test, explain and format zt policies (docs/policy.md)"
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
    /// `check`, then warn about rules that are shadowed, never match, need no identity,
    /// have expired, or skip absent values (docs/policy.md, section 12.1).
    Lint {
        /// Policy files (`.json` files are read as the JSON form).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The instant for `expired` (RFC 3339; default: now).
        #[arg(long)]
        now: Option<jiff::Timestamp>,
        /// Exit 1 on warnings too.
        #[arg(long)]
        deny_warnings: bool,
        /// Print one JSON array of diagnostics instead.
        #[arg(long)]
        json: bool,
    },
    /// Decide every case of a cases file and print a table of results; exit 1 on failures.
    Test {
        /// The policy file.
        file: PathBuf,
        /// The cases file (a JSON array of request documents with `name` and `expect`).
        #[arg(long)]
        cases: PathBuf,
        /// Print the results as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Decide one request and show why, rule by rule.
    Explain {
        /// The policy file.
        file: PathBuf,
        /// The request document: a file, `-` for stdin, or inline JSON starting with `{`.
        #[arg(long)]
        request: String,
        /// Print the decision object with its trace as JSON.
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

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Check { files, json } => run_check(&files, None, false, json),
        Command::Lint {
            files,
            now,
            deny_warnings,
            json,
        } => run_check(
            &files,
            Some(now.unwrap_or_else(jiff::Timestamp::now)),
            deny_warnings,
            json,
        ),
        Command::Test { file, cases, json } => decide::run_test(&file, &cases, json),
        Command::Explain {
            file,
            request,
            json,
        } => decide::run_explain(&file, &request, json),
        Command::Fmt {
            files,
            write,
            check,
            to,
        } => run_fmt(&files, write, check, to),
    }
}

/// `check`, and with `lint_at` also `lint`.
fn run_check(
    files: &[PathBuf],
    lint_at: Option<jiff::Timestamp>,
    deny_warnings: bool,
    json: bool,
) -> ExitCode {
    let mut failed = false;
    let mut all = Vec::new();
    for path in files {
        let Some(mut loaded) = load_or_report(path) else {
            return ExitCode::from(2);
        };
        failed |= loaded.has_errors();
        if let Some(now) = lint_at.filter(|_| !loaded.has_errors()) {
            for warning in lint(&loaded.policy, now) {
                push_limited(&mut loaded.diagnostics, warning);
            }
            failed |= deny_warnings
                && loaded
                    .diagnostics
                    .iter()
                    .any(|d| d.severity == Severity::Warning);
        }
        if json {
            all.extend(diagnostics_json(path, &loaded));
        } else {
            out!("{}", loaded.report(path));
        }
    }
    if json {
        outln!("{}", Value::Array(all));
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn diagnostics_json(path: &Path, loaded: &Loaded) -> Vec<Value> {
    let name = path.display().to_string();
    let mut out: Vec<Value> = loaded
        .diagnostics
        .iter()
        .map(|d| {
            let (line, column) = d.line_column(&loaded.source);
            let end = Diagnostic {
                span: zt_core::policy::Span::new(d.span.end, d.span.end),
                ..d.clone()
            };
            let (end_line, end_column) = end.line_column(&loaded.source);
            json!({
                "file": name, "severity": d.severity.as_str(), "code": d.code, "message": d.message,
                "line": line, "column": column, "end_line": end_line, "end_column": end_column,
                "hint": d.hint,
            })
        })
        .collect();
    if let Some(error) = &loaded.json_error {
        out.push(json!({"file": name, "severity": "error", "code": "syntax", "message": error}));
    }
    out
}

fn run_fmt(files: &[PathBuf], write: bool, check_only: bool, to: Option<Form>) -> ExitCode {
    let mut unformatted = false;
    for path in files {
        let Some(loaded) = load_or_report(path) else {
            return ExitCode::from(2);
        };
        if loaded.has_errors() {
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
                outln!("{}", path.display());
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
            out!("{formatted}");
        }
    }
    if unformatted {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
