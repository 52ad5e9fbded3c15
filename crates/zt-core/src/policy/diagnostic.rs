//! Diagnostics with spans, rendered as docs/policy.md section 9 specifies.

use std::fmt::Write as _;

use super::Span;

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// The policy cannot be used.
    Error,
    /// The policy works but is probably not what was meant (lint).
    Warning,
    /// Information, e.g. that further diagnostics were suppressed.
    Note,
}

impl Severity {
    /// The severity as printed: `error`, `warning` or `note`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warning => "warning",
            Self::Note => "note",
        }
    }
}

/// A problem found in a policy, with where it is and, often, how to fix it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The stable code, e.g. `syntax`, `unknown-attribute`.
    pub code: &'static str,
    /// What is wrong.
    pub message: String,
    /// Where.
    pub span: Span,
    /// How to fix it.
    pub hint: Option<String>,
}

impl Diagnostic {
    /// An error.
    pub fn error(code: &'static str, span: Span, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            code,
            message: message.into(),
            span,
            hint: None,
        }
    }

    /// A warning (lint).
    pub fn warning(code: &'static str, span: Span, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(code, span, message)
        }
    }

    /// Adds a hint.
    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The 1-based line and column (in Unicode scalar values) of the span's start.
    pub fn line_column(&self, source: &str) -> (usize, usize) {
        line_column(source, self.span.start)
    }

    /// Renders the diagnostic in the terminal format of docs/policy.md section 9.
    pub fn render(&self, file: &str, source: &str) -> String {
        if self.severity == Severity::Note {
            return format!("note: {}", self.message);
        }
        let (line, column) = self.line_column(source);
        let number = line.to_string();
        let pad = " ".repeat(number.len());
        let line_start = source[..self.span.start.min(source.len())]
            .rfind('\n')
            .map_or(0, |i| i + 1);
        let line_end = source[line_start..]
            .find('\n')
            .map_or(source.len(), |i| line_start + i);
        let text = &source[line_start..line_end];
        let before = &source[line_start..self.span.start.min(line_end).max(line_start)];
        let indent: String = before
            .chars()
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let span_end = self.span.end.min(line_end).max(self.span.start);
        let width = source
            .get(self.span.start.min(line_end)..span_end)
            .map_or(0, |s| s.chars().count())
            .max(1);

        let mut out = String::new();
        let _ = writeln!(
            out,
            "{}[{}]: {}",
            self.severity.as_str(),
            self.code,
            self.message
        );
        let _ = writeln!(out, "{pad}--> {file}:{line}:{column}");
        let _ = writeln!(out, "{pad} |");
        let _ = writeln!(out, "{number} | {text}");
        let _ = write!(out, "{pad} | {indent}{}", "^".repeat(width));
        if let Some(hint) = &self.hint {
            let _ = write!(out, "\n{pad} = hint: {hint}");
        }
        out
    }
}

/// Diagnostics kept per policy; a note after them says that further ones were suppressed.
pub const MAX_DIAGNOSTICS: usize = 100;

/// Adds `diagnostic` unless 100 are already there; the first one over the limit becomes
/// the note `further diagnostics suppressed`, later ones are dropped.
pub fn push_limited(diagnostics: &mut Vec<Diagnostic>, diagnostic: Diagnostic) {
    match diagnostics.len() {
        n if n < MAX_DIAGNOSTICS => diagnostics.push(diagnostic),
        MAX_DIAGNOSTICS => diagnostics.push(Diagnostic {
            severity: Severity::Note,
            code: "limit",
            message: "further diagnostics suppressed".into(),
            // Where the first suppressed diagnostic was; notes are printed last anyway.
            span: diagnostic.span,
            hint: None,
        }),
        _ => {}
    }
}

/// 1-based line and column (in Unicode scalar values) of byte `offset`.
pub(crate) fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = source.get(..offset).unwrap_or(source);
    let line = before.bytes().filter(|b| *b == b'\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Renders all diagnostics and the summary line (`{file}: N errors` or `ok (R rules)`).
pub fn render_all(file: &str, source: &str, diagnostics: &[Diagnostic], rules: usize) -> String {
    let mut sorted: Vec<&Diagnostic> = diagnostics.iter().collect();
    sorted.sort_by_key(|d| (d.severity == Severity::Note, d.span.start, d.span.end));
    let mut out = String::new();
    for diagnostic in &sorted {
        out.push_str(&diagnostic.render(file, source));
        out.push_str("\n\n");
    }
    let errors = sorted
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = sorted
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .count();
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    if errors + warnings == 0 {
        let _ = writeln!(out, "{file}: ok ({})", plural(rules, "rule"));
    } else if warnings == 0 {
        let _ = writeln!(out, "{file}: {}", plural(errors, "error"));
    } else {
        let _ = writeln!(
            out,
            "{file}: {}, {}",
            plural(errors, "error"),
            plural(warnings, "warning")
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_documented_format() {
        let source = "allow \"x\"\n  when identity.group has \"e\"\n";
        let start = source.find("identity.group").unwrap();
        let diagnostic = Diagnostic::error(
            "unknown-attribute",
            Span::new(start, start + 14),
            "unknown attribute `identity.group`",
        )
        .with_hint("did you mean `identity.groups`?");
        assert_eq!(
            diagnostic.render("policy.zt", source),
            "error[unknown-attribute]: unknown attribute `identity.group`\n --> policy.zt:2:8\n  |\n2 |   when identity.group has \"e\"\n  |        ^^^^^^^^^^^^^^\n  = hint: did you mean `identity.groups`?"
        );
    }
}
