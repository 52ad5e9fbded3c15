//! One issuer's signing keys: loading, rotation, rate-limited refresh and staleness.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwap;
use aws_lc_rs::signature::ParsedPublicKey;
use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::Instant;
use url::Url;

use super::fetch::{Fetcher, MAX_DOCUMENT_BYTES, checked_url};
use super::jwk::{VerifyingKey, parse_jwks};
use super::{Algorithm, ConfigError, IssuerConfig, JwksSource, KeySourceError, VerifyError};

/// The keys of one issuer as last loaded.
pub(crate) struct KeySet {
    keys: Vec<VerifyingKey>,
    /// Until when these keys may be used; `None` for keys that never go stale (inline).
    usable_until: Option<Instant>,
}

impl KeySet {
    fn empty() -> Self {
        Self {
            keys: Vec::new(),
            usable_until: None,
        }
    }

    /// Selects the key for a token's `kid` and `alg`.
    pub(crate) fn find(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<&ParsedPublicKey, VerifyError> {
        if self.keys.is_empty()
            || self
                .usable_until
                .is_some_and(|until| Instant::now() >= until)
        {
            return Err(VerifyError::NoKeys);
        }
        match kid {
            Some(kid) => self
                .keys
                .iter()
                .filter(|key| key.kid.as_deref() == Some(kid))
                .find_map(|key| key.for_algorithm(alg))
                .ok_or(VerifyError::UnknownKey),
            // Without a `kid` the key is only unambiguous if the issuer has one key.
            None => match self.keys.as_slice() {
                [only] => only.for_algorithm(alg).ok_or(VerifyError::UnknownKey),
                _ => Err(VerifyError::AmbiguousKey),
            },
        }
    }

    /// When these keys stop being usable, if they ever do.
    pub(crate) fn usable_until(&self) -> Option<Instant> {
        self.usable_until
    }

    fn kids(&self) -> impl Iterator<Item = Option<&str>> {
        self.keys.iter().map(|key| key.kid.as_deref())
    }

    /// Whether `self` holds a key (same `kid`, same material) that `other` lacks.
    fn has_keys_missing_from(&self, other: &KeySet) -> bool {
        self.keys.iter().any(|old| {
            !other
                .keys
                .iter()
                .any(|new| new.kid == old.kid && new.material == old.material)
        })
    }
}

/// Where keys are loaded from, resolved and checked at build time.
enum Source {
    Discovery(Url),
    Url(Url),
    File(std::path::PathBuf),
    Inline,
}

#[derive(Deserialize)]
struct DiscoveryDocument {
    issuer: String,
    jwks_uri: String,
}

/// Live key state of one issuer.
pub(crate) struct IssuerKeys {
    source: Source,
    config: IssuerConfig,
    current: ArcSwap<KeySet>,
    /// Bumped whenever a new key set is installed.
    generation: AtomicU64,
    /// Serialises fetches and remembers when the last on-demand (unknown `kid`) one started.
    last_on_demand: Mutex<Option<Instant>>,
}

/// What a successful refresh changed.
pub(crate) struct Installed {
    /// Some key of the previous set is gone: cached identities may rest on it.
    pub(crate) withdrew_keys: bool,
}

impl IssuerKeys {
    pub(crate) fn new(config: &IssuerConfig) -> Result<Self, ConfigError> {
        let (source, initial) = match &config.source {
            JwksSource::Discovery => {
                let base = config.issuer.trim_end_matches('/');
                let url = checked_url(&format!("{base}/.well-known/openid-configuration"))?;
                (Source::Discovery(url), KeySet::empty())
            }
            JwksSource::Url(url) => (Source::Url(checked_url(url)?), KeySet::empty()),
            JwksSource::File(path) => (Source::File(path.clone()), KeySet::empty()),
            JwksSource::Inline(json) => {
                let keys = parse_jwks(json.as_bytes(), &config.algorithms).map_err(|source| {
                    ConfigError::InlineJwks {
                        issuer: config.issuer.clone(),
                        source,
                    }
                })?;
                (
                    Source::Inline,
                    KeySet {
                        keys,
                        usable_until: None,
                    },
                )
            }
        };
        Ok(Self {
            source,
            config: config.clone(),
            current: ArcSwap::from_pointee(initial),
            generation: AtomicU64::new(0),
            last_on_demand: Mutex::new(None),
        })
    }

    pub(crate) fn config(&self) -> &IssuerConfig {
        &self.config
    }

    /// Whether keys come from somewhere that can change.
    pub(crate) fn refreshable(&self) -> bool {
        !matches!(self.source, Source::Inline)
    }

    pub(crate) fn current(&self) -> arc_swap::Guard<Arc<KeySet>> {
        self.current.load()
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Fetches and installs keys now (background refresh and start-up).
    pub(crate) async fn refresh(&self, fetcher: &Fetcher) -> Result<Installed, KeySourceError> {
        let _serialised = self.last_on_demand.lock().await;
        self.fetch_and_install(fetcher).await
    }

    /// Refreshes because a token named a `kid` not in the set seen at `seen_generation`.
    /// Returns whether a newer key set is now installed. Fetches at most once per
    /// `min_refresh_interval`, and concurrent callers share one fetch.
    pub(crate) async fn refresh_for_unknown_kid(
        &self,
        fetcher: &Fetcher,
        seen_generation: u64,
    ) -> Result<Option<Installed>, ()> {
        if !self.refreshable() {
            return Err(());
        }
        let mut last_on_demand = self.last_on_demand.lock().await;
        if self.generation() != seen_generation {
            return Ok(None);
        }
        if last_on_demand.is_some_and(|at| at.elapsed() < self.config.min_refresh_interval) {
            return Err(());
        }
        *last_on_demand = Some(Instant::now());
        match self.fetch_and_install(fetcher).await {
            Ok(installed) => Ok(Some(installed)),
            Err(error) => {
                tracing::warn!(issuer = %self.config.issuer, %error, "key refresh for unknown kid failed");
                Err(())
            }
        }
    }

    /// Drops keys whose staleness bound has passed; returns whether any were dropped.
    /// Keys installed concurrently by another refresh are left alone.
    pub(crate) fn expire_stale(&self) -> bool {
        let set = self.current.load_full();
        if set.keys.is_empty() || set.usable_until.is_none_or(|until| Instant::now() < until) {
            return false;
        }
        let previous = self
            .current
            .compare_and_swap(&set, Arc::new(KeySet::empty()));
        if !Arc::ptr_eq(&previous, &set) {
            return false;
        }
        self.generation.fetch_add(1, Ordering::AcqRel);
        tracing::error!(
            issuer = %self.config.issuer,
            "signing keys could not be refreshed within the staleness bound; rejecting all tokens of this issuer until keys can be fetched"
        );
        true
    }

    /// When the current keys stop being usable, if they ever do.
    pub(crate) fn usable_until(&self) -> Option<Instant> {
        self.current.load().usable_until
    }

    async fn fetch_and_install(&self, fetcher: &Fetcher) -> Result<Installed, KeySourceError> {
        if !self.refreshable() {
            return Ok(Installed {
                withdrew_keys: false,
            });
        }
        let json = self.fetch(fetcher).await?;
        let keys = parse_jwks(&json, &self.config.algorithms)?;
        let usable_until = Some(Instant::now() + self.config.keep_stale_keys_for);
        Ok(self.install(KeySet { keys, usable_until }))
    }

    fn install(&self, new: KeySet) -> Installed {
        let old = self.current.load_full();
        let withdrew_keys = old.has_keys_missing_from(&new);
        tracing::info!(
            issuer = %self.config.issuer,
            keys = new.keys.len(),
            kids = ?new.kids().collect::<Vec<_>>(),
            "installed signing keys"
        );
        self.current.store(Arc::new(new));
        self.generation.fetch_add(1, Ordering::AcqRel);
        Installed { withdrew_keys }
    }

    async fn fetch(&self, fetcher: &Fetcher) -> Result<Vec<u8>, KeySourceError> {
        let timeout = self.config.http_timeout;
        match &self.source {
            Source::Discovery(url) => {
                let body = fetcher.get(url, timeout).await?;
                let document: DiscoveryDocument = serde_json::from_slice(&body)
                    .map_err(|e| self.discovery_error(e.to_string()))?;
                if document.issuer != self.config.issuer {
                    return Err(self.discovery_error(format!(
                        "it names issuer `{}`, not the configured one",
                        document.issuer
                    )));
                }
                let jwks_url = checked_url(&document.jwks_uri)
                    .map_err(|e| self.discovery_error(e.to_string()))?;
                Ok(fetcher.get(&jwks_url, timeout).await?.to_vec())
            }
            Source::Url(url) => Ok(fetcher.get(url, timeout).await?.to_vec()),
            Source::File(path) => read_limited(path).await,
            Source::Inline => Err(KeySourceError::NoUsableKeys),
        }
    }

    fn discovery_error(&self, reason: String) -> KeySourceError {
        KeySourceError::Discovery {
            issuer: self.config.issuer.clone(),
            reason,
        }
    }
}

/// Reads a key file of at most [`MAX_DOCUMENT_BYTES`].
async fn read_limited(path: &std::path::Path) -> Result<Vec<u8>, KeySourceError> {
    use tokio::io::AsyncReadExt as _;
    let error = |source| KeySourceError::File {
        path: path.to_owned(),
        source,
    };
    let file = tokio::fs::File::open(path).await.map_err(error)?;
    let mut bytes = Vec::new();
    file.take(MAX_DOCUMENT_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .await
        .map_err(error)?;
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(KeySourceError::InvalidJwks(format!(
            "{} is larger than {MAX_DOCUMENT_BYTES} bytes",
            path.display()
        )));
    }
    Ok(bytes)
}
