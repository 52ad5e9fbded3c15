//! Errors of signing and verifying identity assertions.

use std::time::Duration;

use zt_core::identity::{ConfigError, VerifyError};

/// Why an assertion could not be signed or verified, or a signer or layer not built.
///
/// Messages never contain key material, tokens or header values.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AssertionError {
    /// The platform could not generate a key.
    #[error("could not generate a P-256 signing key")]
    KeyGeneration,
    /// The key given is not a P-256 private key in PKCS#8 (or SEC1) PEM or DER.
    #[error("signing key rejected: {0}")]
    InvalidKey(&'static str),
    /// The issuer URL is empty or contains whitespace or control characters.
    #[error("the issuer must be a non-empty URL without whitespace")]
    InvalidIssuer,
    /// The lifetime is outside [`MIN_LIFETIME`](super::MIN_LIFETIME) to
    /// [`MAX_LIFETIME`](super::MAX_LIFETIME).
    #[error("assertion lifetime {0:?} is outside 1 s to 10 min")]
    InvalidLifetime(Duration),
    /// The size limit is too small for any assertion.
    #[error("assertion size limit {0} is under 512 bytes")]
    InvalidSizeLimit(usize),
    /// The audience is empty.
    #[error("the audience (upstream) must not be empty")]
    InvalidAudience,
    /// The identity has an empty subject.
    #[error("the identity has an empty subject")]
    EmptySubject,
    /// The identity has already expired: nothing may be vouched for.
    #[error("the identity has expired")]
    IdentityExpired,
    /// Signing failed inside the crypto library.
    #[error("signing the assertion failed")]
    Signing,
    /// The signed assertion is larger than the configured limit (restrict the groups).
    #[error("assertion is {size} bytes, over the {limit}-byte limit")]
    TooLarge {
        /// Size of the assertion.
        size: usize,
        /// Configured limit.
        limit: usize,
    },
    /// The request carries no assertion header.
    #[error("the request carries no identity assertion")]
    Missing,
    /// The request carries more than one assertion header: ambiguous, refused.
    #[error("the request carries more than one identity assertion")]
    Multiple,
    /// The assertion did not verify, or its claims are invalid.
    #[error("identity assertion rejected: {0}")]
    Rejected(#[from] VerifyError),
    /// The verifier for an [`AssertionLayer`](super::AssertionLayer) could not be built.
    #[error("could not build the assertion verifier: {0}")]
    Verifier(#[from] ConfigError),
}
