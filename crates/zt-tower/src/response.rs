//! The responses the layer answers with itself: 401, 403 and 503, as HTML for browsers
//! and `application/problem+json` (RFC 9457) for everything else; 401 carries
//! `WWW-Authenticate` per RFC 6750.

use bytes::Bytes;
use http::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use http_body_util::{Either, Full};
use serde_json::json;

/// The body of every response passing through the layer: the inner service's, or one of
/// the layer's own.
pub type AuthBody<B> = Either<B, Full<Bytes>>;

/// Whether the client is a browser navigating (it asks for HTML).
pub(crate) fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|accept| accept.contains("text/html"))
}

/// 401. `invalid` is the RFC 6750 `error_description` when a presented token was refused.
pub(crate) fn unauthorized(headers: &HeaderMap, invalid: Option<&str>) -> Response<Full<Bytes>> {
    let challenge = match invalid {
        Some(description) => format!(
            "Bearer realm=\"zt\", error=\"invalid_token\", error_description=\"{}\"",
            description.replace(['"', '\\'], "'")
        ),
        None => "Bearer realm=\"zt\"".to_owned(),
    };
    let detail = invalid.unwrap_or("sign in to continue");
    let mut response = problem(headers, StatusCode::UNAUTHORIZED, detail);
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response.headers_mut().insert(WWW_AUTHENTICATE, value);
    }
    response
}

/// 303 to the login page for a browser, carrying where to come back to.
pub(crate) fn login_redirect(login: &str, return_to: &str) -> Response<Full<Bytes>> {
    let target = format!("{login}?rd={}", percent_encode(return_to));
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(value) = HeaderValue::from_str(&target) {
        response.headers_mut().insert(LOCATION, value);
    }
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// 403 with the policy's reason.
pub(crate) fn forbidden(headers: &HeaderMap, reason: &str) -> Response<Full<Bytes>> {
    problem(headers, StatusCode::FORBIDDEN, reason)
}

/// 503: the request cannot be decided safely now (e.g. the audit log is unavailable).
pub(crate) fn unavailable(headers: &HeaderMap, detail: &str) -> Response<Full<Bytes>> {
    problem(headers, StatusCode::SERVICE_UNAVAILABLE, detail)
}

/// An error answer in the form the client asked for: an HTML page for browsers (by
/// `Accept`), RFC 9457 `application/problem+json` otherwise; never cached. `detail` is
/// shown to the client, so it must not carry internal detail.
pub fn problem(headers: &HeaderMap, status: StatusCode, detail: &str) -> Response<Full<Bytes>> {
    let title = status.canonical_reason().unwrap_or("Error");
    let (content_type, body) = if wants_html(headers) {
        (
            "text/html; charset=utf-8",
            format!(
                "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{code} {title}</title></head>\n<body><h1>{code} {title}</h1>\n<p>{}</p></body></html>\n",
                escape_html(detail),
                code = status.as_u16(),
            ),
        )
    } else {
        (
            "application/problem+json",
            json!({"type": "about:blank", "title": title, "status": status.as_u16(), "detail": detail})
                .to_string(),
        )
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

/// Percent-encodes everything but unreserved characters and `/` (for a query value).
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static(value));
        headers
    }

    #[test]
    fn browsers_get_html_and_apis_problem_json() {
        let page = forbidden(&accept("text/html,application/xhtml+xml"), "<admins> only");
        assert_eq!(page.status(), StatusCode::FORBIDDEN);
        assert_eq!(page.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
        let api = forbidden(&accept("application/json"), "admins only");
        assert_eq!(api.headers()[CONTENT_TYPE], "application/problem+json");
    }

    #[test]
    fn challenges_follow_rfc_6750() {
        let plain = unauthorized(&HeaderMap::new(), None);
        assert_eq!(plain.headers()[WWW_AUTHENTICATE], "Bearer realm=\"zt\"");
        let invalid = unauthorized(&HeaderMap::new(), Some("token \"expired\""));
        assert_eq!(
            invalid.headers()[WWW_AUTHENTICATE],
            "Bearer realm=\"zt\", error=\"invalid_token\", error_description=\"token 'expired'\""
        );
    }

    #[test]
    fn html_and_redirects_are_escaped() {
        assert_eq!(
            escape_html("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        let redirect = login_redirect("/.zt/login", "/a b?x=1&y=2");
        assert_eq!(
            redirect.headers()[LOCATION],
            "/.zt/login?rd=/a%20b%3Fx%3D1%26y%3D2"
        );
    }
}
