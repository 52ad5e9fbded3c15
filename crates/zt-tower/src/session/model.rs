//! What a browser session carries.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::SessionError;

/// A signed-in browser session, as sealed into the session cookie.
///
/// Serialized compactly (short JSON field names, timestamps as whole Unix seconds, absent
/// optional fields omitted), so sub-second precision of the timestamps is not kept.
/// `Debug` redacts every token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The user's subject (`sub`) at the issuer.
    #[serde(rename = "sub")]
    pub subject: String,
    /// The issuer (`iss`) that authenticated the user.
    #[serde(rename = "iss")]
    pub issuer: String,
    /// The IdP's session id (`sid`) if the ID token carried one, else a random id
    /// ([`Session::random_id`]); names the session for logout and revocation.
    #[serde(rename = "sid")]
    pub session_id: String,
    /// The access token sent on the user's behalf.
    #[serde(rename = "at")]
    pub access_token: String,
    /// The refresh token, if the IdP issued one.
    #[serde(rename = "rt", default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// The ID token, kept as `id_token_hint` for RP-initiated logout.
    #[serde(rename = "it", default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// When the access token expires; refresh before then.
    #[serde(rename = "ate", with = "jiff::fmt::serde::timestamp::second::required")]
    pub access_token_expires_at: Timestamp,
    /// When the user signed in.
    #[serde(rename = "iat", with = "jiff::fmt::serde::timestamp::second::required")]
    pub created_at: Timestamp,
    /// When the session ends whatever happens (no refresh extends it).
    #[serde(rename = "exp", with = "jiff::fmt::serde::timestamp::second::required")]
    pub expires_at: Timestamp,
    /// The user's e-mail address, for display.
    #[serde(rename = "em", default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The user's name, for display.
    #[serde(rename = "nm", default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Session {
    /// A random session id (128 bits, unpadded URL-safe base64), for when the IdP gave no
    /// `sid`.
    ///
    /// # Errors
    /// [`SessionError::Crypto`] if the system random number generator fails.
    pub fn random_id() -> Result<String, SessionError> {
        let mut bytes = [0u8; 16];
        aws_lc_rs::rand::fill(&mut bytes).map_err(|_| SessionError::Crypto)?;
        Ok(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Whether the absolute lifetime is over at `now`.
    #[must_use]
    pub fn is_expired_at(&self, now: Timestamp) -> bool {
        now >= self.expires_at
    }

    /// Whether the access token expires within `margin_seconds` of `now` (or already has),
    /// i.e. it is time to use the refresh token.
    #[must_use]
    pub fn access_token_expires_within(&self, now: Timestamp, margin_seconds: i64) -> bool {
        now.as_second().saturating_add(margin_seconds) >= self.access_token_expires_at.as_second()
    }

    /// Whole seconds left of the absolute lifetime at `now` (zero or negative when over).
    #[must_use]
    pub fn remaining_seconds(&self, now: Timestamp) -> i64 {
        let remaining = self.expires_at.as_second().saturating_sub(now.as_second());
        // A partial second at `now` is not a whole second left.
        if now.subsec_nanosecond() > 0 {
            remaining.saturating_sub(1)
        } else {
            remaining
        }
    }
}

/// Stand-in for a token in `Debug` output.
struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("subject", &self.subject)
            .field("issuer", &self.issuer)
            .field("session_id", &self.session_id)
            .field("access_token", &Redacted)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| Redacted),
            )
            .field("id_token", &self.id_token.as_ref().map(|_| Redacted))
            .field("access_token_expires_at", &self.access_token_expires_at)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .field("email", &self.email)
            .field("name", &self.name)
            .finish()
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(in crate::session) const NOW: i64 = 1_750_000_000;

    pub(in crate::session) fn session() -> Session {
        Session {
            subject: "user-123".into(),
            issuer: "https://idp.example.com".into(),
            session_id: "sid-abc".into(),
            access_token: "ACCESS.TOKEN.secret-at".into(),
            refresh_token: Some("REFRESH-secret-rt".into()),
            id_token: Some("ID.TOKEN.secret-it".into()),
            access_token_expires_at: Timestamp::from_second(NOW + 300).unwrap(),
            created_at: Timestamp::from_second(NOW).unwrap(),
            expires_at: Timestamp::from_second(NOW + 8 * 3600).unwrap(),
            email: Some("sally@example.com".into()),
            name: Some("Sally".into()),
        }
    }

    #[test]
    fn json_round_trip_is_compact() {
        let session = session();
        let json = serde_json::to_string(&session).unwrap();
        assert!(json.contains(r#""exp":1750028800"#), "{json}");
        assert_eq!(serde_json::from_str::<Session>(&json).unwrap(), session);

        let minimal = Session {
            refresh_token: None,
            id_token: None,
            email: None,
            name: None,
            ..session
        };
        let json = serde_json::to_string(&minimal).unwrap();
        assert!(
            !json.contains(r#""rt""#) && !json.contains("null"),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<Session>(&json).unwrap(), minimal);
    }

    #[test]
    fn debug_redacts_tokens() {
        let debug = format!("{:?}", session());
        for secret in ["secret-at", "secret-rt", "secret-it", "TOKEN"] {
            assert!(!debug.contains(secret), "{debug}");
        }
        assert!(debug.contains("user-123") && debug.contains("<redacted>"));
        let pretty = format!("{:#?}", session());
        assert!(!pretty.contains("secret"), "{pretty}");
    }

    #[test]
    fn lifetimes() {
        let session = session();
        let at = |s: i64| Timestamp::from_second(s).unwrap();
        assert!(!session.is_expired_at(at(NOW + 8 * 3600 - 1)));
        assert!(session.is_expired_at(at(NOW + 8 * 3600)));
        assert!(!session.access_token_expires_within(at(NOW), 60));
        assert!(session.access_token_expires_within(at(NOW + 240), 60));
        assert!(session.access_token_expires_within(at(NOW + 400), 0));
        assert_eq!(session.remaining_seconds(at(NOW)), 8 * 3600);
        let later = Timestamp::new(NOW + 10, 500_000_000).unwrap();
        assert_eq!(session.remaining_seconds(later), 8 * 3600 - 11);
    }

    #[test]
    fn random_ids_are_distinct() {
        let a = Session::random_id().unwrap();
        assert_eq!(a.len(), 22);
        assert_ne!(a, Session::random_id().unwrap());
    }
}
