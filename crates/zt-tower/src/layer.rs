//! [`AuthLayer`] and its consuming builder.

use std::fmt;
use std::sync::Arc;

use http::HeaderName;
use tower::Layer;
use zt_core::audit::Auditor;
use zt_core::identity::Verifier;

use crate::assertion::{AssertionSigner, DEFAULT_HEADER, JwksService};
use crate::authorize::DecisionObserver;
use crate::login::Login;
use crate::policy::PolicyHandle;
use crate::service::Auth;
use crate::session::SessionCookie;

/// Authenticates, authorizes and audits every request to the wrapped service.
///
/// For each request the layer strips client-supplied identity headers, finds the
/// credential (mTLS [`PeerIdentity`](crate::PeerIdentity), `Authorization: Bearer`, or a
/// configured token header), verifies it, decides with the policy in force (also
/// requests without a credential, so public routes work), records an audit event, and
/// then either calls the inner service, with `Arc<Identity>` and an
/// [`AccessDecision`](crate::AccessDecision) in the request's extensions, or answers
/// itself: 401 (with `WWW-Authenticate`, or a redirect to login for browsers) when the
/// request has no valid identity, 403 with the policy's reason otherwise, 503 when the
/// audit log cannot take the event.
///
/// ```
/// use axum::{Router, routing::get};
/// use zt_core::policy::Engine;
/// use zt_tower::AuthLayer;
///
/// let policy = Engine::from_source("allow \"public\" when request.path == \"/\"\n")?;
/// let app: Router = Router::new()
///     .route("/", get(|| async { "hello" }))
///     .layer(AuthLayer::builder().policy(policy).build()?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct AuthLayer {
    config: Arc<Config>,
}

/// Everything the layer's services share.
pub(crate) struct Config {
    pub(crate) verifier: Option<Verifier>,
    pub(crate) policy: PolicyHandle,
    pub(crate) auditor: Option<Auditor>,
    pub(crate) bearer: bool,
    pub(crate) token_headers: Vec<HeaderName>,
    pub(crate) peer_identity: bool,
    pub(crate) login_path: Option<String>,
    pub(crate) strip: Vec<HeaderName>,
    pub(crate) session: Option<SessionCookie>,
    pub(crate) login: Option<Login>,
    pub(crate) assertion: Option<Assertion>,
    pub(crate) observer: Option<Arc<dyn DecisionObserver>>,
}

/// Signing the caller's identity for the inner service.
pub(crate) struct Assertion {
    pub(crate) signer: AssertionSigner,
    pub(crate) audience: String,
    pub(crate) jwks: JwksService,
}

impl AuthLayer {
    /// Starts configuring a layer; [`policy`](AuthLayerBuilder::policy) is required.
    pub fn builder() -> AuthLayerBuilder {
        AuthLayerBuilder {
            verifier: None,
            policy: None,
            auditor: None,
            bearer: true,
            token_headers: Vec::new(),
            peer_identity: true,
            login_path: None,
            strip: vec![DEFAULT_HEADER],
            session: None,
            login: None,
            assertion: None,
            observer: None,
        }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = Auth<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Auth::new(inner, Arc::clone(&self.config))
    }
}

impl fmt::Debug for AuthLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let config = &*self.config;
        f.debug_struct("AuthLayer")
            .field("policy", &config.policy)
            .field("verifies_tokens", &config.verifier.is_some())
            .field("audited", &config.auditor.is_some())
            .field("bearer", &config.bearer)
            .field("token_headers", &config.token_headers)
            .field("peer_identity", &config.peer_identity)
            .field("login_path", &config.login_path)
            .field("strip", &config.strip)
            .field("session", &config.session)
            .field(
                "assertion_audience",
                &config.assertion.as_ref().map(|a| &a.audience),
            )
            .finish()
    }
}

/// Configures an [`AuthLayer`].
#[must_use]
pub struct AuthLayerBuilder {
    verifier: Option<Verifier>,
    policy: Option<PolicyHandle>,
    auditor: Option<Auditor>,
    bearer: bool,
    token_headers: Vec<HeaderName>,
    peer_identity: bool,
    login_path: Option<String>,
    strip: Vec<HeaderName>,
    session: Option<SessionCookie>,
    login: Option<Login>,
    assertion: Option<(AssertionSigner, String)>,
    observer: Option<Arc<dyn DecisionObserver>>,
}

/// Why a layer could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// No policy was given: the layer would have nothing to decide with.
    #[error("AuthLayer needs a policy")]
    MissingPolicy,
    /// Tokens are accepted but no verifier was given.
    #[error("AuthLayer accepts tokens ({0}) but has no verifier")]
    MissingVerifier(&'static str),
    /// The login path is not an absolute path.
    #[error("the login path must start with `/`: {0:?}")]
    LoginPath(String),
}

impl AuthLayerBuilder {
    /// The verifier for bearer tokens (and token headers).
    pub fn verifier(mut self, verifier: Verifier) -> Self {
        self.verifier = Some(verifier);
        self
    }

    /// The policy: a compiled [`Engine`](zt_core::policy::Engine), or a
    /// [`PolicyHandle`] to swap it while serving.
    pub fn policy(mut self, policy: impl Into<PolicyHandle>) -> Self {
        self.policy = Some(policy.into());
        self
    }

    /// Records an `http.request` event for every decision (and `token.rejected` for
    /// refused credentials). Without an auditor nothing is recorded.
    pub fn auditor(mut self, auditor: Auditor) -> Self {
        self.auditor = Some(auditor);
        self
    }

    /// Whether `Authorization: Bearer` tokens are accepted (default: yes, when a
    /// verifier is configured).
    pub fn accept_bearer(mut self, accept: bool) -> Self {
        self.bearer = accept;
        self
    }

    /// Also accepts a token in this header (e.g. `x-api-token`).
    pub fn accept_token_header(mut self, name: HeaderName) -> Self {
        self.token_headers.push(name);
        self
    }

    /// Whether a [`PeerIdentity`](crate::PeerIdentity) from mutual TLS counts as the
    /// caller's identity (default: yes).
    pub fn accept_peer_identity(mut self, accept: bool) -> Self {
        self.peer_identity = accept;
        self
    }

    /// Sends browsers (GET requests accepting HTML) that need to sign in to this path,
    /// with `?rd=` the URL to return to, instead of answering 401.
    pub fn login_redirect(mut self, path: impl Into<String>) -> Self {
        self.login_path = Some(path.into());
        self
    }

    /// Removes every client-supplied copy of this header before the request goes on
    /// (the assertion header `x-zt-assertion` is always removed).
    pub fn strip_header(mut self, name: HeaderName) -> Self {
        self.strip.push(name);
        self
    }

    /// Accepts browser sessions: the access token sealed in this session cookie (see
    /// [`session`](crate::session)) is verified like a bearer token.
    pub fn accept_session(mut self, cookie: SessionCookie) -> Self {
        self.session = Some(cookie);
        self
    }

    /// Browser sign-in with [`Login`]: accepts its session cookie, sends browsers that
    /// need to sign in to its login route, and refreshes a session's access token with
    /// its refresh token shortly before it expires (the new cookie is set on the
    /// response; a session that cannot be refreshed is signed out). Mount
    /// [`Login::router`] beside the layer.
    pub fn login(mut self, login: Login) -> Self {
        self.session = Some(login.cookie().clone());
        self.login_path = Some(login.login_path());
        self.login = Some(login);
        self
    }

    /// Adds a signed identity assertion for `audience` (the inner service) to every
    /// allowed request with an identity, in the signer's header (client copies are
    /// always removed), and serves the signer's JWKS at
    /// [`JWKS_PATH`](crate::assertion::JWKS_PATH) without authentication.
    pub fn assertion(mut self, signer: AssertionSigner, audience: impl Into<String>) -> Self {
        self.strip.push(signer.header_name().clone());
        self.assertion = Some((signer, audience.into()));
        self
    }

    /// Reports every policy decision to `observer` (e.g. metrics by effect and rule).
    pub fn observer(mut self, observer: impl DecisionObserver) -> Self {
        self.observer = Some(Arc::new(observer));
        self
    }

    /// Builds the layer.
    pub fn build(self) -> Result<AuthLayer, BuildError> {
        let policy = self.policy.ok_or(BuildError::MissingPolicy)?;
        if self.verifier.is_none() && !self.token_headers.is_empty() {
            return Err(BuildError::MissingVerifier("token headers"));
        }
        if self.verifier.is_none() && self.session.is_some() {
            return Err(BuildError::MissingVerifier("session cookies"));
        }
        if let Some(path) = &self.login_path
            && !path.starts_with('/')
        {
            return Err(BuildError::LoginPath(path.clone()));
        }
        Ok(AuthLayer {
            config: Arc::new(Config {
                bearer: self.bearer && self.verifier.is_some(),
                verifier: self.verifier,
                policy,
                auditor: self.auditor,
                token_headers: self.token_headers,
                peer_identity: self.peer_identity,
                login_path: self.login_path,
                strip: self.strip,
                session: self.session,
                login: self.login,
                assertion: self.assertion.map(|(signer, audience)| Assertion {
                    jwks: signer.jwks_service(),
                    signer,
                    audience,
                }),
                observer: self.observer,
            }),
        })
    }
}
