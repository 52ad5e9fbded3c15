//! Identity assertions to upstreams: a short-lived ES256 JWT the proxy signs for each
//! request it forwards, and the layer an upstream uses to verify it.
//!
//! The proxy side is an [`AssertionSigner`]: it holds a P-256 key (generated at start or
//! loaded from PKCS#8), names itself with an issuer URL, and signs the caller's
//! [`Identity`](zt_core::identity::Identity) for one upstream (`aud`), valid for about a
//! minute. Its public keys are served by a [`JwksService`] at [`JWKS_PATH`]. Before a
//! request goes upstream, every client-supplied copy of the assertion header (and of any
//! other configured identity header) is removed with [`strip`] or
//! [`AssertionSigner::strip`]; only then is the proxy's own assertion added.
//!
//! The upstream side is an [`AssertionLayer`]: it verifies the header with a zt-core
//! [`Verifier`](zt_core::identity::Verifier) that trusts only the proxy, removes it, and
//! hands the handler an `Arc<Identity>` in the request's extensions; a request without
//! exactly one valid assertion is answered with 401 and never reaches the inner service.
//!
//! ```no_run
//! use axum::{Extension, Router, routing::get};
//! use std::sync::Arc;
//! use zt_core::identity::{Identity, IssuerConfig};
//! use zt_tower::assertion::AssertionLayer;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // In the upstream app: trust assertions of the proxy at https://proxy.example.com
//! // that name this app ("orders") as audience.
//! let keys = IssuerConfig::jwks_url(
//!     "https://proxy.example.com",
//!     "https://proxy.example.com/.well-known/zt-jwks.json",
//! );
//! let app: Router = Router::new()
//!     .route("/", get(|Extension(who): Extension<Arc<Identity>>| async move {
//!         format!("hello {}", who.subject)
//!     }))
//!     .layer(AssertionLayer::for_proxy(keys, "orders").await?);
//! # Ok(()) }
//! ```
//!
//! # Claims
//!
//! | claim | value |
//! |---|---|
//! | `iss` | the proxy's issuer URL |
//! | `aud` | the upstream (one string) |
//! | `sub` | the caller's subject |
//! | `iat`, `nbf` | signing time |
//! | `exp` | signing time + lifetime (default 60 s), never after the identity's own expiry |
//! | `jti` | a fresh UUIDv7 |
//! | `kind` | `user` or `workload` |
//! | `idp_iss` | the issuer that authenticated the caller (the IdP, or `spiffe://<domain>`) |
//! | `preferred_username` | the user name, when known |
//! | `email`, `email_verified` | when the identity has an e-mail address |
//! | `groups` | the caller's groups after the [`GroupFilter`], sorted; absent when empty |
//! | `groups_truncated` | `true` when the filter's maximum count cut the list |
//! | `auth_time` | when the user authenticated at the IdP, when known |
//!
//! The JOSE header is `{"alg":"ES256","typ":"JWT","kid":...}`, the `kid` being the key's
//! RFC 7638 JWK thumbprint.

mod error;
mod future;
mod groups;
mod jwks;
mod key;
mod layer;
mod service;
mod signer;

pub use error::AssertionError;
pub use future::ResponseFuture;
pub use groups::GroupFilter;
pub use jwks::{JWKS_CACHE_CONTROL, JWKS_CONTENT_TYPE, JwksService};
pub use key::SigningKey;
pub use layer::{AssertionLayer, DEFAULT_LEEWAY, upstream_issuer_config};
pub use service::AssertionService;
pub use signer::{
    AssertionSigner, AssertionSignerBuilder, DEFAULT_LIFETIME, DEFAULT_MAX_ASSERTION_BYTES,
    MAX_LIFETIME, MIN_LIFETIME,
};

use http::{HeaderMap, HeaderName};

/// The header carrying the assertion, unless configured otherwise.
pub const DEFAULT_HEADER: HeaderName = HeaderName::from_static("x-zt-assertion");

/// Where the proxy serves its assertion keys (see [`JwksService`]).
pub const JWKS_PATH: &str = "/.well-known/zt-jwks.json";

/// Removes every copy of each named header and returns how many values were removed.
///
/// Header names are case-insensitive (as in [`HeaderMap`]), so `X-ZT-Assertion` and
/// `x-zt-assertion` are the same header. A non-zero count on a request coming from a
/// client means it tried to supply an identity header itself: worth a log line.
///
/// ```
/// use http::{HeaderMap, HeaderName};
/// use zt_tower::assertion::{DEFAULT_HEADER, strip};
///
/// let mut headers = HeaderMap::new();
/// headers.append("X-ZT-Assertion", "forged".parse().unwrap());
/// headers.append("x-zt-assertion", "forged too".parse().unwrap());
/// headers.append("x-forwarded-user", "admin".parse().unwrap());
/// let forwarded_user = HeaderName::from_static("x-forwarded-user");
/// assert_eq!(strip(&mut headers, [&DEFAULT_HEADER, &forwarded_user]), 3);
/// assert!(headers.is_empty());
/// ```
pub fn strip<'a>(
    headers: &mut HeaderMap,
    names: impl IntoIterator<Item = &'a HeaderName>,
) -> usize {
    let mut removed = 0;
    for name in names {
        if let http::header::Entry::Occupied(entry) = headers.entry(name) {
            removed += entry.remove_entry_mult().1.count();
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn strip_removes_every_copy_in_any_case() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("X-Zt-Assertion", "a"),
            ("x-zt-assertion", "b"),
            ("X-ZT-ASSERTION", "c"),
            ("x-forwarded-email", "d"),
            ("accept", "text/plain"),
        ] {
            headers.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_static(value),
            );
        }
        let email = HeaderName::from_static("x-forwarded-email");
        let absent = HeaderName::from_static("x-forwarded-user");
        assert_eq!(strip(&mut headers, [&DEFAULT_HEADER, &email, &absent]), 4);
        assert_eq!(headers.len(), 1);
        assert_eq!(headers["accept"], "text/plain");
        assert_eq!(strip(&mut headers, [&DEFAULT_HEADER]), 0);
    }
}
