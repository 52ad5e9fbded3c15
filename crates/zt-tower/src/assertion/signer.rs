//! The proxy side: signing identity assertions and publishing their keys.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use aws_lc_rs::rand::SystemRandom;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use jiff::Timestamp;
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;
use zt_core::identity::{Identity, IdentityKind};

use super::{AssertionError, DEFAULT_HEADER, GroupFilter, JwksService, SigningKey};

/// Default validity of an assertion.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(60);
/// Shortest lifetime accepted.
pub const MIN_LIFETIME: Duration = Duration::from_secs(1);
/// Longest lifetime accepted: an assertion is a per-request proof, not a session.
pub const MAX_LIFETIME: Duration = Duration::from_secs(600);
/// Default bound on the size of one assertion, below common 8 KiB header limits.
pub const DEFAULT_MAX_ASSERTION_BYTES: usize = 6 * 1024;
/// Smallest size bound accepted.
const MIN_MAX_ASSERTION_BYTES: usize = 512;
/// Length of a base64url ES256 signature (64 bytes).
const SIGNATURE_B64_LEN: usize = 86;

/// Signs the caller's identity for upstreams (ES256 JWTs) and publishes the public keys.
///
/// Cheap to clone (shared state); keys can be rotated while serving. See the
/// [module documentation](super) for the claims.
///
/// ```
/// use jiff::Timestamp;
/// use zt_core::identity::{Identity, IdentityKind};
/// use zt_tower::assertion::{AssertionSigner, GroupFilter};
///
/// let signer = AssertionSigner::builder("https://proxy.example.com")
///     .groups(GroupFilter::prefix("orders-").max(20))
///     .build()?;
/// let mut alice = Identity::new(
///     IdentityKind::User,
///     "alice",
///     "https://idp.example.com",
///     Timestamp::now() + jiff::SignedDuration::from_hours(1),
/// );
/// alice.groups = vec!["orders-admin".into(), "staff".into()];
/// let token = signer.sign(&alice, "orders")?;
/// assert_eq!(token.split('.').count(), 3);
/// assert_eq!(signer.jwks()["keys"][0]["kid"], signer.kid());
/// # Ok::<(), zt_tower::assertion::AssertionError>(())
/// ```
#[derive(Clone)]
pub struct AssertionSigner {
    inner: Arc<Inner>,
}

struct Inner {
    issuer: String,
    lifetime: Duration,
    groups: GroupFilter,
    header: HeaderName,
    /// The assertion header, [`DEFAULT_HEADER`], then the configured identity headers.
    strip: Vec<HeaderName>,
    max_bytes: usize,
    keys: ArcSwap<KeyRing>,
    rng: SystemRandom,
}

/// The signing key, and the keys published beside it.
struct KeyRing {
    current: Arc<SigningKey>,
    /// Published ahead of use, so verifiers learn it before it signs.
    staged: Option<Arc<SigningKey>>,
    /// Published after use, so assertions it signed still verify.
    previous: Option<Arc<SigningKey>>,
    jwks: Value,
    jwks_bytes: Bytes,
}

impl KeyRing {
    fn new(
        current: Arc<SigningKey>,
        staged: Option<Arc<SigningKey>>,
        previous: Option<Arc<SigningKey>>,
    ) -> Self {
        let mut keys: Vec<Value> = Vec::with_capacity(3);
        let mut kids: Vec<&str> = Vec::with_capacity(3);
        for key in std::iter::once(&current).chain(&staged).chain(&previous) {
            if !kids.contains(&key.kid()) {
                kids.push(key.kid());
                keys.push(key.public_jwk());
            }
        }
        let jwks = json!({ "keys": keys });
        let jwks_bytes = Bytes::from(jwks.to_string());
        Self {
            current,
            staged,
            previous,
            jwks,
            jwks_bytes,
        }
    }
}

impl fmt::Debug for AssertionSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = self.inner.keys.load();
        f.debug_struct("AssertionSigner")
            .field("issuer", &self.inner.issuer)
            .field("kid", &keys.current.kid())
            .field("lifetime", &self.inner.lifetime)
            .field("groups", &self.inner.groups)
            .field("header", &self.inner.header)
            .finish_non_exhaustive()
    }
}

/// The claims of one assertion, in the order they are written.
#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: &'a str,
    iat: i64,
    nbf: i64,
    exp: i64,
    jti: Uuid,
    kind: IdentityKind,
    idp_iss: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    preferred_username: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email_verified: Option<bool>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    groups: Vec<&'a str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    groups_truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth_time: Option<i64>,
}

impl AssertionSigner {
    /// Starts configuring a signer for the proxy whose issuer URL is `issuer` (what
    /// upstreams compare `iss` with; usually the proxy's external base URL).
    pub fn builder(issuer: impl Into<String>) -> AssertionSignerBuilder {
        AssertionSignerBuilder {
            issuer: issuer.into(),
            key: None,
            previous: None,
            lifetime: DEFAULT_LIFETIME,
            groups: GroupFilter::default(),
            header: DEFAULT_HEADER,
            strip: Vec::new(),
            max_bytes: DEFAULT_MAX_ASSERTION_BYTES,
        }
    }

    /// Signs `identity` for the upstream `audience`, valid from now for the configured
    /// lifetime (but never after the identity itself expires).
    pub fn sign(&self, identity: &Identity, audience: &str) -> Result<String, AssertionError> {
        self.sign_at(identity, audience, Timestamp::now())
    }

    /// Signs as if the time were `now` (for tests, and for callers that read the clock
    /// once per request).
    pub fn sign_at(
        &self,
        identity: &Identity,
        audience: &str,
        now: Timestamp,
    ) -> Result<String, AssertionError> {
        let inner = &*self.inner;
        if audience.is_empty() {
            return Err(AssertionError::InvalidAudience);
        }
        if identity.subject.is_empty() {
            return Err(AssertionError::EmptySubject);
        }
        let now = now.as_second();
        let lifetime = i64::try_from(inner.lifetime.as_secs()).unwrap_or(i64::MAX);
        let exp = now
            .saturating_add(lifetime)
            .min(identity.expires_at.as_second());
        if exp <= now {
            return Err(AssertionError::IdentityExpired);
        }
        let (groups, groups_truncated) = inner.groups.apply(&identity.groups);
        let claims = Claims {
            iss: &inner.issuer,
            aud: audience,
            sub: &identity.subject,
            iat: now,
            nbf: now,
            exp,
            jti: Uuid::now_v7(),
            kind: identity.kind,
            idp_iss: &identity.issuer,
            preferred_username: identity.username.as_deref(),
            email: identity.email.as_deref(),
            email_verified: identity.email.as_ref().map(|_| identity.email_verified),
            groups,
            groups_truncated,
            auth_time: identity.auth_time.map(Timestamp::as_second),
        };
        let payload = serde_json::to_vec(&claims).map_err(|_| AssertionError::Signing)?;

        let keys = inner.keys.load();
        let key = &keys.current;
        let header = key.header_b64();
        let size = header.len() + 2 + (payload.len() * 4).div_ceil(3) + SIGNATURE_B64_LEN;
        if size > inner.max_bytes {
            return Err(AssertionError::TooLarge {
                size,
                limit: inner.max_bytes,
            });
        }
        let mut token = String::with_capacity(size);
        token.push_str(header);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut token);
        let signature = key.sign(&inner.rng, token.as_bytes())?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature.as_ref(), &mut token);
        Ok(token)
    }

    /// [`sign`](Self::sign), as a header value.
    pub fn header_value(
        &self,
        identity: &Identity,
        audience: &str,
    ) -> Result<HeaderValue, AssertionError> {
        let token = self.sign(identity, audience)?;
        HeaderValue::try_from(token).map_err(|_| AssertionError::Signing)
    }

    /// Removes every copy of the assertion header (and of [`DEFAULT_HEADER`]) and of the
    /// configured identity headers from `headers`, returning how many values were removed. Call it on every request
    /// before it goes upstream, whether or not an assertion is added.
    pub fn strip(&self, headers: &mut HeaderMap) -> usize {
        super::strip(headers, &self.inner.strip)
    }

    /// [`strip`](Self::strip)s `headers`, then adds the assertion of `identity` for
    /// `audience`. Returns how many client-supplied values were removed. On error the
    /// headers are stripped and no assertion is added.
    pub fn apply(
        &self,
        headers: &mut HeaderMap,
        identity: &Identity,
        audience: &str,
    ) -> Result<usize, AssertionError> {
        let removed = self.strip(headers);
        let value = self.header_value(identity, audience)?;
        headers.insert(self.inner.header.clone(), value);
        Ok(removed)
    }

    /// The public keys as a JWK set: the signing key, a staged next key and the previous
    /// key, each with `kid`, `alg` `ES256` and `use` `sig`.
    pub fn jwks(&self) -> Value {
        self.inner.keys.load().jwks.clone()
    }

    /// [`jwks`](Self::jwks), serialized once per key change.
    pub(crate) fn jwks_bytes(&self) -> Bytes {
        self.inner.keys.load().jwks_bytes.clone()
    }

    /// A service answering `GET` with [`jwks`](Self::jwks), to mount at
    /// [`JWKS_PATH`](super::JWKS_PATH).
    pub fn jwks_service(&self) -> JwksService {
        JwksService::new(self.clone())
    }

    /// The key id of the signing key.
    pub fn kid(&self) -> String {
        self.inner.keys.load().current.kid().to_owned()
    }

    /// The issuer URL (`iss`).
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// The header the assertion travels in.
    pub fn header_name(&self) -> &HeaderName {
        &self.inner.header
    }

    /// How long an assertion is valid.
    pub fn lifetime(&self) -> Duration {
        self.inner.lifetime
    }

    /// Signs with `next` from now on; the current key stays published as the previous
    /// one (replacing any older previous key), so assertions it signed still verify.
    ///
    /// Verifiers that fetch the JWKS learn `next` on the first assertion naming it (one
    /// rate-limited refresh); to avoid even that, [`stage`](Self::stage) it first.
    pub fn rotate(&self, next: SigningKey) {
        let next = Arc::new(next);
        self.inner.keys.rcu(|ring| {
            Arc::new(KeyRing::new(
                Arc::clone(&next),
                ring.staged
                    .as_ref()
                    .filter(|staged| staged.kid() != next.kid())
                    .map(Arc::clone),
                Some(Arc::clone(&ring.current)),
            ))
        });
    }

    /// Publishes `next` in the JWKS without signing with it yet; [`promote`](Self::promote)
    /// it once verifiers have refreshed their keys (after their refresh interval).
    pub fn stage(&self, next: SigningKey) {
        let next = Arc::new(next);
        self.inner.keys.rcu(|ring| {
            Arc::new(KeyRing::new(
                Arc::clone(&ring.current),
                Some(Arc::clone(&next)),
                ring.previous.clone(),
            ))
        });
    }

    /// Starts signing with the staged key, keeping the current one as the previous key.
    /// Returns `false` (and changes nothing) when no key is staged.
    pub fn promote(&self) -> bool {
        let mut promoted = false;
        self.inner.keys.rcu(|ring| match &ring.staged {
            Some(staged) => {
                promoted = true;
                Arc::new(KeyRing::new(
                    Arc::clone(staged),
                    None,
                    Some(Arc::clone(&ring.current)),
                ))
            }
            None => {
                promoted = false;
                Arc::clone(ring)
            }
        });
        promoted
    }

    /// Stops publishing the previous key. Safe once every assertion it signed has expired
    /// (the lifetime plus the verifiers' leeway after the rotation).
    pub fn retire_previous(&self) {
        self.inner.keys.rcu(|ring| {
            Arc::new(KeyRing::new(
                Arc::clone(&ring.current),
                ring.staged.clone(),
                None,
            ))
        });
    }
}

/// Builds an [`AssertionSigner`].
#[derive(Debug)]
#[must_use]
pub struct AssertionSignerBuilder {
    issuer: String,
    key: Option<SigningKey>,
    previous: Option<SigningKey>,
    lifetime: Duration,
    groups: GroupFilter,
    header: HeaderName,
    strip: Vec<HeaderName>,
    max_bytes: usize,
}

impl AssertionSignerBuilder {
    /// Signs with this key (default: a key generated by [`build`](Self::build), which
    /// changes on every start).
    pub fn key(mut self, key: SigningKey) -> Self {
        self.key = Some(key);
        self
    }

    /// Also publishes this key (e.g. the one used before a restart), so that assertions
    /// it signed still verify. Only its public part is used.
    pub fn previous_key(mut self, key: SigningKey) -> Self {
        self.previous = Some(key);
        self
    }

    /// How long an assertion is valid (default 60 s; whole seconds, 1 s to 10 min).
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// Which groups an assertion carries (default: all, at most 64).
    pub fn groups(mut self, filter: GroupFilter) -> Self {
        self.groups = filter;
        self
    }

    /// The header the assertion travels in (default [`DEFAULT_HEADER`]).
    pub fn header(mut self, name: HeaderName) -> Self {
        self.header = name;
        self
    }

    /// Another identity header (e.g. `x-forwarded-user`) that
    /// [`strip`](AssertionSigner::strip) removes from client requests; call once per header.
    pub fn strip_header(mut self, name: HeaderName) -> Self {
        self.strip.push(name);
        self
    }

    /// Refuses to sign assertions larger than this (default 6 KiB, at least 512 bytes).
    pub fn max_assertion_bytes(mut self, limit: usize) -> Self {
        self.max_bytes = limit;
        self
    }

    /// Checks the settings and generates a key unless one was given.
    pub fn build(self) -> Result<AssertionSigner, AssertionError> {
        if self.issuer.is_empty()
            || self
                .issuer
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(AssertionError::InvalidIssuer);
        }
        if !(MIN_LIFETIME..=MAX_LIFETIME).contains(&self.lifetime) {
            return Err(AssertionError::InvalidLifetime(self.lifetime));
        }
        if self.max_bytes < MIN_MAX_ASSERTION_BYTES {
            return Err(AssertionError::InvalidSizeLimit(self.max_bytes));
        }
        let current = match self.key {
            Some(key) => key,
            None => SigningKey::generate()?,
        };
        // The default header too: a client copy of it must never pass, whatever the name.
        let mut strip = vec![self.header.clone()];
        for name in std::iter::once(DEFAULT_HEADER).chain(self.strip) {
            if !strip.contains(&name) {
                strip.push(name);
            }
        }
        let ring = KeyRing::new(Arc::new(current), None, self.previous.map(Arc::new));
        Ok(AssertionSigner {
            inner: Arc::new(Inner {
                issuer: self.issuer,
                lifetime: self.lifetime,
                groups: self.groups,
                header: self.header,
                strip,
                max_bytes: self.max_bytes,
                keys: ArcSwap::from_pointee(ring),
                rng: SystemRandom::new(),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
    use jiff::SignedDuration;
    use serde_json::Map;

    const ISSUER: &str = "https://proxy.example";

    fn alice(now: Timestamp) -> Identity {
        let mut identity = Identity::new(
            IdentityKind::User,
            "alice",
            "https://idp.example",
            now + SignedDuration::from_hours(1),
        );
        identity.username = Some("alice.liddell".into());
        identity.email = Some("alice@example.com".into());
        identity.email_verified = true;
        identity.groups = vec!["staff".into(), "admins".into(), "staff".into()];
        identity.auth_time = Some(now - SignedDuration::from_mins(5));
        identity.session_id = Some("idp-session".into());
        identity
    }

    fn decode(part: &str) -> Vec<u8> {
        URL_SAFE_NO_PAD.decode(part).unwrap()
    }

    fn parts(token: &str) -> (Map<String, Value>, Map<String, Value>, Vec<u8>) {
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        (
            serde_json::from_slice(&decode(parts[0])).unwrap(),
            serde_json::from_slice(&decode(parts[1])).unwrap(),
            decode(parts[2]),
        )
    }

    /// Verifies `token` against the key with its `kid` in `jwks`, with aws-lc-rs directly.
    fn signature_verifies(token: &str, jwks: &Value) -> bool {
        let (header, _, signature) = parts(token);
        let Some(jwk) = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|jwk| jwk["kid"] == header["kid"])
        else {
            return false;
        };
        let mut point = vec![4u8];
        point.extend(decode(jwk["x"].as_str().unwrap()));
        point.extend(decode(jwk["y"].as_str().unwrap()));
        let signed = &token[..token.rfind('.').unwrap()];
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
            .verify(signed.as_bytes(), &signature)
            .is_ok()
    }

    #[test]
    fn claims_carry_the_identity_for_one_audience() {
        let signer = AssertionSigner::builder(ISSUER).build().unwrap();
        let now = Timestamp::now();
        let token = signer.sign_at(&alice(now), "orders", now).unwrap();
        let (header, claims, signature) = parts(&token);

        assert_eq!(
            Value::Object(header),
            json!({"alg": "ES256", "typ": "JWT", "kid": signer.kid()})
        );
        assert_eq!(signature.len(), 64);
        assert!(signature_verifies(&token, &signer.jwks()));

        let jti = claims["jti"].as_str().unwrap().parse::<Uuid>().unwrap();
        assert_eq!(jti.get_version_num(), 7);
        let expected = json!({
            "iss": ISSUER,
            "aud": "orders",
            "sub": "alice",
            "iat": now.as_second(),
            "nbf": now.as_second(),
            "exp": now.as_second() + 60,
            "jti": jti.to_string(),
            "kind": "user",
            "idp_iss": "https://idp.example",
            "preferred_username": "alice.liddell",
            "email": "alice@example.com",
            "email_verified": true,
            "groups": ["admins", "staff"],
            "auth_time": (now - SignedDuration::from_mins(5)).as_second(),
        });
        assert_eq!(Value::Object(claims.clone()), expected);
        // The IdP session id and raw IdP claims are not forwarded.
        assert!(!claims.contains_key("sid"));

        // Optional claims are absent, not null.
        let bare = Identity::new(
            IdentityKind::Workload,
            "spiffe://prod.example/ns/a/sa/b",
            "spiffe://prod.example",
            now + SignedDuration::from_hours(1),
        );
        let (_, claims, _) = parts(&signer.sign_at(&bare, "orders", now).unwrap());
        let mut keys: Vec<&str> = claims.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "aud", "exp", "iat", "idp_iss", "iss", "jti", "kind", "nbf", "sub"
            ]
        );
        assert_eq!(claims["kind"], "workload");
    }

    #[test]
    fn every_assertion_has_a_fresh_jti() {
        let signer = AssertionSigner::builder(ISSUER).build().unwrap();
        let now = Timestamp::now();
        let (_, a, _) = parts(&signer.sign_at(&alice(now), "orders", now).unwrap());
        let (_, b, _) = parts(&signer.sign_at(&alice(now), "orders", now).unwrap());
        assert_ne!(a["jti"], b["jti"]);
    }

    #[test]
    fn lifetime_is_configurable_bounded_and_capped_by_the_identity() {
        let now = Timestamp::now();
        let signer = AssertionSigner::builder(ISSUER)
            .lifetime(Duration::from_secs(5))
            .build()
            .unwrap();
        let (_, claims, _) = parts(&signer.sign_at(&alice(now), "orders", now).unwrap());
        assert_eq!(claims["exp"], now.as_second() + 5);

        let mut short = alice(now);
        short.expires_at = now + SignedDuration::from_secs(2);
        let (_, claims, _) = parts(&signer.sign_at(&short, "orders", now).unwrap());
        assert_eq!(claims["exp"], now.as_second() + 2);
        short.expires_at = now;
        assert!(matches!(
            signer.sign_at(&short, "orders", now),
            Err(AssertionError::IdentityExpired)
        ));

        for bad in [
            Duration::ZERO,
            Duration::from_millis(999),
            Duration::from_secs(601),
        ] {
            assert!(matches!(
                AssertionSigner::builder(ISSUER).lifetime(bad).build(),
                Err(AssertionError::InvalidLifetime(_))
            ));
        }
    }

    #[test]
    fn refuses_bad_settings_and_inputs() {
        for issuer in ["", "https://proxy example", "https://proxy\n"] {
            assert!(matches!(
                AssertionSigner::builder(issuer).build(),
                Err(AssertionError::InvalidIssuer)
            ));
        }
        assert!(matches!(
            AssertionSigner::builder(ISSUER)
                .max_assertion_bytes(100)
                .build(),
            Err(AssertionError::InvalidSizeLimit(100))
        ));
        let signer = AssertionSigner::builder(ISSUER).build().unwrap();
        let now = Timestamp::now();
        assert!(matches!(
            signer.sign_at(&alice(now), "", now),
            Err(AssertionError::InvalidAudience)
        ));
        let mut nobody = alice(now);
        nobody.subject.clear();
        assert!(matches!(
            signer.sign_at(&nobody, "orders", now),
            Err(AssertionError::EmptySubject)
        ));
    }

    #[test]
    fn groups_are_filtered_and_truncation_is_flagged() {
        let now = Timestamp::now();
        let mut identity = alice(now);
        identity.groups = (0..10).map(|i| format!("team-{i}")).collect();
        identity.groups.push("staff".into());

        let signer = AssertionSigner::builder(ISSUER)
            .groups(GroupFilter::prefix("team-").max(3))
            .build()
            .unwrap();
        let (_, claims, _) = parts(&signer.sign_at(&identity, "orders", now).unwrap());
        assert_eq!(claims["groups"], json!(["team-0", "team-1", "team-2"]));
        assert_eq!(claims["groups_truncated"], true);

        let signer = AssertionSigner::builder(ISSUER)
            .groups(GroupFilter::none())
            .build()
            .unwrap();
        let (_, claims, _) = parts(&signer.sign_at(&identity, "orders", now).unwrap());
        assert!(!claims.contains_key("groups"));
        assert!(!claims.contains_key("groups_truncated"));
    }

    #[test]
    fn oversized_assertions_are_refused() {
        let now = Timestamp::now();
        let mut identity = alice(now);
        identity.groups = (0..60).map(|i| format!("{i:0>100}")).collect();
        let signer = AssertionSigner::builder(ISSUER).build().unwrap();
        let Err(AssertionError::TooLarge { size, limit }) =
            signer.sign_at(&identity, "orders", now)
        else {
            panic!("expected TooLarge");
        };
        assert_eq!(limit, DEFAULT_MAX_ASSERTION_BYTES);
        assert!(size > limit);
        // The size check is exact, whatever the payload length modulo 3.
        for pad in 0..3 {
            let mut identity = alice(now);
            identity.email = Some(format!("{}@example.com", "a".repeat(pad)));
            let token = signer.sign_at(&identity, "orders", now).unwrap();
            let exact = AssertionSigner::builder(ISSUER)
                .max_assertion_bytes(token.len())
                .build()
                .unwrap();
            assert!(exact.sign_at(&identity, "orders", now).is_ok());
            let tight = AssertionSigner::builder(ISSUER)
                .max_assertion_bytes(token.len() - 1)
                .build()
                .unwrap();
            assert!(matches!(
                tight.sign_at(&identity, "orders", now),
                Err(AssertionError::TooLarge { .. })
            ));
        }
    }

    #[test]
    fn jwks_lists_current_staged_and_previous_keys() {
        let first = SigningKey::generate().unwrap();
        let (first_kid, first_jwk) = (first.kid().to_owned(), first.public_jwk());
        let signer = AssertionSigner::builder(ISSUER).key(first).build().unwrap();
        assert_eq!(signer.jwks(), json!({"keys": [first_jwk]}));
        assert_eq!(
            serde_json::from_slice::<Value>(&signer.jwks_bytes()).unwrap(),
            signer.jwks()
        );
        let kids = |signer: &AssertionSigner| -> Vec<String> {
            signer.jwks()["keys"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k["kid"].as_str().unwrap().to_owned())
                .collect()
        };
        let now = Timestamp::now();
        let old_token = signer.sign_at(&alice(now), "orders", now).unwrap();

        let second = SigningKey::generate().unwrap();
        let second_kid = second.kid().to_owned();
        signer.stage(second);
        assert_eq!(signer.kid(), first_kid);
        assert_eq!(kids(&signer), [first_kid.clone(), second_kid.clone()]);

        assert!(signer.promote());
        assert!(!signer.promote());
        assert_eq!(signer.kid(), second_kid);
        assert_eq!(kids(&signer), [second_kid.clone(), first_kid.clone()]);
        let new_token = signer.sign_at(&alice(now), "orders", now).unwrap();
        assert!(signature_verifies(&old_token, &signer.jwks()));
        assert!(signature_verifies(&new_token, &signer.jwks()));

        let third = SigningKey::generate().unwrap();
        let third_kid = third.kid().to_owned();
        signer.rotate(third);
        assert_eq!(kids(&signer), [third_kid.clone(), second_kid]);
        assert!(!signature_verifies(&old_token, &signer.jwks()));

        signer.retire_previous();
        assert_eq!(kids(&signer), [third_kid]);
        assert!(!signature_verifies(&new_token, &signer.jwks()));
    }

    #[test]
    fn builder_previous_key_is_published() {
        let previous = SigningKey::generate().unwrap();
        let previous_kid = previous.kid().to_owned();
        let signer = AssertionSigner::builder(ISSUER)
            .previous_key(previous)
            .build()
            .unwrap();
        let keys = signer.jwks()["keys"].as_array().unwrap().clone();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0]["kid"], signer.kid());
        assert_eq!(keys[1]["kid"], previous_kid);
    }

    #[test]
    fn apply_strips_client_copies_then_adds_one_assertion() {
        let signer = AssertionSigner::builder(ISSUER)
            .strip_header(HeaderName::from_static("x-forwarded-user"))
            .strip_header(DEFAULT_HEADER)
            .build()
            .unwrap();
        let mut headers = HeaderMap::new();
        headers.append("X-ZT-Assertion", HeaderValue::from_static("forged"));
        headers.append("x-zt-assertion", HeaderValue::from_static("forged"));
        headers.append("X-Forwarded-User", HeaderValue::from_static("admin"));
        headers.append("accept", HeaderValue::from_static("*/*"));
        let removed = signer
            .apply(&mut headers, &alice(Timestamp::now()), "orders")
            .unwrap();
        assert_eq!(removed, 3);
        let values: Vec<_> = headers.get_all(&DEFAULT_HEADER).iter().collect();
        assert_eq!(values.len(), 1);
        assert!(signature_verifies(
            values[0].to_str().unwrap(),
            &signer.jwks()
        ));
        assert!(!headers.contains_key("x-forwarded-user"));
        assert_eq!(headers["accept"], "*/*");

        // A failed signature still leaves the headers stripped.
        headers.append("x-forwarded-user", HeaderValue::from_static("admin"));
        assert!(
            signer
                .apply(&mut headers, &alice(Timestamp::now()), "")
                .is_err()
        );
        assert!(!headers.contains_key(&DEFAULT_HEADER));
        assert!(!headers.contains_key("x-forwarded-user"));
    }
}
