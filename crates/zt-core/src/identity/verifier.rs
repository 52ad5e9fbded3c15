//! The token verifier: issuer selection, signature check, claim validation, caching.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use jiff::Timestamp;
use rustls_pki_types::CertificateDer;

use super::cache::{Provenance, TokenCache};
use super::fetch::Fetcher;
use super::jwt::{self, UnverifiedJws};
use super::keys::{IssuerKeys, KeySet};
use super::{ConfigError, Identity, IssuerConfig, VerifyError};

/// Default bound on a token's size, checked before any parsing.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Default memory bound of the verified-token cache.
pub const DEFAULT_CACHE_BYTES: u64 = 32 * 1024 * 1024;

/// Verifies bearer tokens of the configured issuers.
///
/// Cheap to clone (shared state). Background key refresh runs while any clone lives.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

struct Inner {
    issuers: HashMap<String, IssuerKeys>,
    cache: TokenCache,
    fetcher: Fetcher,
    max_token_bytes: usize,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("issuers", &self.inner.issuers.keys().collect::<Vec<_>>())
            .field("max_token_bytes", &self.inner.max_token_bytes)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Verifier`].
#[derive(Debug, Default)]
#[must_use]
pub struct VerifierBuilder {
    issuers: Vec<IssuerConfig>,
    max_token_bytes: Option<usize>,
    cache_bytes: Option<u64>,
    extra_roots: Vec<CertificateDer<'static>>,
}

impl VerifierBuilder {
    /// Trusts one more issuer.
    pub fn issuer(mut self, issuer: IssuerConfig) -> Self {
        self.issuers.push(issuer);
        self
    }

    /// Rejects larger tokens before parsing them (default 16 KiB).
    pub fn max_token_bytes(mut self, limit: usize) -> Self {
        self.max_token_bytes = Some(limit);
        self
    }

    /// Memory bound of the verified-token cache (default 32 MiB; 0 disables it).
    pub fn cache_bytes(mut self, bytes: u64) -> Self {
        self.cache_bytes = Some(bytes);
        self
    }

    /// Trusts this CA certificate, besides the platform's roots, when fetching keys.
    pub fn root_certificate(mut self, cert: CertificateDer<'static>) -> Self {
        self.extra_roots.push(cert);
        self
    }

    /// Checks the configuration, loads every issuer's keys once (an unreachable issuer
    /// is logged and retried in the background; its tokens are rejected meanwhile) and
    /// starts background refresh. Must be called inside a Tokio runtime.
    pub async fn build(self) -> Result<Verifier, ConfigError> {
        if self.issuers.is_empty() {
            return Err(ConfigError::NoIssuers);
        }
        let mut issuers = HashMap::with_capacity(self.issuers.len());
        for config in &self.issuers {
            if config.algorithms.is_empty() {
                return Err(ConfigError::NoAlgorithms(config.issuer.clone()));
            }
            if config.audiences.is_empty() {
                return Err(ConfigError::NoAudience(config.issuer.clone()));
            }
            check_timing(config)?;
            let keys = IssuerKeys::new(config)?;
            if issuers.insert(config.issuer.clone(), keys).is_some() {
                return Err(ConfigError::DuplicateIssuer(config.issuer.clone()));
            }
        }
        let inner = Arc::new(Inner {
            issuers,
            cache: TokenCache::new(self.cache_bytes.unwrap_or(DEFAULT_CACHE_BYTES)),
            fetcher: Fetcher::new(&self.extra_roots)?,
            max_token_bytes: self.max_token_bytes.unwrap_or(DEFAULT_MAX_TOKEN_BYTES),
        });

        for (issuer, keys) in &inner.issuers {
            if !keys.refreshable() {
                continue;
            }
            let first = keys.refresh(&inner.fetcher).await;
            if let Err(error) = &first {
                tracing::warn!(%issuer, %error, "could not load signing keys; retrying in the background");
            }
            tokio::spawn(refresh_loop(
                Arc::downgrade(&inner),
                issuer.clone(),
                first.is_ok(),
            ));
        }
        Ok(Verifier { inner })
    }
}

impl Verifier {
    /// Starts configuring a verifier.
    pub fn builder() -> VerifierBuilder {
        VerifierBuilder::default()
    }

    /// Verifies a bearer token and returns the identity it proves.
    ///
    /// A token verified before and not yet expired is answered from the cache without
    /// any cryptography. Otherwise the token's `iss` selects the issuer, its `kid` the
    /// key (an unknown `kid` triggers one rate-limited key refresh), and the signature
    /// and claims are checked.
    pub async fn verify(&self, token: &str) -> Result<Arc<Identity>, VerifyError> {
        if let Some(identity) = self.verify_cached(token) {
            return Ok(identity);
        }
        let inner = &*self.inner;
        if token.len() > inner.max_token_bytes {
            return Err(VerifyError::TooLarge {
                size: token.len(),
                limit: inner.max_token_bytes,
            });
        }

        let jws = jwt::decode(token)?;
        let issuer = match jws.claims.get("iss") {
            Some(serde_json::Value::String(iss)) => iss.as_str(),
            Some(_) => {
                return Err(VerifyError::InvalidClaim {
                    claim: "iss".into(),
                    reason: "not a string",
                });
            }
            None => return Err(VerifyError::MissingClaim("iss".into())),
        };
        let keys = inner
            .issuers
            .get(issuer)
            .ok_or(VerifyError::UntrustedIssuer)?;
        let config = keys.config();
        if !config.algorithms.contains(&jws.algorithm) {
            return Err(VerifyError::AlgorithmNotAllowed(jws.algorithm.name()));
        }

        let provenance = self.check_signature(keys, &jws).await?;

        // The clock is read after any key refresh the signature check waited for.
        let identity = Arc::new(config.validate(jws.claims, Timestamp::now())?);
        inner.cache.insert(token, Arc::clone(&identity), provenance);
        Ok(identity)
    }

    /// The identity of a token verified before and still valid, from the cache, without
    /// waiting: the synchronous fast path of [`verify`](Self::verify). `None` means "call
    /// `verify`", not "invalid".
    pub fn verify_cached(&self, token: &str) -> Option<Arc<Identity>> {
        let inner = &*self.inner;
        if token.len() > inner.max_token_bytes {
            return None;
        }
        inner.cache.get(token, Timestamp::now().as_second())
    }

    /// Checks the signature with the issuer's key for the token's `kid` and `alg`. A key
    /// that is not (or no longer) known triggers one rate-limited refresh first.
    async fn check_signature(
        &self,
        keys: &IssuerKeys,
        jws: &UnverifiedJws<'_>,
    ) -> Result<Provenance, VerifyError> {
        let cache = &self.inner.cache;
        let (kid, alg) = (jws.kid.as_deref(), jws.algorithm);
        let check = |set: &KeySet, epoch: u64| {
            set.find(kid, alg)?
                .verify_sig(jws.signing_input, &jws.signature)
                .map_err(|_| VerifyError::BadSignature)?;
            Ok(Provenance {
                epoch,
                keys_usable_until: set.usable_until(),
            })
        };

        let epoch = cache.epoch();
        let generation = keys.generation();
        let missing = match check(&keys.current(), epoch) {
            Err(missing @ (VerifyError::UnknownKey | VerifyError::NoKeys)) => missing,
            verified => return verified,
        };
        match keys
            .refresh_for_unknown_kid(&self.inner.fetcher, generation)
            .await
        {
            Ok(installed) => {
                if installed.is_some_and(|i| i.withdrew_keys) {
                    cache.invalidate();
                }
                check(&keys.current(), cache.epoch())
            }
            Err(()) => Err(missing),
        }
    }

    /// The issuers this verifier trusts.
    pub fn issuers(&self) -> impl Iterator<Item = &str> {
        self.inner.issuers.keys().map(String::as_str)
    }
}

/// Refreshes one issuer's keys until the verifier is dropped: every `refresh_interval`
/// after a success, every `min_refresh_interval` after a failure, and exactly when the
/// last good keys go stale.
async fn refresh_loop(inner: Weak<Inner>, issuer: String, mut healthy: bool) {
    loop {
        let wait = {
            let Some(inner) = inner.upgrade() else { return };
            let Some(keys) = inner.issuers.get(&issuer) else {
                return;
            };
            next_refresh_in(keys, healthy)
        };
        tokio::time::sleep(wait).await;

        let Some(inner) = inner.upgrade() else { return };
        let Some(keys) = inner.issuers.get(&issuer) else {
            return;
        };
        match keys.refresh(&inner.fetcher).await {
            Ok(installed) => {
                healthy = true;
                if installed.withdrew_keys {
                    inner.cache.invalidate();
                }
            }
            Err(error) => {
                healthy = false;
                tracing::warn!(%issuer, %error, "background key refresh failed; keeping the last good keys");
                if keys.expire_stale() {
                    inner.cache.invalidate();
                }
            }
        }
    }
}

/// How long to sleep before the next refresh: the regular interval (or the retry interval
/// after a failure), but early enough that a refresh completes before the keys go stale,
/// and no later than the moment they do, so stale keys are dropped on time.
fn next_refresh_in(keys: &IssuerKeys, healthy: bool) -> Duration {
    let config = keys.config();
    let now = tokio::time::Instant::now();
    let mut wait = if healthy {
        config.refresh_interval
    } else {
        config.min_refresh_interval
    };
    if let Some(until) = keys.usable_until() {
        let ahead = until
            .checked_sub(config.http_timeout)
            .filter(|at| *at > now);
        wait = wait.min(ahead.unwrap_or(until).saturating_duration_since(now));
    }
    wait.max(Duration::from_millis(10))
}

/// Longest clock-skew leeway accepted.
const MAX_LEEWAY: Duration = Duration::from_secs(600);

/// Refuses timing settings that would disable an issuer or hammer it.
fn check_timing(config: &IssuerConfig) -> Result<(), ConfigError> {
    let reason = if config.min_refresh_interval < Duration::from_secs(1) {
        "min_refresh_interval must be at least 1 s"
    } else if config.refresh_interval < config.min_refresh_interval {
        "refresh_interval must not be shorter than min_refresh_interval"
    } else if config.http_timeout.is_zero() {
        "http_timeout must be positive"
    } else if config.keep_stale_keys_for < 2 * config.http_timeout {
        "keep_stale_keys_for must be at least twice http_timeout"
    } else if config.leeway > MAX_LEEWAY {
        "leeway must not exceed 10 minutes"
    } else {
        return Ok(());
    };
    Err(ConfigError::Timing {
        issuer: config.issuer.clone(),
        reason,
    })
}
