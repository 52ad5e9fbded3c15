//! Redirect responses.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// `303 See Other` to `location`, optionally setting a cookie.
pub(crate) fn see_other(location: &str, set_cookie: Option<String>) -> Response {
    let Ok(loc) = HeaderValue::from_str(location) else {
        tracing::error!("refusing to redirect to a location that is not a valid header value");
        return crate::html::error_page(StatusCode::BAD_REQUEST, "invalid redirect location");
    };
    let mut resp = (StatusCode::SEE_OTHER, [(header::CACHE_CONTROL, "no-store")]).into_response();
    resp.headers_mut().insert(header::LOCATION, loc);
    if let Some(cookie) = set_cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        resp.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    resp
}

/// `uri` with `pairs` appended to its query (existing query parameters are kept).
pub(crate) fn with_query(uri: &str, pairs: &[(&str, &str)]) -> Option<String> {
    let mut url = url::Url::parse(uri).ok()?;
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in pairs {
            q.append_pair(k, v);
        }
    }
    Some(url.into())
}
