//! The state every handler shares.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use crate::config::Settings;
use crate::keys::KeyRing;
use crate::store::Store;
use crate::{DevClient, DevUser};

/// Immutable configuration plus the two pieces of mutable state (keys, grants).
#[derive(Debug)]
pub(crate) struct App {
    pub(crate) issuer: String,
    pub(crate) users: Vec<DevUser>,
    pub(crate) clients: Vec<DevClient>,
    pub(crate) settings: Settings,
    pub(crate) cookie_name: String,
    pub(crate) secure_cookies: bool,
    keys: Mutex<KeyRing>,
    store: Mutex<Store>,
}

impl App {
    pub(crate) fn new(
        issuer: String,
        users: Vec<DevUser>,
        clients: Vec<DevClient>,
        settings: Settings,
        keys: KeyRing,
        port: u16,
    ) -> App {
        let secure_cookies = issuer.starts_with("https://");
        App {
            issuer,
            users,
            clients,
            settings,
            cookie_name: format!("zt_dev_idp_session_{port}"),
            secure_cookies,
            keys: Mutex::new(keys),
            store: Mutex::new(Store::default()),
        }
    }

    /// A snapshot of the key ring (cheap: the keys are shared).
    pub(crate) fn keys(&self) -> KeyRing {
        self.keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Replaces the key ring.
    pub(crate) fn set_keys(&self, ring: KeyRing) {
        *self.keys.lock().unwrap_or_else(PoisonError::into_inner) = ring;
    }

    /// Locks the grant store after sweeping expired entries. Never hold across `.await`.
    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        let mut guard = self.store.lock().unwrap_or_else(PoisonError::into_inner);
        guard.sweep(Instant::now());
        guard
    }

    pub(crate) fn user(&self, username: &str) -> Option<&DevUser> {
        self.users.iter().find(|u| u.username == username)
    }

    pub(crate) fn user_by_subject(&self, subject: &str) -> Option<&DevUser> {
        self.users.iter().find(|u| u.subject == subject)
    }

    pub(crate) fn client(&self, client_id: &str) -> Option<&DevClient> {
        self.clients.iter().find(|c| c.client_id == client_id)
    }

    /// The first registered client.
    pub(crate) fn default_client(&self) -> Option<&DevClient> {
        self.clients.first()
    }

    pub(crate) fn endpoint(&self, path: &str) -> String {
        format!("{}{}", self.issuer, path)
    }
}
