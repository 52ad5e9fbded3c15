//! The pretty-printer: the canonical text form (docs/policy.md, section 10).

use std::fmt::Write as _;

use super::ast::{Attribute, Condition, Effect, Literal, Policy, Rule, Value};
use super::lexer::quote;

/// Prints `policy` in canonical form; the output parses back to the same AST.
pub fn print(policy: &Policy) -> String {
    let mut out = String::new();
    for comment in &policy.comments {
        let _ = writeln!(out, "#{comment}");
    }
    if let Some((timezone, _)) = &policy.timezone {
        let _ = writeln!(out, "timezone {}", quote(timezone));
    }
    let mut first = out.is_empty();
    for rule in &policy.rules {
        if !first {
            out.push('\n');
        }
        first = false;
        print_rule(&mut out, rule);
    }
    if !policy.trailing_comments.is_empty() {
        if !first {
            out.push('\n');
        }
        for comment in &policy.trailing_comments {
            let _ = writeln!(out, "#{comment}");
        }
    }
    out
}

fn print_rule(out: &mut String, rule: &Rule) {
    for comment in &rule.comments {
        let _ = writeln!(out, "#{comment}");
    }
    let effect = match rule.effect {
        Effect::Allow => "allow",
        Effect::Deny => "deny",
    };
    let _ = write!(out, "{effect} {}", quote(&rule.id));
    if let Some(from) = &rule.from {
        let _ = write!(out, " from {}", quote(from));
    }
    if let Some(until) = &rule.until {
        let _ = write!(out, " until {}", quote(until));
    }
    out.push('\n');
    if let Some(reason) = &rule.reason {
        let _ = writeln!(out, "  reason {}", quote(reason));
    }
    out.push_str("  when ");
    match &rule.when {
        Condition::And(operands) | Condition::Or(operands) => {
            let keyword = if matches!(rule.when, Condition::And(_)) {
                "\n   and "
            } else {
                "\n    or "
            };
            for (index, operand) in operands.iter().enumerate() {
                if index > 0 {
                    out.push_str(keyword);
                }
                print_operand(out, operand);
            }
        }
        other => print_condition(out, other),
    }
    out.push('\n');
}

/// An operand of `and`, `or` or `not`: chains are parenthesised.
fn print_operand(out: &mut String, condition: &Condition) {
    if matches!(condition, Condition::And(_) | Condition::Or(_)) {
        out.push('(');
        print_condition(out, condition);
        out.push(')');
    } else {
        print_condition(out, condition);
    }
}

/// One condition in canonical form (for traces and lint messages).
pub(crate) fn condition_text(condition: &Condition) -> String {
    let mut out = String::new();
    print_condition(&mut out, condition);
    out
}

fn print_condition(out: &mut String, condition: &Condition) {
    match condition {
        Condition::And(operands) | Condition::Or(operands) => {
            let keyword = if matches!(condition, Condition::And(_)) {
                " and "
            } else {
                " or "
            };
            for (index, operand) in operands.iter().enumerate() {
                if index > 0 {
                    out.push_str(keyword);
                }
                print_operand(out, operand);
            }
        }
        Condition::Not(operand) => {
            out.push_str("not ");
            print_operand(out, operand);
        }
        Condition::Const(value) => out.push_str(if *value { "true" } else { "false" }),
        Condition::Test(attr) => print_attribute(out, attr),
        Condition::Exists(attr) => {
            print_attribute(out, attr);
            out.push_str(" exists");
        }
        Condition::Cmp(comparison) => {
            print_attribute(out, &comparison.attr);
            let _ = write!(out, " {} ", comparison.op.as_str());
            print_literal(out, &comparison.value);
        }
    }
}

fn print_attribute(out: &mut String, attr: &Attribute) {
    out.push_str(&attr.dotted());
}

fn print_literal(out: &mut String, literal: &Literal) {
    match &literal.value {
        Value::String(text) => out.push_str(&quote(text)),
        Value::Int(value) => {
            let _ = write!(out, "{value}");
        }
        Value::Bool(value) => out.push_str(if *value { "true" } else { "false" }),
        Value::Duration(seconds) => out.push_str(&duration(*seconds)),
        Value::Weekday(name) => out.push_str(name),
        Value::Regex(text) => {
            let _ = write!(out, "/{text}/");
        }
        Value::List(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                print_literal(out, item);
            }
            out.push(']');
        }
        Value::Range(bounds) => {
            print_literal(out, &bounds[0]);
            out.push_str("..");
            print_literal(out, &bounds[1]);
        }
    }
}

/// Canonical duration: largest units first, zero units omitted, `0s` for zero.
fn duration(seconds: u64) -> String {
    if seconds == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    let mut rest = seconds;
    for (unit, size) in [('d', 86_400), ('h', 3_600), ('m', 60), ('s', 1)] {
        if rest >= size {
            let _ = write!(out, "{}{unit}", rest / size);
            rest %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_canonical() {
        assert_eq!(duration(0), "0s");
        assert_eq!(duration(5400), "1h30m");
        assert_eq!(duration(90_061), "1d1h1m1s");
    }
}
