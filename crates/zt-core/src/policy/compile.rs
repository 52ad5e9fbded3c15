//! Compiling a checked policy: attributes resolved to [`Attr`], literals pre-parsed into
//! typed predicates (sorted lists, CIDRs, weekday masks, compiled regexes and globs).

use std::net::IpAddr;

use http::HeaderName;
use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};

use super::ast::{Attribute, Comparison, Condition, Literal, Operator, Value};
use super::literal::{address, date, instant, network, regex, weekday};
use super::schema::{AttrType, resolve};
use super::{Diagnostic, Span};

/// A resolved attribute (docs/policy.md, section 4.2).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Attr {
    Authenticated,
    Kind,
    Sub,
    Issuer,
    Username,
    Email,
    EmailVerified,
    Domain,
    Groups,
    SpiffeId,
    AuthAge,
    Claim(Box<[String]>),
    Protocol,
    Method,
    Host,
    Path,
    SourceIp,
    Route,
    Query(Box<str>),
    Header(HeaderName),
    KubeVerb,
    KubeApiGroup,
    KubeApiVersion,
    KubeResource,
    KubeSubresource,
    KubeNamespace,
    KubeName,
    KubeIsResourceRequest,
    SshLogin,
    SshHost,
    SshPort,
    SshChannel,
    SshCommand,
    SshSubsystem,
    TimeNow,
    TimeHour,
    TimeMinute,
    TimeWeekday,
    TimeDate,
}

impl Attr {
    /// Whether the attribute is a single string the index can look up by value.
    pub(crate) fn is_indexable(&self) -> bool {
        matches!(
            self,
            Self::Kind
                | Self::Sub
                | Self::Issuer
                | Self::Username
                | Self::Email
                | Self::Domain
                | Self::Groups
                | Self::SpiffeId
                | Self::Protocol
                | Self::Method
                | Self::Host
                | Self::Path
                | Self::Route
                | Self::KubeVerb
                | Self::KubeApiGroup
                | Self::KubeApiVersion
                | Self::KubeResource
                | Self::KubeSubresource
                | Self::KubeNamespace
                | Self::KubeName
                | Self::SshLogin
                | Self::SshHost
                | Self::SshChannel
                | Self::SshCommand
                | Self::SshSubsystem
        )
    }
}

/// An ordered comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Order {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
}

impl Order {
    pub(crate) fn holds(self, ordering: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::{Equal, Greater, Less};
        match self {
            Self::Lt => ordering == Less,
            Self::Le => ordering != Greater,
            Self::Gt => ordering == Greater,
            Self::Ge => ordering != Less,
            Self::Eq => ordering == Equal,
        }
    }
}

/// A typed test of a present value; which value types it accepts is fixed by its kind.
#[derive(Clone, Debug)]
pub(crate) enum Pred {
    StrEq(Box<str>),
    /// Sorted, for binary search.
    StrIn(Box<[Box<str>]>),
    StartsWith(Box<str>),
    EndsWith(Box<str>),
    Contains(Box<str>),
    /// A glob or regex, anchored.
    Pattern(regex::Regex),
    Bool(bool),
    Int(Order, i64),
    /// Sorted.
    IntIn(Box<[i64]>),
    /// Inclusive; wraps when `lo > hi` (cyclic hours and minutes).
    IntRange(i64, i64),
    /// Bit `n` set: weekday `n` (Monday 0) is included.
    Weekdays(u8),
    Date(Order, Date),
    /// Sorted.
    DateIn(Box<[Date]>),
    DateRange(Date, Date),
    Instant(Order, Timestamp),
    Duration(Order, SignedDuration),
    IpEq(IpAddr),
    /// Networks as (masked address, prefix length).
    IpIn(Box<[(IpAddr, u8)]>),
    Has(Box<str>),
    /// Sorted.
    HasAny(Box<[Box<str>]>),
    HasAll(Box<[Box<str>]>),
}

/// `attr pred`, false when the attribute is absent (or of the wrong JSON type), negated
/// otherwise for `!=` and `not-in`.
#[derive(Clone, Debug)]
pub(crate) struct Test {
    pub(crate) attr: Attr,
    pub(crate) pred: Pred,
    pub(crate) negated: bool,
}

/// A compiled condition.
#[derive(Clone, Debug)]
pub(crate) enum Expr {
    And(Box<[Expr]>),
    Or(Box<[Expr]>),
    Not(Box<Expr>),
    Const(bool),
    Exists(Attr),
    Test(Test),
}

impl Expr {
    /// The operands of a top-level `and`, or the expression itself.
    pub(crate) fn conjuncts(&self) -> &[Expr] {
        match self {
            Self::And(operands) => operands,
            other => std::slice::from_ref(other),
        }
    }
}

/// Compiles a condition that passed the type checker. Errors are the checker's own
/// (a condition compiled without checking).
pub(crate) fn compile(condition: &Condition) -> Result<Expr, Diagnostic> {
    Ok(match condition {
        Condition::And(operands) => Expr::And(compile_all(operands)?),
        Condition::Or(operands) => Expr::Or(compile_all(operands)?),
        Condition::Not(operand) => Expr::Not(Box::new(compile(operand)?)),
        Condition::Const(value) => Expr::Const(*value),
        Condition::Exists(attr) => Expr::Exists(compile_attr(attr)?),
        Condition::Test(attr) => Expr::Test(Test {
            attr: compile_attr(attr)?,
            pred: Pred::Bool(true),
            negated: false,
        }),
        Condition::Cmp(comparison) => Expr::Test(compile_comparison(comparison)?),
    })
}

fn compile_all(operands: &[Condition]) -> Result<Box<[Expr]>, Diagnostic> {
    operands.iter().map(compile).collect()
}

/// Resolves an attribute path.
pub(crate) fn compile_attr(attribute: &Attribute) -> Result<Attr, Diagnostic> {
    resolve(attribute)?;
    let segments: Vec<&str> = attribute.segments.iter().map(String::as_str).collect();
    Ok(match segments.as_slice() {
        ["identity", "authenticated"] => Attr::Authenticated,
        ["identity", "kind"] => Attr::Kind,
        ["identity", "sub"] => Attr::Sub,
        ["identity", "issuer"] => Attr::Issuer,
        ["identity", "username"] => Attr::Username,
        ["identity", "email"] => Attr::Email,
        ["identity", "email_verified"] => Attr::EmailVerified,
        ["identity", "domain"] => Attr::Domain,
        ["identity", "groups"] => Attr::Groups,
        ["identity", "spiffe_id"] => Attr::SpiffeId,
        ["identity", "auth_age"] => Attr::AuthAge,
        ["identity", "claims", path @ ..] => {
            Attr::Claim(path.iter().map(|s| (*s).to_owned()).collect())
        }
        ["request", "protocol"] => Attr::Protocol,
        ["request", "method"] => Attr::Method,
        ["request", "host"] => Attr::Host,
        ["request", "path"] => Attr::Path,
        ["request", "source_ip"] => Attr::SourceIp,
        ["request", "route"] => Attr::Route,
        ["request", "query", key] => Attr::Query((*key).into()),
        ["request", "header", name] => Attr::Header(
            HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| unsupported(attribute.span, "not a valid header name"))?,
        ),
        ["kube", "verb"] => Attr::KubeVerb,
        ["kube", "api_group"] => Attr::KubeApiGroup,
        ["kube", "api_version"] => Attr::KubeApiVersion,
        ["kube", "resource"] => Attr::KubeResource,
        ["kube", "subresource"] => Attr::KubeSubresource,
        ["kube", "namespace"] => Attr::KubeNamespace,
        ["kube", "name"] => Attr::KubeName,
        ["kube", "is_resource_request"] => Attr::KubeIsResourceRequest,
        ["ssh", "login"] => Attr::SshLogin,
        ["ssh", "host"] => Attr::SshHost,
        ["ssh", "port"] => Attr::SshPort,
        ["ssh", "channel"] => Attr::SshChannel,
        ["ssh", "command"] => Attr::SshCommand,
        ["ssh", "subsystem"] => Attr::SshSubsystem,
        ["time", "now"] => Attr::TimeNow,
        ["time", "hour"] => Attr::TimeHour,
        ["time", "minute"] => Attr::TimeMinute,
        ["time", "weekday"] => Attr::TimeWeekday,
        ["time", "date"] => Attr::TimeDate,
        _ => return Err(unsupported(attribute.span, "not a known attribute")),
    })
}

fn compile_comparison(comparison: &Comparison) -> Result<Test, Diagnostic> {
    let attr = compile_attr(&comparison.attr)?;
    let ty = resolve(&comparison.attr)?;
    let (op, negated) = match comparison.op {
        Operator::Ne => (Operator::Eq, true),
        Operator::NotIn => (Operator::In, true),
        op => (op, false),
    };
    let pred = predicate(ty, op, &comparison.value)?;
    Ok(Test {
        attr,
        pred,
        negated,
    })
}

/// The predicate for `op literal` on an attribute of type `ty`.
fn predicate(ty: AttrType, op: Operator, literal: &Literal) -> Result<Pred, Diagnostic> {
    let span = literal.span;
    let separator = match ty {
        AttrType::Host => Some('.'),
        AttrType::Path => Some('/'),
        _ => None,
    };
    match (op, &literal.value) {
        (Operator::StartsWith, Value::String(s)) => return Ok(Pred::StartsWith(s.as_str().into())),
        (Operator::EndsWith, Value::String(s)) => return Ok(Pred::EndsWith(s.as_str().into())),
        (Operator::Contains, Value::String(s)) => return Ok(Pred::Contains(s.as_str().into())),
        (Operator::Matches, Value::String(s)) => {
            return glob_regex(s, separator)
                .map(Pred::Pattern)
                .ok_or_else(|| unsupported(span, "invalid glob"));
        }
        (Operator::Regex, Value::Regex(pattern)) => {
            return regex(pattern)
                .map(Pred::Pattern)
                .map_err(|(message, _)| unsupported(span, &message));
        }
        (Operator::Has, Value::String(s)) => return Ok(Pred::Has(s.as_str().into())),
        (Operator::HasAny, Value::List(items)) => {
            let mut sorted = strings(items)?.into_vec();
            sorted.sort_unstable();
            sorted.dedup();
            return Ok(Pred::HasAny(sorted.into()));
        }
        (Operator::HasAll, Value::List(items)) => return Ok(Pred::HasAll(strings(items)?)),
        _ => {}
    }
    match ty {
        AttrType::Weekday => weekdays(op, literal),
        AttrType::Date => dates(op, literal),
        AttrType::Instant => match (order(op), &literal.value) {
            (Some(order), Value::String(s)) => instant(s)
                .map(|t| Pred::Instant(order, t))
                .map_err(|(m, _)| unsupported(span, &m)),
            _ => Err(mismatch(span)),
        },
        AttrType::Duration => match (order(op), &literal.value) {
            (Some(order), Value::Duration(seconds)) => Ok(Pred::Duration(
                order,
                SignedDuration::from_secs(i64::try_from(*seconds).unwrap_or(i64::MAX)),
            )),
            _ => Err(mismatch(span)),
        },
        AttrType::Ip => ips(op, literal),
        _ => scalars(op, literal),
    }
}

/// Strings, ints and bools (including claims and enums).
fn scalars(op: Operator, literal: &Literal) -> Result<Pred, Diagnostic> {
    let span = literal.span;
    match (op, &literal.value) {
        (Operator::Eq, Value::String(s)) => Ok(Pred::StrEq(s.as_str().into())),
        (Operator::Eq, Value::Bool(b)) => Ok(Pred::Bool(*b)),
        (Operator::In, Value::List(items)) if matches!(first(items), Some(Value::String(_))) => {
            let mut list = strings(items)?.into_vec();
            list.sort_unstable();
            list.dedup();
            Ok(Pred::StrIn(list.into()))
        }
        (Operator::In, Value::List(items)) => {
            let mut list = items
                .iter()
                .map(|item| match item.value {
                    Value::Int(n) => Ok(n),
                    _ => Err(mismatch(item.span)),
                })
                .collect::<Result<Vec<_>, _>>()?;
            list.sort_unstable();
            Ok(Pred::IntIn(list.into()))
        }
        (Operator::In, Value::Range(bounds)) => match (&bounds[0].value, &bounds[1].value) {
            (Value::Int(lo), Value::Int(hi)) => Ok(Pred::IntRange(*lo, *hi)),
            _ => Err(mismatch(span)),
        },
        (op, Value::Int(n)) => order(op)
            .map(|order| Pred::Int(order, *n))
            .ok_or_else(|| mismatch(span)),
        _ => Err(mismatch(span)),
    }
}

fn weekdays(op: Operator, literal: &Literal) -> Result<Pred, Diagnostic> {
    let day = |literal: &Literal| match &literal.value {
        Value::Weekday(name) => {
            weekday(name).map_err(|(message, _)| unsupported(literal.span, &message))
        }
        _ => Err(mismatch(literal.span)),
    };
    let mask = match (op, &literal.value) {
        (Operator::Eq, _) => 1u8 << day(literal)?,
        (Operator::In, Value::List(items)) => items.iter().try_fold(0u8, |mask, item| {
            Ok::<_, Diagnostic>(mask | 1 << day(item)?)
        })?,
        (Operator::In, Value::Range(bounds)) => {
            let (lo, hi) = (day(&bounds[0])?, day(&bounds[1])?);
            let mut mask = 0u8;
            let mut current = lo;
            loop {
                mask |= 1 << current;
                if current == hi {
                    break mask;
                }
                current = (current + 1) % 7;
            }
        }
        _ => return Err(mismatch(literal.span)),
    };
    Ok(Pred::Weekdays(mask))
}

fn dates(op: Operator, literal: &Literal) -> Result<Pred, Diagnostic> {
    let parse = |literal: &Literal| match &literal.value {
        Value::String(text) => {
            date(text).map_err(|(message, _)| unsupported(literal.span, &message))
        }
        _ => Err(mismatch(literal.span)),
    };
    match (op, &literal.value) {
        (Operator::In, Value::List(items)) => {
            let mut list = items.iter().map(parse).collect::<Result<Vec<_>, _>>()?;
            list.sort_unstable();
            Ok(Pred::DateIn(list.into()))
        }
        (Operator::In, Value::Range(bounds)) => {
            Ok(Pred::DateRange(parse(&bounds[0])?, parse(&bounds[1])?))
        }
        (op, _) => {
            let order = order(op).ok_or_else(|| mismatch(literal.span))?;
            Ok(Pred::Date(order, parse(literal)?))
        }
    }
}

fn ips(op: Operator, literal: &Literal) -> Result<Pred, Diagnostic> {
    let span = literal.span;
    match (op, &literal.value) {
        (Operator::Eq, Value::String(text)) => address(text)
            .map(Pred::IpEq)
            .map_err(|(message, _)| unsupported(span, &message)),
        (Operator::In, Value::String(text)) => network(text)
            .map(|net| Pred::IpIn(Box::new([net])))
            .map_err(|(message, _)| unsupported(span, &message)),
        (Operator::In, Value::List(items)) => items
            .iter()
            .map(|item| match &item.value {
                Value::String(text) => {
                    network(text).map_err(|(message, _)| unsupported(item.span, &message))
                }
                _ => Err(mismatch(item.span)),
            })
            .collect::<Result<Box<[_]>, _>>()
            .map(Pred::IpIn),
        _ => Err(mismatch(span)),
    }
}

fn order(op: Operator) -> Option<Order> {
    match op {
        Operator::Lt => Some(Order::Lt),
        Operator::Le => Some(Order::Le),
        Operator::Gt => Some(Order::Gt),
        Operator::Ge => Some(Order::Ge),
        Operator::Eq => Some(Order::Eq),
        _ => None,
    }
}

fn first(items: &[Literal]) -> Option<&Value> {
    items.first().map(|item| &item.value)
}

fn strings(items: &[Literal]) -> Result<Box<[Box<str>]>, Diagnostic> {
    items
        .iter()
        .map(|item| match &item.value {
            Value::String(text) => Ok(text.as_str().into()),
            _ => Err(mismatch(item.span)),
        })
        .collect()
}

/// A glob (docs/policy.md, section 5.3) as an anchored regex: `*` and `?` stop at the
/// separator, `**` does not. The regex engine keeps matching linear.
pub(crate) fn glob_regex(glob: &str, separator: Option<char>) -> Option<regex::Regex> {
    super::literal::glob(glob).ok()?;
    let (star, one) = match separator {
        Some(sep) => {
            let sep = regex::escape(&sep.to_string());
            (format!("[^{sep}]*"), format!("[^{sep}]"))
        }
        None => ("(?s:.*)".to_owned(), "(?s:.)".to_owned()),
    };
    let mut pattern = String::from(r"\A");
    let mut chars = glob.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                pattern.push_str("(?s:.*)");
            }
            '*' => pattern.push_str(&star),
            '?' => pattern.push_str(&one),
            '\\' => pattern.push_str(&regex::escape(&chars.next()?.to_string())),
            other => pattern.push_str(&regex::escape(&other.to_string())),
        }
    }
    pattern.push_str(r"\z");
    regex::Regex::new(&pattern).ok()
}

fn mismatch(span: Span) -> Diagnostic {
    unsupported(span, "operator and literal do not fit the attribute")
}

fn unsupported(span: Span, message: &str) -> Diagnostic {
    Diagnostic::error("type-mismatch", span, message.to_owned())
        .with_hint("run `policy check`: the type checker explains the problem")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_follow_the_reference_table() {
        let host = |glob: &str| glob_regex(glob, Some('.')).unwrap();
        let path = |glob: &str| glob_regex(glob, Some('/')).unwrap();
        assert!(host("*.prod.internal").is_match("web1.prod.internal"));
        assert!(!host("*.prod.internal").is_match("prod.internal"));
        assert!(!host("*.prod.internal").is_match("db.eu.prod.internal"));
        assert!(host("**.prod.internal").is_match("db.eu.prod.internal"));
        assert!(!host("**.prod.internal").is_match("prod.internal"));
        assert!(path("/api/*").is_match("/api/"));
        assert!(!path("/api/*").is_match("/api/users/7"));
        assert!(path("/api/**").is_match("/api/users/7"));
        assert!(!path("/api/**").is_match("/apis/x"));
        assert!(host("web?").is_match("web1"));
        assert!(!host("web?").is_match("web10"));
        let plain = glob_regex(r"a\*b*", None).unwrap();
        assert!(plain.is_match("a*b/x.y\nz"));
        assert!(!plain.is_match("axb"));
        assert!(glob_regex("[x]{1}(", None).unwrap().is_match("[x]{1}("));
        assert!(glob_regex("é?", None).unwrap().is_match("éü"));
    }
}
