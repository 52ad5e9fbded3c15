//! Signing kubectl in: cached token, else refresh, else the OIDC device-code flow
//! (RFC 8628), all over [`zt_tower::oidc_http::HttpClient`] (https or loopback http only,
//! timeouts, bounded bodies, no redirects).
//!
//! [`LoginConfig::credential`] is what `kube-proxy login` runs each time kubectl needs a
//! token:
//!
//! 1. the [`TokenCache`] entry of (issuer, client id), if the token to present is valid for
//!    at least [`MIN_REMAINING_VALIDITY`](crate::token_cache::MIN_REMAINING_VALIDITY) more: no network at all;
//! 2. otherwise the refresh token, at the token endpoint found by discovery (a failed
//!    refresh re-reads the cache first, in case a concurrent kubectl already refreshed:
//!    refresh tokens rotate, so only one of two racing refreshes succeeds);
//! 3. otherwise, if the session is interactive, the device-code flow: the verification URL
//!    and user code go to the `prompt` callback (the CLI prints them on stderr, since
//!    stdout belongs to kubectl) and the token endpoint is polled at the IdP's interval,
//!    waiting on `authorization_pending`, slowing down by 5 s on `slow_down`, failing on
//!    `expired_token` and `access_denied`;
//! 4. otherwise [`LoginError::InteractionRequired`], whose message tells the user to run
//!    `kube-proxy login` in a terminal.
//!
//! Which token is presented ([`TokenKind`]): by default ([`TokenKind::Auto`]) the access
//! token when it is a JWT whose `aud` names the expected audience (the client id unless
//! configured), since that is the token meant for a resource server; otherwise the ID
//! token, whose audience is always the client id, which a proxy can be configured to
//! accept. The choice is made on the token's unverified claims: the proxy verifies
//! whatever it is given. ID tokens are verified here (signature with the IdP's keys,
//! issuer, audience, expiry, `at_hash`) before anything is cached.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use jiff::{SignedDuration, Timestamp};
use openidconnect::core::{
    CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClient, CoreClientAuthMethod,
    CoreDeviceAuthorizationResponse, CoreGrantType, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm, CoreResponseMode,
    CoreResponseType, CoreRevocableToken, CoreSubjectIdentifierType, CoreTokenResponse,
};
use openidconnect::{
    AdditionalProviderMetadata, ClientId, ClientSecret, DeviceAuthorizationUrl,
    DeviceCodeErrorResponseType, EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, Nonce,
    OAuth2TokenResponse, ProviderMetadata, RefreshToken, RequestTokenError, RevocationUrl, Scope,
    TokenResponse as _,
};
use serde::{Deserialize, Serialize};
use zt_tower::oidc::{error_chain, verify_id_token};
use zt_tower::oidc_http::{HttpClient, is_secure_or_loopback};

use crate::exec_credential::{ExecCredential, ExecCredentialError};
use crate::token_cache::{CacheError, CachedTokens, Secret, TokenCache, is_fresh};

/// The access-token lifetime assumed when the IdP says nothing (no `expires_in`, not a
/// JWT with `exp`).
const DEFAULT_ACCESS_TOKEN_LIFETIME: SignedDuration = SignedDuration::from_secs(300);

/// Longest pause between polls when the token endpoint cannot be reached.
const MAX_POLL_BACKOFF: Duration = Duration::from_secs(30);

/// The scopes asked for besides `openid` by default: `profile email offline_access`
/// (`offline_access` makes most IdPs issue a refresh token).
pub const DEFAULT_SCOPES: [&str; 3] = ["profile", "email", "offline_access"];

/// Why no credential could be obtained (or logout failed). Messages never contain tokens,
/// codes or secrets.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoginError {
    /// Invalid configuration (issuer, client id, secret file, ...).
    #[error("configuration: {0}")]
    Config(String),
    /// The token cache could not be used.
    #[error(transparent)]
    Cache(#[from] CacheError),
    /// `KUBERNETES_EXEC_INFO` could not be understood, or the output not written.
    #[error(transparent)]
    ExecCredential(#[from] ExecCredentialError),
    /// The provider's discovery document or keys could not be fetched or are unusable.
    #[error("OpenID provider discovery at {issuer} failed: {reason}")]
    Discovery {
        /// The issuer.
        issuer: String,
        /// What failed.
        reason: String,
    },
    /// The provider does not offer the device authorization grant.
    #[error(
        "{0} has no device_authorization_endpoint: the identity provider does not offer \
         device sign-in (RFC 8628) for this client"
    )]
    NoDeviceFlow(String),
    /// No valid cached token, and kubectl runs the plugin without a terminal.
    #[error(
        "no valid cached token for {issuer} (client {client_id}), and kubectl runs this \
         plugin non-interactively so it cannot ask you to sign in. Run\n\n    \
         kube-proxy login --issuer {issuer} --client-id {client_id}\n\n\
         in a terminal, then run your kubectl command again."
    )]
    InteractionRequired {
        /// The issuer.
        issuer: String,
        /// The client id.
        client_id: String,
    },
    /// The device authorization request failed.
    #[error("device authorization request failed: {0}")]
    DeviceAuthorization(String),
    /// The user declined the sign-in at the IdP.
    #[error("the sign-in was denied at the identity provider (access_denied)")]
    AccessDenied,
    /// The device code expired before the user finished signing in.
    #[error("the sign-in code expired before the sign-in was completed; run the command again")]
    DeviceCodeExpired,
    /// The token endpoint refused the request or could not be reached.
    #[error("token request failed: {0}")]
    Token(String),
    /// The ID token did not verify.
    #[error("ID token rejected: {0}")]
    IdToken(String),
    /// The tokens obtained cannot be presented as configured.
    #[error("no usable token: {0}")]
    NoUsableToken(String),
    /// Writing the credential to stdout failed.
    #[error("writing the credential failed: {0}")]
    Output(std::io::Error),
}

/// Which token the plugin gives kubectl to present to the proxy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
#[non_exhaustive]
pub enum TokenKind {
    /// The access token if it is a JWT for the expected audience, else the ID token.
    #[default]
    Auto,
    /// Always the access token.
    Access,
    /// Always the ID token.
    Id,
}

impl fmt::Display for TokenKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TokenKind::Auto => "auto",
            TokenKind::Access => "access",
            TokenKind::Id => "id",
        })
    }
}

/// What the user must do to approve a device sign-in, for the `prompt` callback.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeviceAuthorization {
    /// Where to go.
    pub verification_uri: String,
    /// The code to enter there.
    pub user_code: String,
    /// The same URL with the code filled in, if the IdP offers one.
    pub verification_uri_complete: Option<String>,
    /// How long the code is valid.
    pub expires_in: Duration,
}

impl DeviceAuthorization {
    /// The instructions for a person, several lines, no trailing newline.
    pub fn instructions(&self, issuer: &str) -> String {
        let minutes = self.expires_in.as_secs().div_ceil(60);
        match &self.verification_uri_complete {
            Some(complete) => format!(
                "To sign in to {issuer}, open\n\n    {complete}\n\nand check that it shows the \
                 code {code}, or go to {uri} and enter the code {code}.\n\
                 Waiting for the sign-in (the code is valid for {minutes} min)...",
                code = self.user_code,
                uri = self.verification_uri,
            ),
            None => format!(
                "To sign in to {issuer}, go to\n\n    {uri}\n\nand enter the code {code}.\n\
                 Waiting for the sign-in (the code is valid for {minutes} min)...",
                code = self.user_code,
                uri = self.verification_uri,
            ),
        }
    }
}

/// Prints [`DeviceAuthorization::instructions`] on stderr (stdout belongs to kubectl).
pub fn print_device_prompt(issuer: &str, authorization: &DeviceAuthorization) {
    eprintln!("{}", authorization.instructions(issuer));
}

/// Where a credential came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CredentialSource {
    /// The cache, without asking the IdP.
    Cache,
    /// A refresh at the token endpoint.
    Refresh,
    /// A device-code sign-in.
    DeviceCode,
}

/// A credential for kubectl.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Obtained {
    /// The `ExecCredential` to print.
    pub credential: ExecCredential,
    /// When the presented token expires.
    pub expires_at: Timestamp,
    /// The `sub` of the signed-in user.
    pub subject: String,
    /// Where it came from.
    pub source: CredentialSource,
}

/// What [`LoginConfig::logout`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LogoutOutcome {
    /// Whether a cache entry was removed.
    pub removed: bool,
    /// What happened to the refresh token at the IdP.
    pub revocation: Revocation,
}

/// The outcome of revoking the refresh token at logout.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Revocation {
    /// Nothing to revoke (no cache entry or no refresh token), or revocation was not asked for.
    NotAttempted,
    /// The IdP has no `revocation_endpoint`.
    Unsupported,
    /// The IdP accepted the revocation.
    Revoked,
    /// Revocation failed; the local entry is removed anyway.
    Failed(String),
}

/// How the plugin signs in: issuer, client, scopes, which token to present, where to cache.
#[derive(Clone)]
#[must_use]
pub struct LoginConfig {
    issuer: String,
    client_id: String,
    client_secret: Option<Secret>,
    scopes: Vec<String>,
    token_kind: TokenKind,
    audience: Option<String>,
    cache_dir: PathBuf,
    http_timeout: Duration,
}

impl fmt::Debug for LoginConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginConfig")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("scopes", &self.scopes)
            .field("token_kind", &self.token_kind)
            .field("audience", &self.audience)
            .field("cache_dir", &self.cache_dir)
            .field("http_timeout", &self.http_timeout)
            .finish()
    }
}

/// The provider metadata this module reads besides the standard fields.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
struct ExtraMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    device_authorization_endpoint: Option<DeviceAuthorizationUrl>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    revocation_endpoint: Option<RevocationUrl>,
}

impl AdditionalProviderMetadata for ExtraMetadata {}

type Metadata = ProviderMetadata<
    ExtraMetadata,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The discovered provider.
struct Provider {
    client: Client,
    device_authorization: Option<DeviceAuthorizationUrl>,
    revocation: Option<RevocationUrl>,
}

impl LoginConfig {
    /// Sign in at `issuer` as the public client `client_id`, caching tokens in
    /// `cache_dir` (usually [`default_cache_dir`](crate::token_cache::default_cache_dir)).
    ///
    /// Defaults: scopes [`DEFAULT_SCOPES`], [`TokenKind::Auto`] with the client id as the
    /// expected access-token audience, 10 s per HTTP request.
    pub fn new(
        issuer: impl Into<String>,
        client_id: impl Into<String>,
        cache_dir: impl Into<PathBuf>,
    ) -> Self {
        Self {
            issuer: issuer.into().trim_end_matches('/').to_owned(),
            client_id: client_id.into(),
            client_secret: None,
            scopes: DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
            token_kind: TokenKind::Auto,
            audience: None,
            cache_dir: cache_dir.into(),
            http_timeout: Duration::from_secs(10),
        }
    }

    /// The secret of a confidential client (sent with HTTP Basic; never logged).
    pub fn client_secret(mut self, secret: Secret) -> Self {
        self.client_secret = Some(secret);
        self
    }

    /// The scopes asked for besides `openid` (which is always asked for).
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes
            .into_iter()
            .map(Into::into)
            .filter(|s: &String| !s.is_empty() && s != "openid")
            .collect();
        self
    }

    /// Which token to present (default [`TokenKind::Auto`]).
    pub fn token_kind(mut self, kind: TokenKind) -> Self {
        self.token_kind = kind;
        self
    }

    /// The access-token audience [`TokenKind::Auto`] looks for (default: the client id).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// Timeout of each request to the IdP (default 10 s).
    pub fn http_timeout(mut self, timeout: Duration) -> Self {
        self.http_timeout = timeout;
        self
    }

    /// The issuer (without a trailing slash).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// This configuration's cache entry.
    pub fn cache(&self) -> TokenCache {
        TokenCache::new(&self.cache_dir, &self.issuer, &self.client_id)
    }

    fn check(&self) -> Result<(), LoginError> {
        let issuer = url::Url::parse(&self.issuer).map_err(|_| {
            LoginError::Config(format!("the issuer {:?} is not a URL", self.issuer))
        })?;
        if !is_secure_or_loopback(&issuer) {
            return Err(LoginError::Config(format!(
                "the issuer {} must be https (http only on loopback)",
                self.issuer
            )));
        }
        if self.client_id.is_empty() {
            return Err(LoginError::Config("the client id is empty".into()));
        }
        Ok(())
    }

    /// A credential for kubectl: from the cache, by refresh, or (when `interactive`) by a
    /// device-code sign-in whose instructions go to `prompt`. See the [module docs](self).
    ///
    /// # Errors
    /// [`LoginError::InteractionRequired`] when a sign-in is needed but `interactive` is
    /// false; the other variants when the IdP cannot be reached or refuses.
    pub async fn credential<P>(&self, interactive: bool, prompt: P) -> Result<Obtained, LoginError>
    where
        P: FnOnce(&DeviceAuthorization),
    {
        self.check()?;
        let cache = self.cache();
        let now = Timestamp::now();
        let cached = self.load(&cache)?;
        if let Some(tokens) = &cached
            && let Ok(obtained) = self.present(tokens, CredentialSource::Cache, now)
        {
            return Ok(obtained);
        }
        let http =
            HttpClient::new(self.http_timeout).map_err(|e| LoginError::Config(e.to_string()))?;
        let mut provider = None;
        if let Some(previous) = cached.filter(|t| t.refresh_token.is_some()) {
            let discovered = self.discover(&http).await?;
            match self.refresh(&discovered, &http, &previous).await {
                Ok(tokens) => {
                    match self.present(&tokens, CredentialSource::Refresh, Timestamp::now()) {
                        Ok(obtained) => {
                            cache.store(&tokens)?;
                            return Ok(obtained);
                        }
                        Err(e) => tracing::debug!(error = %e, "refreshed tokens are not usable"),
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, "refresh failed");
                    // Another kubectl may have refreshed (and so rotated the token) first.
                    if let Some(theirs) = self.load(&cache)?
                        && theirs != previous
                        && let Ok(obtained) =
                            self.present(&theirs, CredentialSource::Cache, Timestamp::now())
                    {
                        return Ok(obtained);
                    }
                }
            }
            provider = Some(discovered);
        }
        if !interactive {
            return Err(LoginError::InteractionRequired {
                issuer: self.issuer.clone(),
                client_id: self.client_id.clone(),
            });
        }
        let provider = match provider {
            Some(p) => p,
            None => self.discover(&http).await?,
        };
        let tokens = self.device_flow(&provider, &http, prompt).await?;
        let obtained = self.present(&tokens, CredentialSource::DeviceCode, Timestamp::now())?;
        cache.store(&tokens)?;
        Ok(obtained)
    }

    /// Removes the cache entry and, when `revoke` is set and the IdP has a
    /// `revocation_endpoint`, revokes the refresh token there (best effort: the entry is
    /// removed first, whatever the IdP says).
    ///
    /// # Errors
    /// [`LoginError::Cache`] if the entry cannot be removed.
    pub async fn logout(&self, revoke: bool) -> Result<LogoutOutcome, LoginError> {
        let cache = self.cache();
        // A corrupt entry is removed all the same.
        let refresh_token = cache.load().ok().flatten().and_then(|t| t.refresh_token);
        let removed = cache.remove()?;
        let revocation = match refresh_token {
            Some(token) if revoke => self.revoke(token).await,
            _ => Revocation::NotAttempted,
        };
        Ok(LogoutOutcome {
            removed,
            revocation,
        })
    }

    async fn revoke(&self, token: Secret) -> Revocation {
        let result = async {
            self.check()?;
            let http = HttpClient::new(self.http_timeout)
                .map_err(|e| LoginError::Config(e.to_string()))?;
            let provider = self.discover(&http).await?;
            let Some(url) = provider.revocation else {
                return Ok(Revocation::Unsupported);
            };
            provider
                .client
                .set_revocation_url(url)
                .revoke_token(CoreRevocableToken::from(RefreshToken::new(
                    token.expose().to_owned(),
                )))
                .map_err(|e| LoginError::Token(error_chain(&e)))?
                .request_async(&http)
                .await
                .map_err(|e| LoginError::Token(error_chain(&e)))?;
            Ok::<_, LoginError>(Revocation::Revoked)
        };
        result
            .await
            .unwrap_or_else(|e| Revocation::Failed(e.to_string()))
    }

    /// The cache entry, if it is for this issuer and client; a corrupt one counts as none.
    fn load(&self, cache: &TokenCache) -> Result<Option<CachedTokens>, LoginError> {
        match cache.load() {
            Ok(tokens) => {
                Ok(tokens.filter(|t| t.issuer == self.issuer && t.client_id == self.client_id))
            }
            Err(CacheError::Corrupt { path, reason }) => {
                tracing::warn!(path = %path.display(), %reason, "ignoring an unreadable token cache");
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The token to present from `tokens`, if it is fresh.
    fn present(
        &self,
        tokens: &CachedTokens,
        source: CredentialSource,
        now: Timestamp,
    ) -> Result<Obtained, LoginError> {
        let (token, expires_at) = select(
            tokens,
            self.token_kind,
            self.audience.as_deref().unwrap_or(&self.client_id),
        )?;
        if !is_fresh(expires_at, now) {
            return Err(LoginError::NoUsableToken(format!(
                "the {} expires at {expires_at}",
                if std::ptr::eq(token, &tokens.access_token) {
                    "access token"
                } else {
                    "ID token"
                }
            )));
        }
        Ok(Obtained {
            credential: ExecCredential::with_token(token.clone(), Some(expires_at)),
            expires_at,
            subject: tokens.subject.clone(),
            source,
        })
    }

    async fn discover(&self, http: &HttpClient) -> Result<Provider, LoginError> {
        let discovery = |reason: String| LoginError::Discovery {
            issuer: self.issuer.clone(),
            reason,
        };
        let issuer = IssuerUrl::new(self.issuer.clone()).map_err(|e| discovery(e.to_string()))?;
        let metadata = Metadata::discover_async(issuer, http)
            .await
            .map_err(|e| discovery(error_chain(&e)))?;
        let extra = metadata.additional_metadata().clone();
        let client = Client::from_provider_metadata(
            metadata,
            ClientId::new(self.client_id.clone()),
            self.client_secret
                .as_ref()
                .map(|s| ClientSecret::new(s.expose().to_owned())),
        );
        if client.token_uri().is_none() {
            return Err(discovery("the provider has no token endpoint".into()));
        }
        Ok(Provider {
            client,
            device_authorization: extra.device_authorization_endpoint,
            revocation: extra.revocation_endpoint,
        })
    }

    async fn refresh(
        &self,
        provider: &Provider,
        http: &HttpClient,
        previous: &CachedTokens,
    ) -> Result<CachedTokens, LoginError> {
        let refresh_token = previous
            .refresh_token
            .as_ref()
            .ok_or_else(|| LoginError::Token("no refresh token".into()))?;
        let response: CoreTokenResponse = provider
            .client
            .exchange_refresh_token(&RefreshToken::new(refresh_token.expose().to_owned()))
            .map_err(|e| LoginError::Token(error_chain(&e)))?
            .request_async(http)
            .await
            .map_err(|e| LoginError::Token(error_chain(&e)))?;
        self.tokens_from(provider, &response, Some(previous))
    }

    async fn device_flow<P>(
        &self,
        provider: &Provider,
        http: &HttpClient,
        prompt: P,
    ) -> Result<CachedTokens, LoginError>
    where
        P: FnOnce(&DeviceAuthorization),
    {
        let url = provider
            .device_authorization
            .clone()
            .ok_or_else(|| LoginError::NoDeviceFlow(self.issuer.clone()))?;
        let client = provider.client.clone().set_device_authorization_url(url);
        let details: CoreDeviceAuthorizationResponse = client
            .exchange_device_code()
            .add_scopes(self.scopes.iter().cloned().map(Scope::new))
            .request_async(http)
            .await
            .map_err(|e| LoginError::DeviceAuthorization(error_chain(&e)))?;
        prompt(&DeviceAuthorization {
            verification_uri: details.verification_uri().to_string(),
            user_code: details.user_code().secret().clone(),
            verification_uri_complete: details
                .verification_uri_complete()
                .map(|u| u.secret().clone()),
            expires_in: details.expires_in(),
        });
        let response: CoreTokenResponse = client
            .exchange_device_access_token(&details)
            .map_err(|e| LoginError::Token(error_chain(&e)))?
            .set_max_backoff_interval(MAX_POLL_BACKOFF)
            .request_async(http, tokio::time::sleep, None)
            .await
            .map_err(|e| match e {
                RequestTokenError::ServerResponse(r)
                    if *r.error() == DeviceCodeErrorResponseType::AccessDenied =>
                {
                    LoginError::AccessDenied
                }
                RequestTokenError::ServerResponse(r)
                    if *r.error() == DeviceCodeErrorResponseType::ExpiredToken =>
                {
                    LoginError::DeviceCodeExpired
                }
                other => LoginError::Token(error_chain(&other)),
            })?;
        self.tokens_from(provider, &response, None)
    }

    /// Verifies a token response and turns it into a cache entry; `previous` for refreshes
    /// (its ID token and refresh token are kept when the response has none).
    fn tokens_from(
        &self,
        provider: &Provider,
        response: &CoreTokenResponse,
        previous: Option<&CachedTokens>,
    ) -> Result<CachedTokens, LoginError> {
        let now = Timestamp::now();
        let access_token = response.access_token().secret().clone();
        let by_expires_in = response
            .expires_in()
            .and_then(|d| SignedDuration::try_from(d).ok())
            .map(|d| now + d);
        let by_exp = jwt_claims(&access_token)
            .and_then(|c| c.get("exp").and_then(serde_json::Value::as_i64))
            .and_then(|exp| Timestamp::from_second(exp).ok());
        let access_expires = match (by_expires_in, by_exp) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => now + DEFAULT_ACCESS_TOKEN_LIFETIME,
        };
        let verified = match response.id_token() {
            Some(id_token) => {
                let verifier = provider.client.id_token_verifier();
                // The device flow and refreshes have no nonce.
                let claims = verify_id_token(
                    id_token,
                    &verifier,
                    |_: Option<&Nonce>| Ok(()),
                    response.access_token(),
                )
                .map_err(LoginError::IdToken)?;
                let exp = Timestamp::from_second(claims.expiration().timestamp())
                    .map_err(|e| LoginError::IdToken(e.to_string()))?;
                Some((
                    claims.subject().as_str().to_owned(),
                    Secret::new(id_token.to_string()),
                    exp,
                ))
            }
            None => None,
        };
        let refresh_token = response
            .refresh_token()
            .map(|t| Secret::new(t.secret().clone()))
            .or_else(|| previous.and_then(|p| p.refresh_token.clone()));
        let (subject, id_token) = match (verified, previous) {
            (Some((subject, token, exp)), Some(previous)) => {
                if subject != previous.subject {
                    return Err(LoginError::IdToken(
                        "the refreshed ID token names another subject".into(),
                    ));
                }
                (subject, Some((token, exp)))
            }
            (Some((subject, token, exp)), None) => (subject, Some((token, exp))),
            (None, Some(previous)) => (
                previous.subject.clone(),
                previous.id_token.clone().zip(previous.id_token_expires_at),
            ),
            (None, None) => {
                return Err(LoginError::IdToken(
                    "the token response has no ID token".into(),
                ));
            }
        };
        Ok(CachedTokens::new(
            self.issuer.clone(),
            self.client_id.clone(),
            subject,
            Secret::new(access_token),
            access_expires,
            id_token,
            refresh_token,
            now,
        ))
    }
}

/// The token [`TokenKind`] picks from `tokens`, and its expiry.
fn select<'t>(
    tokens: &'t CachedTokens,
    kind: TokenKind,
    audience: &str,
) -> Result<(&'t Secret, Timestamp), LoginError> {
    let access = (&tokens.access_token, tokens.access_token_expires_at);
    let id = tokens.id_token.as_ref().zip(tokens.id_token_expires_at);
    match kind {
        TokenKind::Access => Ok(access),
        TokenKind::Id => id.ok_or_else(|| {
            LoginError::NoUsableToken("the identity provider issued no ID token".into())
        }),
        TokenKind::Auto if jwt_has_audience(tokens.access_token.expose(), audience) => Ok(access),
        TokenKind::Auto => id.ok_or_else(|| {
            LoginError::NoUsableToken(format!(
                "the access token is not a JWT for audience {audience:?} and there is no \
                 ID token; use --token-kind access to send the access token anyway"
            ))
        }),
    }
}

/// The payload of a JWS compact token, unverified; `None` if it is not one.
fn jwt_claims(token: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
    let mut parts = token.split('.');
    let (_header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Whether `token` is a JWT whose `aud` (a string or an array) contains `audience`.
fn jwt_has_audience(token: &str, audience: &str) -> bool {
    match jwt_claims(token).as_ref().and_then(|c| c.get("aud")) {
        Some(serde_json::Value::String(aud)) => aud == audience,
        Some(serde_json::Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(audience)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: serde_json::Value) -> String {
        let enc = |v: &serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        format!(
            "{}.{}.sig",
            enc(&serde_json::json!({"alg": "ES256"})),
            enc(&claims)
        )
    }

    fn tokens(access: &str, id: Option<&str>) -> CachedTokens {
        let now = Timestamp::now();
        CachedTokens::new(
            "https://idp.example",
            "kubectl",
            "alice",
            Secret::new(access),
            now + SignedDuration::from_secs(300),
            id.map(|t| (Secret::new(t), now + SignedDuration::from_secs(120))),
            None,
            now,
        )
    }

    #[test]
    fn auto_prefers_an_access_token_for_the_audience() {
        let at = jwt(serde_json::json!({"aud": ["other", "kubectl"]}));
        let t = tokens(&at, Some("id"));
        let (chosen, _) = select(&t, TokenKind::Auto, "kubectl").unwrap();
        assert_eq!(chosen.expose(), at);
        let (chosen, exp) = select(&t, TokenKind::Auto, "proxy").unwrap();
        assert_eq!(chosen.expose(), "id");
        assert_eq!(Some(exp), t.id_token_expires_at);
        let opaque = tokens("opaque-token", Some("id"));
        assert_eq!(
            select(&opaque, TokenKind::Auto, "kubectl")
                .unwrap()
                .0
                .expose(),
            "id"
        );
        assert_eq!(
            select(&opaque, TokenKind::Access, "kubectl")
                .unwrap()
                .0
                .expose(),
            "opaque-token"
        );
        let neither = tokens("opaque-token", None);
        assert!(matches!(
            select(&neither, TokenKind::Auto, "kubectl"),
            Err(LoginError::NoUsableToken(_))
        ));
        assert!(matches!(
            select(&neither, TokenKind::Id, "kubectl"),
            Err(LoginError::NoUsableToken(_))
        ));
    }

    #[test]
    fn jwt_parsing_is_strict_about_shape() {
        assert!(jwt_has_audience(&jwt(serde_json::json!({"aud": "a"})), "a"));
        assert!(!jwt_has_audience("a.b", "a"));
        assert!(!jwt_has_audience("a.b.c.d", "a"));
        assert!(!jwt_has_audience(&jwt(serde_json::json!({"aud": 1})), "a"));
        assert!(jwt_claims("x.!!!.y").is_none());
    }

    #[test]
    fn presents_only_fresh_tokens() {
        let config = LoginConfig::new("https://idp.example/", "kubectl", "/nonexistent")
            .token_kind(TokenKind::Id);
        assert_eq!(config.issuer(), "https://idp.example");
        let mut t = tokens("at", Some("id-SECRET"));
        let now = Timestamp::now();
        let ok = config.present(&t, CredentialSource::Cache, now).unwrap();
        assert_eq!(
            ok.credential.status.token.as_ref().unwrap().expose(),
            "id-SECRET"
        );
        assert!(!format!("{ok:?}").contains("SECRET"));
        t.id_token_expires_at = Some(now + SignedDuration::from_secs(59));
        assert!(config.present(&t, CredentialSource::Cache, now).is_err());
    }

    #[test]
    fn secrets_are_redacted_and_instructions_name_the_code() {
        let config = LoginConfig::new("https://idp.example", "kubectl", "/c")
            .client_secret(Secret::new("hunter2"));
        assert!(!format!("{config:?}").contains("hunter2"));
        let prompt = DeviceAuthorization {
            verification_uri: "https://idp.example/device".into(),
            user_code: "ABCD-EFGH".into(),
            verification_uri_complete: None,
            expires_in: Duration::from_secs(600),
        };
        let text = prompt.instructions("https://idp.example");
        assert!(text.contains("ABCD-EFGH") && text.contains("https://idp.example/device"));
        assert!(text.contains("10 min"));
    }

    #[test]
    fn non_interactive_message_says_what_to_run() {
        let e = LoginError::InteractionRequired {
            issuer: "https://idp.example".into(),
            client_id: "kubectl".into(),
        };
        assert!(
            e.to_string()
                .contains("kube-proxy login --issuer https://idp.example --client-id kubectl")
        );
    }

    #[tokio::test]
    async fn refuses_plain_http_to_remote_issuers() {
        let config = LoginConfig::new("http://idp.example", "kubectl", "/nonexistent");
        let err = config.credential(true, |_| {}).await.unwrap_err();
        assert!(matches!(err, LoginError::Config(_)), "{err}");
    }
}
