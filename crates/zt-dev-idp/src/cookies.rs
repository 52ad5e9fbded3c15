//! The IdP session cookie.

use axum::http::{HeaderMap, header};

use crate::app::App;

/// The session id from the request's IdP session cookie, if any.
pub(crate) fn session_id(app: &App, headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == app.cookie_name)
        .map(|(_, value)| value.trim_matches('"').to_owned())
        .filter(|v| !v.is_empty())
}

fn attributes(app: &App) -> &'static str {
    if app.secure_cookies {
        "; Path=/; HttpOnly; SameSite=Lax; Secure"
    } else {
        "; Path=/; HttpOnly; SameSite=Lax"
    }
}

/// `Set-Cookie` value that establishes the session.
pub(crate) fn set_session(app: &App, sid: &str) -> String {
    format!(
        "{}={}{}; Max-Age={}",
        app.cookie_name,
        sid,
        attributes(app),
        app.settings.session_ttl.as_secs()
    )
}

/// `Set-Cookie` value that removes the session cookie.
pub(crate) fn clear_session(app: &App) -> String {
    format!("{}={}; Max-Age=0", app.cookie_name, attributes(app))
}
