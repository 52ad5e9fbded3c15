//! The verified-token cache: a bounded map from token to identity that never serves an
//! identity past its `exp`, past the staleness bound of the keys that verified it, or
//! after those keys were withdrawn.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use quick_cache::Weighter;
use quick_cache::sync::Cache;
use tokio::time::Instant;

use super::Identity;

/// Bytes charged per entry on top of the token (identity, bookkeeping).
const ENTRY_OVERHEAD: u64 = 1024;
/// Parsed claims take several times the bytes of their JSON; the token is ~4/3 of it.
const BYTES_PER_TOKEN_BYTE: u64 = 4;

#[derive(Clone)]
struct Entry {
    identity: Arc<Identity>,
    /// `exp` in Unix seconds.
    expires_at: i64,
    /// Staleness bound of the key set that verified the token.
    keys_usable_until: Option<Instant>,
    /// Cache epoch when verification started.
    epoch: u64,
}

#[derive(Clone)]
struct ByteWeighter;

impl Weighter<Box<str>, Entry> for ByteWeighter {
    fn weight(&self, token: &Box<str>, _entry: &Entry) -> u64 {
        BYTES_PER_TOKEN_BYTE * token.len() as u64 + ENTRY_OVERHEAD
    }
}

/// A bounded cache of verified tokens, weighed in bytes.
pub(crate) struct TokenCache {
    entries: Option<Cache<Box<str>, Entry, ByteWeighter>>,
    /// Bumped whenever cached identities may rest on keys no longer trusted.
    epoch: AtomicU64,
}

/// What a verification remembers about the keys that verified a token.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Provenance {
    /// Cache epoch read before the key was looked up.
    pub(crate) epoch: u64,
    /// Staleness bound of the key set used.
    pub(crate) keys_usable_until: Option<Instant>,
}

impl TokenCache {
    /// A cache holding about `capacity_bytes` of tokens; zero disables caching.
    pub(crate) fn new(capacity_bytes: u64) -> Self {
        let entries = (capacity_bytes > 0).then(|| {
            let estimated_items = (capacity_bytes / 4096).max(16) as usize;
            Cache::with_weighter(estimated_items, capacity_bytes, ByteWeighter)
        });
        Self {
            entries,
            epoch: AtomicU64::new(0),
        }
    }

    /// The current epoch; read it before looking up the key that verifies a token.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// The identity cached for `token`, if still valid at `now` (Unix seconds).
    pub(crate) fn get(&self, token: &str, now: i64) -> Option<Arc<Identity>> {
        let entry = self.entries.as_ref()?.get(token)?;
        let fresh = now < entry.expires_at
            && entry.epoch == self.epoch()
            && entry
                .keys_usable_until
                .is_none_or(|until| Instant::now() < until);
        fresh.then_some(entry.identity)
    }

    /// Remembers a verified token until its `exp`, unless the cache was invalidated
    /// while it was being verified.
    pub(crate) fn insert(&self, token: &str, identity: Arc<Identity>, provenance: Provenance) {
        let Some(entries) = &self.entries else { return };
        if provenance.epoch != self.epoch() {
            return;
        }
        let expires_at = identity.expires_at.as_second();
        let entry = Entry {
            identity,
            expires_at,
            keys_usable_until: provenance.keys_usable_until,
            epoch: provenance.epoch,
        };
        entries.insert(token.into(), entry);
    }

    /// Stops serving everything cached so far, e.g. after an issuer withdrew a key.
    pub(crate) fn invalidate(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
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
    use std::time::Duration;

    fn identity(exp: i64) -> Arc<Identity> {
        let expires_at = Timestamp::from_second(exp).unwrap();
        Arc::new(Identity::new(
            IdentityKind::User,
            "alice",
            "https://idp",
            expires_at,
        ))
    }

    fn fresh(cache: &TokenCache) -> Provenance {
        Provenance {
            epoch: cache.epoch(),
            keys_usable_until: None,
        }
    }

    #[test]
    fn never_serves_past_exp() {
        let cache = TokenCache::new(1 << 20);
        cache.insert("t", identity(1_000), fresh(&cache));
        assert!(cache.get("t", 999).is_some());
        assert!(cache.get("t", 1_000).is_none());
        assert!(cache.get("t", 5_000).is_none());
    }

    #[test]
    fn never_serves_past_the_keys_staleness_bound() {
        let cache = TokenCache::new(1 << 20);
        let provenance = Provenance {
            epoch: cache.epoch(),
            keys_usable_until: Some(Instant::now() - Duration::from_millis(1)),
        };
        cache.insert("t", identity(4_000_000_000), provenance);
        assert!(cache.get("t", 0).is_none());
    }

    #[test]
    fn is_bounded_by_bytes() {
        let cache = TokenCache::new(64 * 1024);
        for i in 0..10_000 {
            cache.insert(
                &format!("token-{i:0>200}"),
                identity(4_000_000_000),
                fresh(&cache),
            );
        }
        let held = (0..10_000)
            .filter(|i| cache.get(&format!("token-{i:0>200}"), 0).is_some())
            .count();
        assert!(held < 100, "held {held} entries in 64 KiB");
    }

    #[test]
    fn zero_capacity_disables() {
        let cache = TokenCache::new(0);
        cache.insert("t", identity(4_000_000_000), fresh(&cache));
        assert!(cache.get("t", 0).is_none());
    }

    #[test]
    fn invalidation_forgets_and_refuses_late_inserts() {
        let cache = TokenCache::new(1 << 20);
        cache.insert("t", identity(4_000_000_000), fresh(&cache));
        let started = fresh(&cache);
        cache.invalidate();
        assert!(cache.get("t", 0).is_none());
        // A verification that began before the invalidation does not repopulate the cache.
        cache.insert("late", identity(4_000_000_000), started);
        assert!(cache.get("late", 0).is_none());
    }
}
