//! Typed errors of identity verification.
//!
//! Messages say what failed and never echo a token or attacker-chosen header text.

use std::path::PathBuf;

/// Why a bearer token was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The token is larger than the configured limit; it was not parsed.
    #[error("token is {size} bytes, over the {limit}-byte limit")]
    TooLarge {
        /// Size of the presented token.
        size: usize,
        /// Configured limit.
        limit: usize,
    },
    /// The token is not a well-formed compact JWS.
    #[error("token is malformed: {0}")]
    Malformed(&'static str),
    /// The token is a JWE (encrypted); only signed tokens are accepted.
    #[error("token is encrypted (JWE); only signed tokens are accepted")]
    Encrypted,
    /// The token wraps another token (`cty: JWT`).
    #[error("token is a nested JWT; nested tokens are not accepted")]
    Nested,
    /// The header's `alg` is not allowed for the token's issuer (includes `none` and `HS*`).
    #[error("signature algorithm {0} is not allowed")]
    AlgorithmNotAllowed(&'static str),
    /// The header names a key by URL or embeds one (`jku`, `x5u`, `jwk`, `x5c`).
    #[error("token header carries `{0}`; embedded keys and key URLs are never trusted")]
    UntrustedKeyHeader(&'static str),
    /// The header marks extensions as critical (`crit`), none of which zt understands.
    #[error("token header lists critical extensions that are not understood")]
    UnsupportedCritical,
    /// The `iss` claim names no trusted issuer.
    #[error("token issuer is not trusted")]
    UntrustedIssuer,
    /// No key of the issuer has the token's `kid` (after a refresh, if one was allowed).
    #[error("no key of the issuer matches the token's `kid`")]
    UnknownKey,
    /// The token has no `kid` and the issuer has more than one key.
    #[error("token has no `kid` and the issuer has several candidate keys")]
    AmbiguousKey,
    /// The issuer has no usable keys (never fetched, or last good keys too old).
    #[error("no usable signing keys for the issuer")]
    NoKeys,
    /// The signature does not verify with the selected key.
    #[error("token signature is invalid")]
    BadSignature,
    /// `exp` has passed (beyond the leeway).
    #[error("token has expired")]
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    #[error("token is not valid yet")]
    NotYetValid,
    /// `iat` is in the future (beyond the leeway).
    #[error("token was issued in the future")]
    IssuedInFuture,
    /// A required claim is absent.
    #[error("token lacks the claim `{0}`")]
    MissingClaim(String),
    /// A claim has the wrong type or value.
    #[error("token claim `{claim}` is invalid: {reason}")]
    InvalidClaim {
        /// The claim's name (or configured path).
        claim: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// `aud` names none of the configured audiences.
    #[error("token audience does not include this service")]
    WrongAudience,
}

/// A configuration mistake found while building a [`Verifier`](super::Verifier).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No issuer was configured.
    #[error("no trusted issuer is configured")]
    NoIssuers,
    /// Two issuer configurations share one issuer URL.
    #[error("issuer `{0}` is configured twice")]
    DuplicateIssuer(String),
    /// An issuer names no audience; tokens minted for other services would be accepted.
    #[error("issuer `{0}` names no audience")]
    NoAudience(String),
    /// An issuer's refresh or validity timings are unusable.
    #[error("issuer `{issuer}`: {reason}")]
    Timing {
        /// The issuer.
        issuer: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// An issuer allows no algorithm.
    #[error("issuer `{0}` allows no signature algorithm")]
    NoAlgorithms(String),
    /// A URL is malformed or uses plain HTTP for a non-loopback host.
    #[error("`{url}` is not an acceptable URL: {reason}")]
    BadUrl {
        /// The offending URL.
        url: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// Inline JWKS JSON could not be used.
    #[error("inline JWKS of issuer `{issuer}`: {source}")]
    InlineJwks {
        /// The issuer it belongs to.
        issuer: String,
        /// What was wrong.
        source: KeySourceError,
    },
    /// The HTTPS client could not be set up.
    #[error("TLS client setup failed: {0}")]
    Tls(String),
}

/// Why keys could not be loaded from a key source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeySourceError {
    /// Network or HTTP-level failure.
    #[error("fetching {url} failed: {reason}")]
    Fetch {
        /// The URL fetched.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The discovery document is invalid or names another issuer.
    #[error("discovery document of {issuer} is invalid: {reason}")]
    Discovery {
        /// The configured issuer.
        issuer: String,
        /// What was wrong.
        reason: String,
    },
    /// A key file could not be read.
    #[error("reading {path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The JWKS document is not valid JSON of the expected shape.
    #[error("JWKS is invalid: {0}")]
    InvalidJwks(String),
    /// The JWKS holds no key usable with the issuer's algorithms.
    #[error("JWKS holds no usable signing key")]
    NoUsableKeys,
}

/// Why an X.509-SVID was rejected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpiffeError {
    /// No certificate was presented.
    #[error("no certificate presented")]
    NoCertificate,
    /// The certificate could not be parsed.
    #[error("certificate is malformed: {0}")]
    Malformed(String),
    /// The leaf does not carry exactly one `spiffe://` URI SAN.
    #[error("certificate must carry exactly one SPIFFE ID URI SAN, found {0}")]
    SpiffeIdCount(usize),
    /// The URI SAN is not a valid SPIFFE ID.
    #[error("invalid SPIFFE ID: {0}")]
    InvalidId(&'static str),
    /// The leaf is a CA certificate or lacks the digitalSignature key usage.
    #[error("certificate is not a leaf X.509-SVID: {0}")]
    NotLeaf(&'static str),
    /// No trust bundle is configured for the SPIFFE ID's trust domain.
    #[error("trust domain `{0}` is not trusted")]
    UntrustedDomain(String),
    /// Path validation against the trust domain's bundle failed.
    #[error("certificate chain does not verify: {0}")]
    Chain(String),
}
