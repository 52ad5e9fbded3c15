//! Evaluating compiled conditions against one request context (docs/policy.md,
//! sections 4 to 6). Reading a value borrows from the context; nothing here allocates
//! except a repeated header (joined) or a percent-encoded query parameter (decoded).

use std::borrow::Cow;
use std::cell::OnceCell;
use std::net::IpAddr;

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde_json::Value as Json;

use super::compile::{Attr, Expr, Pred, Test};
use super::context::RequestContext;
use crate::identity::IdentityKind;

/// One decision's view of the request: the context, the policy's timezone and the local
/// wall-clock time, computed on first use.
pub(crate) struct Scope<'s, 'c> {
    pub(crate) ctx: &'s RequestContext<'c>,
    timezone: &'s TimeZone,
    local: OnceCell<DateTime>,
}

/// A present attribute value.
#[derive(Debug)]
pub(crate) enum Val<'s> {
    Str(Cow<'s, str>),
    Bool(bool),
    Int(i64),
    Ip(IpAddr),
    Groups(&'s [String]),
    Weekday(u8),
    Date(Date),
    Instant(Timestamp),
    Duration(SignedDuration),
    Json(&'s Json),
}

impl<'s, 'c> Scope<'s, 'c> {
    pub(crate) fn new(ctx: &'s RequestContext<'c>, timezone: &'s TimeZone) -> Self {
        Self {
            ctx,
            timezone,
            local: OnceCell::new(),
        }
    }

    fn local(&self) -> DateTime {
        *self
            .local
            .get_or_init(|| self.timezone.to_datetime(self.ctx.now))
    }

    /// Evaluates a condition.
    pub(crate) fn eval(&self, expr: &Expr) -> bool {
        match expr {
            Expr::And(operands) => operands.iter().all(|operand| self.eval(operand)),
            Expr::Or(operands) => operands.iter().any(|operand| self.eval(operand)),
            Expr::Not(operand) => !self.eval(operand),
            Expr::Const(value) => *value,
            Expr::Exists(attr) => self.value(attr).is_some(),
            Expr::Test(test) => self.test(test),
        }
    }

    fn test(&self, test: &Test) -> bool {
        self.value(&test.attr)
            .and_then(|value| apply(&test.pred, &value))
            .is_some_and(|holds| holds != test.negated)
    }

    /// The attribute's value, or `None` when it is absent (claims: missing or `null`).
    pub(crate) fn value(&self, attr: &Attr) -> Option<Val<'s>> {
        let ctx = self.ctx;
        let identity = ctx.identity.as_ref();
        let id = identity.map(|view| view.identity);
        let kube = ctx.kube;
        let ssh = ctx.ssh;
        let borrowed = |text: &'s str| Val::Str(Cow::Borrowed(text));
        Some(match attr {
            Attr::Authenticated => Val::Bool(identity.is_some()),
            Attr::Kind => borrowed(match id?.kind {
                IdentityKind::User => "user",
                IdentityKind::Workload => "workload",
            }),
            Attr::Sub => borrowed(&id?.subject),
            Attr::Issuer => borrowed(&id?.issuer),
            Attr::Username => borrowed(id?.username.as_deref()?),
            Attr::Email => borrowed(id?.email.as_deref()?),
            Attr::EmailVerified => Val::Bool(id?.email_verified),
            Attr::Domain => borrowed(identity?.domain.as_deref()?),
            Attr::Groups => Val::Groups(&id?.groups),
            Attr::SpiffeId => borrowed(id?.spiffe_id.as_ref()?.as_str()),
            Attr::AuthAge => {
                let age = ctx.now.duration_since(id?.auth_time?);
                Val::Duration(age.max(SignedDuration::ZERO))
            }
            Attr::Claim(path) => {
                let mut value = id?.claims.get(path.first()?)?;
                for segment in &path[1..] {
                    value = value.as_object()?.get(segment)?;
                }
                if value.is_null() {
                    return None;
                }
                Val::Json(value)
            }
            Attr::Protocol => borrowed(ctx.protocol.as_str()),
            Attr::Method => borrowed(ctx.method?),
            Attr::Host => borrowed(ctx.host.as_ref()?.as_str()),
            Attr::Path => borrowed(ctx.path?),
            Attr::SourceIp => Val::Ip(ctx.source_ip?),
            Attr::Route => borrowed(ctx.route?),
            Attr::Query(key) => Val::Str(query_value(ctx.query?, key)?),
            Attr::Header(name) => Val::Str(header_value(ctx.headers?, name)?),
            Attr::KubeVerb => borrowed(&kube?.verb),
            Attr::KubeApiGroup => borrowed(kube?.api_group.as_deref()?),
            Attr::KubeApiVersion => borrowed(kube?.api_version.as_deref()?),
            Attr::KubeResource => borrowed(kube?.resource.as_deref()?),
            Attr::KubeSubresource => borrowed(kube?.subresource.as_deref()?),
            Attr::KubeNamespace => borrowed(kube?.namespace.as_deref()?),
            Attr::KubeName => borrowed(kube?.name.as_deref()?),
            Attr::KubeIsResourceRequest => Val::Bool(kube?.is_resource_request),
            Attr::SshLogin => borrowed(ssh?.login()),
            Attr::SshHost => borrowed(ssh?.host()),
            Attr::SshPort => Val::Int(i64::from(ssh?.port())),
            Attr::SshChannel => borrowed(ssh?.channel()?.as_str()),
            Attr::SshCommand => borrowed(ssh?.command()?),
            Attr::SshSubsystem => borrowed(ssh?.subsystem()?),
            Attr::TimeNow => Val::Instant(ctx.now),
            Attr::TimeHour => Val::Int(i64::from(self.local().hour())),
            Attr::TimeMinute => Val::Int(i64::from(self.local().minute())),
            Attr::TimeWeekday => {
                Val::Weekday(u8::try_from(self.local().weekday().to_monday_zero_offset()).ok()?)
            }
            Attr::TimeDate => Val::Date(self.local().date()),
        })
    }

    /// Calls `each` with every string the index may look the attribute up by.
    pub(crate) fn index_keys(&self, attr: &Attr, mut each: impl FnMut(&str)) {
        match self.value(attr) {
            Some(Val::Str(text)) => each(&text),
            Some(Val::Groups(groups)) => groups.iter().for_each(|group| each(group)),
            _ => {}
        }
    }
}

/// Applies a predicate to a present value: `None` when the value has another type
/// (a claim of the wrong JSON type), which counts as absent.
pub(crate) fn apply(pred: &Pred, value: &Val<'_>) -> Option<bool> {
    match value {
        Val::Json(json) => apply_json(pred, json),
        Val::Str(text) => apply_str(pred, text),
        Val::Groups(groups) => apply_set(pred, groups.iter().map(String::as_str)),
        Val::Bool(actual) => match pred {
            Pred::Bool(expected) => Some(actual == expected),
            _ => None,
        },
        Val::Int(n) => apply_int(pred, *n),
        Val::Weekday(day) => match pred {
            Pred::Weekdays(mask) => Some(mask & (1 << day) != 0),
            _ => None,
        },
        Val::Date(date) => match pred {
            Pred::Date(order, literal) => Some(order.holds(date.cmp(literal))),
            Pred::DateIn(list) => Some(list.binary_search(date).is_ok()),
            Pred::DateRange(lo, hi) => Some(lo <= date && date <= hi),
            _ => None,
        },
        Val::Instant(instant) => match pred {
            Pred::Instant(order, literal) => Some(order.holds(instant.cmp(literal))),
            _ => None,
        },
        Val::Duration(duration) => match pred {
            Pred::Duration(order, literal) => Some(order.holds(duration.cmp(literal))),
            _ => None,
        },
        Val::Ip(address) => match pred {
            Pred::IpEq(literal) => Some(address == literal),
            Pred::IpIn(networks) => Some(
                networks
                    .iter()
                    .any(|(network, prefix)| in_network(*address, *network, *prefix)),
            ),
            _ => None,
        },
    }
}

fn apply_str(pred: &Pred, text: &str) -> Option<bool> {
    Some(match pred {
        Pred::StrEq(literal) => text == &**literal,
        Pred::StrIn(list) => list.binary_search_by(|item| (**item).cmp(text)).is_ok(),
        Pred::StartsWith(literal) => text.starts_with(&**literal),
        Pred::EndsWith(literal) => text.ends_with(&**literal),
        Pred::Contains(literal) => text.contains(&**literal),
        Pred::Pattern(pattern) => pattern.is_match(text),
        _ => return None,
    })
}

fn apply_int(pred: &Pred, n: i64) -> Option<bool> {
    Some(match pred {
        Pred::Int(order, literal) => order.holds(n.cmp(literal)),
        Pred::IntIn(list) => list.binary_search(&n).is_ok(),
        Pred::IntRange(lo, hi) if lo <= hi => *lo <= n && n <= *hi,
        Pred::IntRange(lo, hi) => n >= *lo || n <= *hi,
        _ => return None,
    })
}

fn apply_set<'v>(pred: &Pred, set: impl Iterator<Item = &'v str> + Clone) -> Option<bool> {
    let mut set = set;
    Some(match pred {
        Pred::Has(literal) => set.any(|item| item == &**literal),
        Pred::HasAny(sorted) => {
            set.any(|item| sorted.binary_search_by(|w| (**w).cmp(item)).is_ok())
        }
        Pred::HasAll(list) => list
            .iter()
            .all(|wanted| set.clone().any(|item| item == &**wanted)),
        _ => return None,
    })
}

/// Claims are typed by the comparison (docs/policy.md, section 4.3).
fn apply_json(pred: &Pred, json: &Json) -> Option<bool> {
    match pred {
        Pred::Bool(_) => apply(pred, &Val::Bool(json.as_bool()?)),
        Pred::Int(..) | Pred::IntIn(_) | Pred::IntRange(..) => match json {
            Json::Number(number) if number.is_i64() || number.is_u64() => {
                apply_int(pred, number.as_i64()?)
            }
            _ => None,
        },
        Pred::Has(_) | Pred::HasAny(_) | Pred::HasAll(_) => match json {
            Json::String(one) => apply_set(pred, std::iter::once(one.as_str())),
            Json::Array(items) if items.iter().all(Json::is_string) => {
                apply_set(pred, items.iter().filter_map(Json::as_str))
            }
            _ => None,
        },
        _ => apply_str(pred, json.as_str()?),
    }
}

/// Whether `address` is inside `network/prefix` (never across address families).
pub(crate) fn in_network(address: IpAddr, network: IpAddr, prefix: u8) -> bool {
    match (address, network) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n)
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n)
        }
        _ => false,
    }
}

/// `request.query.<key>`: the first pair whose decoded key is `key`, decoded; absent if
/// that pair is not UTF-8 after decoding. Keys are compared without decoding them into
/// memory.
fn query_value<'q>(query: &'q str, key: &str) -> Option<Cow<'q, str>> {
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (raw_key, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        if form_decoded_bytes(raw_key).eq(key.bytes()) {
            return form_decode(raw_value);
        }
    }
    None
}

/// The bytes `application/x-www-form-urlencoded` decoding gives: `+` is a space, `%XX`
/// a byte, anything else itself (a `%` without two hex digits too).
fn form_decoded_bytes(raw: &str) -> impl Iterator<Item = u8> + '_ {
    let mut bytes = raw.bytes();
    std::iter::from_fn(move || {
        let byte = bytes.next()?;
        Some(match byte {
            b'+' => b' ',
            b'%' => {
                let mut ahead = bytes.clone();
                match (ahead.next().and_then(hex), ahead.next().and_then(hex)) {
                    (Some(high), Some(low)) => {
                        bytes = ahead;
                        high << 4 | low
                    }
                    _ => b'%',
                }
            }
            other => other,
        })
    })
}

fn hex(byte: u8) -> Option<u8> {
    char::from(byte)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, then percent-decoding;
/// `None` if the result is not UTF-8.
fn form_decode(raw: &str) -> Option<Cow<'_, str>> {
    if raw.contains('+') {
        let spaced = raw.replace('+', " ");
        let decoded = percent_encoding::percent_decode_str(&spaced)
            .decode_utf8()
            .ok()?;
        return Some(Cow::Owned(decoded.into_owned()));
    }
    percent_encoding::percent_decode_str(raw).decode_utf8().ok()
}

/// `request.header.<name>`: all field lines joined with `, `; absent if any is not UTF-8.
fn header_value<'h>(headers: &'h http::HeaderMap, name: &http::HeaderName) -> Option<Cow<'h, str>> {
    let mut values = headers.get_all(name).iter();
    let first = std::str::from_utf8(values.next()?.as_bytes()).ok()?;
    let mut joined: Option<String> = None;
    for value in values {
        let text = std::str::from_utf8(value.as_bytes()).ok()?;
        let out = joined.get_or_insert_with(|| first.to_owned());
        out.push_str(", ");
        out.push_str(text);
    }
    Some(joined.map_or(Cow::Borrowed(first), Cow::Owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters() {
        let query = "a=1&b=x+y&c=%C3%A9&a=2&flag&bad=%FF&page%5Bsize%5D=10";
        assert_eq!(query_value(query, "a").as_deref(), Some("1"));
        assert_eq!(query_value(query, "b").as_deref(), Some("x y"));
        assert_eq!(query_value(query, "c").as_deref(), Some("é"));
        assert_eq!(query_value(query, "flag").as_deref(), Some(""));
        assert_eq!(query_value(query, "bad"), None);
        assert_eq!(query_value(query, "page[size]").as_deref(), Some("10"));
        assert_eq!(query_value(query, "missing"), None);
        assert!(matches!(query_value(query, "a"), Some(Cow::Borrowed(_))));
        assert_eq!(query_value("x+y=1&%61=%", "a").as_deref(), Some("%"));
        assert_eq!(query_value("x+y=1", "x y").as_deref(), Some("1"));
        assert_eq!(query_value("%zz=1&%=2", "%zz").as_deref(), Some("1"));
        assert_eq!(query_value("%=2", "%").as_deref(), Some("2"));
    }

    #[test]
    fn headers_join_field_lines() {
        let mut headers = http::HeaderMap::new();
        headers.append("x-team", "a".parse().unwrap());
        headers.append("x-team", "b".parse().unwrap());
        headers.append("x-raw", http::HeaderValue::from_bytes(b"\xff").unwrap());
        let name = |n: &str| http::HeaderName::from_bytes(n.as_bytes()).unwrap();
        assert_eq!(
            header_value(&headers, &name("x-team")).as_deref(),
            Some("a, b")
        );
        assert_eq!(header_value(&headers, &name("x-raw")), None);
        assert_eq!(header_value(&headers, &name("x-none")), None);
    }

    #[test]
    fn networks() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(in_network(ip("10.20.3.4"), ip("10.20.0.0"), 16));
        assert!(!in_network(ip("10.21.3.4"), ip("10.20.0.0"), 16));
        assert!(in_network(ip("2001:db8:20::7"), ip("2001:db8:20::"), 48));
        assert!(!in_network(ip("10.20.3.4"), ip("::"), 0));
        assert!(in_network(ip("203.0.113.9"), ip("0.0.0.0"), 0));
    }
}
