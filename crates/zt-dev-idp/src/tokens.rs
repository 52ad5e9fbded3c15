//! Access, ID and refresh token issuance, and access token verification.

use std::time::Instant;

use serde_json::{Map, Value, json};

use crate::app::App;
use crate::random::{hex16, token, unix_now};
use crate::store::{Grant, RefreshEntry};
use crate::{DevIdpError, DevUser};

/// The scope used when a client asks for none (device flow) and by
/// [`RunningDevIdp::mint_access_token`](crate::RunningDevIdp::mint_access_token).
pub(crate) const DEFAULT_SCOPE: &str = "openid profile email groups";

fn has_scope(scope: &str, wanted: &str) -> bool {
    scope.split(' ').any(|s| s == wanted)
}

fn profile_claims(map: &mut Map<String, Value>, user: &DevUser) {
    map.insert("name".into(), json!(user.name));
    map.insert("preferred_username".into(), json!(user.username));
    map.insert("email".into(), json!(user.email));
    map.insert("email_verified".into(), json!(user.email_verified));
    map.insert("groups".into(), json!(user.groups));
}

/// The claims of an access token for `grant`.
pub(crate) fn access_token_claims(
    app: &App,
    user: &DevUser,
    grant: &Grant,
) -> Result<Value, DevIdpError> {
    let now = unix_now();
    let aud = app
        .settings
        .access_token_audience
        .clone()
        .unwrap_or_else(|| grant.client_id.clone());
    let mut map = Map::new();
    map.insert("iss".into(), json!(app.issuer));
    map.insert("sub".into(), json!(user.subject));
    map.insert("aud".into(), json!(aud));
    map.insert(
        "exp".into(),
        json!(now + app.settings.access_token_ttl.as_secs()),
    );
    map.insert("iat".into(), json!(now));
    map.insert("nbf".into(), json!(now));
    map.insert("jti".into(), json!(hex16()?));
    map.insert("client_id".into(), json!(grant.client_id));
    map.insert("scope".into(), json!(grant.scope));
    map.insert("sid".into(), json!(grant.sid));
    map.insert("auth_time".into(), json!(grant.auth_time));
    profile_claims(&mut map, user);
    Ok(Value::Object(map))
}

/// The claims of an ID token for `grant`.
pub(crate) fn id_token_claims(
    app: &App,
    user: &DevUser,
    grant: &Grant,
    nonce: Option<&str>,
) -> Value {
    let now = unix_now();
    let mut map = Map::new();
    map.insert("iss".into(), json!(app.issuer));
    map.insert("sub".into(), json!(user.subject));
    map.insert("aud".into(), json!(grant.client_id));
    map.insert(
        "exp".into(),
        json!(now + app.settings.id_token_ttl.as_secs()),
    );
    map.insert("iat".into(), json!(now));
    map.insert("auth_time".into(), json!(grant.auth_time));
    if let Some(n) = nonce {
        map.insert("nonce".into(), json!(n));
    }
    map.insert("azp".into(), json!(grant.client_id));
    map.insert("sid".into(), json!(grant.sid));
    profile_claims(&mut map, user);
    Value::Object(map)
}

/// Signs an access token for `grant`.
pub(crate) fn mint_access_token(app: &App, grant: &Grant) -> Result<String, DevIdpError> {
    let user = app
        .user(&grant.username)
        .ok_or_else(|| DevIdpError::UnknownUser(grant.username.clone()))?;
    let claims = access_token_claims(app, user, grant)?;
    app.keys().sign(app.settings.signing_alg, &claims)
}

/// Issues the token endpoint's success body for `grant`: access token, ID token (when
/// the scope has `openid`) and a refresh token (always, unless the builder requires
/// `offline_access`).
pub(crate) fn token_response(
    app: &App,
    grant: &Grant,
    nonce: Option<&str>,
) -> Result<Value, DevIdpError> {
    let user = app
        .user(&grant.username)
        .ok_or_else(|| DevIdpError::UnknownUser(grant.username.clone()))?;
    let keys = app.keys();
    let alg = app.settings.signing_alg;
    let access_token = keys.sign(alg, &access_token_claims(app, user, grant)?)?;
    let mut body = json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": app.settings.access_token_ttl.as_secs(),
        "scope": grant.scope,
    });
    if has_scope(&grant.scope, "openid") {
        let id_token = keys.sign(alg, &id_token_claims(app, user, grant, nonce))?;
        body["id_token"] = json!(id_token);
    }
    if !app.settings.refresh_requires_offline_access || has_scope(&grant.scope, "offline_access") {
        let refresh = token()?;
        app.store().refresh.insert(
            refresh.clone(),
            RefreshEntry {
                grant: grant.clone(),
                expires: Instant::now() + app.settings.refresh_token_ttl,
            },
        );
        body["refresh_token"] = json!(refresh);
    }
    Ok(body)
}

/// Verifies a bearer token: one of ours (signature with a published key), our issuer,
/// not expired, and an access token (it carries `client_id`; ID tokens do not).
/// Returns the dev user it names.
pub(crate) fn verify_access_token<'a>(app: &'a App, token: &str) -> Option<&'a DevUser> {
    let claims = app.keys().verify(token).ok()?;
    if claims.get("iss").and_then(Value::as_str) != Some(app.issuer.as_str()) {
        return None;
    }
    let exp = claims.get("exp").and_then(Value::as_u64)?;
    if exp <= unix_now() {
        return None;
    }
    claims.get("client_id").and_then(Value::as_str)?;
    let sub = claims.get("sub").and_then(Value::as_str)?;
    app.user_by_subject(sub)
}

/// Verifies an `id_token_hint` (signature and issuer; expiry is not checked, per OIDC
/// RP-Initiated Logout) and returns its claims.
pub(crate) fn verify_id_token_hint(app: &App, token: &str) -> Option<Value> {
    let claims = app.keys().verify(token).ok()?;
    (claims.get("iss").and_then(Value::as_str) == Some(app.issuer.as_str())).then_some(claims)
}
