//! `GET /.well-known/openid-configuration` and `GET /jwks`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::SigningAlg;
use crate::app::App;
use crate::token_endpoint::DEVICE_CODE_GRANT;

/// The OpenID Provider metadata.
pub(crate) fn document(app: &App) -> Value {
    let configured = app.settings.signing_alg;
    let mut algs = vec![configured.as_str()];
    algs.extend(
        SigningAlg::ALL
            .iter()
            .filter(|a| **a != configured)
            .map(|a| a.as_str()),
    );
    json!({
        "issuer": app.issuer,
        "authorization_endpoint": app.endpoint("/authorize"),
        "token_endpoint": app.endpoint("/token"),
        "jwks_uri": app.endpoint("/jwks"),
        "userinfo_endpoint": app.endpoint("/userinfo"),
        "device_authorization_endpoint": app.endpoint("/device_authorization"),
        "end_session_endpoint": app.endpoint("/end_session"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", DEVICE_CODE_GRANT],
        "code_challenge_methods_supported": ["S256"],
        "id_token_signing_alg_values_supported": algs,
        "subject_types_supported": ["public"],
        "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
        "scopes_supported": ["openid", "profile", "email", "groups", "offline_access"],
        "claims_supported": [
            "iss", "sub", "aud", "exp", "iat", "nbf", "auth_time", "nonce", "azp", "sid", "jti",
            "name", "preferred_username", "email", "email_verified", "groups"
        ],
        "prompt_values_supported": ["none", "login", "select_account"],
        "authorization_response_iss_parameter_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "claims_parameter_supported": false,
    })
}

/// `GET /.well-known/openid-configuration`.
pub(crate) async fn openid_configuration(State(app): State<Arc<App>>) -> Response {
    (
        [(header::CACHE_CONTROL, "max-age=60")],
        Json(document(&app)),
    )
        .into_response()
}

/// `GET /jwks`.
pub(crate) async fn jwks(State(app): State<Arc<App>>) -> Response {
    (
        [
            (header::CACHE_CONTROL, "max-age=60"),
            (header::CONTENT_TYPE, "application/jwk-set+json"),
        ],
        Json(app.keys().jwks()),
    )
        .into_response()
}
