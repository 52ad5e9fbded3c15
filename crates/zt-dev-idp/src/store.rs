//! In-memory grant state: sessions, authorization codes, refresh tokens, device codes.
//! Everything expires; expired entries are swept on every mutation.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// What an issued token is about: who, for which client, with which scope, in which session.
#[derive(Clone, Debug)]
pub(crate) struct Grant {
    pub(crate) client_id: String,
    pub(crate) username: String,
    pub(crate) scope: String,
    pub(crate) sid: String,
    /// Unix seconds of the original authentication.
    pub(crate) auth_time: u64,
}

/// A browser session at the IdP (cookie), or the session a device approval created.
#[derive(Clone, Debug)]
pub(crate) struct Session {
    pub(crate) username: String,
    pub(crate) auth_time: u64,
    pub(crate) expires: Instant,
}

/// A pending authorization code.
#[derive(Clone, Debug)]
pub(crate) struct AuthCode {
    pub(crate) grant: Grant,
    pub(crate) redirect_uri: String,
    pub(crate) code_challenge: String,
    pub(crate) nonce: Option<String>,
    pub(crate) expires: Instant,
}

/// A refresh token's grant.
#[derive(Clone, Debug)]
pub(crate) struct RefreshEntry {
    pub(crate) grant: Grant,
    pub(crate) expires: Instant,
}

/// Where a device authorization stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum DeviceStatus {
    Pending,
    Approved {
        username: String,
        sid: String,
        auth_time: u64,
    },
    Denied,
}

/// A device authorization (RFC 8628).
#[derive(Clone, Debug)]
pub(crate) struct DeviceEntry {
    /// Normalised: upper case, no dash.
    pub(crate) user_code: String,
    pub(crate) client_id: String,
    pub(crate) scope: String,
    pub(crate) expires: Instant,
    pub(crate) interval: Duration,
    pub(crate) last_poll: Option<Instant>,
    pub(crate) status: DeviceStatus,
}

/// Expired device codes are kept this long so polls get `expired_token`, not `invalid_grant`.
const EXPIRED_DEVICE_GRACE: Duration = Duration::from_secs(10 * 60);

/// All mutable state; lives behind one `std::sync::Mutex`, never held across `.await`.
#[derive(Default, Debug)]
pub(crate) struct Store {
    pub(crate) sessions: HashMap<String, Session>,
    pub(crate) codes: HashMap<String, AuthCode>,
    pub(crate) refresh: HashMap<String, RefreshEntry>,
    pub(crate) devices: HashMap<String, DeviceEntry>,
}

impl Store {
    /// Drops everything that has expired.
    pub(crate) fn sweep(&mut self, now: Instant) {
        self.sessions.retain(|_, s| s.expires > now);
        self.codes.retain(|_, c| c.expires > now);
        self.refresh.retain(|_, r| r.expires > now);
        self.devices
            .retain(|_, d| d.expires + EXPIRED_DEVICE_GRACE > now);
    }

    /// The live session with this id, if any.
    pub(crate) fn session(&self, sid: &str, now: Instant) -> Option<&Session> {
        self.sessions.get(sid).filter(|s| s.expires > now)
    }

    /// The device code whose (normalised) user code is `user_code`.
    pub(crate) fn device_by_user_code(&mut self, user_code: &str) -> Option<&mut DeviceEntry> {
        self.devices.values_mut().find(|d| d.user_code == user_code)
    }

    /// Ends a session and revokes the refresh tokens issued in it.
    pub(crate) fn end_session(&mut self, sid: &str) {
        self.sessions.remove(sid);
        self.refresh.retain(|_, r| r.grant.sid != sid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweep_and_end_session() {
        let now = Instant::now();
        let mut s = Store::default();
        let grant = Grant {
            client_id: "c".into(),
            username: "alice".into(),
            scope: "openid".into(),
            sid: "s1".into(),
            auth_time: 0,
        };
        s.sessions.insert(
            "s1".into(),
            Session {
                username: "alice".into(),
                auth_time: 0,
                expires: now + Duration::from_secs(5),
            },
        );
        s.refresh.insert(
            "r1".into(),
            RefreshEntry {
                grant: grant.clone(),
                expires: now + Duration::from_secs(5),
            },
        );
        s.refresh.insert(
            "r2".into(),
            RefreshEntry {
                grant,
                expires: now,
            },
        );
        s.sweep(now);
        assert_eq!(s.refresh.len(), 1);
        assert!(s.session("s1", now).is_some());
        s.end_session("s1");
        assert!(s.refresh.is_empty());
        assert!(s.session("s1", now).is_none());
    }
}
