//! The JSON form of the AST (docs/policy.md, section 10).

use serde::{Deserialize, Serialize};

use super::ast::{Attribute, Condition, Effect, Policy, Rule, Value};
use super::lexer::{MAX_DURATION, MAX_SEGMENT, MAX_SEGMENTS, MAX_STRING, is_forbidden, is_word};
use super::parser::{MAX_DEPTH, MAX_LEAVES, MAX_LIST, MAX_RULES, MAX_SOURCE_BYTES};

/// Format version of the JSON form.
const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    zt_policy: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    comments: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    timezone: Option<String>,
    rules: Vec<Rule>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    trailing_comments: Vec<String>,
}

/// Why a JSON-form policy was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{pointer}: {message}")]
pub struct JsonError {
    /// JSON pointer to the offending member (empty for the document).
    pub pointer: String,
    /// What is wrong.
    pub message: String,
}

/// The JSON form of `policy`.
pub fn to_json(policy: &Policy) -> serde_json::Value {
    let document = Document {
        zt_policy: VERSION,
        comments: policy.comments.clone(),
        timezone: policy.timezone.as_ref().map(|(name, _)| name.clone()),
        rules: policy.rules.clone(),
        trailing_comments: policy.trailing_comments.clone(),
    };
    serde_json::to_value(document).unwrap_or(serde_json::Value::Null)
}

/// Reads the JSON form, enforcing the structural rules the text syntax implies.
pub fn from_json(json: &str) -> Result<Policy, JsonError> {
    let error = |pointer: String, message: String| JsonError { pointer, message };
    if json.len() > MAX_SOURCE_BYTES {
        return Err(error(
            String::new(),
            format!("the policy is larger than {MAX_SOURCE_BYTES} bytes"),
        ));
    }
    let document: Document = serde_json::from_str(json).map_err(|e| {
        error(
            String::new(),
            format!("line {} column {}: {e}", e.line(), e.column()),
        )
    })?;
    if document.zt_policy != VERSION {
        return Err(error(
            "/zt_policy".into(),
            format!("unsupported version {}", document.zt_policy),
        ));
    }
    if !document.comments.is_empty() && document.timezone.is_none() {
        return Err(error(
            "/comments".into(),
            "policy comments stand before `timezone`; without one, put them on the first rule"
                .into(),
        ));
    }
    let policy = Policy {
        comments: document.comments,
        timezone: document.timezone.map(|name| (name, super::Span::default())),
        rules: document.rules,
        trailing_comments: document.trailing_comments,
        failed_headers: Vec::new(),
    };
    check_structure(&policy).map_err(|(p, m)| error(p, m))?;
    Ok(policy)
}

/// A structural problem: JSON pointer and message.
pub(crate) type Refusal = (String, String);

/// The structural rules the text syntax implies (comments, rule count, `and`/`or` with
/// two operands, nesting depth, leaves, lengths), for policies that did not come from the
/// parser: the JSON form, or built by hand. Recursion stops at the depth limit.
pub(crate) fn check_structure(policy: &Policy) -> Result<(), Refusal> {
    check_comments(&policy.comments, "/comments")?;
    check_comments(&policy.trailing_comments, "/trailing_comments")?;
    if policy.rules.len() > MAX_RULES {
        return Err(("/rules".into(), format!("more than {MAX_RULES} rules")));
    }
    for (index, rule) in policy.rules.iter().enumerate() {
        check_rule(rule, &format!("/rules/{index}"))?;
    }
    Ok(())
}

/// Comments the text form can carry: one line, no control characters, no trailing space.
fn check_comments(comments: &[String], pointer: &str) -> Result<(), Refusal> {
    for (index, comment) in comments.iter().enumerate() {
        if comment.chars().any(|c| c == '\n' || is_forbidden(c)) || comment.trim_end() != comment {
            return Err((
                format!("{pointer}/{index}"),
                "a comment is one line without forbidden characters or trailing spaces".into(),
            ));
        }
    }
    Ok(())
}

/// The rules the text syntax implies for one rule (ids and literal values are the type
/// checker's, as for text).
fn check_rule(rule: &Rule, pointer: &str) -> Result<(), Refusal> {
    check_comments(&rule.comments, &format!("{pointer}/comments"))?;
    if rule.reason.is_some() && rule.effect == Effect::Allow {
        return Err((
            format!("{pointer}/reason"),
            "`reason` is only allowed on deny rules".into(),
        ));
    }
    for (member, text) in [
        ("id", Some(&rule.id)),
        ("from", rule.from.as_ref()),
        ("until", rule.until.as_ref()),
        ("reason", rule.reason.as_ref()),
    ] {
        if text.is_some_and(|t| t.len() > MAX_STRING) {
            return Err((
                format!("{pointer}/{member}"),
                format!("longer than {MAX_STRING} bytes"),
            ));
        }
    }
    let mut leaves = 0;
    check_condition(&rule.when, &format!("{pointer}/when"), 0, &mut leaves)
}

/// Structural rules of conditions: `and`/`or` need two operands; nesting is measured as
/// the text form would write it (a `not`, and parentheses around nested chains); at most
/// 512 leaves per rule; attributes, strings, lists and regexes within the text limits.
fn check_condition(
    condition: &Condition,
    pointer: &str,
    depth: usize,
    leaves: &mut usize,
) -> Result<(), Refusal> {
    if depth > MAX_DEPTH {
        return Err((
            pointer.into(),
            format!("conditions nest deeper than {MAX_DEPTH} levels"),
        ));
    }
    let is_chain = |c: &Condition| matches!(c, Condition::And(_) | Condition::Or(_));
    match condition {
        Condition::And(operands) | Condition::Or(operands) => {
            let key = if matches!(condition, Condition::And(_)) {
                "and"
            } else {
                "or"
            };
            if operands.len() < 2 {
                return Err((
                    format!("{pointer}/{key}"),
                    format!("`{key}` needs at least two operands"),
                ));
            }
            for (index, operand) in operands.iter().enumerate() {
                let nested = depth + usize::from(is_chain(operand));
                check_condition(operand, &format!("{pointer}/{key}/{index}"), nested, leaves)?;
            }
            Ok(())
        }
        Condition::Not(operand) => {
            let nested = depth + 1 + usize::from(is_chain(operand));
            check_condition(operand, &format!("{pointer}/not"), nested, leaves)
        }
        Condition::Const(_) => leaf(pointer, leaves),
        Condition::Test(attr) | Condition::Exists(attr) => {
            leaf(pointer, leaves)?;
            check_attribute(attr, pointer)
        }
        Condition::Cmp(comparison) => {
            leaf(pointer, leaves)?;
            check_attribute(&comparison.attr, &format!("{pointer}/cmp/attr"))?;
            check_value(
                &comparison.value.value,
                &format!("{pointer}/cmp/value"),
                true,
            )
        }
    }
}

fn leaf(pointer: &str, leaves: &mut usize) -> Result<(), Refusal> {
    *leaves += 1;
    if *leaves > MAX_LEAVES {
        return Err((
            pointer.into(),
            format!("a rule may hold at most {MAX_LEAVES} comparisons"),
        ));
    }
    Ok(())
}

fn check_attribute(attr: &Attribute, pointer: &str) -> Result<(), Refusal> {
    let segments = &attr.segments;
    let first_is_word = segments.first().is_some_and(|first| is_word(first));
    if !(2..=MAX_SEGMENTS).contains(&segments.len())
        || !first_is_word
        || segments
            .iter()
            .any(|s| s.is_empty() || s.len() > MAX_SEGMENT)
    {
        return Err((
            pointer.into(),
            format!(
                "an attribute is 2 to {MAX_SEGMENTS} segments of 1 to {MAX_SEGMENT} bytes, the first a word"
            ),
        ));
    }
    Ok(())
}

fn check_value(value: &Value, pointer: &str, top: bool) -> Result<(), Refusal> {
    match value {
        Value::String(text) | Value::Weekday(text) if text.len() > MAX_STRING => {
            Err((pointer.into(), format!("longer than {MAX_STRING} bytes")))
        }
        Value::Weekday(name) if !is_word(name) => {
            Err((pointer.into(), "a bare name must be a word".into()))
        }
        Value::Duration(seconds) if *seconds > MAX_DURATION => {
            Err((pointer.into(), "duration is longer than 100 years".into()))
        }
        Value::Regex(text) if !regex_text_is_expressible(text) => Err((
            format!("{pointer}/regex"),
            "a regex must be non-empty, single-line, with every `/` escaped".into(),
        )),
        Value::List(_) | Value::Range(_) if !top => {
            Err((pointer.into(), "lists and ranges cannot be nested".into()))
        }
        Value::List(items) if items.len() > MAX_LIST => Err((
            pointer.into(),
            format!("a list may hold at most {MAX_LIST} elements"),
        )),
        Value::List(_) | Value::Range(_) => {
            items_of(value)
                .iter()
                .enumerate()
                .try_for_each(|(index, item)| {
                    check_value(&item.value, &format!("{pointer}/{index}"), false)
                })
        }
        _ => Ok(()),
    }
}

fn items_of(value: &Value) -> &[super::ast::Literal] {
    match value {
        Value::List(items) => items,
        Value::Range(bounds) => bounds.as_slice(),
        _ => &[],
    }
}

/// Whether `text` can be written between slashes: not empty, no LF, no unescaped `/`,
/// not ending in a lone `\`.
fn regex_text_is_expressible(text: &str) -> bool {
    let mut escaped = false;
    for c in text.chars() {
        match (escaped, c) {
            (_, '\n') => return false,
            (false, '/') => return false,
            (false, '\\') => escaped = true,
            _ => escaped = false,
        }
    }
    !text.is_empty() && !escaped
}
