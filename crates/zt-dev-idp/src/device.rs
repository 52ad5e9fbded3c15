//! RFC 8628 device authorization: `POST /device_authorization`, the `/device`
//! verification page, and the device code grant at the token endpoint.
//!
//! `slow_down`: a poll that comes sooner than the current interval after the previous
//! poll is answered with `slow_down`, and that device code's interval grows by the
//! slow-down increment. The increment defaults to the configured poll interval, which is
//! exactly RFC 8628's 5 s at the default interval and keeps tests with short intervals
//! fast; [`DevIdpBuilder::device_slow_down_increment`](crate::DevIdpBuilder::device_slow_down_increment)
//! overrides it.

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::app::App;
use crate::html;
use crate::oauth_error::{OAuthError, no_store};
use crate::params::Params;
use crate::random::{display_user_code, normalise_user_code, token, unix_now, user_code};
use crate::store::{DeviceEntry, DeviceStatus, Grant, Session};
use crate::token_endpoint::authenticate_client;
use crate::tokens::{DEFAULT_SCOPE, token_response};
use crate::{DevClient, DevIdpError};

/// `POST /device_authorization`.
pub(crate) async fn authorization(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match start(&app, &headers, &body) {
        Ok(v) => (StatusCode::OK, no_store(), Json(v)).into_response(),
        Err(e) => e.into_response(),
    }
}

fn start(app: &App, headers: &HeaderMap, body: &[u8]) -> Result<Value, OAuthError> {
    let p = Params::parse(body)
        .map_err(|d| OAuthError::invalid_request(format!("parameter {:?} repeated", d.0)))?;
    let client = authenticate_client(app, headers, &p)?;
    let scope = p.get("scope").unwrap_or(DEFAULT_SCOPE).to_owned();
    let device_code = token()?;
    let settings = &app.settings;
    let code = {
        let mut store = app.store();
        let mut code = user_code()?;
        while store.device_by_user_code(&code).is_some() {
            code = user_code()?;
        }
        store.devices.insert(
            device_code.clone(),
            DeviceEntry {
                user_code: code.clone(),
                client_id: client.client_id.clone(),
                scope,
                expires: Instant::now() + settings.device_code_ttl,
                interval: settings.device_poll_interval,
                last_poll: None,
                status: DeviceStatus::Pending,
            },
        );
        code
    };
    let shown = display_user_code(&code);
    let verification_uri = app.endpoint("/device");
    let complete = crate::redirect::with_query(&verification_uri, &[("user_code", &shown)])
        .unwrap_or_else(|| verification_uri.clone());
    tracing::info!(client_id = %client.client_id, user_code = %shown, "device authorization started");
    // `interval` is whole seconds on the wire (rounded up); polling is checked against
    // the exact configured duration.
    let interval = settings.device_poll_interval.as_secs_f64().ceil() as u64;
    Ok(json!({
        "device_code": device_code,
        "user_code": shown,
        "verification_uri": verification_uri,
        "verification_uri_complete": complete,
        "expires_in": settings.device_code_ttl.as_secs(),
        "interval": interval,
    }))
}

/// The device code grant at the token endpoint.
pub(crate) fn poll(app: &App, client: &DevClient, p: &Params) -> Result<Value, OAuthError> {
    let device_code = p
        .get("device_code")
        .ok_or_else(|| OAuthError::invalid_request("missing device_code"))?;
    let now = Instant::now();
    let grant = {
        let mut store = app.store();
        let entry = store
            .devices
            .get_mut(device_code)
            .ok_or_else(|| OAuthError::invalid_grant("unknown device_code"))?;
        if entry.client_id != client.client_id {
            return Err(OAuthError::invalid_grant(
                "device_code was issued to another client",
            ));
        }
        if entry.expires <= now {
            return Err(OAuthError::new(
                "expired_token",
                "the device code has expired",
            ));
        }
        match entry.status.clone() {
            DeviceStatus::Denied => {
                return Err(OAuthError::new(
                    "access_denied",
                    "the user denied the request",
                ));
            }
            DeviceStatus::Pending => {
                let too_fast = entry
                    .last_poll
                    .is_some_and(|t| now.duration_since(t) < entry.interval);
                entry.last_poll = Some(now);
                if too_fast {
                    entry.interval += app.settings.slow_down_increment();
                    return Err(OAuthError::new(
                        "slow_down",
                        format!(
                            "polling too fast; interval is now {} ms",
                            entry.interval.as_millis()
                        ),
                    ));
                }
                return Err(OAuthError::new(
                    "authorization_pending",
                    "waiting for the user",
                ));
            }
            DeviceStatus::Approved {
                username,
                sid,
                auth_time,
            } => {
                let grant = Grant {
                    client_id: entry.client_id.clone(),
                    username,
                    scope: entry.scope.clone(),
                    sid,
                    auth_time,
                };
                // Tokens are issued once per device code.
                store.devices.remove(device_code);
                grant
            }
        }
    };
    tracing::info!(client_id = %client.client_id, username = %grant.username, "device code exchanged");
    Ok(token_response(app, &grant, None)?)
}

/// Approves the pending device authorization with this user code as `username`.
pub(crate) fn approve(app: &App, user_code: &str, username: &str) -> Result<(), DevIdpError> {
    let user = app
        .user(username)
        .ok_or_else(|| DevIdpError::UnknownUser(username.to_owned()))?;
    let sid = token()?;
    let auth_time = unix_now();
    let mut store = app.store();
    set_status(
        &mut store,
        user_code,
        DeviceStatus::Approved {
            username: user.username.clone(),
            sid: sid.clone(),
            auth_time,
        },
    )?;
    store.sessions.insert(
        sid,
        Session {
            username: user.username.clone(),
            auth_time,
            expires: Instant::now() + app.settings.session_ttl,
        },
    );
    tracing::info!(username, "device authorization approved");
    Ok(())
}

/// Denies the pending device authorization with this user code.
pub(crate) fn deny(app: &App, user_code: &str) -> Result<(), DevIdpError> {
    set_status(&mut app.store(), user_code, DeviceStatus::Denied)?;
    tracing::info!("device authorization denied");
    Ok(())
}

fn set_status(
    store: &mut crate::store::Store,
    user_code: &str,
    status: DeviceStatus,
) -> Result<(), DevIdpError> {
    let code = normalise_user_code(user_code);
    let entry = store
        .device_by_user_code(&code)
        .ok_or_else(|| DevIdpError::UnknownUserCode(user_code.to_owned()))?;
    if entry.status != DeviceStatus::Pending || entry.expires <= Instant::now() {
        return Err(DevIdpError::DeviceNotPending(user_code.to_owned()));
    }
    entry.status = status;
    Ok(())
}

/// `GET /device[?user_code=..]`.
pub(crate) async fn page(State(app): State<Arc<App>>, RawQuery(query): RawQuery) -> Response {
    let params = Params::parse(query.unwrap_or_default().as_bytes()).unwrap_or_default();
    html::device_page("device", params.get("user_code"), &app.users, None)
}

/// `POST /device`: approve (a user button) or deny.
pub(crate) async fn submit(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let params = Params::parse(&body).unwrap_or_default();
    let Some(code) = params.get("user_code") else {
        return html::device_page("device", None, &app.users, Some("Enter the code."));
    };
    let result = if params.get("action") == Some("deny") {
        deny(&app, code).map(|()| "The request was denied. You can close this page.")
    } else {
        match params.get("username") {
            Some(u) => {
                approve(&app, code, u).map(|()| "Device approved. You can return to your device.")
            }
            None => Err(DevIdpError::UnknownUser(String::new())),
        }
    };
    match result {
        Ok(msg) => html::message_page("Device sign-in", msg),
        Err(e) => {
            let notice = match e {
                DevIdpError::UnknownUserCode(_) => "Unknown code. Check the code on your device.",
                DevIdpError::DeviceNotPending(_) => "This code was already used or has expired.",
                _ => "Choose a dev user.",
            };
            html::device_page("device", Some(code), &app.users, Some(notice))
        }
    }
}
