//! The JSON form of the AST (docs/policy.md, section 10).

use serde::{Deserialize, Serialize};

use super::ast::{Condition, Policy, Rule, Value};
use super::parser::MAX_SOURCE_BYTES;

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
    for (index, rule) in document.rules.iter().enumerate() {
        check_condition(&rule.when, &format!("/rules/{index}/when"), 0)
            .map_err(|(p, m)| error(p, m))?;
    }
    Ok(Policy {
        comments: document.comments,
        timezone: document.timezone.map(|name| (name, super::Span::default())),
        rules: document.rules,
        trailing_comments: document.trailing_comments,
        failed_headers: Vec::new(),
    })
}

/// Structural rules of the JSON form: `and`/`or` need two operands, nesting is bounded,
/// regexes must be expressible as `/.../` text.
fn check_condition(
    condition: &Condition,
    pointer: &str,
    depth: usize,
) -> Result<(), (String, String)> {
    if depth > 32 {
        return Err((
            pointer.into(),
            "conditions nest deeper than 32 levels".into(),
        ));
    }
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
                check_condition(operand, &format!("{pointer}/{key}/{index}"), depth + 1)?;
            }
            Ok(())
        }
        Condition::Not(operand) => check_condition(operand, &format!("{pointer}/not"), depth + 1),
        Condition::Cmp(comparison) => match &comparison.value.value {
            Value::Regex(text) if !regex_text_is_expressible(text) => Err((
                format!("{pointer}/cmp/value/regex"),
                "a regex must be non-empty, single-line, with every `/` escaped".into(),
            )),
            _ => Ok(()),
        },
        Condition::Const(_) | Condition::Test(_) | Condition::Exists(_) => Ok(()),
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
