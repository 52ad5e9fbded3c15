//! The short-lived login-state cookie: what the callback must check, sealed with the
//! session keys under its own cookie name (the AEAD's additional data), so it cannot be
//! read, forged, or swapped with the session cookie.

use std::fmt;

use http::HeaderMap;
use http::HeaderValue;
use http::header::COOKIE;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq as _;

use crate::session::{MAX_COOKIE_PAIRS, MAX_COOKIE_SIZE, SessionError, SessionKeys};

/// The login-state cookie's name.
pub const LOGIN_STATE_COOKIE: &str = "__Host-zt-login";

/// How long a login may take, in seconds (the cookie's `Max-Age` and sealed expiry).
pub(super) const LOGIN_STATE_SECONDS: i64 = 600;

const FLAGS: &str = "Path=/; Secure; HttpOnly; SameSite=Lax";

/// What the login route remembers for the callback.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct LoginState {
    /// The `state` sent to the IdP.
    pub(super) state: String,
    /// The `nonce` sent to the IdP.
    pub(super) nonce: String,
    /// The PKCE code verifier.
    pub(super) pkce_verifier: String,
    /// Where to go after login (already validated).
    pub(super) return_to: String,
    /// Unix seconds after which the state is refused.
    pub(super) exp: i64,
}

impl fmt::Debug for LoginState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginState")
            .field("return_to", &self.return_to)
            .field("exp", &self.exp)
            .finish_non_exhaustive()
    }
}

impl LoginState {
    /// The `Set-Cookie` value carrying this state.
    pub(super) fn to_set_cookie(&self, keys: &SessionKeys) -> Result<HeaderValue, SessionError> {
        let plaintext = serde_json::to_vec(self)
            .map_err(|_| SessionError::Malformed("login state does not serialize"))?;
        let sealed = keys.seal(&plaintext, LOGIN_STATE_COOKIE.as_bytes())?;
        let size = LOGIN_STATE_COOKIE.len() + 1 + sealed.len();
        if size > MAX_COOKIE_SIZE {
            return Err(SessionError::TooLarge {
                size,
                limit: MAX_COOKIE_SIZE,
            });
        }
        HeaderValue::try_from(format!(
            "{LOGIN_STATE_COOKIE}={sealed}; Max-Age={LOGIN_STATE_SECONDS}; {FLAGS}"
        ))
        .map_err(|_| SessionError::Malformed("login state is not a header value"))
    }

    /// The `Set-Cookie` value that removes the login-state cookie.
    pub(super) fn clear() -> HeaderValue {
        HeaderValue::from_static(
            "__Host-zt-login=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Lax",
        )
    }

    /// The state in the request's login-state cookie (`Ok(None)` when there is none).
    pub(super) fn from_request_headers(
        headers: &HeaderMap,
        keys: &SessionKeys,
        now: Timestamp,
    ) -> Result<Option<Self>, SessionError> {
        let Some(value) = find(headers, LOGIN_STATE_COOKIE)? else {
            return Ok(None);
        };
        if value.is_empty() {
            return Ok(None);
        }
        if LOGIN_STATE_COOKIE.len() + 1 + value.len() > MAX_COOKIE_SIZE {
            return Err(SessionError::Malformed("login state cookie too large"));
        }
        let plaintext = keys.open(value, LOGIN_STATE_COOKIE.as_bytes())?;
        let state: Self = serde_json::from_slice(&plaintext)
            .map_err(|_| SessionError::Malformed("login state does not decode"))?;
        if now.as_second() >= state.exp {
            return Err(SessionError::Expired);
        }
        Ok(Some(state))
    }

    /// Whether `state` is the one sent to the IdP (constant time).
    pub(super) fn state_matches(&self, state: &str) -> bool {
        self.state.as_bytes().ct_eq(state.as_bytes()).into()
    }
}

/// The value of the one cookie named `name`, scanning at most [`MAX_COOKIE_PAIRS`] pairs.
fn find<'h>(headers: &'h HeaderMap, name: &str) -> Result<Option<&'h str>, SessionError> {
    let mut pairs = 0usize;
    let mut found = None;
    for header in headers.get_all(COOKIE) {
        let Ok(header) = header.to_str() else {
            continue;
        };
        for pair in header.split(';') {
            let pair = pair.trim_matches([' ', '\t']);
            if pair.is_empty() {
                continue;
            }
            pairs += 1;
            if pairs > MAX_COOKIE_PAIRS {
                return Err(SessionError::Malformed("too many cookies in the request"));
            }
            let Some((key, value)) = pair.split_once('=') else {
                continue;
            };
            if key.trim_matches([' ', '\t']) != name {
                continue;
            }
            if found.is_some() {
                return Err(SessionError::Malformed("more than one login state cookie"));
            }
            found = Some(value.trim_matches([' ', '\t']));
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> LoginState {
        LoginState {
            state: "st".into(),
            nonce: "no".into(),
            pkce_verifier: "secret-verifier".into(),
            return_to: "/me".into(),
            exp: 2_000_000_000,
        }
    }

    fn request(set_cookie: &HeaderValue) -> HeaderMap {
        let pair = set_cookie.to_str().unwrap().split(';').next().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, format!("a=b; {pair}").parse().unwrap());
        headers
    }

    #[test]
    fn round_trip_and_expiry() {
        let keys = SessionKeys::generate().unwrap();
        let set = state().to_set_cookie(&keys).unwrap();
        assert!(
            set.to_str()
                .unwrap()
                .ends_with("; Max-Age=600; Path=/; Secure; HttpOnly; SameSite=Lax")
        );
        let headers = request(&set);
        let now = Timestamp::from_second(1_900_000_000).unwrap();
        let read = LoginState::from_request_headers(&headers, &keys, now).unwrap();
        assert_eq!(read, Some(state()));
        assert!(read.unwrap().state_matches("st"));
        let late = Timestamp::from_second(2_000_000_000).unwrap();
        assert_eq!(
            LoginState::from_request_headers(&headers, &keys, late),
            Err(SessionError::Expired)
        );
        let other = SessionKeys::generate().unwrap();
        assert!(LoginState::from_request_headers(&headers, &other, now).is_err());
    }

    #[test]
    fn session_cookie_value_is_not_a_login_state() {
        let keys = SessionKeys::generate().unwrap();
        let sealed = keys.seal(b"{}", b"__Host-zt-session").unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            format!("{LOGIN_STATE_COOKIE}={sealed}").parse().unwrap(),
        );
        let now = Timestamp::from_second(1_900_000_000).unwrap();
        assert_eq!(
            LoginState::from_request_headers(&headers, &keys, now),
            Err(SessionError::Tampered)
        );
    }

    #[test]
    fn debug_hides_secrets() {
        let debug = format!("{:?}", state());
        assert!(
            !debug.contains("secret") && !debug.contains("\"st\""),
            "{debug}"
        );
    }
}
