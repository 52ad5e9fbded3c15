//! The verified-token cache: a bounded map from token to identity that never serves an
//! identity past its `exp`.

use std::sync::Arc;

use quick_cache::Weighter;
use quick_cache::sync::Cache;

use super::Identity;

/// Bytes charged per entry on top of the token itself (identity, claims, bookkeeping).
const ENTRY_OVERHEAD: u64 = 512;

#[derive(Clone)]
struct Entry {
    identity: Arc<Identity>,
    /// `exp` in Unix seconds.
    expires_at: i64,
}

#[derive(Clone)]
struct ByteWeighter;

impl Weighter<Box<str>, Entry> for ByteWeighter {
    fn weight(&self, token: &Box<str>, _entry: &Entry) -> u64 {
        // Claims are at most as large as the token that carried them.
        2 * token.len() as u64 + ENTRY_OVERHEAD
    }
}

/// A bounded cache of verified tokens, weighed in bytes.
pub(crate) struct TokenCache {
    entries: Option<Cache<Box<str>, Entry, ByteWeighter>>,
}

impl TokenCache {
    /// A cache holding about `capacity_bytes` of tokens; zero disables caching.
    pub(crate) fn new(capacity_bytes: u64) -> Self {
        let entries = (capacity_bytes > 0).then(|| {
            let estimated_items = (capacity_bytes / 2048).max(16) as usize;
            Cache::with_weighter(estimated_items, capacity_bytes, ByteWeighter)
        });
        Self { entries }
    }

    /// The identity cached for `token`, if it has not expired at `now` (Unix seconds).
    pub(crate) fn get(&self, token: &str, now: i64) -> Option<Arc<Identity>> {
        let entry = self.entries.as_ref()?.get(token)?;
        (now < entry.expires_at).then_some(entry.identity)
    }

    /// Remembers a verified token until its `exp`.
    pub(crate) fn insert(&self, token: &str, identity: Arc<Identity>) {
        if let Some(entries) = &self.entries {
            let expires_at = identity.expires_at.as_second();
            entries.insert(
                token.into(),
                Entry {
                    identity,
                    expires_at,
                },
            );
        }
    }

    /// Forgets everything, e.g. after an issuer withdrew a key.
    pub(crate) fn clear(&self) {
        if let Some(entries) = &self.entries {
            entries.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::IdentityKind;
    use jiff::Timestamp;

    fn identity(exp: i64) -> Arc<Identity> {
        let expires_at = Timestamp::from_second(exp).unwrap();
        Arc::new(Identity::new(
            IdentityKind::User,
            "alice",
            "https://idp",
            expires_at,
        ))
    }

    #[test]
    fn never_serves_past_exp() {
        let cache = TokenCache::new(1 << 20);
        cache.insert("t", identity(1_000));
        assert!(cache.get("t", 999).is_some());
        assert!(cache.get("t", 1_000).is_none());
        assert!(cache.get("t", 5_000).is_none());
    }

    #[test]
    fn is_bounded_by_bytes() {
        let cache = TokenCache::new(64 * 1024);
        for i in 0..10_000 {
            cache.insert(&format!("token-{i:0>200}"), identity(4_000_000_000));
        }
        let held = (0..10_000)
            .filter(|i| cache.get(&format!("token-{i:0>200}"), 0).is_some())
            .count();
        assert!(held < 100, "held {held} entries in 64 KiB");
    }

    #[test]
    fn zero_capacity_disables() {
        let cache = TokenCache::new(0);
        cache.insert("t", identity(4_000_000_000));
        assert!(cache.get("t", 0).is_none());
    }

    #[test]
    fn clear_forgets() {
        let cache = TokenCache::new(1 << 20);
        cache.insert("t", identity(4_000_000_000));
        cache.clear();
        assert!(cache.get("t", 0).is_none());
    }
}
