//! The axum handlers.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::routing::get;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, SET_COOKIE};
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use serde_json::json;

use super::state::LoginState;
use super::{CallbackParams, Inner, LoginError};

pub(super) fn router(inner: Arc<Inner>) -> Router {
    let prefix = inner.prefix.clone();
    Router::new()
        .route(&format!("{prefix}/login"), get(login))
        .route(&format!("{prefix}/callback"), get(callback))
        .route(&format!("{prefix}/logout"), get(logout))
        .route(&format!("{prefix}/userinfo"), get(userinfo))
        .with_state(inner)
}

/// `GET {prefix}/login?rd=/path`.
async fn login(State(inner): State<Arc<Inner>>, RawQuery(query): RawQuery) -> Response<Body> {
    let rd = query
        .as_deref()
        .and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(name, _)| name == "rd")
                .map(|(_, value)| value.into_owned())
        })
        .unwrap_or_else(|| "/".to_owned());
    match inner.begin(&rd).await {
        Ok((url, cookie)) => {
            let mut response = see_other(url.as_str());
            response.headers_mut().append(SET_COOKIE, cookie);
            response
        }
        Err(error) => {
            tracing::error!(%error, "cannot start a login");
            problem(
                &HeaderMap::new(),
                StatusCode::INTERNAL_SERVER_ERROR,
                "sign-in is unavailable",
            )
        }
    }
}

/// `GET {prefix}/callback?code&state`.
async fn callback(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response<Body> {
    let params = CallbackParams::parse(query.as_deref().unwrap_or_default());
    let mut response = match inner.finish(&headers, params).await {
        Ok((mut session, return_to)) => match inner.set_cookie(&mut session) {
            Ok(cookie) => {
                tracing::info!(
                    subject = %session.subject,
                    issuer = %session.issuer,
                    session_id = %session.session_id,
                    "browser signed in"
                );
                let mut response = see_other(&return_to);
                response.headers_mut().append(SET_COOKIE, cookie);
                response
            }
            Err(error) => {
                tracing::error!(%error, subject = %session.subject, "cannot store the session");
                problem(
                    &headers,
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the session could not be stored",
                )
            }
        },
        Err(error) => {
            let (status, detail) = match &error {
                LoginError::MissingState(_) => (
                    StatusCode::BAD_REQUEST,
                    "the sign-in attempt expired or was started in another browser; please sign in again",
                ),
                LoginError::StateMismatch | LoginError::BadCallback(_) => (
                    StatusCode::BAD_REQUEST,
                    "the sign-in response does not belong to this sign-in attempt; please sign in again",
                ),
                LoginError::Provider(_) => (
                    StatusCode::UNAUTHORIZED,
                    "the identity provider did not sign you in",
                ),
                LoginError::Exchange(_) | LoginError::IdToken(_) => (
                    StatusCode::UNAUTHORIZED,
                    "the sign-in could not be verified",
                ),
                _ => (StatusCode::INTERNAL_SERVER_ERROR, "sign-in failed"),
            };
            tracing::warn!(%error, status = status.as_u16(), "login callback refused");
            problem(&headers, status, detail)
        }
    };
    // Whatever happened, this login attempt is over.
    response
        .headers_mut()
        .append(SET_COOKIE, LoginState::clear());
    response
}

/// `GET {prefix}/logout`.
async fn logout(State(inner): State<Arc<Inner>>, headers: HeaderMap) -> Response<Body> {
    let session = match inner.cookie.from_request_headers(&headers) {
        Ok(session) => session,
        Err(error) => {
            tracing::debug!(%error, "logout with a session cookie that does not open");
            None
        }
    };
    if let Some(session) = &session {
        inner.cookie.revoke(session);
        tracing::info!(subject = %session.subject, session_id = %session.session_id, "browser signed out");
    }
    let mut response = see_other(&inner.logout_target(session.as_ref()));
    response
        .headers_mut()
        .append(SET_COOKIE, inner.cookie.clear());
    response
}

/// `GET {prefix}/userinfo`.
async fn userinfo(State(inner): State<Arc<Inner>>, headers: HeaderMap) -> Response<Body> {
    let api = HeaderMap::new();
    match inner.cookie.from_request_headers(&headers) {
        Ok(Some(session)) => {
            let body = json!({
                "subject": session.subject,
                "issuer": session.issuer,
                "email": session.email,
                "name": session.name,
                "expires_at": session.expires_at.to_string(),
            });
            let mut response = Response::new(Body::from(body.to_string()));
            let headers = response.headers_mut();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Ok(None) => problem(&api, StatusCode::UNAUTHORIZED, "not signed in"),
        Err(error) => {
            tracing::debug!(%error, "userinfo with a session cookie that does not open");
            let mut response = problem(&api, StatusCode::UNAUTHORIZED, "not signed in");
            response
                .headers_mut()
                .append(SET_COOKIE, inner.cookie.clear());
            response
        }
    }
}

fn see_other(location: &str) -> Response<Body> {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SEE_OTHER;
    match HeaderValue::from_str(location) {
        Ok(value) => {
            response.headers_mut().insert(LOCATION, value);
        }
        Err(_) => {
            tracing::error!("refusing a redirect location that is not a header value");
            return problem(
                &HeaderMap::new(),
                StatusCode::INTERNAL_SERVER_ERROR,
                "bad redirect",
            );
        }
    }
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// An error answer: HTML for browsers, `application/problem+json` otherwise. `detail` is
/// a fixed, client-safe text.
fn problem(headers: &HeaderMap, status: StatusCode, detail: &str) -> Response<Body> {
    crate::response::problem(headers, status, detail).map(Body::new)
}
