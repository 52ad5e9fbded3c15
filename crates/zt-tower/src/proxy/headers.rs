//! Hop-by-hop and forwarding headers: [`remove_hop_by_hop`], [`is_websocket_upgrade`],
//! [`set_forwarded`] and the host of a request.
//!
//! Order when forwarding a request: [`remove_hop_by_hop_for_forwarding`] (which keeps a
//! WebSocket upgrade's `Connection: upgrade` and `Upgrade`), then [`set_forwarded`] and
//! the identity headers, so a client cannot name them in `Connection` to have them
//! removed.

use std::fmt::Write as _;
use std::net::IpAddr;

use http::header::{
    CONNECTION, Entry, FORWARDED, PROXY_AUTHENTICATE, PROXY_AUTHORIZATION, TE, TRAILER,
    TRANSFER_ENCODING, UPGRADE,
};
use http::{HeaderMap, HeaderName, HeaderValue};

/// `Keep-Alive` (RFC 9112, hop-by-hop).
const KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
/// `Proxy-Connection` (non-standard, hop-by-hop).
const PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");
/// `X-Forwarded-For`.
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
/// `X-Forwarded-Proto`.
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
/// `X-Forwarded-Host`.
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// Hop-by-hop headers removed whether `Connection` names them or not.
const HOP_BY_HOP: [HeaderName; 8] = [
    KEEP_ALIVE,
    PROXY_CONNECTION,
    PROXY_AUTHENTICATE,
    PROXY_AUTHORIZATION,
    TE,
    TRAILER,
    TRANSFER_ENCODING,
    UPGRADE,
];

/// Client-supplied forwarding headers that [`set_forwarded`] removes without
/// replacing: other proxies' spellings of the same untrusted facts.
const UNTRUSTED_FORWARDING: [HeaderName; 4] = [
    HeaderName::from_static("x-forwarded-port"),
    HeaderName::from_static("x-forwarded-prefix"),
    HeaderName::from_static("x-forwarded-server"),
    HeaderName::from_static("x-real-ip"),
];

/// Removes the hop-by-hop headers: `Connection`, every header it names (comma-separated,
/// case-insensitive, in any of its values), and `Keep-Alive`, `Proxy-Connection`,
/// `Proxy-Authenticate`, `Proxy-Authorization`, `TE`, `Trailer`, `Transfer-Encoding` and
/// `Upgrade`. Works on requests and responses; allocates only when `Connection` is
/// present.
///
/// Call it before adding headers of your own (forwarding, identity), since a client may
/// name any header in `Connection`.
pub fn remove_hop_by_hop(headers: &mut HeaderMap) {
    if let Entry::Occupied(entry) = headers.entry(CONNECTION) {
        let (_, values) = entry.remove_entry_mult();
        let values: Vec<HeaderValue> = values.collect();
        for token in values.iter().flat_map(tokens) {
            if let Ok(name) = HeaderName::from_bytes(token) {
                headers.remove(name);
            }
        }
    }
    for name in &HOP_BY_HOP {
        headers.remove(name);
    }
}

/// Whether the headers ask for a WebSocket upgrade: a `Connection` token `upgrade` and
/// an `Upgrade` token `websocket` (case-insensitive). The method (`GET`) and version
/// (HTTP/1.1) are the caller's to check.
pub fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    has_token(headers, &CONNECTION, b"upgrade") && has_token(headers, &UPGRADE, b"websocket")
}

/// The protocol a request asks to upgrade to (`Connection: upgrade` and an `Upgrade`
/// header, e.g. `websocket` or `SPDY/3.1`), or `None`.
pub fn requested_upgrade(headers: &HeaderMap) -> Option<&HeaderValue> {
    if has_token(headers, &CONNECTION, b"upgrade") {
        headers.get(UPGRADE)
    } else {
        None
    }
}

/// Whether any value of `name` has the comma-separated `token` (case-insensitive).
fn has_token(headers: &HeaderMap, name: &HeaderName, token: &[u8]) -> bool {
    headers
        .get_all(name)
        .iter()
        .flat_map(tokens)
        .any(|candidate| candidate.eq_ignore_ascii_case(token))
}

/// The non-empty comma-separated tokens of a header value, whitespace trimmed.
fn tokens(value: &HeaderValue) -> impl Iterator<Item = &[u8]> {
    value
        .as_bytes()
        .split(|&byte| byte == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|token| !token.is_empty())
}

/// What a proxy knows about the connection a request came on, for [`set_forwarded`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forwarded {
    /// The peer address of the client's connection.
    pub client: IpAddr,
    /// The scheme the client used: `"http"` or `"https"`.
    pub proto: &'static str,
    /// The `Host` the client asked for, if any.
    pub host: Option<HeaderValue>,
    /// The proxy's own address on the client's connection, if it is to be disclosed.
    pub by: Option<IpAddr>,
}

/// Replaces the forwarding headers with what the proxy itself knows.
///
/// Client-supplied `Forwarded`, `X-Forwarded-For`, `-Proto`, `-Host` (and
/// `X-Forwarded-Port`, `-Prefix`, `-Server`, `X-Real-IP`) are not trusted and removed;
/// then `X-Forwarded-For: <client>`, `X-Forwarded-Proto`, `X-Forwarded-Host` (when the
/// host is known) and an RFC 7239 `Forwarded: for=..;proto=..;host=..;by=..` are set.
/// IPv6 addresses are bracketed and quoted there (`for="[2001:db8::1]"`), IPv4-mapped
/// IPv6 addresses are written as IPv4, and the host is quoted when it is not a token
/// (e.g. it has a port). A `proto` that is not a URI scheme is left out.
///
/// ```
/// use http::{HeaderMap, HeaderValue};
/// use zt_tower::proxy::{Forwarded, set_forwarded};
///
/// let mut headers = HeaderMap::new();
/// headers.insert("x-forwarded-for", HeaderValue::from_static("10.0.0.1"));
/// set_forwarded(&mut headers, &Forwarded {
///     client: "2001:db8::1".parse()?,
///     proto: "https",
///     host: Some(HeaderValue::from_static("example.com:8443")),
///     by: None,
/// });
/// assert_eq!(headers["x-forwarded-for"], "2001:db8::1");
/// assert_eq!(
///     headers["forwarded"],
///     "for=\"[2001:db8::1]\";proto=https;host=\"example.com:8443\""
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn set_forwarded(headers: &mut HeaderMap, fwd: &Forwarded) {
    for name in [
        &FORWARDED,
        &X_FORWARDED_FOR,
        &X_FORWARDED_PROTO,
        &X_FORWARDED_HOST,
    ] {
        headers.remove(name);
    }
    for name in &UNTRUSTED_FORWARDING {
        headers.remove(name);
    }

    let client = fwd.client.to_canonical();
    let proto = is_scheme(fwd.proto).then_some(fwd.proto);
    if proto.is_none() {
        tracing::warn!(
            proto = fwd.proto,
            "not a URI scheme; left out of the forwarding headers"
        );
    }

    let mut forwarded = Vec::with_capacity(64);
    forwarded.extend_from_slice(b"for=");
    push_node(&mut forwarded, client);
    if let Some(proto) = proto {
        forwarded.extend_from_slice(b";proto=");
        forwarded.extend_from_slice(proto.as_bytes());
    }
    if let Some(host) = &fwd.host {
        forwarded.extend_from_slice(b";host=");
        push_value(&mut forwarded, host.as_bytes());
    }
    if let Some(by) = fwd.by {
        forwarded.extend_from_slice(b";by=");
        push_node(&mut forwarded, by.to_canonical());
    }

    if let Ok(value) = HeaderValue::from_str(&client.to_string()) {
        headers.insert(X_FORWARDED_FOR, value);
    }
    if let Some(proto) = proto
        && let Ok(value) = HeaderValue::from_str(proto)
    {
        headers.insert(X_FORWARDED_PROTO, value);
    }
    if let Some(host) = &fwd.host {
        headers.insert(X_FORWARDED_HOST, host.clone());
    }
    match HeaderValue::from_bytes(&forwarded) {
        Ok(value) => {
            headers.insert(FORWARDED, value);
        }
        // Only bytes of valid header values went in.
        Err(error) => tracing::warn!(%error, "Forwarded header not set"),
    }
}

/// An RFC 7239 node: IPv4 bare, IPv6 bracketed and quoted.
fn push_node(out: &mut Vec<u8>, ip: IpAddr) {
    let mut text = String::with_capacity(41);
    // Writing to a String cannot fail.
    let _ = match ip {
        IpAddr::V4(ip) => write!(text, "{ip}"),
        IpAddr::V6(ip) => write!(text, "\"[{ip}]\""),
    };
    out.extend_from_slice(text.as_bytes());
}

/// A token as it is, anything else as an RFC 9110 quoted-string.
fn push_value(out: &mut Vec<u8>, value: &[u8]) {
    if !value.is_empty() && value.iter().all(|&byte| is_tchar(byte)) {
        out.extend_from_slice(value);
        return;
    }
    out.push(b'"');
    for &byte in value {
        if matches!(byte, b'"' | b'\\') {
            out.push(b'\\');
        }
        out.push(byte);
    }
    out.push(b'"');
}

/// RFC 9110 `tchar`.
fn is_tchar(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

/// RFC 3986 `scheme`: `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`.
fn is_scheme(proto: &str) -> bool {
    let mut bytes = proto.bytes();
    bytes
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic())
        && bytes.all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'+' | b'-' | b'.'))
}

/// Removes the cookies named `names` from the request's `Cookie` headers (e.g. the
/// proxy's own session cookie, which upstreams must never see), keeping the others.
/// Does not allocate when none of them is present.
///
/// ```
/// use http::{HeaderMap, HeaderValue, header::COOKIE};
/// use zt_tower::proxy::strip_cookies;
///
/// let mut headers = HeaderMap::new();
/// headers.insert(COOKIE, HeaderValue::from_static("a=1; __Host-zt-session=secret; b=2"));
/// strip_cookies(&mut headers, &["__Host-zt-session"]);
/// assert_eq!(headers[COOKIE], "a=1; b=2");
/// ```
pub fn strip_cookies<S: AsRef<str>>(headers: &mut HeaderMap, names: &[S]) {
    let named = |pair: &[u8]| {
        let name = pair
            .split(|&b| b == b'=')
            .next()
            .unwrap_or(pair)
            .trim_ascii();
        names.iter().any(|n| n.as_ref().as_bytes() == name)
    };
    let present = headers
        .get_all(http::header::COOKIE)
        .iter()
        .any(|value| value.as_bytes().split(|&b| b == b';').any(named));
    if !present {
        return;
    }
    let kept: Vec<HeaderValue> = headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|value| {
            let pairs: Vec<&[u8]> = value
                .as_bytes()
                .split(|&b| b == b';')
                .map(<[u8]>::trim_ascii)
                .filter(|pair| !pair.is_empty() && !named(pair))
                .collect();
            (!pairs.is_empty()).then(|| HeaderValue::from_bytes(&pairs.join(&b"; "[..])).ok())?
        })
        .collect();
    headers.remove(http::header::COOKIE);
    for value in kept {
        headers.append(http::header::COOKIE, value);
    }
}

/// The host a request is for: its `Host` header, else its URI's authority (HTTP/2's
/// `:authority`, or an absolute-form request target).
pub fn request_host<B>(request: &http::Request<B>) -> Option<&str> {
    request
        .headers()
        .get(http::header::HOST)
        .and_then(|value| value.to_str().ok())
        .or_else(|| request.uri().authority().map(http::uri::Authority::as_str))
}

/// Whether a request names its host ambiguously: several `Host` headers, or a `Host`
/// that differs from the URI's authority (RFC 9112 §3.2.2 and RFC 9113 §8.3.1 make the
/// authority win; a proxy that decided on `Host` would disagree with one that did not).
/// Such requests should be refused.
pub fn ambiguous_host<B>(request: &http::Request<B>) -> bool {
    let mut hosts = request.headers().get_all(http::header::HOST).iter();
    let first = hosts.next();
    if hosts.next().is_some() {
        return true;
    }
    match (first, request.uri().authority()) {
        (Some(host), Some(authority)) => !host
            .as_bytes()
            .eq_ignore_ascii_case(authority.as_str().as_bytes()),
        _ => false,
    }
}

/// [`remove_hop_by_hop`] for a request that is forwarded on: an upgrade request keeps
/// `Connection: upgrade` and its `Upgrade` header (the proxy decides whether to honour
/// it), and `Host` is kept even if `Connection`
/// names it. Run it before any identity header is added, so a client cannot have those
/// removed by naming them in `Connection`.
pub fn remove_hop_by_hop_for_forwarding(headers: &mut HeaderMap) {
    if !headers.contains_key(http::header::CONNECTION) {
        remove_hop_by_hop(headers);
        return;
    }
    let host = headers.get(http::header::HOST).cloned();
    let upgrade = requested_upgrade(headers).cloned();
    remove_hop_by_hop(headers);
    if let Some(host) = host {
        headers.insert(http::header::HOST, host);
    }
    if let Some(upgrade) = upgrade {
        headers.insert(
            http::header::CONNECTION,
            HeaderValue::from_static("upgrade"),
        );
        headers.insert(http::header::UPGRADE, upgrade);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn connection_and_the_headers_it_names_are_removed() {
        let mut map = headers(&[
            ("connection", "keep-alive, X-Custom ,,x-other"),
            ("connection", "Upgrade"),
            ("x-custom", "1"),
            ("x-other", "2"),
            ("x-kept", "3"),
            ("keep-alive", "timeout=5"),
            ("upgrade", "websocket"),
            ("te", "trailers"),
            ("trailer", "x-checksum"),
            ("transfer-encoding", "chunked"),
            ("proxy-authorization", "Basic Zm9vOmJhcg=="),
            ("proxy-authenticate", "Basic"),
            ("proxy-connection", "keep-alive"),
            ("content-type", "text/plain"),
        ]);
        remove_hop_by_hop(&mut map);
        let mut left: Vec<&str> = map.keys().map(HeaderName::as_str).collect();
        left.sort_unstable();
        assert_eq!(left, ["content-type", "x-kept"]);
    }

    #[test]
    fn without_connection_only_the_fixed_list_goes() {
        let mut map = headers(&[("te", "trailers"), ("x-custom", "1")]);
        remove_hop_by_hop(&mut map);
        assert_eq!(map.len(), 1);
        assert!(map.contains_key("x-custom"));
        // Invalid names in Connection are skipped, not fatal.
        let mut map = headers(&[("connection", "bad name, x-a"), ("x-a", "1"), ("x-b", "2")]);
        remove_hop_by_hop(&mut map);
        assert_eq!(map.len(), 1);
        assert!(map.contains_key("x-b"));
    }

    #[test]
    fn websocket_upgrades_are_detected() {
        assert!(is_websocket_upgrade(&headers(&[
            ("connection", "keep-alive, Upgrade"),
            ("upgrade", "WebSocket"),
        ])));
        assert!(is_websocket_upgrade(&headers(&[
            ("connection", "keep-alive"),
            ("connection", "upgrade"),
            ("upgrade", "websocket"),
        ])));
        assert!(!is_websocket_upgrade(&headers(&[("upgrade", "websocket")])));
        assert!(!is_websocket_upgrade(&headers(&[
            ("connection", "upgrade"),
            ("upgrade", "h2c"),
        ])));
        assert!(!is_websocket_upgrade(&headers(&[
            ("connection", "upgraded"),
            ("upgrade", "websocket"),
        ])));
    }

    #[test]
    fn spoofed_forwarding_headers_are_replaced() {
        let mut map = headers(&[
            ("x-forwarded-for", "127.0.0.1"),
            ("x-forwarded-for", "10.0.0.1"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "admin.internal"),
            ("forwarded", "for=127.0.0.1"),
            ("x-real-ip", "127.0.0.1"),
            ("x-forwarded-port", "443"),
        ]);
        set_forwarded(
            &mut map,
            &Forwarded {
                client: "192.0.2.7".parse().unwrap(),
                proto: "http",
                host: None,
                by: None,
            },
        );
        assert_eq!(map.get_all("x-forwarded-for").iter().count(), 1);
        assert_eq!(map["x-forwarded-for"], "192.0.2.7");
        assert_eq!(map["x-forwarded-proto"], "http");
        assert!(!map.contains_key("x-forwarded-host"));
        assert!(!map.contains_key("x-real-ip"));
        assert!(!map.contains_key("x-forwarded-port"));
        assert_eq!(map.get_all("forwarded").iter().count(), 1);
        assert_eq!(map["forwarded"], "for=192.0.2.7;proto=http");
    }

    #[test]
    fn ipv6_is_quoted_and_bracketed() {
        let mut map = HeaderMap::new();
        set_forwarded(
            &mut map,
            &Forwarded {
                client: "2001:db8::1".parse().unwrap(),
                proto: "https",
                host: Some(HeaderValue::from_static("example.com")),
                by: Some("2001:db8::2".parse().unwrap()),
            },
        );
        assert_eq!(map["x-forwarded-for"], "2001:db8::1");
        assert_eq!(map["x-forwarded-proto"], "https");
        assert_eq!(map["x-forwarded-host"], "example.com");
        assert_eq!(
            map["forwarded"],
            "for=\"[2001:db8::1]\";proto=https;host=example.com;by=\"[2001:db8::2]\""
        );
    }

    #[test]
    fn mapped_ipv4_hosts_with_ports_and_bad_protos() {
        let mut map = HeaderMap::new();
        set_forwarded(
            &mut map,
            &Forwarded {
                client: "::ffff:192.0.2.9".parse().unwrap(),
                proto: "not a scheme",
                host: Some(HeaderValue::from_static("[::1]:8443")),
                by: Some("198.51.100.1".parse().unwrap()),
            },
        );
        assert_eq!(map["x-forwarded-for"], "192.0.2.9");
        assert!(!map.contains_key("x-forwarded-proto"));
        assert_eq!(map["x-forwarded-host"], "[::1]:8443");
        assert_eq!(
            map["forwarded"],
            "for=192.0.2.9;host=\"[::1]:8443\";by=198.51.100.1"
        );

        let mut out = Vec::new();
        push_value(&mut out, b"a\"b\\c");
        assert_eq!(out, b"\"a\\\"b\\\\c\"");
    }

    #[test]
    fn hosts_must_agree() {
        let request = |uri: &str, hosts: &[&str]| {
            let mut builder = http::Request::get(uri);
            for host in hosts {
                builder = builder.header(http::header::HOST, *host);
            }
            builder.body(()).unwrap()
        };
        let origin = request("/a", &["app.example.com"]);
        assert_eq!(request_host(&origin), Some("app.example.com"));
        assert!(!ambiguous_host(&origin));
        let h2 = request("https://app.example.com/a", &[]);
        assert_eq!(request_host(&h2), Some("app.example.com"));
        assert!(!ambiguous_host(&h2));
        assert!(!ambiguous_host(&request(
            "http://App.example.com/",
            &["app.EXAMPLE.com"]
        )));
        assert!(ambiguous_host(&request(
            "http://internal/",
            &["app.example.com"]
        )));
        assert!(ambiguous_host(&request(
            "/",
            &["a.example.com", "b.example.com"]
        )));
    }

    #[test]
    fn forwarding_keeps_the_upgrade_and_host_only() {
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("app.example.com"));
        headers.insert("upgrade", HeaderValue::from_static("websocket"));
        headers.insert(
            "connection",
            HeaderValue::from_static("Upgrade, host, x-zt-assertion, keep-alive"),
        );
        headers.insert("x-zt-assertion", HeaderValue::from_static("forged"));
        remove_hop_by_hop_for_forwarding(&mut headers);
        assert_eq!(headers["host"], "app.example.com");
        assert_eq!(headers["connection"], "upgrade");
        assert_eq!(headers["upgrade"], "websocket");
        assert!(!headers.contains_key("x-zt-assertion"));
        // Once done, a second pass (the proxy's) removes nothing else.
        headers.insert("x-zt-assertion", HeaderValue::from_static("signed"));
        remove_hop_by_hop(&mut headers);
        assert_eq!(headers["x-zt-assertion"], "signed");
    }
}
