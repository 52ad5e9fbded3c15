//! Browser login: OpenID Connect authorization code flow with PKCE, into a session cookie.
//!
//! [`LoginConfig`] describes the app's client at the IdP; [`LoginConfig::build`] discovers
//! the provider and gives a [`Login`], whose [`router`](Login::router) serves four routes
//! under a prefix (default `/.zt`):
//!
//! | route | what |
//! |---|---|
//! | `GET {prefix}/login?rd=/path` | remembers state, nonce, PKCE verifier and the return URL in a sealed, short-lived `__Host-zt-login` cookie and sends the browser (303) to the IdP's authorization endpoint |
//! | `GET {prefix}/callback?code&state` | checks the state (constant time) against that cookie, exchanges the code with the PKCE verifier, verifies the ID token (signature with the IdP's JWKS, `iss`, `aud`, `exp`, `nonce`, `at_hash`), sets the session cookie and returns (303) to the return URL |
//! | `GET {prefix}/logout` | clears the session cookie and, when the IdP has an `end_session_endpoint`, signs out there too (RP-initiated logout) |
//! | `GET {prefix}/userinfo` | the signed-in user as JSON; 401 `application/problem+json` without a session |
//!
//! The return URL is only ever a local path ([`safe_return_to`]), so the routes are no open
//! redirect. The session cookie is the [`SessionCookie`] the [`AuthLayer`](crate::AuthLayer)
//! accepts ([`accept_session`](crate::AuthLayerBuilder::accept_session)); point the layer's
//! [`login_redirect`](crate::AuthLayerBuilder::login_redirect) at `{prefix}/login`, and keep
//! the login routes outside the layer (or allow them in the policy).
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use zt_tower::login::LoginConfig;
//! use zt_tower::session::{SessionCookie, SessionKeys};
//!
//! # async fn run(layer: zt_tower::AuthLayer) -> Result<(), Box<dyn std::error::Error>> {
//! let cookie = SessionCookie::new(SessionKeys::generate()?);
//! let login = LoginConfig::new("http://127.0.0.1:9000", "zt-dev", "http://127.0.0.1:3000", cookie)
//!     .build()
//!     .await?;
//! let app: Router = Router::new()
//!     .route("/me", get(|| async { "signed in" }))
//!     .layer(layer) // .accept_session(cookie).login_redirect("/.zt/login")
//!     .merge(login.router());
//! # Ok(()) }
//! ```

mod provider;
mod return_to;
mod routes;
mod state;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use axum::Router;
use http::HeaderValue;
use jiff::{SignedDuration, Timestamp};
use openidconnect::core::CoreResponseType;
use openidconnect::{
    AuthenticationFlow, AuthorizationCode, CsrfToken, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RefreshToken, Scope,
};

use crate::oidc_http::{self, HttpClient};
use crate::session::{Session, SessionCookie, SessionError};
use provider::{ClientSettings, Provider, TokenResponse, error_chain};
use state::{LOGIN_STATE_SECONDS, LoginState};

pub use return_to::{MAX_RETURN_TO, safe_return_to};
pub use state::LOGIN_STATE_COOKIE;

/// The default route prefix.
pub const DEFAULT_PREFIX: &str = "/.zt";

/// How long a discovery (endpoints and signing keys) is used before it is fetched again.
const REDISCOVER_AFTER: Duration = Duration::from_secs(300);

/// The access-token lifetime assumed when the IdP does not say (`expires_in`).
const DEFAULT_ACCESS_TOKEN_SECONDS: i64 = 300;

/// Why login could not be configured, or a login, callback or refresh failed.
///
/// Messages never contain tokens, codes, secrets or cookie contents.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoginError {
    /// Invalid configuration (issuer, base URL, prefix, ...).
    #[error("login configuration: {0}")]
    Config(String),
    /// The provider's discovery document or keys could not be fetched or are unusable.
    #[error("OpenID provider discovery failed: {0}")]
    Discovery(String),
    /// The callback has no login-state cookie, or it does not open or has expired.
    #[error("no valid login state: {0}")]
    MissingState(SessionError),
    /// The callback's `state` is not the one sent.
    #[error("the callback's state does not match the login state")]
    StateMismatch,
    /// The callback is malformed (no code, a foreign `iss`, ...).
    #[error("bad callback: {0}")]
    BadCallback(&'static str),
    /// The IdP answered the authorization request with an error.
    #[error("the provider refused the login: {0}")]
    Provider(String),
    /// The token endpoint refused the code (or refresh token), or could not be reached.
    #[error("token request failed: {0}")]
    Exchange(String),
    /// The ID token did not verify (signature, issuer, audience, expiry, nonce, at_hash).
    #[error("ID token rejected: {0}")]
    IdToken(String),
    /// The session could not be sealed into the cookie.
    #[error("session cookie: {0}")]
    Session(#[from] SessionError),
}

/// Configures browser login (consuming builder); [`build`](LoginConfig::build) it.
#[must_use]
pub struct LoginConfig {
    issuer: String,
    client_id: String,
    client_secret: Option<String>,
    base_url: String,
    prefix: String,
    scopes: Vec<String>,
    offline_access: bool,
    cookie: SessionCookie,
    session_lifetime: Duration,
    after_logout: String,
    http_timeout: Duration,
}

impl fmt::Debug for LoginConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginConfig")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("base_url", &self.base_url)
            .field("prefix", &self.prefix)
            .field("scopes", &self.scopes)
            .field("offline_access", &self.offline_access)
            .field("cookie", &self.cookie)
            .field("session_lifetime", &self.session_lifetime)
            .field("after_logout", &self.after_logout)
            .field("http_timeout", &self.http_timeout)
            .finish()
    }
}

impl LoginConfig {
    /// Login at `issuer` (discovered via `/.well-known/openid-configuration`) as the
    /// public client `client_id`, for the app reachable by browsers at `base_url` (e.g.
    /// `https://app.example.com`), keeping sessions in `cookie`.
    ///
    /// Defaults: prefix [`DEFAULT_PREFIX`], scopes `openid profile email`, no
    /// `offline_access`, sessions of 8 hours, `/` after logout, 10 s HTTP timeout.
    pub fn new(
        issuer: impl Into<String>,
        client_id: impl Into<String>,
        base_url: impl Into<String>,
        cookie: SessionCookie,
    ) -> Self {
        Self {
            issuer: issuer.into(),
            client_id: client_id.into(),
            client_secret: None,
            base_url: base_url.into(),
            prefix: DEFAULT_PREFIX.to_owned(),
            scopes: vec!["profile".into(), "email".into()],
            offline_access: false,
            cookie,
            session_lifetime: Duration::from_secs(8 * 3600),
            after_logout: "/".to_owned(),
            http_timeout: Duration::from_secs(10),
        }
    }

    /// The client secret of a confidential client (never logged).
    pub fn client_secret(mut self, secret: impl Into<String>) -> Self {
        self.client_secret = Some(secret.into());
        self
    }

    /// Where the routes live (default `/.zt`); the redirect URI registered at the IdP is
    /// `{base_url}{prefix}/callback`.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The scopes asked for besides `openid` (default `profile email`).
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Also asks for `offline_access`, so the IdP issues a refresh token.
    pub fn offline_access(mut self, on: bool) -> Self {
        self.offline_access = on;
        self
    }

    /// How long a session lasts at most, whatever refreshes happen (default 8 hours).
    pub fn session_lifetime(mut self, lifetime: Duration) -> Self {
        self.session_lifetime = lifetime;
        self
    }

    /// Where browsers end up after logout: a local path (resolved against the base URL)
    /// or an absolute URL (default `/`).
    pub fn after_logout(mut self, target: impl Into<String>) -> Self {
        self.after_logout = target.into();
        self
    }

    /// Timeout of each request to the IdP (default 10 s).
    pub fn http_timeout(mut self, timeout: Duration) -> Self {
        self.http_timeout = timeout;
        self
    }

    /// Checks the configuration and discovers the provider.
    ///
    /// # Errors
    /// [`LoginError::Config`] for an invalid issuer, base URL, prefix or lifetime (plain
    /// `http` is accepted only for loopback hosts), [`LoginError::Discovery`] if the
    /// provider cannot be discovered.
    pub async fn build(self) -> Result<Login, LoginError> {
        let issuer = url::Url::parse(&self.issuer)
            .map_err(|_| LoginError::Config("the issuer is not an absolute URL".into()))?;
        if !oidc_http::is_secure_or_loopback(&issuer) {
            return Err(LoginError::Config(
                "the issuer must be https (http only on loopback)".into(),
            ));
        }
        let base = url::Url::parse(&self.base_url)
            .map_err(|_| LoginError::Config("the base URL is not an absolute URL".into()))?;
        if !oidc_http::is_secure_or_loopback(&base) {
            return Err(LoginError::Config(
                "the base URL must be https (http only on loopback): session cookies are Secure"
                    .into(),
            ));
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err(LoginError::Config(
                "the base URL must have no query or fragment".into(),
            ));
        }
        let base = self.base_url.trim_end_matches('/').to_owned();
        let prefix = self.prefix.trim_end_matches('/').to_owned();
        if !prefix.is_empty()
            && (!prefix.starts_with('/')
                || prefix
                    .bytes()
                    .any(|b| !b.is_ascii_graphic() || matches!(b, b'?' | b'#' | b'{' | b'}')))
        {
            return Err(LoginError::Config(format!(
                "the prefix must be empty or a path starting with `/`: {prefix:?}"
            )));
        }
        if self.client_id.is_empty() {
            return Err(LoginError::Config("the client id is empty".into()));
        }
        let lifetime = i64::try_from(self.session_lifetime.as_secs())
            .ok()
            .filter(|s| *s > 0)
            .ok_or_else(|| {
                LoginError::Config("the session lifetime must be at least a second".into())
            })?;
        let after_logout = if self.after_logout.starts_with('/') {
            format!("{base}{}", safe_return_to(&self.after_logout))
        } else {
            let url = url::Url::parse(&self.after_logout).map_err(|_| {
                LoginError::Config("after_logout must be a local path or an absolute URL".into())
            })?;
            if !matches!(url.scheme(), "https" | "http") {
                return Err(LoginError::Config(
                    "after_logout must be an http(s) URL".into(),
                ));
            }
            url.to_string()
        };
        let redirect_uri = format!("{base}{prefix}/callback");
        let mut scopes: Vec<String> = Vec::new();
        for scope in self
            .scopes
            .into_iter()
            .chain(self.offline_access.then(|| "offline_access".to_owned()))
        {
            if scope != "openid" && !scope.is_empty() && !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        let http =
            HttpClient::new(self.http_timeout).map_err(|e| LoginError::Config(e.to_string()))?;
        let provider = Provider::discover(
            &http,
            &ClientSettings {
                issuer: &self.issuer,
                client_id: &self.client_id,
                client_secret: self.client_secret.as_deref(),
                redirect_uri: &redirect_uri,
            },
        )
        .await?;
        tracing::info!(
            issuer = %self.issuer,
            client_id = %self.client_id,
            %redirect_uri,
            end_session = provider.end_session.is_some(),
            "browser login ready"
        );
        Ok(Login {
            inner: Arc::new(Inner {
                issuer: self.issuer,
                client_id: self.client_id,
                client_secret: self.client_secret,
                redirect_uri,
                prefix,
                scopes,
                cookie: self.cookie,
                session_lifetime: lifetime,
                after_logout,
                http,
                provider: ArcSwap::from_pointee(provider),
            }),
        })
    }
}

/// Browser login, ready to serve: see the [module docs](self).
///
/// Cheap to clone.
#[derive(Clone)]
pub struct Login {
    inner: Arc<Inner>,
}

impl fmt::Debug for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Login")
            .field("issuer", &self.inner.issuer)
            .field("client_id", &self.inner.client_id)
            .field("redirect_uri", &self.inner.redirect_uri)
            .field("prefix", &self.inner.prefix)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    issuer: String,
    client_id: String,
    client_secret: Option<String>,
    redirect_uri: String,
    prefix: String,
    scopes: Vec<String>,
    cookie: SessionCookie,
    session_lifetime: i64,
    after_logout: String,
    http: HttpClient,
    provider: ArcSwap<Provider>,
}

/// The query of a callback from the IdP.
#[derive(Debug, Default)]
pub(crate) struct CallbackParams {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
    iss: Option<String>,
}

impl CallbackParams {
    /// The first value of each parameter in `query`.
    fn parse(query: &str) -> Self {
        let mut params = Self::default();
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            let slot = match &*name {
                "code" => &mut params.code,
                "state" => &mut params.state,
                "error" => &mut params.error,
                "error_description" => &mut params.error_description,
                "iss" => &mut params.iss,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(value.into_owned());
            }
        }
        params
    }
}

impl Login {
    /// The routes (`login`, `callback`, `logout`, `userinfo` under the prefix), to
    /// [`merge`](Router::merge) into the app, outside the [`AuthLayer`](crate::AuthLayer).
    pub fn router(&self) -> Router {
        routes::router(Arc::clone(&self.inner))
    }

    /// The login route, `{prefix}/login`: give it to
    /// [`login_redirect`](crate::AuthLayerBuilder::login_redirect).
    #[must_use]
    pub fn login_path(&self) -> String {
        format!("{}/login", self.inner.prefix)
    }

    /// The redirect URI to register at the IdP, `{base_url}{prefix}/callback`.
    #[must_use]
    pub fn redirect_uri(&self) -> &str {
        &self.inner.redirect_uri
    }

    /// The session cookie sessions are sealed into.
    #[must_use]
    pub fn cookie(&self) -> &SessionCookie {
        &self.inner.cookie
    }

    /// Uses the session's refresh token to get a fresh access token (call it when
    /// [`Session::access_token_expires_within`] a minute or so), keeping the session's
    /// subject, id and absolute expiry. A new refresh token or ID token replaces the old
    /// one; a new ID token must verify and name the same subject.
    ///
    /// Store the result with [`Login::set_cookie`].
    ///
    /// # Errors
    /// [`LoginError::Exchange`] if the session has no refresh token or the IdP refuses it
    /// (the user has to sign in again), [`LoginError::IdToken`] if a returned ID token
    /// does not verify or names another subject.
    pub async fn refresh(&self, session: &Session) -> Result<Session, LoginError> {
        self.inner.refresh(session).await
    }

    /// The `Set-Cookie` value for `session`. When the sealed session would be too large
    /// for browsers, the ID token and then the refresh token are left out (and `session`
    /// updated to match).
    ///
    /// # Errors
    /// [`LoginError::Session`] if the session has expired or is too large even without
    /// those tokens.
    pub fn set_cookie(&self, session: &mut Session) -> Result<HeaderValue, LoginError> {
        self.inner.set_cookie(session)
    }
}

impl Inner {
    /// The provider, re-discovered when the last discovery is older than
    /// [`REDISCOVER_AFTER`] (keeping the old one if that fails).
    async fn provider(&self) -> Arc<Provider> {
        let current = self.provider.load_full();
        if current.fetched_at.elapsed() < REDISCOVER_AFTER {
            return current;
        }
        self.rediscover().await.unwrap_or(current)
    }

    async fn rediscover(&self) -> Option<Arc<Provider>> {
        let settings = ClientSettings {
            issuer: &self.issuer,
            client_id: &self.client_id,
            client_secret: self.client_secret.as_deref(),
            redirect_uri: &self.redirect_uri,
        };
        match Provider::discover(&self.http, &settings).await {
            Ok(provider) => {
                let provider = Arc::new(provider);
                self.provider.store(Arc::clone(&provider));
                tracing::debug!(issuer = %self.issuer, "re-discovered the OpenID provider");
                Some(provider)
            }
            Err(error) => {
                tracing::warn!(issuer = %self.issuer, %error, "re-discovery failed; keeping the previous provider metadata");
                None
            }
        }
    }

    /// Starts a login: the authorization URL and the login-state cookie.
    async fn begin(&self, rd: &str) -> Result<(url::Url, HeaderValue), LoginError> {
        let provider = self.provider().await;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = provider
            .client
            .authorize_url(
                AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in &self.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.url();
        let login_state = LoginState {
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
            return_to: safe_return_to(rd).to_owned(),
            exp: Timestamp::now().as_second() + LOGIN_STATE_SECONDS,
        };
        let cookie = login_state.to_set_cookie(self.cookie.keys())?;
        Ok((url, cookie))
    }

    /// Completes a login from the callback: the new session and where to return.
    async fn finish(
        &self,
        headers: &http::HeaderMap,
        params: CallbackParams,
    ) -> Result<(Session, String), LoginError> {
        let login = LoginState::from_request_headers(headers, self.cookie.keys(), Timestamp::now())
            .map_err(LoginError::MissingState)?
            .ok_or(LoginError::MissingState(SessionError::Malformed(
                "no login state cookie",
            )))?;
        let state = params
            .state
            .as_deref()
            .ok_or(LoginError::BadCallback("no state parameter"))?;
        if !login.state_matches(state) {
            return Err(LoginError::StateMismatch);
        }
        if let Some(iss) = params.iss.as_deref()
            && iss != self.issuer
        {
            return Err(LoginError::BadCallback(
                "the iss parameter names another issuer",
            ));
        }
        if let Some(error) = params.error {
            let mut detail: String = error.chars().take(100).collect();
            if let Some(description) = params.error_description {
                detail.push_str(": ");
                detail.extend(description.chars().take(300));
            }
            return Err(LoginError::Provider(detail));
        }
        let code = params
            .code
            .filter(|code| !code.is_empty())
            .ok_or(LoginError::BadCallback("no code parameter"))?;
        let provider = self.provider().await;
        let token: TokenResponse = provider
            .client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| LoginError::Exchange(error_chain(&e)))?
            .set_pkce_verifier(PkceCodeVerifier::new(login.pkce_verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(|e| LoginError::Exchange(error_chain(&e)))?;
        let nonce = Nonce::new(login.nonce.clone());
        let session = self.session_from(&provider, &token, &nonce, None)?;
        Ok((session, login.return_to))
    }

    /// Builds (or, with `previous`, refreshes) a session from a token response.
    fn session_from(
        &self,
        provider: &Provider,
        token: &TokenResponse,
        nonce: &Nonce,
        previous: Option<&Session>,
    ) -> Result<Session, LoginError> {
        let now = Timestamp::now();
        let access_token_expires_at = now
            + SignedDuration::from_secs(
                token
                    .expires_in()
                    .and_then(|d| i64::try_from(d.as_secs()).ok())
                    .unwrap_or(DEFAULT_ACCESS_TOKEN_SECONDS)
                    .min(self.session_lifetime),
            );
        let id_token = token.extra_fields().id_token();
        let verified = match (id_token, previous) {
            (Some(id_token), _) => {
                let verifier = provider.client.id_token_verifier();
                let claims = match previous {
                    // Refreshed ID tokens need not repeat the nonce.
                    Some(_) => crate::oidc::verify_id_token(
                        id_token,
                        &verifier,
                        |_: Option<&Nonce>| Ok(()),
                        token.access_token(),
                    ),
                    None => crate::oidc::verify_id_token(
                        id_token,
                        &verifier,
                        nonce,
                        token.access_token(),
                    ),
                }
                .map_err(LoginError::IdToken)?;
                Some((claims.clone(), id_token.to_string()))
            }
            (None, Some(_)) => None,
            (None, None) => {
                return Err(LoginError::IdToken(
                    "the token response has no ID token".into(),
                ));
            }
        };
        let access_token = token.access_token().secret().clone();
        let refresh_token = token.refresh_token().map(|t| t.secret().clone());
        match (previous, verified) {
            (Some(previous), verified) => {
                let mut session = previous.clone();
                if let Some((claims, raw)) = verified {
                    if claims.subject().as_str() != previous.subject
                        || claims.issuer().as_str() != previous.issuer
                    {
                        return Err(LoginError::IdToken(
                            "the refreshed ID token names another subject".into(),
                        ));
                    }
                    session.id_token = Some(raw);
                }
                session.access_token = access_token;
                session.access_token_expires_at = access_token_expires_at.min(previous.expires_at);
                if refresh_token.is_some() {
                    session.refresh_token = refresh_token;
                }
                Ok(session)
            }
            (None, Some((claims, raw))) => {
                // Always our own id: the IdP's `sid` can outlive a logout here (and come
                // back on the next sign-in), which would find the new session revoked.
                let session_id = Session::random_id()?;
                Ok(Session {
                    subject: claims.subject().as_str().to_owned(),
                    issuer: claims.issuer().as_str().to_owned(),
                    session_id,
                    access_token,
                    refresh_token,
                    id_token: Some(raw),
                    access_token_expires_at,
                    created_at: now,
                    expires_at: now + SignedDuration::from_secs(self.session_lifetime),
                    email: claims.email().map(|e| e.as_str().to_owned()),
                    name: claims
                        .name()
                        .and_then(|n| n.get(None))
                        .map(|n| n.as_str().to_owned()),
                })
            }
            (None, None) => Err(LoginError::IdToken(
                "the token response has no ID token".into(),
            )),
        }
    }

    async fn refresh(&self, session: &Session) -> Result<Session, LoginError> {
        let refresh_token = session
            .refresh_token
            .as_ref()
            .ok_or_else(|| LoginError::Exchange("the session has no refresh token".into()))?;
        let provider = self.provider().await;
        let refresh_token = RefreshToken::new(refresh_token.clone());
        let token: TokenResponse = provider
            .client
            .exchange_refresh_token(&refresh_token)
            .map_err(|e| LoginError::Exchange(error_chain(&e)))?
            .request_async(&self.http)
            .await
            .map_err(|e| LoginError::Exchange(error_chain(&e)))?;
        let unused = Nonce::new(String::new());
        self.session_from(&provider, &token, &unused, Some(session))
    }

    fn set_cookie(&self, session: &mut Session) -> Result<HeaderValue, LoginError> {
        match self.cookie.to_set_cookie(session) {
            Err(SessionError::TooLarge { size, .. }) if session.id_token.is_some() => {
                tracing::warn!(size, "session cookie too large; leaving out the ID token");
                session.id_token = None;
                self.set_cookie(session)
            }
            Err(SessionError::TooLarge { size, .. }) if session.refresh_token.is_some() => {
                tracing::warn!(
                    size,
                    "session cookie too large; leaving out the refresh token"
                );
                session.refresh_token = None;
                self.set_cookie(session)
            }
            result => Ok(result?),
        }
    }

    /// Where logout sends the browser.
    fn logout_target(&self, session: Option<&Session>) -> String {
        let provider = self.provider.load();
        let Some(end_session) = provider.end_session.clone() else {
            return self.after_logout.clone();
        };
        let mut url = end_session;
        {
            let mut query = url.query_pairs_mut();
            if let Some(hint) = session.and_then(|s| s.id_token.as_deref()) {
                query.append_pair("id_token_hint", hint);
            }
            query.append_pair("client_id", &self.client_id);
            query.append_pair("post_logout_redirect_uri", &self.after_logout);
        }
        url.to_string()
    }
}
