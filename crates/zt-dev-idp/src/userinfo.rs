//! `GET|POST /userinfo`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::app::App;
use crate::oauth_error::no_store;
use crate::tokens::verify_access_token;

/// The bearer token from `Authorization: Bearer ...`.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// `GET|POST /userinfo` with an access token issued by this IdP.
pub(crate) async fn userinfo(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let Some(token) = bearer(&headers) else {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer realm=\"zt-dev-idp\"")],
        )
            .into_response();
    };
    let Some(user) = verify_access_token(&app, token) else {
        return (
            StatusCode::UNAUTHORIZED,
            [(
                header::WWW_AUTHENTICATE,
                "Bearer realm=\"zt-dev-idp\", error=\"invalid_token\"",
            )],
        )
            .into_response();
    };
    (
        no_store(),
        Json(json!({
            "sub": user.subject,
            "name": user.name,
            "preferred_username": user.username,
            "email": user.email,
            "email_verified": user.email_verified,
            "groups": user.groups,
        })),
    )
        .into_response()
}
