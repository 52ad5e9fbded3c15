//! Signed-out sessions, so a copy of a sealed cookie dies with its logout.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use jiff::Timestamp;
use tokio::sync::watch;

/// The set of revoked session ids, shared by every clone (the login routes add to it on
/// logout; the layer, and live connections through [`LiveCheck`](crate::LiveCheck), check
/// it). Entries are kept until the session would have expired anyway.
///
/// This is the single-process store: replicas need a shared one, behind the same calls.
///
/// ```
/// use zt_tower::session::Revocations;
///
/// let revocations = Revocations::new();
/// let until = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1);
/// revocations.revoke("sid-1", until);
/// assert!(revocations.is_revoked("sid-1"));
/// assert!(!revocations.is_revoked("sid-2"));
/// ```
#[derive(Clone)]
pub struct Revocations(Arc<Inner>);

struct Inner {
    revoked: Mutex<HashMap<String, Timestamp>>,
    changes: watch::Sender<u64>,
}

impl Revocations {
    /// An empty set.
    #[must_use]
    pub fn new() -> Self {
        Self(Arc::new(Inner {
            revoked: Mutex::new(HashMap::new()),
            changes: watch::Sender::new(0),
        }))
    }

    /// Revokes session `id` until `until` (its expiry), and tells every subscriber.
    pub fn revoke(&self, id: &str, until: Timestamp) {
        let now = Timestamp::now();
        {
            let mut revoked = self
                .0
                .revoked
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            revoked.retain(|_, expiry| *expiry > now);
            revoked.insert(id.to_owned(), until);
        }
        self.0.changes.send_modify(|generation| *generation += 1);
    }

    /// Whether session `id` is revoked now.
    #[must_use]
    pub fn is_revoked(&self, id: &str) -> bool {
        let revoked = self
            .0
            .revoked
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        revoked
            .get(id)
            .is_some_and(|until| *until > Timestamp::now())
    }

    /// A receiver that is marked changed on every revocation.
    #[must_use]
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.0.changes.subscribe()
    }
}

impl Default for Revocations {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Revocations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self
            .0
            .revoked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        f.debug_struct("Revocations")
            .field("sessions", &count)
            .finish()
    }
}
