//! Checking a parsed policy against the schema (docs/policy.md, sections 4, 8 and 9).
//!
//! Every attribute exists and is allowed, every operator fits its attribute's type, every
//! literal is valid for it, rule ids are well formed and unique, reasons are well formed,
//! the timezone exists and every `from`/`until` window is non-empty.

use std::collections::HashMap;

use super::ast::{Comparison, Condition, Literal, Operator, Policy, Rule, Value};
use super::diagnostic::{line_column, push_limited};
use super::lexer::quote;
use super::literal::{Problem, address, date, glob, host, instant, regex, weekday};
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
    // What the parser guarantees for text, for policies built any other way; the checks
    // below recurse and assume bounded nesting.
    if let Err((pointer, message)) = super::json::check_structure(policy) {
        let span = pointer
            .strip_prefix("/rules/")
            .and_then(|rest| rest.split('/').next())
            .and_then(|index| index.parse::<usize>().ok())
            .and_then(|index| policy.rules.get(index))
            .map_or(Span::default(), |rule| rule.span);
        diagnostics.push(Diagnostic::error(
            "syntax",
            span,
            format!("{message} (at {pointer})"),
        ));
        return diagnostics;
    }
    // The bundled database, not the host's, and the exact IANA spelling.
    if let Some((name, span)) = &policy.timezone
        && jiff::tz::TimeZoneDatabase::bundled()
            .get(name)
            .ok()
            .and_then(|tz| tz.iana_name().map(|iana| iana == name))
            != Some(true)
    {
        push_limited(
            &mut diagnostics,
            Diagnostic::error(
                "unknown-timezone",
                *span,
                format!("unknown timezone {}", quote(name)),
            )
            .with_hint("use an IANA name such as \"Europe/Berlin\" or \"UTC\""),
        );
    }
    check_unique_ids(policy, source, &mut diagnostics);
    for rule in &policy.rules {
        check_id(rule, &mut diagnostics);
        check_window(rule, &mut diagnostics);
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
        if diagnostics.len() > super::diagnostic::MAX_DIAGNOSTICS {
            return;
        }
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

/// `from` and `until` are instants, and `from` comes first.
fn check_window(rule: &Rule, diagnostics: &mut Vec<Diagnostic>) {
    let mut parse = |text: &Option<String>, span: Span| {
        let text = text.as_deref()?;
        match instant(text) {
            Ok(at) => Some(at),
            Err(problem) => {
                push_limited(diagnostics, bad_from(span, problem));
                None
            }
        }
    };
    let from = parse(&rule.from, rule.clause_spans[0]);
    let until = parse(&rule.until, rule.clause_spans[1]);
    if let (Some(from), Some(until)) = (from, until)
        && from >= until
    {
        push_limited(
            diagnostics,
            Diagnostic::error(
                "empty-window",
                rule.clause_spans[0].to(rule.clause_spans[1]),
                "`from` is not earlier than `until`: the rule is never active",
            ),
        );
    }
}

fn check_reason(reason: &str, span: Span, diagnostics: &mut Vec<Diagnostic>) {
    if reason.is_empty() || reason.len() > MAX_REASON || reason.chars().any(char::is_control) {
        push_limited(
            diagnostics,
            Diagnostic::error(
                "bad-literal",
                span,
                "a reason is 1 to 1024 bytes without control characters",
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
        Condition::Cmp(comparison) => match resolve(&comparison.attr) {
            Ok(ty) => {
                if let Err(diagnostic) = check_comparison(comparison, ty) {
                    push_limited(diagnostics, diagnostic);
                }
            }
            Err(diagnostic) => push_limited(diagnostics, diagnostic),
        },
    }
}

/// Whether the attribute's ints wrap around in ranges (`22..5`).
fn is_cyclic(comparison: &Comparison) -> bool {
    matches!(
        comparison.attr.dotted().as_str(),
        "time.hour" | "time.minute"
    )
}

/// The operator-and-literal rules of docs/policy.md section 5.1.
fn check_comparison(comparison: &Comparison, ty: AttrType) -> Result<(), Diagnostic> {
    use AttrType as T;
    use Operator as Op;
    let attr = comparison.attr.dotted();
    let whole = comparison.attr.span.to(comparison.value.span);
    let value = &comparison.value;
    let mismatch = |hint: Option<String>| {
        let mut diagnostic = Diagnostic::error(
            "type-mismatch",
            whole,
            format!(
                "`{}` cannot compare `{attr}` ({}) with {}",
                comparison.op.as_str(),
                ty.name(),
                describe(&value.value)
            ),
        );
        diagnostic.hint = hint;
        diagnostic
    };
    match (comparison.op, ty) {
        (Op::Eq | Op::Ne, T::StringSet) => Err(mismatch(Some(match &value.value {
            Value::String(s) => format!("to test membership write `{attr} has {}`", quote(s)),
            _ => format!("to test membership write `{attr} has \"...\"`"),
        }))),
        (Op::Eq | Op::Ne, T::Duration) => Err(mismatch(Some(
            "durations take only `<` `<=` `>` `>=`".into(),
        ))),
        (Op::Eq | Op::Ne, T::Instant) => Err(mismatch(Some(
            "instants take only `<` `<=` `>` `>=`".into(),
        ))),
        (Op::Eq | Op::Ne, T::Ip) => match &value.value {
            Value::String(text) if text.contains('/') => Err(mismatch(Some(format!(
                "to test a network write `{attr} in {}`",
                quote(text)
            )))),
            _ => scalar(value, ty, &mismatch),
        },
        (Op::Eq | Op::Ne, _) => scalar(value, ty, &mismatch),
        (Op::Lt | Op::Le | Op::Gt | Op::Ge, T::Dynamic) => match value.value {
            Value::Int(_) => Ok(()),
            _ => Err(mismatch(Some(
                "claims are ordered only against numbers".into(),
            ))),
        },
        (Op::Lt | Op::Le | Op::Gt | Op::Ge, T::Int(..) | T::Date | T::Instant | T::Duration) => {
            scalar(value, ty, &mismatch)
        }
        (Op::Lt | Op::Le | Op::Gt | Op::Ge, T::Weekday) => Err(mismatch(Some(
            "weekdays are cyclic; use a range such as `mon..fri`".into(),
        ))),
        (Op::In | Op::NotIn, T::Ip) => match &value.value {
            Value::String(_) => network(value),
            Value::List(items) if !items.is_empty() => items.iter().try_for_each(network),
            Value::List(_) => Err(bad(value.span, "a list must not be empty".into(), None)),
            _ => Err(mismatch(Some(
                "write a CIDR string or a list of CIDRs and addresses".into(),
            ))),
        },
        (Op::In | Op::NotIn, T::Bool | T::Duration | T::Instant | T::StringSet) => {
            Err(mismatch(None))
        }
        (Op::In | Op::NotIn, _) => match &value.value {
            Value::List(items) => {
                let Some(first) = items.first() else {
                    return Err(bad(value.span, "a list must not be empty".into(), None));
                };
                if ty == T::Dynamic && matches!(first.value, Value::Bool(_)) {
                    return Err(mismatch(Some(
                        "claims are listed as strings or integers; compare booleans with `==`"
                            .into(),
                    )));
                }
                // Claims take their type from the literal: one type for the whole list.
                let kind = std::mem::discriminant(&first.value);
                if items
                    .iter()
                    .any(|item| std::mem::discriminant(&item.value) != kind)
                {
                    return Err(mismatch(Some("a list holds values of one type".into())));
                }
                items
                    .iter()
                    .try_for_each(|item| scalar(item, ty, &mismatch))
            }
            Value::Range(bounds)
                if matches!(ty, T::Int(..) | T::Weekday | T::Date)
                    || (ty == T::Dynamic
                        && bounds.iter().all(|b| matches!(b.value, Value::Int(_)))) =>
            {
                range(bounds, ty, is_cyclic(comparison), value.span, &mismatch)
            }
            Value::String(text) => Err(mismatch(Some(format!(
                "use `== {}` or `in [{}]`",
                quote(text),
                quote(text)
            )))),
            _ => Err(mismatch(None)),
        },
        (Op::Has, T::StringSet | T::Dynamic) => string(value, &mismatch),
        (Op::Has, _) => Err(mismatch(Some(
            "not a set; use `contains` for substrings".into(),
        ))),
        (Op::HasAny | Op::HasAll, T::StringSet | T::Dynamic) => match &value.value {
            Value::List(items) if !items.is_empty() => {
                items.iter().try_for_each(|item| string(item, &mismatch))
            }
            Value::List(_) => Err(bad(value.span, "a list must not be empty".into(), None)),
            _ => Err(mismatch(None)),
        },
        (Op::HasAny | Op::HasAll, _) => Err(mismatch(None)),
        (
            Op::StartsWith | Op::EndsWith | Op::Contains | Op::Matches,
            T::String | T::Host | T::Path | T::Dynamic,
        ) => {
            string(value, &mismatch)?;
            if let Value::String(text) = &value.value {
                if ty == T::Host {
                    host(text).map_err(|p| bad_from(value.span, p))?;
                }
                if comparison.op == Op::Matches {
                    glob(text).map_err(|p| bad_from(value.span, p))?;
                }
            }
            Ok(())
        }
        (Op::StartsWith | Op::EndsWith | Op::Contains | Op::Matches, T::StringSet) => {
            Err(mismatch(Some("a set; test members with `has`".into())))
        }
        (Op::Regex, T::String | T::Host | T::Path | T::Dynamic) => match &value.value {
            Value::Regex(pattern) => regex(pattern)
                .map(|_| ())
                .map_err(|p| bad_from(value.span, p)),
            _ => Err(mismatch(None)),
        },
        _ => Err(mismatch(None)),
    }
}

/// One literal of the attribute's own type.
fn scalar(
    literal: &Literal,
    ty: AttrType,
    mismatch: &dyn Fn(Option<String>) -> Diagnostic,
) -> Result<(), Diagnostic> {
    use AttrType as T;
    let span = literal.span;
    match (ty, &literal.value) {
        (T::String | T::Path, Value::String(_)) => Ok(()),
        (T::Host, Value::String(text)) => host(text).map_err(|p| bad_from(span, p)),
        (T::Enum(values), Value::String(text)) => {
            if values.contains(&text.as_str()) {
                Ok(())
            } else {
                let listed: Vec<String> = values.iter().map(|v| quote(v)).collect();
                Err(bad(
                    span,
                    format!("{} is not one of the values", quote(text)),
                    Some(format!("expected {}", listed.join(" or "))),
                ))
            }
        }
        (T::Bool, Value::Bool(_)) => Ok(()),
        (T::Int(min, max), Value::Int(n)) => {
            if (min..=max).contains(n) {
                Ok(())
            } else {
                Err(bad(
                    span,
                    format!("{n} is out of range"),
                    Some(format!("{min} to {max}")),
                ))
            }
        }
        (T::Weekday, Value::Weekday(name)) => {
            weekday(name).map(|_| ()).map_err(|p| bad_from(span, p))
        }
        (T::Date, Value::String(text)) => date(text).map(|_| ()).map_err(|p| bad_from(span, p)),
        (T::Instant, Value::String(text)) => {
            instant(text).map(|_| ()).map_err(|p| bad_from(span, p))
        }
        (T::Duration, Value::Duration(_)) => Ok(()),
        (T::Ip, Value::String(text)) => address(text).map(|_| ()).map_err(|p| bad_from(span, p)),
        (T::Dynamic, Value::String(_) | Value::Int(_) | Value::Bool(_)) => Ok(()),
        (_, Value::Weekday(name)) if ty != T::Weekday => Err(mismatch(Some(format!(
            "strings are quoted: write \"{name}\""
        )))),
        _ => Err(mismatch(None)),
    }
}

fn string(
    literal: &Literal,
    mismatch: &dyn Fn(Option<String>) -> Diagnostic,
) -> Result<(), Diagnostic> {
    match &literal.value {
        Value::String(_) => Ok(()),
        _ => Err(mismatch(None)),
    }
}

fn network(literal: &Literal) -> Result<(), Diagnostic> {
    match &literal.value {
        Value::String(text) => super::literal::network(text)
            .map(|_| ())
            .map_err(|p| bad_from(literal.span, p)),
        _ => Err(bad(
            literal.span,
            "expected a CIDR or an address in quotes".into(),
            None,
        )),
    }
}

fn range(
    bounds: &[Literal; 2],
    ty: AttrType,
    cyclic: bool,
    span: Span,
    mismatch: &dyn Fn(Option<String>) -> Diagnostic,
) -> Result<(), Diagnostic> {
    scalar(&bounds[0], ty, mismatch)?;
    scalar(&bounds[1], ty, mismatch)?;
    let ordered = match (&bounds[0].value, &bounds[1].value) {
        (Value::Int(low), Value::Int(high)) => cyclic || low <= high,
        (Value::String(low), Value::String(high)) => date(low).ok() <= date(high).ok(),
        _ => true, // weekdays wrap
    };
    if ordered {
        Ok(())
    } else {
        Err(bad(
            span,
            "the range is empty: its start is after its end".into(),
            None,
        ))
    }
}

fn bad(span: Span, message: String, hint: Option<String>) -> Diagnostic {
    let mut diagnostic = Diagnostic::error("bad-literal", span, message);
    diagnostic.hint = hint;
    diagnostic
}

fn bad_from(span: Span, (message, hint): Problem) -> Diagnostic {
    bad(span, message, hint)
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "a string",
        Value::Int(_) => "a number",
        Value::Bool(_) => "a boolean",
        Value::Duration(_) => "a duration",
        Value::Weekday(_) => "a bare name",
        Value::Regex(_) => "a regex",
        Value::List(_) => "a list",
        Value::Range(_) => "a range",
    }
}
