//! [`AssertionLayer`]: the upstream side.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderName;
use tower::Layer;
use zt_core::identity::{Algorithm, IssuerConfig, Verifier};

use super::{AssertionError, AssertionService, DEFAULT_HEADER};

/// Clock skew tolerated by [`upstream_issuer_config`]: assertions live about a minute,
/// so the 60 s default of zt-core would double their life.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(15);

/// Settings for trusting a proxy's assertions at the upstream `audience`.
///
/// `keys` names the proxy's issuer and where its keys are, typically
/// `IssuerConfig::jwks_url(proxy, format!("{proxy}{JWKS_PATH}"))` (or `jwks_file` /
/// `jwks_inline`). The result accepts only `ES256`, only tokens whose `aud` is
/// `audience`, requires `jti` and `idp_iss`, and tolerates [`DEFAULT_LEEWAY`] of clock
/// skew; every other setting can still be changed on the returned config. Use it to
/// build a [`Verifier`] of your own (e.g. with an extra root certificate) for
/// [`AssertionLayer::new`].
///
/// [`JWKS_PATH`]: super::JWKS_PATH
pub fn upstream_issuer_config(keys: IssuerConfig, audience: impl Into<String>) -> IssuerConfig {
    keys.audience(audience)
        .algorithms([Algorithm::ES256])
        .leeway(DEFAULT_LEEWAY)
        .require_claim("jti")
        .require_claim("idp_iss")
}

/// Verifies the proxy's identity assertion on every request to the wrapped service.
///
/// A request must carry exactly one assertion header (default [`DEFAULT_HEADER`]) that
/// the [`Verifier`] accepts; the header is then removed and the identity is put in the
/// request's extensions as `Arc<Identity>`. Any other request is answered with 401
/// (`application/problem+json`) and never reaches the inner service.
///
/// The identity is the caller's as the proxy saw it: `issuer` is the identity provider
/// that authenticated the caller (the `idp_iss` claim) and `kind` comes from the `kind`
/// claim, while `claims` holds the assertion's claims (its `iss` is the proxy). The
/// verifier must therefore trust the proxy only: build it with
/// [`upstream_issuer_config`] or use [`for_proxy`](Self::for_proxy).
#[derive(Clone)]
pub struct AssertionLayer {
    shared: Arc<Shared>,
}

/// What the layer's services share.
pub(crate) struct Shared {
    pub(crate) verifier: Verifier,
    pub(crate) header: HeaderName,
}

impl fmt::Debug for AssertionLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AssertionLayer")
            .field("verifier", &self.shared.verifier)
            .field("header", &self.shared.header)
            .finish()
    }
}

impl AssertionLayer {
    /// A layer verifying assertions with `verifier`, which should trust only the proxy
    /// (see [`upstream_issuer_config`]).
    pub fn new(verifier: Verifier) -> Self {
        Self {
            shared: Arc::new(Shared {
                verifier,
                header: DEFAULT_HEADER,
            }),
        }
    }

    /// A layer trusting the proxy named by `keys` for the upstream `audience`, with the
    /// settings of [`upstream_issuer_config`]. Must be called inside a Tokio runtime;
    /// keys are fetched now and refreshed in the background.
    pub async fn for_proxy(
        keys: IssuerConfig,
        audience: impl Into<String>,
    ) -> Result<Self, AssertionError> {
        let verifier = Verifier::builder()
            .issuer(upstream_issuer_config(keys, audience))
            .build()
            .await?;
        Ok(Self::new(verifier))
    }

    /// Reads the assertion from this header (default [`DEFAULT_HEADER`]); it must match
    /// the proxy's setting.
    #[must_use]
    pub fn header(self, name: HeaderName) -> Self {
        Self {
            shared: Arc::new(Shared {
                verifier: self.shared.verifier.clone(),
                header: name,
            }),
        }
    }
}

impl<S> Layer<S> for AssertionLayer {
    type Service = AssertionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AssertionService::new(inner, Arc::clone(&self.shared))
    }
}
