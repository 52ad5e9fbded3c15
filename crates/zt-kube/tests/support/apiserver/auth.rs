//! Authentication (one static bearer token) and impersonation, after the API server's
//! `WithAuthentication` and `WithImpersonation` filters.

use std::collections::BTreeMap;

use http::HeaderMap;
use http::header::AUTHORIZATION;
use serde_json::{Value, json};

/// The group every authenticated user is in.
const AUTHENTICATED: &str = "system:authenticated";
/// The group of `system:anonymous`.
const UNAUTHENTICATED: &str = "system:unauthenticated";
/// The anonymous user's name.
const ANONYMOUS: &str = "system:anonymous";
/// Prefix of service account user names.
const SERVICE_ACCOUNT_PREFIX: &str = "system:serviceaccount:";
/// Prefix of the extra-field impersonation headers (lower case, as hyper stores names).
const EXTRA_PREFIX: &str = "impersonate-extra-";

/// The user a request acts as: `user.Info` in the API server.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserInfo {
    /// `Impersonate-User`, or the authenticated user without impersonation.
    pub username: String,
    /// `Impersonate-Uid`, if sent.
    pub uid: Option<String>,
    /// Every `Impersonate-Group` in order, then the groups the server adds.
    pub groups: Vec<String>,
    /// `Impersonate-Extra-<key>` values by lower-cased, percent-decoded key.
    pub extra: BTreeMap<String, Vec<String>>,
}

impl UserInfo {
    /// The `userInfo` object of a `SelfSubjectReview` status.
    pub(super) fn to_json(&self) -> Value {
        let mut info = json!({ "username": self.username, "groups": self.groups });
        if let Some(uid) = &self.uid {
            info["uid"] = json!(uid);
        }
        if !self.extra.is_empty() {
            info["extra"] = json!(self.extra);
        }
        info
    }
}

/// Why a request did not get a user.
#[derive(Debug)]
pub(super) enum Rejection {
    /// No `Authorization: Bearer <token>` with the right token: 401.
    Unauthorized,
    /// `Impersonate-Group`, `-Uid` or `-Extra-*` without `Impersonate-User`. The real
    /// filter answers `responsewriters.InternalError`, so this is a 500, not a 400.
    WithoutUser(String),
}

/// Authenticates the bearer token and applies the impersonation headers.
pub(super) fn authenticate(
    headers: &HeaderMap,
    token: &str,
    own_user: &str,
) -> Result<UserInfo, Rejection> {
    if bearer_token(headers) != Some(token) {
        return Err(Rejection::Unauthorized);
    }
    let own = UserInfo {
        username: own_user.to_owned(),
        groups: vec![AUTHENTICATED.to_owned()],
        ..UserInfo::default()
    };
    impersonate(headers, own)
}

/// The token of an `Authorization: Bearer` header (scheme case-insensitive, as the
/// API server's bearer token authenticator accepts it).
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|token| !token.is_empty())
}

/// Applies `Impersonate-*`: without any, the request keeps `own`; the caller is always
/// allowed to impersonate (the proxy's RBAC grants `impersonate` on users, groups, uids
/// and userextras).
fn impersonate(headers: &HeaderMap, own: UserInfo) -> Result<UserInfo, Rejection> {
    let user = header_values(headers, "impersonate-user")
        .into_iter()
        .next();
    let groups = header_values(headers, "impersonate-group");
    let uid = header_values(headers, "impersonate-uid").into_iter().next();
    let extra = extra_values(headers);
    let Some(username) = user.filter(|user| !user.is_empty()) else {
        if groups.is_empty() && uid.is_none() && extra.is_empty() {
            return Ok(own);
        }
        return Err(Rejection::WithoutUser(format!(
            "requested groups {groups:?}, uid {uid:?}, extra {extra:?} without impersonating a user"
        )));
    };
    let groups = effective_groups(&username, groups);
    Ok(UserInfo {
        username,
        uid,
        groups,
        extra,
    })
}

/// The impersonated groups plus what the server adds: a service account's groups when
/// none were given, then `system:authenticated` (or `system:unauthenticated` for
/// `system:anonymous`) unless already there.
fn effective_groups(username: &str, mut groups: Vec<String>) -> Vec<String> {
    let service_account_namespace = username
        .strip_prefix(SERVICE_ACCOUNT_PREFIX)
        .and_then(|rest| rest.split_once(':'))
        .map(|(namespace, _)| namespace);
    if let (true, Some(namespace)) = (groups.is_empty(), service_account_namespace) {
        groups.push("system:serviceaccounts".to_owned());
        groups.push(format!("system:serviceaccounts:{namespace}"));
    }
    let has = |name: &str| groups.iter().any(|group| group == name);
    if username == ANONYMOUS {
        if !has(UNAUTHENTICATED) {
            groups.push(UNAUTHENTICATED.to_owned());
        }
    } else if !has(AUTHENTICATED) && !has(UNAUTHENTICATED) {
        groups.push(AUTHENTICATED.to_owned());
    }
    groups
}

/// Every value of one header, in order.
fn header_values(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .map(str::to_owned)
        .collect()
}

/// `Impersonate-Extra-<key>` values by key (lower case, percent-decoded).
fn extra_values(headers: &HeaderMap) -> BTreeMap<String, Vec<String>> {
    let mut extra: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in headers {
        let Some(key) = name.as_str().strip_prefix(EXTRA_PREFIX) else {
            continue;
        };
        let key = percent_encoding::percent_decode_str(key)
            .decode_utf8_lossy()
            .into_owned();
        if let Ok(value) = value.to_str() {
            extra.entry(key).or_default().push(value.to_owned());
        }
    }
    extra
}
