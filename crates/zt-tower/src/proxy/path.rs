//! Strict request-path normalisation: [`normalize_path`], [`normalize_uri`] and the
//! [`NormalizePathLayer`] that applies them before anything else sees the request.
//!
//! An identity-aware proxy decides on a path and forwards a path; both must be the same
//! path, or `/admin` can be reached as `//admin`, `/./admin`, `/public/../admin` or
//! `/%61dmin` without passing the policy written for `/admin`. Normalisation decodes
//! what has one meaning only (escapes of unreserved characters), resolves dot segments,
//! collapses repeated slashes, and rejects what upstreams disagree about (encoded
//! slashes and backslashes, double encoding, control characters, `..` above the root).

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::uri::PathAndQuery;
use http::{HeaderMap, Request, Response, StatusCode, Uri};
use http_body_util::{Either, Full};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use crate::response::problem;

/// Why a request path was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// The request target is not an origin-form path starting with `/` (e.g. the
    /// asterisk-form `*` or an authority-form target).
    #[error("the request target is not a path starting with '/'")]
    NotOrigin,
    /// A `%` not followed by two hexadecimal digits.
    #[error("malformed percent-escape in the path")]
    MalformedEscape,
    /// `%2F`: upstreams disagree on whether it separates segments.
    #[error("encoded slash (%2F) in the path")]
    EncodedSlash,
    /// `%5C`: some upstreams treat a backslash as a slash.
    #[error("encoded backslash (%5C) in the path")]
    EncodedBackslash,
    /// A literal `\`: some upstreams treat it as a slash.
    #[error("backslash in the path")]
    Backslash,
    /// A NUL or other control character, literal or encoded (`%00`-`%1F`, `%7F`).
    #[error("control character in the path")]
    ControlCharacter,
    /// `%25` followed by two hexadecimal digits: a second decoding would change it.
    #[error("double percent-encoding in the path")]
    DoubleEncoded,
    /// A `..` segment that would climb above the root.
    #[error("'..' above the root of the path")]
    AboveRoot,
    /// A `.` or `..` segment with a `;` parameter (`/..;/`), which some servers resolve
    /// as a dot segment.
    #[error("dot segment with a ';' parameter in the path")]
    DotSegmentParameter,
    /// The normalised path could not be put back into the URI.
    #[error("the normalised path is not a valid URI path")]
    Unrepresentable,
}

/// Normalises the path part of a request target (no query).
///
/// Escapes of unreserved characters (`A-Z a-z 0-9 - . _ ~`) are decoded, other escapes
/// kept with upper-case hex; repeated slashes are collapsed and `.` and `..` segments
/// resolved (RFC 3986 `remove_dot_segments`, after decoding, so `%2e%2e` is `..`); a
/// trailing slash is kept. With `case_insensitive`, ASCII letters are lower-cased
/// (escapes of other characters are not decoded, so they stay as they are).
///
/// Returns the input borrowed when it is already normal (one scan, no allocation).
///
/// # Errors
///
/// [`PathError`] when the path does not start with `/`, has a malformed escape, an
/// encoded slash or backslash, a literal backslash, a control character, a double
/// encoding (`%25` and two hex digits), a `..` above the root, or a dot segment with a
/// `;` parameter.
///
/// ```
/// use zt_tower::proxy::normalize_path;
///
/// assert_eq!(normalize_path("/public/../%61dmin//x", false)?, "/admin/x");
/// assert_eq!(normalize_path("/ADMIN/", true)?, "/admin/");
/// assert!(normalize_path("/admin%2f..", false).is_err());
/// # Ok::<(), zt_tower::proxy::PathError>(())
/// ```
pub fn normalize_path(path: &str, case_insensitive: bool) -> Result<Cow<'_, str>, PathError> {
    if is_normal(path.as_bytes(), case_insensitive) {
        return Ok(Cow::Borrowed(path));
    }
    let normalized = normalize_slow(path.as_bytes(), case_insensitive)?;
    if normalized == path.as_bytes() {
        return Ok(Cow::Borrowed(path));
    }
    String::from_utf8(normalized)
        .map(Cow::Owned)
        .map_err(|_| PathError::Unrepresentable)
}

/// Normalises the path of `uri` with [`normalize_path`]; `Some` with the new URI only
/// when the path changed. The query, scheme and authority are kept as they are.
///
/// # Errors
///
/// As [`normalize_path`]; a target that is not a path (asterisk-form `*`,
/// authority-form) is [`PathError::NotOrigin`].
pub fn normalize_uri(uri: &Uri, case_insensitive: bool) -> Result<Option<Uri>, PathError> {
    let path = match normalize_path(uri.path(), case_insensitive)? {
        Cow::Borrowed(_) => return Ok(None),
        Cow::Owned(path) => path,
    };
    let path_and_query = match uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path,
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query =
        Some(PathAndQuery::try_from(path_and_query).map_err(|_| PathError::Unrepresentable)?);
    Uri::from_parts(parts)
        .map(Some)
        .map_err(|_| PathError::Unrepresentable)
}

/// Whether `path` is already normal. `false` also for anything that might be an error;
/// the slow path then decides.
fn is_normal(path: &[u8], case_insensitive: bool) -> bool {
    if path.first() != Some(&b'/') {
        return false;
    }
    let mut segment_start = 1;
    let mut i = 1;
    while let Some(&byte) = path.get(i) {
        match byte {
            b'/' => {
                if path.get(segment_start..i).is_none_or(not_normal_segment) {
                    return false;
                }
                segment_start = i + 1;
            }
            b'%' => match (path.get(i + 1), path.get(i + 2)) {
                (Some(&hi), Some(&lo)) if is_upper_hex(hi) && is_upper_hex(lo) => {
                    let value = (hex_value(hi) << 4) | hex_value(lo);
                    if is_unreserved(value) || is_forbidden_escape(value) || value == b'%' {
                        return false;
                    }
                    i += 3;
                    continue;
                }
                _ => return false,
            },
            b'\\' | 0x00..=0x1F | 0x7F => return false,
            b'A'..=b'Z' if case_insensitive => return false,
            _ => {}
        }
        i += 1;
    }
    // The last segment may be empty (a trailing slash, or the root itself).
    match path.get(segment_start..) {
        Some([]) => true,
        Some(last) => !not_normal_segment(last),
        None => false,
    }
}

/// An empty segment (`//`), a dot segment, or a dot segment with a parameter.
fn not_normal_segment(segment: &[u8]) -> bool {
    matches!(segment, b"" | b"." | b"..") || is_dot_with_parameter(segment)
}

/// `.;x`, `..;x`, `.%3Bx`, `..%3Bx`.
fn is_dot_with_parameter(segment: &[u8]) -> bool {
    let rest = segment
        .strip_prefix(b"..")
        .or_else(|| segment.strip_prefix(b"."));
    rest.is_some_and(|rest| {
        rest.starts_with(b";") || rest.starts_with(b"%3B") || rest.starts_with(b"%3b")
    })
}

fn normalize_slow(path: &[u8], case_insensitive: bool) -> Result<Vec<u8>, PathError> {
    if path.first() != Some(&b'/') {
        return Err(PathError::NotOrigin);
    }
    let decoded = decode(path, case_insensitive)?;
    // Every `%` in `decoded` starts a valid upper-case escape, and hex digits are
    // unreserved, so a decoded `%2e` after `%25` is caught here too.
    let double_encoded = decoded.windows(5).any(|window| {
        window.starts_with(b"%25") && window[3].is_ascii_hexdigit() && window[4].is_ascii_hexdigit()
    });
    if double_encoded {
        return Err(PathError::DoubleEncoded);
    }
    remove_dot_segments(&decoded)
}

/// Decodes escapes of unreserved characters, upper-cases the hex of the others and
/// rejects the escapes and characters upstreams disagree about.
fn decode(path: &[u8], case_insensitive: bool) -> Result<Vec<u8>, PathError> {
    let mut decoded = Vec::with_capacity(path.len());
    let mut i = 0;
    while let Some(&byte) = path.get(i) {
        match byte {
            b'%' => {
                let (Some(hi), Some(lo)) = (path.get(i + 1), path.get(i + 2)) else {
                    return Err(PathError::MalformedEscape);
                };
                if !hi.is_ascii_hexdigit() || !lo.is_ascii_hexdigit() {
                    return Err(PathError::MalformedEscape);
                }
                let value = (hex_value(*hi) << 4) | hex_value(*lo);
                match value {
                    b'/' => return Err(PathError::EncodedSlash),
                    b'\\' => return Err(PathError::EncodedBackslash),
                    0x00..=0x1F | 0x7F => return Err(PathError::ControlCharacter),
                    _ if is_unreserved(value) => decoded.push(if case_insensitive {
                        value.to_ascii_lowercase()
                    } else {
                        value
                    }),
                    _ => decoded.extend_from_slice(&[
                        b'%',
                        HEX[usize::from(value >> 4)],
                        HEX[usize::from(value & 0x0F)],
                    ]),
                }
                i += 3;
                continue;
            }
            b'\\' => return Err(PathError::Backslash),
            0x00..=0x1F | 0x7F => return Err(PathError::ControlCharacter),
            _ if case_insensitive => decoded.push(byte.to_ascii_lowercase()),
            _ => decoded.push(byte),
        }
        i += 1;
    }
    Ok(decoded)
}

/// Collapses repeated slashes and resolves dot segments of a decoded path starting
/// with `/`; a trailing slash (also one implied by a final `.` or `..`) is kept.
fn remove_dot_segments(decoded: &[u8]) -> Result<Vec<u8>, PathError> {
    let mut segments: Vec<&[u8]> = Vec::new();
    let mut trailing_slash = false;
    for segment in decoded.split(|&byte| byte == b'/').skip(1) {
        trailing_slash = false;
        match segment {
            b"" | b"." => trailing_slash = true,
            b".." => {
                if segments.pop().is_none() {
                    return Err(PathError::AboveRoot);
                }
                trailing_slash = true;
            }
            _ if is_dot_with_parameter(segment) => return Err(PathError::DotSegmentParameter),
            _ => segments.push(segment),
        }
    }
    let mut out = Vec::with_capacity(decoded.len());
    for segment in &segments {
        out.push(b'/');
        out.extend_from_slice(segment);
    }
    if trailing_slash || segments.is_empty() {
        out.push(b'/');
    }
    Ok(out)
}

const HEX: [u8; 16] = *b"0123456789ABCDEF";

fn is_upper_hex(byte: u8) -> bool {
    matches!(byte, b'0'..=b'9' | b'A'..=b'F')
}

/// The value of a hex digit (0 for anything else; callers check first).
fn hex_value(byte: u8) -> u8 {
    match byte {
        b'0'..=b'9' => byte - b'0',
        b'a'..=b'f' => byte - b'a' + 10,
        b'A'..=b'F' => byte - b'A' + 10,
        _ => 0,
    }
}

/// RFC 3986 unreserved: `ALPHA / DIGIT / "-" / "." / "_" / "~"`.
fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

/// Escapes that are always rejected.
fn is_forbidden_escape(value: u8) -> bool {
    matches!(value, b'/' | b'\\' | 0x00..=0x1F | 0x7F)
}

/// Normalises every request's path before the inner service sees it; see
/// [`normalize_path`].
///
/// A request whose path changes gets the normalised URI (query untouched); a request
/// whose path is rejected is answered `400 Bad Request` with an
/// `application/problem+json` body, and the inner service is not called.
///
/// Put it outside everything that looks at the path (the [`AuthLayer`](crate::AuthLayer)
/// and the router): wrap the router itself, `NormalizePathLayer::new().layer(router)`,
/// not `Router::layer`, which runs after routing.
///
/// ```
/// use axum::{Router, routing::get};
/// use tower::Layer;
/// use zt_tower::proxy::NormalizePathLayer;
///
/// let app: Router = Router::new().route("/admin", get(|| async { "admin" }));
/// let service = NormalizePathLayer::new().case_insensitive(true).layer(app);
/// # let _ = service;
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct NormalizePathLayer {
    case_insensitive: bool,
}

impl NormalizePathLayer {
    /// A case-sensitive layer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether ASCII letters are lower-cased (for upstreams that match paths
    /// case-insensitively).
    #[must_use]
    pub fn case_insensitive(mut self, case_insensitive: bool) -> Self {
        self.case_insensitive = case_insensitive;
        self
    }
}

impl<S> Layer<S> for NormalizePathLayer {
    type Service = NormalizePath<S>;

    fn layer(&self, inner: S) -> Self::Service {
        NormalizePath {
            inner,
            case_insensitive: self.case_insensitive,
        }
    }
}

/// The service of [`NormalizePathLayer`].
#[derive(Debug, Clone)]
pub struct NormalizePath<S> {
    inner: S,
    case_insensitive: bool,
}

impl<S> NormalizePath<S> {
    /// Wraps `inner`, case-sensitive.
    pub fn new(inner: S) -> Self {
        NormalizePathLayer::new().layer(inner)
    }

    /// Whether ASCII letters are lower-cased.
    #[must_use]
    pub fn case_insensitive(mut self, case_insensitive: bool) -> Self {
        self.case_insensitive = case_insensitive;
        self
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for NormalizePath<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<Either<ResBody, Full<Bytes>>>;
    type Error = S::Error;
    type Future = NormalizePathFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        match normalize_uri(request.uri(), self.case_insensitive) {
            Ok(None) => {}
            Ok(Some(uri)) => *request.uri_mut() = uri,
            Err(error) => {
                tracing::debug!(%error, "request path rejected");
                let response = problem(
                    &HeaderMap::new(),
                    StatusCode::BAD_REQUEST,
                    &error.to_string(),
                );
                return NormalizePathFuture {
                    state: State::Respond {
                        response: Some(response),
                    },
                };
            }
        }
        NormalizePathFuture {
            state: State::Inner {
                future: self.inner.call(request),
            },
        }
    }
}

pin_project! {
    /// Response future of [`NormalizePath`]: the inner service's, or the `400` answer.
    pub struct NormalizePathFuture<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Inner { #[pin] future: F },
        Respond { response: Option<Response<Full<Bytes>>> },
    }
}

impl<F, B, E> Future for NormalizePathFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<Either<B, Full<Bytes>>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Inner { future } => {
                let response = ready!(future.poll(cx))?;
                Poll::Ready(Ok(response.map(Either::Left)))
            }
            StateProj::Respond { response } => match response.take() {
                Some(response) => Poll::Ready(Ok(response.map(Either::Right))),
                None => Poll::Pending,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use http_body_util::BodyExt;
    use proptest::prelude::*;
    use tower::ServiceExt;
    use tower::service_fn;

    use super::*;

    fn ok(path: &str) -> String {
        match normalize_path(path, false) {
            Ok(normalized) => normalized.into_owned(),
            Err(error) => panic!("{path}: {error}"),
        }
    }

    fn err(path: &str) -> PathError {
        match normalize_path(path, false) {
            Ok(normalized) => panic!("{path} normalised to {normalized}"),
            Err(error) => error,
        }
    }

    #[test]
    fn bypasses_of_a_protected_prefix_resolve_to_it() {
        for path in [
            "//admin",
            "/./admin",
            "/public/../admin",
            "/%61dmin",
            "/%2e/admin",
        ] {
            assert_eq!(ok(path), "/admin", "{path}");
        }
        assert_eq!(normalize_path("/ADMIN", true).unwrap(), "/admin");
        assert_eq!(normalize_path("/%41DMIN", true).unwrap(), "/admin");
        assert_eq!(ok("/ADMIN"), "/ADMIN");
        assert_eq!(err("/admin%2f.."), PathError::EncodedSlash);
    }

    #[test]
    fn dot_segments_and_slashes() {
        assert_eq!(ok("/a/b/../c"), "/a/c");
        assert_eq!(ok("/a/./b/"), "/a/b/");
        assert_eq!(ok("/a/b/.."), "/a/");
        assert_eq!(ok("/a/."), "/a/");
        assert_eq!(ok("/a/.."), "/");
        assert_eq!(ok("/a//b///"), "/a/b/");
        assert_eq!(ok("/"), "/");
        assert_eq!(ok("//"), "/");
        assert_eq!(ok("/.../..../"), "/.../..../");
        assert_eq!(ok("/a/%2E%2e/b"), "/b");
        assert_eq!(err("/.."), PathError::AboveRoot);
        assert_eq!(err("/a/../.."), PathError::AboveRoot);
        assert_eq!(err("/%2e%2e/admin"), PathError::AboveRoot);
        assert_eq!(err("/public/..;/admin"), PathError::DotSegmentParameter);
        assert_eq!(
            err("/public/%2e%2e;x/admin"),
            PathError::DotSegmentParameter
        );
        assert_eq!(err("/public/.%3b/admin"), PathError::DotSegmentParameter);
        assert_eq!(ok("/a;b/..c;d"), "/a;b/..c;d");
    }

    #[test]
    fn escapes() {
        assert_eq!(ok("/%7Euser"), "/~user");
        assert_eq!(ok("/a%20b"), "/a%20b");
        assert_eq!(ok("/a%2a"), "/a%2A");
        assert_eq!(ok("/caf%c3%a9"), "/caf%C3%A9");
        assert_eq!(ok("/a%25zz"), "/a%25zz");
        assert_eq!(normalize_path("/a%2a", true).unwrap(), "/a%2A");
        assert_eq!(normalize_path("/A%2A", true).unwrap(), "/a%2A");
        assert_eq!(err("/a%"), PathError::MalformedEscape);
        assert_eq!(err("/a%4"), PathError::MalformedEscape);
        assert_eq!(err("/a%zz"), PathError::MalformedEscape);
        assert_eq!(err("/a%2F.."), PathError::EncodedSlash);
        assert_eq!(err("/a%2f"), PathError::EncodedSlash);
        assert_eq!(err("/a%5Cb"), PathError::EncodedBackslash);
        assert_eq!(err("/a%5cb"), PathError::EncodedBackslash);
        assert_eq!(err("/a\\b"), PathError::Backslash);
        assert_eq!(err("/a%00"), PathError::ControlCharacter);
        assert_eq!(err("/a%1F"), PathError::ControlCharacter);
        assert_eq!(err("/a%7f"), PathError::ControlCharacter);
        assert_eq!(err("/a\tb"), PathError::ControlCharacter);
        assert_eq!(err("/%252e%252e/admin"), PathError::DoubleEncoded);
        assert_eq!(err("/a%2541"), PathError::DoubleEncoded);
        // The digits after %25 only become hex digits once decoded.
        assert_eq!(err("/a%25%34%31"), PathError::DoubleEncoded);
        assert_eq!(err("*"), PathError::NotOrigin);
        assert_eq!(err(""), PathError::NotOrigin);
        assert_eq!(err("admin"), PathError::NotOrigin);
    }

    #[test]
    fn normal_paths_are_borrowed() {
        for path in [
            "/",
            "/admin",
            "/a/b/",
            "/a%20b",
            "/caf%C3%A9",
            "/a%25zz",
            "/é/x",
        ] {
            assert!(
                matches!(normalize_path(path, false), Ok(Cow::Borrowed(p)) if p == path),
                "{path}"
            );
        }
        assert!(matches!(normalize_path("/a/b", true), Ok(Cow::Borrowed(_))));
    }

    #[test]
    fn uris_keep_their_query_and_authority() {
        let uri: Uri = "/a/./b/../%61?x=/../%2f&y".parse().unwrap();
        let normalized = normalize_uri(&uri, false).unwrap().unwrap();
        assert_eq!(normalized, "/a/a?x=/../%2f&y");
        let uri: Uri = "https://example.com:8443//admin?q".parse().unwrap();
        let normalized = normalize_uri(&uri, false).unwrap().unwrap();
        assert_eq!(normalized, "https://example.com:8443/admin?q");
        let uri: Uri = "/admin?q=..".parse().unwrap();
        assert_eq!(normalize_uri(&uri, false).unwrap(), None);
        let uri: Uri = "http://example.com".parse().unwrap();
        assert_eq!(normalize_uri(&uri, false).unwrap(), None);
        let uri: Uri = "*".parse().unwrap();
        assert_eq!(normalize_uri(&uri, false), Err(PathError::NotOrigin));
        let uri: Uri = "example.com:443".parse().unwrap();
        assert_eq!(normalize_uri(&uri, false), Err(PathError::NotOrigin));
    }

    #[tokio::test]
    async fn layer_rewrites_or_answers_400() {
        let inner = service_fn(|request: Request<()>| async move {
            Ok::<_, Infallible>(Response::new(request.uri().to_string()))
        });
        let service = NormalizePathLayer::new()
            .case_insensitive(true)
            .layer(inner);

        let request = Request::get("/Public/../ADMIN?Q=1").body(()).unwrap();
        let response = service.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        match response.into_body() {
            Either::Left(body) => assert_eq!(body, "/admin?Q=1"),
            Either::Right(_) => panic!("the layer answered itself"),
        }

        let request = Request::get("/admin%2f..").body(()).unwrap();
        let response = service.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            response.headers()[http::header::CONTENT_TYPE],
            "application/problem+json"
        );
        let Either::Right(body) = response.into_body() else {
            panic!("the inner service was called");
        };
        let body = body.collect().await.unwrap().to_bytes();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "type": "about:blank",
                "title": "Bad Request",
                "status": 400,
                "detail": "encoded slash (%2F) in the path",
            })
        );
    }

    /// The reference: decode every escape, then split, collapse and resolve naively.
    fn reference(path: &str) -> Option<Vec<u8>> {
        let bytes = path.as_bytes();
        let mut decoded = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                decoded.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            } else {
                decoded.push(bytes[i]);
                i += 1;
            }
        }
        let mut stack: Vec<&[u8]> = Vec::new();
        for segment in decoded.split(|&b| b == b'/') {
            match segment {
                b"" | b"." => {}
                b".." => {
                    stack.pop()?;
                }
                _ => stack.push(segment),
            }
        }
        let mut out = Vec::new();
        for segment in stack {
            out.push(b'/');
            out.extend_from_slice(segment);
        }
        Some(out)
    }

    /// Decodes every escape of a normalised path.
    fn decode_all(path: &str) -> Vec<u8> {
        let bytes = path.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                out.push((hex_value(bytes[i + 1]) << 4) | hex_value(bytes[i + 2]));
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        out
    }

    fn is_under_admin(path: &[u8]) -> bool {
        path == b"/admin" || path.starts_with(b"/admin/")
    }

    fn piece() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "/", "/", "/", "a", "admin", "ADMIN", "Admin", ".", "..", "%2e", "%2E", "%2e%2e",
            "%61", "%41", "%2f", "%2F", "%5c", "%5C", "\\", "%25", "%252e", "%2541", "%20", "%2a",
            "%", "%4", "%zz", "%00", "%7f", "~", "%7e", "-", "_", ";", "%3b", "é", "%C3%A9",
            "%c3%a9", "x", "3", "f",
        ])
    }

    fn path() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::collection::vec(piece(), 0..12).prop_map(|pieces| pieces.concat()),
            prop::collection::vec(piece(), 0..12)
                .prop_map(|pieces| format!("/{}", pieces.concat())),
            "/[/a-fA-F.%0-9;~]{0,20}",
            any::<String>(),
        ]
    }

    proptest! {
        #[test]
        fn normal_form_is_idempotent_and_free_of_dot_segments(path in path(), ci in any::<bool>()) {
            if let Ok(out) = normalize_path(&path, ci) {
                let again = normalize_path(&out, ci);
                prop_assert!(matches!(&again, Ok(Cow::Borrowed(p)) if *p == out), "{:?} -> {:?} -> {:?}", path, out, again);
                prop_assert!(out.starts_with('/'));
                for bad in ["//", "/./", "/../"] {
                    prop_assert!(!out.contains(bad), "{:?} -> {:?}", path, out);
                }
                prop_assert!(!out.ends_with("/.") && !out.ends_with("/.."), "{:?} -> {:?}", path, out);
                if ci {
                    prop_assert!(!decode_all(&out).iter().any(u8::is_ascii_uppercase));
                }
            }
        }

        #[test]
        fn normal_form_means_what_the_reference_means(path in path()) {
            if let Ok(out) = normalize_path(&path, false) {
                let reference = reference(&path);
                prop_assert!(reference.is_some(), "{:?} -> {:?}", path, out);
                let reference = reference.unwrap_or_default();
                let decoded = decode_all(&out);
                prop_assert_eq!(is_under_admin(&decoded), is_under_admin(&reference));
                prop_assert_eq!(decoded.strip_suffix(b"/").unwrap_or(&decoded), &reference[..]);
            }
        }

        #[test]
        fn case_insensitive_is_the_lower_case_of_sensitive(path in path()) {
            let sensitive = normalize_path(&path, false);
            let insensitive = normalize_path(&path, true);
            prop_assert_eq!(sensitive.is_ok(), insensitive.is_ok());
            if let (Ok(sensitive), Ok(insensitive)) = (sensitive, insensitive) {
                prop_assert_eq!(decode_all(&sensitive).to_ascii_lowercase(), decode_all(&insensitive));
            }
        }

        #[test]
        fn fast_path_agrees_with_slow_path(path in path(), ci in any::<bool>()) {
            if is_normal(path.as_bytes(), ci) {
                prop_assert_eq!(normalize_slow(path.as_bytes(), ci), Ok(path.into_bytes()));
            }
        }
    }
}
