//! The policy AST, shared by the text and JSON forms (docs/policy.md, section 10).

use serde::{Deserialize, Serialize};

use super::Span;

/// A whole policy.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Policy {
    /// Comments before the `timezone` (or before the first rule, without one).
    pub comments: Vec<String>,
    /// The `timezone` as written, and where.
    pub timezone: Option<(String, Span)>,
    /// The rules, in source order.
    pub rules: Vec<Rule>,
    /// Comments after the last rule.
    pub trailing_comments: Vec<String>,
    /// Ids (and their spans) of rules whose header parsed but whose body did not: they
    /// still take part in the duplicate-id check.
    pub(crate) failed_headers: Vec<(String, Span)>,
}

/// `allow` or `deny`: what a rule grants and what a decision is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    /// Grants access unless a deny rule matches.
    Allow,
    /// Refuses access, overriding every allow.
    Deny,
}

/// One rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Comments attached to the rule.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub comments: Vec<String>,
    /// `allow` or `deny`.
    pub effect: Effect,
    /// The rule id.
    pub id: String,
    /// Inactive before this instant (RFC 3339, as written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Inactive at and after this instant (RFC 3339, as written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// Why a deny rule denies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The condition.
    pub when: Condition,
    /// Where the rule is (its effect keyword to the end of its condition).
    #[serde(skip)]
    pub span: Span,
    /// Where the id literal is.
    #[serde(skip)]
    pub id_span: Span,
    /// Where the `from`, `until` and `reason` literals are.
    #[serde(skip)]
    pub clause_spans: [Span; 3],
}

/// A condition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum Condition {
    /// All operands hold (at least two).
    And(Vec<Condition>),
    /// At least one operand holds (at least two).
    Or(Vec<Condition>),
    /// The operand does not hold.
    Not(Box<Condition>),
    /// `true` or `false`.
    Const(bool),
    /// A bare boolean attribute: `attr == true`.
    Test(Attribute),
    /// The attribute is present.
    Exists(Attribute),
    /// `attr OP literal`.
    Cmp(Comparison),
}

/// An attribute path such as `identity.groups` or `identity.claims."https://x/roles"`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Attribute {
    /// The segments.
    pub segments: Vec<String>,
    /// Where it is.
    #[serde(skip)]
    pub span: Span,
}

impl Attribute {
    /// The dotted name, with segments that are not plain words quoted.
    pub fn dotted(&self) -> String {
        let mut out = String::new();
        for (index, segment) in self.segments.iter().enumerate() {
            if index > 0 {
                out.push('.');
            }
            if super::lexer::is_segment(segment) {
                out.push_str(segment);
            } else {
                out.push_str(&super::lexer::quote(segment));
            }
        }
        out
    }
}

/// A comparison or test of an attribute against a literal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Comparison {
    /// The attribute on the left.
    pub attr: Attribute,
    /// The operator.
    pub op: Operator,
    /// The literal on the right.
    pub value: Literal,
    /// Where the operator is.
    #[serde(skip)]
    pub op_span: Span,
}

/// The comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Operator {
    /// `==`
    #[serde(rename = "==")]
    Eq,
    /// `!=`
    #[serde(rename = "!=")]
    Ne,
    /// `<`
    #[serde(rename = "<")]
    Lt,
    /// `<=`
    #[serde(rename = "<=")]
    Le,
    /// `>`
    #[serde(rename = ">")]
    Gt,
    /// `>=`
    #[serde(rename = ">=")]
    Ge,
    /// `in`
    #[serde(rename = "in")]
    In,
    /// `not-in`
    #[serde(rename = "not-in")]
    NotIn,
    /// `has`
    #[serde(rename = "has")]
    Has,
    /// `has-any`
    #[serde(rename = "has-any")]
    HasAny,
    /// `has-all`
    #[serde(rename = "has-all")]
    HasAll,
    /// `starts_with`
    #[serde(rename = "starts_with")]
    StartsWith,
    /// `ends_with`
    #[serde(rename = "ends_with")]
    EndsWith,
    /// `contains`
    #[serde(rename = "contains")]
    Contains,
    /// `matches` (glob)
    #[serde(rename = "matches")]
    Matches,
    /// `~` (regex)
    #[serde(rename = "~")]
    Regex,
}

impl Operator {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "==",
            Self::Ne => "!=",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::In => "in",
            Self::NotIn => "not-in",
            Self::Has => "has",
            Self::HasAny => "has-any",
            Self::HasAll => "has-all",
            Self::StartsWith => "starts_with",
            Self::EndsWith => "ends_with",
            Self::Contains => "contains",
            Self::Matches => "matches",
            Self::Regex => "~",
        }
    }
}

/// A literal with its position.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Literal {
    /// The value.
    pub value: Value,
    /// Where it is.
    #[serde(skip)]
    pub span: Span,
}

/// An untyped literal; the type checker interprets it against the attribute's type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum Value {
    /// `"text"`
    String(String),
    /// `8`
    Int(i64),
    /// `true` / `false`
    Bool(bool),
    /// `1h30m`, in seconds.
    Duration(u64),
    /// A bare name where a weekday may stand (`mon`, or a mistake like `friday`).
    Weekday(String),
    /// `/pattern/`: the text between the slashes.
    Regex(String),
    /// `[a, b]`
    List(Vec<Literal>),
    /// `a..b`
    Range(Box<[Literal; 2]>),
}
