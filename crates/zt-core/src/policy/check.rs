//! Checking a parsed policy against the schema (docs/policy.md, sections 4, 8 and 9).
//!
//! So far: every attribute exists and is allowed, bare attributes are booleans, rule ids
//! are well formed and unique, reasons are well formed. Operator and literal checks follow.

use std::collections::HashMap;

use super::ast::{Condition, Policy, Rule};
use super::diagnostic::{line_column, push_limited};
use super::schema::{AttrType, resolve};
use super::{Diagnostic, Span};

/// Longest rule id, in bytes.
const MAX_ID: usize = 128;
/// Longest reason, in bytes.
const MAX_REASON: usize = 1024;

/// Checks `policy`, parsed from `source` (empty for the JSON form), and returns every
/// problem found.
pub fn check(policy: &Policy, source: &str) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    check_unique_ids(policy, source, &mut diagnostics);
    for rule in &policy.rules {
        check_id(rule, &mut diagnostics);
        if let Some(reason) = &rule.reason {
            check_reason(reason, rule.clause_spans[2], &mut diagnostics);
        }
        check_condition(&rule.when, &mut diagnostics);
    }
    diagnostics
}

/// Every rule id once, counting rules whose header parsed but whose body did not.
fn check_unique_ids(policy: &Policy, source: &str, diagnostics: &mut Vec<Diagnostic>) {
    let mut ids: Vec<(&str, Span)> = policy
        .rules
        .iter()
        .map(|rule| (rule.id.as_str(), rule.id_span))
        .chain(
            policy
                .failed_headers
                .iter()
                .map(|(id, span)| (id.as_str(), *span)),
        )
        .collect();
    if !source.is_empty() {
        ids.sort_by_key(|(_, span)| span.start);
    }
    let mut first_use: HashMap<&str, (usize, Span)> = HashMap::new();
    for (index, (id, span)) in ids.into_iter().enumerate() {
        let Some(&(first_index, first_span)) = first_use.get(id) else {
            first_use.insert(id, (index, span));
            continue;
        };
        let place = if source.is_empty() {
            format!("rule {}", first_index + 1)
        } else {
            let (line, column) = line_column(source, first_span.start);
            format!("{line}:{column}")
        };
        push_limited(
            diagnostics,
            Diagnostic::error("duplicate-id", span, format!("duplicate rule id `{id}`")).with_hint(
                format!("first defined at {place}; rule ids must be unique within a policy"),
            ),
        );
    }
}

/// `[A-Za-z0-9][A-Za-z0-9._:/@-]*`, 1 to 128 bytes.
fn check_id(rule: &Rule, diagnostics: &mut Vec<Diagnostic>) {
    let id = rule.id.as_bytes();
    let valid = !id.is_empty()
        && id.len() <= MAX_ID
        && id[0].is_ascii_alphanumeric()
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"._:/@-".contains(b));
    if !valid {
        push_limited(
            diagnostics,
            Diagnostic::error("bad-literal", rule.id_span, format!("`{}` is not a valid rule id", rule.id.escape_default()))
                .with_hint("rule ids are 1 to 128 characters: letters, digits and `. _ : / @ -`, starting with a letter or digit"),
        );
    }
}

fn check_reason(reason: &str, span: Span, diagnostics: &mut Vec<Diagnostic>) {
    if reason.len() > MAX_REASON || reason.chars().any(char::is_control) {
        push_limited(
            diagnostics,
            Diagnostic::error(
                "bad-literal",
                span,
                "a reason is at most 1024 bytes without control characters",
            ),
        );
    }
}

fn check_condition(condition: &Condition, diagnostics: &mut Vec<Diagnostic>) {
    match condition {
        Condition::And(operands) | Condition::Or(operands) => {
            for operand in operands {
                check_condition(operand, diagnostics);
            }
        }
        Condition::Not(operand) => check_condition(operand, diagnostics),
        Condition::Const(_) => {}
        Condition::Exists(attr) => {
            if let Err(diagnostic) = resolve(attr) {
                push_limited(diagnostics, diagnostic);
            }
        }
        Condition::Test(attr) => match resolve(attr) {
            Ok(AttrType::Bool) => {}
            Ok(other) => push_limited(
                diagnostics,
                Diagnostic::error(
                    "type-mismatch",
                    attr.span,
                    format!("`{}` ({}) is not a boolean", attr.dotted(), other.name()),
                )
                .with_hint("compare it with a value, e.g. `== \"...\"`, or test it with `exists`"),
            ),
            Err(diagnostic) => push_limited(diagnostics, diagnostic),
        },
        Condition::Cmp(comparison) => {
            if let Err(diagnostic) = resolve(&comparison.attr) {
                push_limited(diagnostics, diagnostic);
            }
        }
    }
}
