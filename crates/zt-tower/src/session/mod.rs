//! Encrypted, authenticated session cookies for browser login.
//!
//! A browser that signed in through OIDC carries its [`Session`] (subject, tokens, lifetimes)
//! in one cookie, sealed with AES-256-GCM under a [`SessionKeys`] ring. [`SessionCookie`]
//! turns a session into a `Set-Cookie` header value and back from a request's `Cookie`
//! headers. The only server-side state is [`Revocations`]: the ids of signed-out sessions,
//! so a copied cookie stops working at logout.
//!
//! # Cookie format
//!
//! The cookie value is unpadded URL-safe base64 of
//!
//! ```text
//! version (1 byte, = 1) | key id (4 bytes) | nonce (12 bytes) | ciphertext | GCM tag (16 bytes)
//! ```
//!
//! The plaintext is the session as compact JSON. The AEAD's additional data is the
//! 5-byte header (version and key id) followed by the cookie name, so a value cannot be moved
//! to another cookie, nor its header rewritten, without failing authentication. The key id is
//! derived from the key material (a truncated, domain-separated SHA-256), so replicas that
//! share the same secrets agree on it without configuration and opening picks the key
//! directly.
//!
//! # Limits
//!
//! A cookie's `name=value` is bounded by [`MAX_COOKIE_SIZE`] bytes both when it is issued
//! (so the browser never silently drops it) and when it is read (before any decoding), and
//! at most [`MAX_COOKIE_PAIRS`] cookie pairs of a request are scanned.

mod cookie;
mod keys;
mod model;
mod revocation;

pub use cookie::{DEFAULT_COOKIE_NAME, MAX_COOKIE_PAIRS, MAX_COOKIE_SIZE, SessionCookie};
pub use keys::SessionKeys;
pub use model::Session;
pub use revocation::Revocations;

/// Why a session could not be sealed, opened or configured.
///
/// Messages never contain key material, tokens or cookie contents. For a client, every
/// variant but [`SessionError::Config`] and [`SessionError::Crypto`] means "not signed in":
/// clear the cookie and start a new login.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The value is not a sealed session of this format (bad base64, too short, unknown
    /// format version, several session cookies, a payload that does not decode, ...).
    #[error("malformed session cookie: {0}")]
    Malformed(&'static str),
    /// The value names a key id that is not in the key ring (e.g. a key rotated out).
    #[error("session cookie was sealed with a key that is not in the key ring")]
    UnknownKey,
    /// Authenticated decryption failed: the value was tampered with, sealed by a foreign
    /// key that happens to share a key id, or moved from another cookie.
    #[error("session cookie failed authentication (tampered, foreign key or moved cookie)")]
    Tampered,
    /// The session's absolute lifetime is over.
    #[error("session has expired")]
    Expired,
    /// The session was signed out (its id is in the [`Revocations`]).
    #[error("session has been signed out")]
    Revoked,
    /// The cookie's `name=value` exceeds the size browsers keep.
    #[error(
        "session cookie is {size} bytes, over the {limit}-byte limit (browsers silently drop \
         larger cookies); store less in the session, e.g. drop the refresh token or the ID token"
    )]
    TooLarge {
        /// Size of `name=value` in bytes.
        size: usize,
        /// The limit, [`MAX_COOKIE_SIZE`].
        limit: usize,
    },
    /// Invalid configuration: a bad key secret, cookie name or domain.
    #[error("session configuration: {0}")]
    Config(String),
    /// The system random number generator or the cipher failed.
    #[error("cryptographic operation failed")]
    Crypto,
}
