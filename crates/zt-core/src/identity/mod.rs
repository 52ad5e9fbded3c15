//! Identity verification: OIDC/JWT bearer tokens and SPIFFE X.509-SVIDs.
//!
//! A [`Verifier`] holds one [`IssuerConfig`] per trusted issuer. A token's `iss` claim
//! selects the issuer before any key is touched; an unknown issuer is rejected. Keys come
//! from OIDC discovery, a JWKS URL, a file or inline JSON, are parsed once, refreshed in
//! the background and on an unknown `kid` (rate limited), and kept for a bounded time
//! when the issuer is unreachable. Without keys, every token is rejected.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use zt_core::identity::{IssuerConfig, Verifier};
//!
//! let verifier = Verifier::builder()
//!     .issuer(IssuerConfig::discover("https://idp.example.com").audience("my-api"))
//!     .build()
//!     .await?;
//! let identity = verifier.verify("eyJhbGciOi...").await?;
//! println!("{} in groups {:?}", identity.subject, identity.groups);
//! # Ok(()) }
//! ```

mod algorithm;
mod cache;
mod claims;
mod error;
mod fetch;
mod issuer;
mod jwk;
mod jwt;
mod keys;
mod model;
mod spiffe;
mod verifier;

pub use algorithm::{Algorithm, UnsupportedAlgorithm};
pub use claims::ClaimPath;
pub use error::{ConfigError, KeySourceError, SpiffeError, VerifyError};
pub use issuer::{ClaimMapping, IssuerConfig, JwksSource};
pub use model::{Identity, IdentityKind};
pub use spiffe::{SpiffeId, SpiffeVerifier, TrustBundle};
pub use verifier::{DEFAULT_CACHE_BYTES, DEFAULT_MAX_TOKEN_BYTES, Verifier, VerifierBuilder};
