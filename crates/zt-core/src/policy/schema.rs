//! The attribute schema (docs/policy.md, section 4.2): every attribute and its type.

use super::ast::Attribute;
use super::{Diagnostic, Span};

/// The type of an attribute (docs/policy.md, section 4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttrType {
    /// Unicode text, compared exactly.
    String,
    /// A lower-case host name; glob separator `.`.
    Host,
    /// A path; glob separator `/`.
    Path,
    /// `true` or `false`.
    Bool,
    /// An integer within the inclusive range.
    Int(i64, i64),
    /// An IP address.
    Ip,
    /// A set of strings.
    StringSet,
    /// A day of the week.
    Weekday,
    /// A non-negative duration.
    Duration,
    /// A point in time.
    Instant,
    /// A calendar date.
    Date,
    /// One of the listed strings.
    Enum(&'static [&'static str]),
    /// A JSON value from the token's claims, typed by the literal it is compared with.
    Dynamic,
}

impl AttrType {
    /// The type as the reference writes it, for messages.
    pub fn name(self) -> String {
        match self {
            Self::String => "string".into(),
            Self::Host => "host".into(),
            Self::Path => "path".into(),
            Self::Bool => "bool".into(),
            Self::Int(min, max) if min == i64::MIN && max == i64::MAX => "int".into(),
            Self::Int(min, max) => format!("int {min}..{max}"),
            Self::Ip => "ip".into(),
            Self::StringSet => "set<string>".into(),
            Self::Weekday => "weekday".into(),
            Self::Duration => "duration".into(),
            Self::Instant => "instant".into(),
            Self::Date => "date".into(),
            Self::Enum(values) => format!("enum{{{}}}", values.join(",")),
            Self::Dynamic => "dynamic".into(),
        }
    }
}

/// Every attribute with a fixed name, in schema order (the order of suggestions).
const FIXED: &[(&str, AttrType)] = &[
    ("identity.authenticated", AttrType::Bool),
    ("identity.kind", AttrType::Enum(&["user", "workload"])),
    ("identity.sub", AttrType::String),
    ("identity.issuer", AttrType::String),
    ("identity.username", AttrType::String),
    ("identity.email", AttrType::String),
    ("identity.email_verified", AttrType::Bool),
    ("identity.domain", AttrType::Host),
    ("identity.groups", AttrType::StringSet),
    ("identity.spiffe_id", AttrType::String),
    ("identity.auth_age", AttrType::Duration),
    ("request.protocol", AttrType::Enum(&["http", "kube", "ssh"])),
    ("request.method", AttrType::String),
    ("request.host", AttrType::Host),
    ("request.path", AttrType::Path),
    ("request.source_ip", AttrType::Ip),
    ("request.route", AttrType::Path),
    ("kube.verb", AttrType::String),
    ("kube.api_group", AttrType::String),
    ("kube.api_version", AttrType::String),
    ("kube.resource", AttrType::String),
    ("kube.subresource", AttrType::String),
    ("kube.namespace", AttrType::String),
    ("kube.name", AttrType::String),
    ("kube.is_resource_request", AttrType::Bool),
    ("ssh.login", AttrType::String),
    ("ssh.host", AttrType::Host),
    ("ssh.port", AttrType::Int(1, 65_535)),
    (
        "ssh.channel",
        AttrType::Enum(&[
            "session",
            "direct-tcpip",
            "forwarded-tcpip",
            "auth-agent",
            "x11",
        ]),
    ),
    ("ssh.command", AttrType::String),
    ("ssh.subsystem", AttrType::String),
    ("time.now", AttrType::Instant),
    ("time.hour", AttrType::Int(0, 23)),
    ("time.minute", AttrType::Int(0, 59)),
    ("time.weekday", AttrType::Weekday),
    ("time.date", AttrType::Date),
];

/// Families of attributes named by what follows a prefix.
const FAMILIES: &[&str] = &["identity.claims.", "request.query.", "request.header."];

/// Headers that carry credentials: for the verifier, never for policy.
const FORBIDDEN_HEADERS: &[&str] = &["authorization", "proxy-authorization", "cookie"];

/// Most segments after `identity.claims`.
const MAX_CLAIM_SEGMENTS: usize = 8;

/// The type of `attr`, or why it is not in the schema.
pub fn resolve(attr: &Attribute) -> Result<AttrType, Diagnostic> {
    let segments = &attr.segments;
    let dotted = attr.dotted();
    if let Some((_, ty)) = FIXED.iter().find(|(name, _)| *name == dotted) {
        return Ok(*ty);
    }
    let span = attr.span;
    match segments
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["identity", "claims", rest @ ..] if !rest.is_empty() => {
            if rest.len() > MAX_CLAIM_SEGMENTS {
                return Err(Diagnostic::error(
                    "limit",
                    span,
                    format!("claim paths have at most {MAX_CLAIM_SEGMENTS} segments"),
                ));
            }
            Ok(AttrType::Dynamic)
        }
        ["request", "query", _key] => Ok(AttrType::String),
        ["request", "header", name] => header(name, span),
        _ => Err(unknown(&dotted, span)),
    }
}

fn header(name: &str, span: Span) -> Result<AttrType, Diagnostic> {
    let lower = name.to_ascii_lowercase();
    if FORBIDDEN_HEADERS.contains(&lower.as_str()) {
        return Err(Diagnostic::error(
            "forbidden-attribute",
            span,
            format!("`request.header.{lower}` carries credentials and cannot be used in policy"),
        )
        .with_hint("credentials are checked by the verifier; write conditions on `identity.*`"));
    }
    if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
        return Err(Diagnostic::error(
            "unknown-attribute",
            span,
            format!("{} is not a header name", super::lexer::quote(name)),
        )
        .with_hint(
            "header names are tokens (RFC 9110): letters, digits and ! # $ % & ' * + - . ^ _ ` | ~",
        ));
    }
    if lower != name {
        return Err(Diagnostic::error(
            "unknown-attribute",
            span,
            format!("header names are lower-case: `request.header.{name}`"),
        )
        .with_hint(format!("write `request.header.{lower}`")));
    }
    Ok(AttrType::String)
}

fn unknown(dotted: &str, span: Span) -> Diagnostic {
    let diagnostic = Diagnostic::error(
        "unknown-attribute",
        span,
        format!("unknown attribute `{dotted}`"),
    );
    let candidates = FIXED.iter().map(|(name, _)| *name);
    match did_you_mean(dotted, candidates) {
        Some(name) => diagnostic.with_hint(format!("did you mean `{name}`?")),
        None if FAMILIES
            .iter()
            .any(|family| family.trim_end_matches('.') == dotted) =>
        {
            diagnostic.with_hint(format!("name a member: `{dotted}.<name>`"))
        }
        None => diagnostic,
    }
}

/// The closest candidate to `word` by Damerau–Levenshtein distance, if within
/// `max(1, len / 3)`; the first candidate wins ties.
pub(crate) fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    let mut best: Option<(&str, usize)> = None;
    let length = word.chars().count();
    for candidate in candidates {
        if candidate.chars().count().abs_diff(length) > limit {
            continue;
        }
        let distance = damerau_levenshtein(word, candidate);
        if distance <= limit && best.is_none_or(|(_, d)| distance < d) {
            best = Some((candidate, distance));
        }
    }
    best.map(|(candidate, _)| candidate)
}

/// Optimal string alignment distance (an adjacent transposition counts as one edit).
fn damerau_levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(path: &str) -> Attribute {
        Attribute {
            segments: path.split('.').map(str::to_owned).collect(),
            span: Span::default(),
        }
    }

    #[test]
    fn resolves_fixed_names_and_families() {
        assert_eq!(resolve(&attr("identity.groups")), Ok(AttrType::StringSet));
        assert_eq!(resolve(&attr("time.hour")), Ok(AttrType::Int(0, 23)));
        assert_eq!(
            resolve(&attr("identity.claims.realm_access.roles")),
            Ok(AttrType::Dynamic)
        );
        assert_eq!(resolve(&attr("request.query.page")), Ok(AttrType::String));
        assert_eq!(
            resolve(&attr("request.header.x-team")),
            Ok(AttrType::String)
        );
    }

    #[test]
    fn unknown_and_forbidden_names() {
        let unknown = resolve(&attr("identity.group")).unwrap_err();
        assert_eq!(unknown.code, "unknown-attribute");
        assert_eq!(
            unknown.hint.as_deref(),
            Some("did you mean `identity.groups`?")
        );
        assert_eq!(
            resolve(&attr("request.header.cookie")).unwrap_err().code,
            "forbidden-attribute"
        );
        assert_eq!(
            resolve(&attr("request.header.Authorization"))
                .unwrap_err()
                .code,
            "forbidden-attribute"
        );
        let upper = resolve(&attr("request.header.X-Team")).unwrap_err();
        assert_eq!(upper.hint.as_deref(), Some("write `request.header.x-team`"));
        assert!(resolve(&attr("identity.claims.a.b.c.d.e.f.g.h.i")).is_err());
        assert!(resolve(&attr("request.query.a.b")).is_err());
        assert!(resolve(&attr("kube.verbs")).unwrap_err().hint.is_some());
    }

    #[test]
    fn suggestions() {
        let names = ["identity.groups", "identity.email", "request.host"];
        assert_eq!(
            did_you_mean("idnetity.email", names),
            Some("identity.email")
        );
        assert_eq!(did_you_mean("kube.verb", names), None);
        assert_eq!(damerau_levenshtein("ab", "ba"), 1);
    }
}
