//! The builder, the running server and its router.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::app::App;
use crate::config::Settings;
use crate::random::{token, unix_now};
use crate::store::Grant;
use crate::tokens::{DEFAULT_SCOPE, id_token_claims, mint_access_token};
use crate::{
    DevClient, DevIdpError, DevUser, KeyRing, SigningAlg, authorize, device, discovery,
    end_session, token_endpoint, userinfo,
};

/// Entry point: `DevIdp::builder().start().await`.
#[derive(Debug)]
pub struct DevIdp;

impl DevIdp {
    /// A builder with the defaults: loopback ephemeral port, users alice/bob/carol/dave,
    /// public client `zt-dev` with loopback redirects, ES256.
    pub fn builder() -> DevIdpBuilder {
        DevIdpBuilder::default()
    }
}

/// Configures a dev IdP; every method consumes and returns the builder.
#[derive(Debug, Clone)]
pub struct DevIdpBuilder {
    bind: SocketAddr,
    issuer: Option<String>,
    users: Option<Vec<DevUser>>,
    clients: Option<Vec<DevClient>>,
    settings: Settings,
    banner: bool,
    keys: Option<KeyRing>,
}

impl Default for DevIdpBuilder {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            issuer: None,
            users: None,
            clients: None,
            settings: Settings::default(),
            banner: true,
            keys: None,
        }
    }
}

impl DevIdpBuilder {
    /// Address to listen on. Default `127.0.0.1:0` (an ephemeral port).
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.bind = addr;
        self
    }

    /// The issuer URL (a trailing slash is removed). Default `http://{bound address}`.
    /// A path component is honoured: endpoints are served under it.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Adds a dev user; the first call replaces the default users.
    pub fn user(mut self, user: DevUser) -> Self {
        self.users.get_or_insert_with(Vec::new).push(user);
        self
    }

    /// Adds a client; the first call replaces the default client. The first client is
    /// the one [`RunningDevIdp::mint_access_token`] mints for.
    pub fn client(mut self, client: DevClient) -> Self {
        self.clients.get_or_insert_with(Vec::new).push(client);
        self
    }

    /// Algorithm for every issued token. Default ES256.
    pub fn signing_alg(mut self, alg: SigningAlg) -> Self {
        self.settings.signing_alg = alg;
        self
    }

    /// Access token lifetime. Default 5 minutes.
    pub fn access_token_ttl(mut self, d: Duration) -> Self {
        self.settings.access_token_ttl = d;
        self
    }

    /// ID token lifetime. Default 5 minutes.
    pub fn id_token_ttl(mut self, d: Duration) -> Self {
        self.settings.id_token_ttl = d;
        self
    }

    /// Refresh token lifetime. Default 8 hours.
    pub fn refresh_token_ttl(mut self, d: Duration) -> Self {
        self.settings.refresh_token_ttl = d;
        self
    }

    /// IdP browser session lifetime. Default 8 hours.
    pub fn session_ttl(mut self, d: Duration) -> Self {
        self.settings.session_ttl = d;
        self
    }

    /// Authorization code lifetime. Default 60 seconds.
    pub fn auth_code_ttl(mut self, d: Duration) -> Self {
        self.settings.auth_code_ttl = d;
        self
    }

    /// Device code lifetime. Default 10 minutes.
    pub fn device_code_ttl(mut self, d: Duration) -> Self {
        self.settings.device_code_ttl = d;
        self
    }

    /// Minimum time between device code polls. Default 5 seconds; tests use 1 s or less.
    /// Sent as whole seconds (rounded up) in the `interval` field.
    pub fn device_poll_interval(mut self, d: Duration) -> Self {
        self.settings.device_poll_interval = d;
        self
    }

    /// How much a device code's interval grows on each `slow_down`. Default: the poll
    /// interval (5 s at the defaults, as RFC 8628 §3.5 specifies).
    pub fn device_slow_down_increment(mut self, d: Duration) -> Self {
        self.settings.device_slow_down_increment = Some(d);
        self
    }

    /// The `aud` of access tokens. Default: the client's `client_id`.
    pub fn access_token_audience(mut self, aud: impl Into<String>) -> Self {
        self.settings.access_token_audience = Some(aud.into());
        self
    }

    /// Issue refresh tokens only when the scope has `offline_access`. Default `false`:
    /// every token response carries a refresh token.
    pub fn require_offline_access_for_refresh(mut self, on: bool) -> Self {
        self.settings.refresh_requires_offline_access = on;
        self
    }

    /// Print the "development only" banner on stderr at start. Default `true`.
    pub fn banner(mut self, on: bool) -> Self {
        self.banner = on;
        self
    }

    /// Use these keys instead of generating new ones.
    pub fn key_ring(mut self, keys: KeyRing) -> Self {
        self.keys = Some(keys);
        self
    }

    /// Binds, generates keys (unless given) and starts serving in a background task.
    pub async fn start(self) -> Result<RunningDevIdp, DevIdpError> {
        let users = self.users.unwrap_or_else(DevUser::defaults);
        let clients = self
            .clients
            .unwrap_or_else(|| vec![DevClient::default_client()]);
        validate(&users, &clients)?;
        let listener = tokio::net::TcpListener::bind(self.bind)
            .await
            .map_err(|source| DevIdpError::Bind {
                addr: self.bind,
                source,
            })?;
        let addr = listener.local_addr()?;
        let issuer = match self.issuer {
            Some(i) => i.trim_end_matches('/').to_owned(),
            None => format!("http://{addr}"),
        };
        let prefix = issuer_path(&issuer)?;
        let keys = match self.keys {
            Some(k) => k,
            None => tokio::task::spawn_blocking(KeyRing::generate)
                .await
                .map_err(|_| DevIdpError::KeyGeneration("key generation task"))??,
        };
        let app = Arc::new(App::new(
            issuer,
            users,
            clients,
            self.settings,
            keys,
            addr.port(),
        ));
        let router = router(app.clone(), &prefix);
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, router).with_graceful_shutdown(async move {
                let _ = rx.await;
            });
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "dev IdP server stopped");
            }
        });
        if self.banner {
            eprintln!("{}", banner(&app, addr));
        }
        tracing::info!(issuer = %app.issuer, %addr, "zt dev IdP listening (development only)");
        Ok(RunningDevIdp {
            app,
            addr,
            shutdown: Some(tx),
            task: Some(task),
        })
    }
}

fn validate(users: &[DevUser], clients: &[DevClient]) -> Result<(), DevIdpError> {
    if users.is_empty() {
        return Err(DevIdpError::Config(
            "at least one dev user is required".into(),
        ));
    }
    if clients.is_empty() {
        return Err(DevIdpError::Config(
            "at least one client is required".into(),
        ));
    }
    for (i, u) in users.iter().enumerate() {
        if u.username.is_empty() || u.subject.is_empty() {
            return Err(DevIdpError::Config(
                "users need a username and subject".into(),
            ));
        }
        if users[..i]
            .iter()
            .any(|o| o.username == u.username || o.subject == u.subject)
        {
            return Err(DevIdpError::Config(format!(
                "duplicate user {:?}",
                u.username
            )));
        }
    }
    for (i, c) in clients.iter().enumerate() {
        if c.client_id.is_empty() {
            return Err(DevIdpError::Config("empty client_id".into()));
        }
        if clients[..i].iter().any(|o| o.client_id == c.client_id) {
            return Err(DevIdpError::Config(format!(
                "duplicate client {:?}",
                c.client_id
            )));
        }
    }
    Ok(())
}

/// The issuer's path ("" for none), checked to be usable as a route prefix.
fn issuer_path(issuer: &str) -> Result<String, DevIdpError> {
    let url = url::Url::parse(issuer)
        .map_err(|e| DevIdpError::Config(format!("issuer {issuer:?} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(DevIdpError::Config(format!(
            "issuer {issuer:?} must be an http(s) URL with a host"
        )));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(DevIdpError::Config(format!(
            "issuer {issuer:?} must not have a query or fragment"
        )));
    }
    let path = url.path().trim_end_matches('/');
    if path.contains(['{', '}', '*']) || path.contains("//") {
        return Err(DevIdpError::Config(format!(
            "issuer path {path:?} is not supported"
        )));
    }
    Ok(path.to_owned())
}

fn router(app: Arc<App>, prefix: &str) -> Router {
    let routes = Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(discovery::openid_configuration),
        )
        .route("/jwks", get(discovery::jwks))
        .route("/authorize", get(authorize::get).post(authorize::post))
        .route("/token", axum::routing::post(token_endpoint::post))
        .route(
            "/device_authorization",
            axum::routing::post(device::authorization),
        )
        .route("/device", get(device::page).post(device::submit))
        .route(
            "/userinfo",
            get(userinfo::userinfo).post(userinfo::userinfo),
        )
        .route("/end_session", get(end_session::end_session))
        .with_state(app);
    if prefix.is_empty() {
        routes
    } else {
        Router::new().nest(prefix, routes)
    }
}

fn banner(app: &App, addr: SocketAddr) -> String {
    let mut lines = vec![
        "=====================================================================".to_owned(),
        " zt dev IdP - FOR DEVELOPMENT AND TESTS ONLY. NOT FOR PRODUCTION.".to_owned(),
        " There are no passwords: anyone who can reach it can sign in as any".to_owned(),
        " dev user and obtain tokens.".to_owned(),
    ];
    if !addr.ip().is_loopback() {
        lines.push(format!(
            " WARNING: listening on {addr}, which is not a loopback address."
        ));
    }
    lines.push(format!(" issuer: {}", app.issuer));
    lines.push("=====================================================================".to_owned());
    lines.join("\n")
}

/// A dev IdP serving in the background. Dropping it stops the server too (without
/// waiting); [`RunningDevIdp::shutdown`] stops it and waits.
#[derive(Debug)]
pub struct RunningDevIdp {
    app: Arc<App>,
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl RunningDevIdp {
    /// The issuer URL (no trailing slash).
    pub fn issuer(&self) -> &str {
        &self.app.issuer
    }

    /// The bound socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `{issuer}/.well-known/openid-configuration`.
    pub fn discovery_url(&self) -> String {
        self.app.endpoint("/.well-known/openid-configuration")
    }

    /// The dev users.
    pub fn users(&self) -> &[DevUser] {
        &self.app.users
    }

    /// The registered clients.
    pub fn clients(&self) -> &[DevClient] {
        &self.app.clients
    }

    /// Generates new ES256, RS256 and EdDSA keys and makes them current; the previous
    /// generation stays published, older ones are dropped. Failures are logged; see
    /// [`RunningDevIdp::try_rotate_keys`].
    pub fn rotate_keys(&self) {
        if let Err(e) = self.try_rotate_keys() {
            tracing::error!(error = %e, "dev IdP key rotation failed");
        }
    }

    /// Like [`RunningDevIdp::rotate_keys`], returning any key generation error.
    pub fn try_rotate_keys(&self) -> Result<(), DevIdpError> {
        let next = self.app.keys().rotated()?;
        self.app.set_keys(next);
        tracing::info!("dev IdP keys rotated");
        Ok(())
    }

    /// The JWKS currently published at `/jwks`.
    pub fn jwks(&self) -> Value {
        self.app.keys().jwks()
    }

    /// The current `kid` for `alg`.
    pub fn current_kid(&self, alg: SigningAlg) -> Option<String> {
        self.app.keys().current_kid(alg).map(str::to_owned)
    }

    fn grant_for(&self, username: &str) -> Result<Grant, DevIdpError> {
        let user = self
            .app
            .user(username)
            .ok_or_else(|| DevIdpError::UnknownUser(username.to_owned()))?;
        let client = self
            .app
            .default_client()
            .ok_or_else(|| DevIdpError::Config("no client".into()))?;
        Ok(Grant {
            client_id: client.client_id.clone(),
            username: user.username.clone(),
            scope: DEFAULT_SCOPE.to_owned(),
            sid: token()?,
            auth_time: unix_now(),
        })
    }

    /// An access token for `username`, exactly as the token endpoint would issue it for
    /// the first (default) client with scope `openid profile email groups`.
    pub fn mint_access_token(&self, username: &str) -> Result<String, DevIdpError> {
        let grant = self.grant_for(username)?;
        mint_access_token(&self.app, &grant)
    }

    /// An ID token for `username` for the first (default) client.
    pub fn mint_id_token(
        &self,
        username: &str,
        nonce: Option<&str>,
    ) -> Result<String, DevIdpError> {
        let grant = self.grant_for(username)?;
        let user = self
            .app
            .user(username)
            .ok_or_else(|| DevIdpError::UnknownUser(username.to_owned()))?;
        let claims = id_token_claims(&self.app, user, &grant, nonce);
        self.app.keys().sign(self.app.settings.signing_alg, &claims)
    }

    /// Signs arbitrary claims with the current key for `alg` (header `alg`, `typ: JWT`,
    /// `kid`), for tests of malformed or hostile claims.
    pub fn sign_claims(&self, alg: SigningAlg, claims: &Value) -> Result<String, DevIdpError> {
        self.app.keys().sign(alg, claims)
    }

    /// Approves a pending device authorization as `username`, as the `/device` form does.
    /// The user code is matched case-insensitively, with or without the dash.
    pub fn approve_device(&self, user_code: &str, username: &str) -> Result<(), DevIdpError> {
        device::approve(&self.app, user_code, username)
    }

    /// Denies a pending device authorization.
    pub fn deny_device(&self, user_code: &str) -> Result<(), DevIdpError> {
        device::deny(&self.app, user_code)
    }

    /// Stops listening (new connections are refused once this returns) and waits up to
    /// five seconds for in-flight requests.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(Duration::from_secs(5), &mut task)
                .await
                .is_err()
        {
            task.abort();
            let _ = task.await;
        }
        tracing::info!(issuer = %self.app.issuer, "zt dev IdP stopped");
    }
}

impl Drop for RunningDevIdp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_paths() {
        assert_eq!(issuer_path("http://127.0.0.1:9000").unwrap(), "");
        assert_eq!(issuer_path("http://127.0.0.1:9000/").unwrap(), "");
        assert_eq!(
            issuer_path("https://idp.example/realms/dev").unwrap(),
            "/realms/dev"
        );
        assert!(issuer_path("ftp://x").is_err());
        assert!(issuer_path("http://x/?a=b").is_err());
        assert!(issuer_path("not a url").is_err());
    }

    #[test]
    fn config_validation() {
        assert!(validate(&DevUser::defaults(), &[DevClient::default_client()]).is_ok());
        assert!(validate(&[], &[DevClient::default_client()]).is_err());
        let dup = vec![DevUser::new("a"), DevUser::new("a")];
        assert!(validate(&dup, &[DevClient::default_client()]).is_err());
        let dupc = vec![DevClient::public("x"), DevClient::public("x")];
        assert!(validate(&DevUser::defaults(), &dupc).is_err());
    }
}
