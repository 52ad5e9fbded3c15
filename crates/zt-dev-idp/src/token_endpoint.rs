//! `POST /token`: authorization code, refresh token and device code grants.

use std::sync::Arc;

use aws_lc_rs::constant_time::verify_slices_are_equal;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use crate::app::App;
use crate::oauth_error::{OAuthError, no_store};
use crate::params::{Params, form_decode};
use crate::store::Grant;
use crate::tokens::token_response;
use crate::{DevClient, device, pkce};

/// The RFC 8628 grant type.
pub(crate) const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// `POST /token`.
pub(crate) async fn post(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    match handle(&app, &headers, &body) {
        Ok(v) => (StatusCode::OK, no_store(), Json(v)).into_response(),
        Err(e) => {
            tracing::debug!(error = e.error, description = %e.description, "token request refused");
            e.into_response()
        }
    }
}

fn handle(app: &App, headers: &HeaderMap, body: &[u8]) -> Result<Value, OAuthError> {
    let p = Params::parse(body)
        .map_err(|d| OAuthError::invalid_request(format!("parameter {:?} repeated", d.0)))?;
    let client = authenticate_client(app, headers, &p)?;
    match p.get("grant_type") {
        Some("authorization_code") => code_grant(app, client, &p),
        Some("refresh_token") => refresh_grant(app, client, &p),
        Some(DEVICE_CODE_GRANT) => device::poll(app, client, &p),
        None => Err(OAuthError::invalid_request("missing grant_type")),
        Some(_) => Err(OAuthError::new(
            "unsupported_grant_type",
            "supported: authorization_code, refresh_token, device_code",
        )),
    }
}

/// `client_secret_basic` credentials, if the request has an `Authorization: Basic` header.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| OAuthError::invalid_client(true))?;
    let Some((scheme, b64)) = value.split_once(' ') else {
        return Err(OAuthError::invalid_client(true));
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::invalid_client(true));
    }
    let decoded = STANDARD
        .decode(b64.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| OAuthError::invalid_client(true))?;
    let (id, secret) = decoded
        .split_once(':')
        .ok_or_else(|| OAuthError::invalid_client(true))?;
    Ok(Some((form_decode(id), form_decode(secret))))
}

/// Authenticates the client: confidential clients by secret (`client_secret_basic` or
/// `client_secret_post`, compared in constant time), public clients by `client_id` alone.
pub(crate) fn authenticate_client<'a>(
    app: &'a App,
    headers: &HeaderMap,
    p: &Params,
) -> Result<&'a DevClient, OAuthError> {
    let basic = basic_credentials(headers)?;
    let used_basic = basic.is_some();
    let (client_id, secret) = match basic {
        Some((id, secret)) => {
            if p.get("client_secret").is_some() {
                return Err(OAuthError::invalid_request(
                    "use only one client authentication method",
                ));
            }
            if p.get("client_id").is_some_and(|form_id| form_id != id) {
                return Err(OAuthError::invalid_request("client_id mismatch"));
            }
            (id, Some(secret))
        }
        None => {
            let id = p
                .get("client_id")
                .ok_or_else(|| OAuthError::invalid_client(false))?;
            (id.to_owned(), p.get("client_secret").map(str::to_owned))
        }
    };
    let client = app
        .client(&client_id)
        .ok_or_else(|| OAuthError::invalid_client(used_basic))?;
    if let Some(expected) = &client.client_secret {
        let given = secret.ok_or_else(|| OAuthError::invalid_client(used_basic))?;
        verify_slices_are_equal(expected.as_bytes(), given.as_bytes())
            .map_err(|_| OAuthError::invalid_client(used_basic))?;
    }
    Ok(client)
}

fn code_grant(app: &App, client: &DevClient, p: &Params) -> Result<Value, OAuthError> {
    let code = p
        .get("code")
        .ok_or_else(|| OAuthError::invalid_request("missing code"))?;
    // Single use: the code is gone whatever happens next.
    let entry = app
        .store()
        .codes
        .remove(code)
        .ok_or_else(|| OAuthError::invalid_grant("unknown, expired or already used code"))?;
    if entry.grant.client_id != client.client_id {
        return Err(OAuthError::invalid_grant(
            "code was issued to another client",
        ));
    }
    if p.get("redirect_uri") != Some(entry.redirect_uri.as_str()) {
        return Err(OAuthError::invalid_grant("redirect_uri does not match"));
    }
    let verifier = p
        .get("code_verifier")
        .ok_or_else(|| OAuthError::invalid_grant("PKCE code_verifier required"))?;
    if !pkce::verify(verifier, &entry.code_challenge) {
        return Err(OAuthError::invalid_grant("PKCE verification failed"));
    }
    tracing::info!(client_id = %client.client_id, username = %entry.grant.username, "code exchanged");
    Ok(token_response(app, &entry.grant, entry.nonce.as_deref())?)
}

fn refresh_grant(app: &App, client: &DevClient, p: &Params) -> Result<Value, OAuthError> {
    let presented = p
        .get("refresh_token")
        .ok_or_else(|| OAuthError::invalid_request("missing refresh_token"))?;
    let grant: Grant = {
        let mut store = app.store();
        let entry = store.refresh.get(presented).ok_or_else(|| {
            OAuthError::invalid_grant("unknown, expired or revoked refresh token")
        })?;
        if entry.grant.client_id != client.client_id {
            return Err(OAuthError::invalid_grant(
                "refresh token was issued to another client",
            ));
        }
        let mut grant = entry.grant.clone();
        if let Some(requested) = p.get("scope") {
            let granted: Vec<&str> = grant.scope.split(' ').collect();
            let narrowed: Vec<&str> = requested.split(' ').filter(|s| !s.is_empty()).collect();
            if narrowed.iter().any(|s| !granted.contains(s)) {
                return Err(OAuthError::new(
                    "invalid_scope",
                    "requested scope exceeds the original grant",
                ));
            }
            grant.scope = narrowed.join(" ");
        }
        // Rotation: the presented token is invalid from now on.
        store.refresh.remove(presented);
        grant
    };
    tracing::info!(client_id = %client.client_id, username = %grant.username, "refresh token rotated");
    Ok(token_response(app, &grant, None)?)
}
