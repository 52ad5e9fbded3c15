//! Reading policy files in either form, with their diagnostics.

use std::path::Path;

use zt_core::policy::{Diagnostic, Policy, check, from_json, parse, push_limited, render_all};

/// A policy read from a file, with what was wrong with it.
pub(crate) struct Loaded {
    pub(crate) source: String,
    pub(crate) policy: Policy,
    pub(crate) diagnostics: Vec<Diagnostic>,
    pub(crate) json_error: Option<String>,
    pub(crate) is_json: bool,
}

impl Loaded {
    /// Whether the policy has errors (and cannot be compiled).
    pub(crate) fn has_errors(&self) -> bool {
        self.json_error.is_some() || !self.diagnostics.is_empty()
    }

    /// The diagnostics for a terminal, with the summary line.
    pub(crate) fn report(&self, path: &Path) -> String {
        let name = path.display().to_string();
        if let Some(error) = &self.json_error {
            return format!("{error}\n\n{name}: 1 error\n");
        }
        if self.is_json && !self.diagnostics.is_empty() {
            let mut out = String::new();
            for d in &self.diagnostics {
                out.push_str(&format!(
                    "{}[{}]: {}\n --> {name}\n",
                    d.severity.as_str(),
                    d.code,
                    d.message
                ));
                if let Some(hint) = &d.hint {
                    out.push_str(&format!("  = hint: {hint}\n"));
                }
                out.push('\n');
            }
            let errors = self
                .diagnostics
                .iter()
                .filter(|d| d.severity == zt_core::policy::Severity::Error)
                .count();
            let warnings = self.diagnostics.len() - errors;
            out.push_str(&format!("{name}: {errors} errors, {warnings} warnings\n"));
            return out;
        }
        render_all(
            &name,
            &self.source,
            &self.diagnostics,
            self.policy.rules.len(),
        )
    }
}

/// Reads and checks one policy file (`.json` as the JSON form).
pub(crate) fn load(path: &Path) -> Result<Loaded, String> {
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
pub(crate) fn load_or_report(path: &Path) -> Option<Loaded> {
    load(path).map_err(|error| eprintln!("error: {error}")).ok()
}
