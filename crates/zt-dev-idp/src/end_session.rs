//! `GET /end_session` (OpenID Connect RP-Initiated Logout).

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use serde_json::Value;

use crate::app::App;
use crate::cookies;
use crate::html;
use crate::params::Params;
use crate::redirect::{see_other, with_query};
use crate::tokens::verify_id_token_hint;

/// Clears the IdP session cookie, ends the session (revoking its refresh tokens), then
/// redirects to `post_logout_redirect_uri` if the client accepts it as a redirect URI,
/// otherwise shows a "signed out" page.
pub(crate) async fn end_session(
    State(app): State<Arc<App>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let params = Params::parse(query.unwrap_or_default().as_bytes()).unwrap_or_default();
    let hint = params
        .get("id_token_hint")
        .and_then(|t| verify_id_token_hint(&app, t));
    let hint_client = hint
        .as_ref()
        .and_then(|c| c.get("aud"))
        .and_then(|aud| match aud {
            Value::String(s) => Some(s.clone()),
            Value::Array(a) => a.first().and_then(Value::as_str).map(str::to_owned),
            _ => None,
        });
    {
        let mut store = app.store();
        if let Some(sid) = cookies::session_id(&app, &headers) {
            store.end_session(&sid);
        }
        if let Some(sid) = hint
            .as_ref()
            .and_then(|c| c.get("sid"))
            .and_then(Value::as_str)
        {
            store.end_session(sid);
        }
    }
    tracing::info!("dev IdP session ended");
    let client_id = params.get("client_id").map(str::to_owned).or(hint_client);
    let target = params
        .get("post_logout_redirect_uri")
        .filter(|uri| match &client_id {
            Some(id) => app.client(id).is_some_and(|c| c.accepts_redirect(uri)),
            None => app.clients.iter().any(|c| c.accepts_redirect(uri)),
        });
    let mut resp = match target {
        Some(uri) => {
            let pairs: Vec<(&str, &str)> = params
                .get("state")
                .map(|s| ("state", s))
                .into_iter()
                .collect();
            match with_query(uri, &pairs) {
                Some(loc) => see_other(&loc, None),
                None => html::message_page("Signed out", "You are signed out of the zt dev IdP."),
            }
        }
        None => html::message_page("Signed out", "You are signed out of the zt dev IdP."),
    };
    if let Ok(v) = HeaderValue::from_str(&cookies::clear_session(&app)) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}
