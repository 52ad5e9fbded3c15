//! `GET|POST /authorize`: authorization code flow with mandatory PKCE (S256).

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use crate::app::App;
use crate::cookies;
use crate::html;
use crate::params::Params;
use crate::random::{token, unix_now};
use crate::redirect::{see_other, with_query};
use crate::store::{AuthCode, Grant, Session};

/// A validated authorization request.
#[derive(Debug, Clone)]
struct AuthRequest {
    client_id: String,
    redirect_uri: String,
    scope: String,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: String,
    prompt: Vec<String>,
    max_age: Option<u64>,
    login_hint: Option<String>,
}

/// Why a request was refused: either an error page (client or redirect URI could not be
/// trusted) or an error redirect to the validated redirect URI.
enum Rejection {
    Page(StatusCode, String),
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        error: &'static str,
        description: String,
    },
}

impl Rejection {
    fn into_response(self, app: &App) -> Response {
        match self {
            Rejection::Page(status, msg) => html::error_page(status, &msg),
            Rejection::Redirect {
                redirect_uri,
                state,
                error,
                description,
            } => {
                let mut pairs = vec![
                    ("error", error),
                    ("error_description", description.as_str()),
                ];
                if let Some(s) = state.as_deref() {
                    pairs.push(("state", s));
                }
                pairs.push(("iss", app.issuer.as_str()));
                match with_query(&redirect_uri, &pairs) {
                    Some(loc) => see_other(&loc, None),
                    None => html::error_page(StatusCode::BAD_REQUEST, "invalid redirect_uri"),
                }
            }
        }
    }
}

/// A PKCE S256 challenge is BASE64URL(SHA-256(..)): exactly 43 base64url characters.
fn is_s256_challenge(c: &str) -> bool {
    c.len() == 43
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn validate(app: &App, p: &Params) -> Result<AuthRequest, Rejection> {
    let Some(client_id) = p.get("client_id") else {
        return Err(Rejection::Page(
            StatusCode::BAD_REQUEST,
            "missing client_id".into(),
        ));
    };
    let Some(client) = app.client(client_id) else {
        return Err(Rejection::Page(
            StatusCode::BAD_REQUEST,
            format!("unknown client_id {client_id:?}"),
        ));
    };
    let Some(redirect_uri) = p.get("redirect_uri") else {
        return Err(Rejection::Page(
            StatusCode::BAD_REQUEST,
            "missing redirect_uri".into(),
        ));
    };
    if !client.accepts_redirect(redirect_uri) {
        return Err(Rejection::Page(
            StatusCode::BAD_REQUEST,
            format!("redirect_uri {redirect_uri:?} is not registered for client {client_id:?}"),
        ));
    }
    let state = p.get("state").map(str::to_owned);
    let fail = |error: &'static str, description: &str| Rejection::Redirect {
        redirect_uri: redirect_uri.to_owned(),
        state: state.clone(),
        error,
        description: description.to_owned(),
    };
    match p.get("response_type") {
        Some("code") => {}
        None => return Err(fail("invalid_request", "missing response_type")),
        Some(_) => {
            return Err(fail(
                "unsupported_response_type",
                "only response_type=code is supported",
            ));
        }
    }
    if p.get("request").is_some() {
        return Err(fail(
            "request_not_supported",
            "request objects are not supported",
        ));
    }
    if p.get("request_uri").is_some() {
        return Err(fail(
            "request_uri_not_supported",
            "request_uri is not supported",
        ));
    }
    let scope = p.get("scope").unwrap_or_default();
    if !scope.split(' ').any(|s| s == "openid") {
        return Err(fail("invalid_scope", "scope must include openid"));
    }
    match p.get("code_challenge_method") {
        Some("S256") => {}
        Some(_) => {
            return Err(fail(
                "invalid_request",
                "code_challenge_method must be S256 (plain is not supported)",
            ));
        }
        None => {
            return Err(fail(
                "invalid_request",
                "PKCE is required: code_challenge_method=S256",
            ));
        }
    }
    let Some(code_challenge) = p.get("code_challenge") else {
        return Err(fail(
            "invalid_request",
            "PKCE is required: missing code_challenge",
        ));
    };
    if !is_s256_challenge(code_challenge) {
        return Err(fail("invalid_request", "malformed code_challenge"));
    }
    let prompt: Vec<String> = p
        .get("prompt")
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if prompt.iter().any(|s| s == "none") && prompt.len() > 1 {
        return Err(fail("invalid_request", "prompt=none cannot be combined"));
    }
    let max_age = match p.get("max_age") {
        None => None,
        Some(v) => match v.parse::<u64>() {
            Ok(n) => Some(n),
            Err(_) => return Err(fail("invalid_request", "max_age must be a number")),
        },
    };
    // Normalise the scope: single spaces, no duplicates, order kept.
    let mut scopes: Vec<&str> = Vec::new();
    for s in scope.split(' ').filter(|s| !s.is_empty()) {
        if !scopes.contains(&s) {
            scopes.push(s);
        }
    }
    Ok(AuthRequest {
        client_id: client_id.to_owned(),
        redirect_uri: redirect_uri.to_owned(),
        scope: scopes.join(" "),
        state,
        nonce: p.get("nonce").map(str::to_owned),
        code_challenge: code_challenge.to_owned(),
        prompt,
        max_age,
        login_hint: p.get("login_hint").map(str::to_owned),
    })
}

fn parse(input: &[u8]) -> Result<Params, Box<Response>> {
    Params::parse(input).map_err(|d| {
        Box::new(html::error_page(
            StatusCode::BAD_REQUEST,
            &format!("parameter {:?} was given more than once", d.0),
        ))
    })
}

/// Stores a fresh code and redirects to the client with `code`, `state` and `iss`.
fn issue_code(
    app: &App,
    req: &AuthRequest,
    username: &str,
    sid: &str,
    auth_time: u64,
    set_cookie: Option<String>,
) -> Response {
    let code = match token() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot generate authorization code");
            return html::error_page(StatusCode::INTERNAL_SERVER_ERROR, "internal error");
        }
    };
    app.store().codes.insert(
        code.clone(),
        AuthCode {
            grant: Grant {
                client_id: req.client_id.clone(),
                username: username.to_owned(),
                scope: req.scope.clone(),
                sid: sid.to_owned(),
                auth_time,
            },
            redirect_uri: req.redirect_uri.clone(),
            code_challenge: req.code_challenge.clone(),
            nonce: req.nonce.clone(),
            expires: Instant::now() + app.settings.auth_code_ttl,
        },
    );
    tracing::info!(client_id = %req.client_id, username, "issued authorization code");
    let mut pairs = vec![("code", code.as_str())];
    if let Some(s) = req.state.as_deref() {
        pairs.push(("state", s));
    }
    pairs.push(("iss", app.issuer.as_str()));
    match with_query(&req.redirect_uri, &pairs) {
        Some(loc) => see_other(&loc, set_cookie),
        None => html::error_page(StatusCode::BAD_REQUEST, "invalid redirect_uri"),
    }
}

fn login_form(app: &App, req: &AuthRequest) -> Response {
    let mut fields: Vec<(&str, &str)> = vec![
        ("response_type", "code"),
        ("client_id", &req.client_id),
        ("redirect_uri", &req.redirect_uri),
        ("scope", &req.scope),
        ("code_challenge", &req.code_challenge),
        ("code_challenge_method", "S256"),
    ];
    if let Some(s) = req.state.as_deref() {
        fields.push(("state", s));
    }
    if let Some(n) = req.nonce.as_deref() {
        fields.push(("nonce", n));
    }
    html::login_page(
        "authorize",
        &req.client_id,
        &fields,
        &app.users,
        req.login_hint.as_deref(),
    )
}

/// `GET /authorize`.
pub(crate) async fn get(
    State(app): State<Arc<App>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let params = match parse(query.unwrap_or_default().as_bytes()) {
        Ok(p) => p,
        Err(resp) => return *resp,
    };
    let req = match validate(&app, &params) {
        Ok(r) => r,
        Err(rej) => return rej.into_response(&app),
    };
    let force_login = req
        .prompt
        .iter()
        .any(|p| p == "login" || p == "select_account");
    let prompt_none = req.prompt.iter().any(|p| p == "none");
    let existing = cookies::session_id(&app, &headers).and_then(|sid| {
        let store = app.store();
        let session = store.session(&sid, Instant::now())?.clone();
        let fresh_enough = req
            .max_age
            .is_none_or(|max| unix_now().saturating_sub(session.auth_time) <= max);
        let known = app.user(&session.username).is_some();
        (fresh_enough && known).then_some((sid, session))
    });
    match existing {
        Some((sid, session)) if !force_login => {
            issue_code(&app, &req, &session.username, &sid, session.auth_time, None)
        }
        _ if prompt_none => Rejection::Redirect {
            redirect_uri: req.redirect_uri,
            state: req.state,
            error: "login_required",
            description: "no dev IdP session".into(),
        }
        .into_response(&app),
        _ => login_form(&app, &req),
    }
}

/// `POST /authorize`: the login form's submission.
pub(crate) async fn post(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let params = match parse(&body) {
        Ok(p) => p,
        Err(resp) => return *resp,
    };
    let req = match validate(&app, &params) {
        Ok(r) => r,
        Err(rej) => return rej.into_response(&app),
    };
    let Some(user) = params.get("username").and_then(|u| app.user(u)) else {
        return html::error_page(StatusCode::BAD_REQUEST, "unknown or missing dev user");
    };
    let sid = match token() {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot generate session id");
            return html::error_page(StatusCode::INTERNAL_SERVER_ERROR, "internal error");
        }
    };
    let auth_time = unix_now();
    app.store().sessions.insert(
        sid.clone(),
        Session {
            username: user.username.clone(),
            auth_time,
            expires: Instant::now() + app.settings.session_ttl,
        },
    );
    tracing::info!(username = %user.username, "dev user signed in");
    let cookie = cookies::set_session(&app, &sid);
    issue_code(&app, &req, &user.username, &sid, auth_time, Some(cookie))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_shape() {
        assert!(is_s256_challenge(
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        assert!(!is_s256_challenge(
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c"
        ));
        assert!(!is_s256_challenge(
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM"
        ));
    }
}
