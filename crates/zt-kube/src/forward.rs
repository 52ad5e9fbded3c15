//! [`KubeProxy`]: forwards an authorized request to the API server as the signed-in user.
//!
//! In order, on the way up: hop-by-hop headers (and every header named in `Connection`)
//! are removed; then the client's `Authorization` and any `Impersonate-*` header; then the
//! proxy's own credential and `Impersonate-User`, one `Impersonate-Group` per group (with
//! `system:authenticated`), `Impersonate-Uid` and `Impersonate-Extra-*` are added. A
//! client therefore cannot have the impersonation removed (`Connection: Impersonate-User`)
//! nor add to it. Watches stream unbuffered; exec, attach and port-forward upgrades
//! (WebSocket and SPDY/3.1) are bridged both ways; see [`ReverseProxy`].

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use arc_swap::ArcSwap;
use axum::BoxError;
use axum::body::Body;
use bytes::Bytes;
use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tower::Service;
use zt_core::identity::Identity;
use zt_tower::proxy::{ReverseProxy, UpstreamError, remove_hop_by_hop_for_forwarding};

use crate::cluster::{ClusterAccess, ClusterCredential};
use crate::front::AUDIT_ID;
use crate::headers::strip_client_credentials;
use crate::status::status_response;
use crate::user::{KubeUser, UserMapping};

/// How often a service account token file is read again (kubelet rotates projected
/// tokens well before they expire; client-go re-reads them every minute).
const TOKEN_REREAD: Duration = Duration::from_secs(30);

/// The group every authenticated Kubernetes user is in.
const SYSTEM_AUTHENTICATED: &str = "system:authenticated";

/// Why a [`KubeProxy`] could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KubeProxyError {
    /// The API server URL or TLS settings were refused by the underlying proxy.
    #[error(transparent)]
    Proxy(#[from] zt_tower::proxy::ProxyBuildError),
    /// The TLS client configuration (cluster CA, client certificate) failed.
    #[error("API server TLS: {0}")]
    Tls(#[from] rustls::Error),
    /// The service account token file cannot be read.
    #[error("cannot read the token file {path}: {source}")]
    TokenFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The API server URL is plain `http` to a host that is not loopback: the proxy's
    /// credential would cross the network in the clear.
    #[error("refusing to send the proxy's credential over plain http to {0}; use https")]
    InsecureServer(String),
    /// The configured bearer token is not usable in a header.
    #[error("the API server token is not a valid bearer token")]
    InvalidToken,
    /// Neither a token nor a client certificate was configured for the API server.
    #[error(
        "the proxy needs a credential for the API server: a token file, a token or a client certificate"
    )]
    NoCredential,
    /// The user mapping is invalid.
    #[error("user mapping: {0}")]
    Mapping(#[from] crate::user::MappingError),
}

/// How the proxy authenticates itself to the API server.
#[derive(Clone)]
enum Credential {
    /// A bearer token re-read from this file (a service account token).
    TokenFile(Arc<TokenFile>),
    /// A fixed bearer token (e.g. from a kubeconfig).
    Token(HeaderValue),
    /// A client certificate, presented in the TLS handshake.
    ClientCertificate,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TokenFile(file) => write!(f, "TokenFile({})", file.path.display()),
            Self::Token(_) => f.write_str("Token(<redacted>)"),
            Self::ClientCertificate => f.write_str("ClientCertificate"),
        }
    }
}

/// A token file and its last contents.
struct TokenFile {
    path: PathBuf,
    current: ArcSwap<HeaderValue>,
}

impl TokenFile {
    /// Reads `path` now, then every `reread` on a thread of its own (never on the request
    /// path), until the returned handle is dropped.
    fn open(path: PathBuf, reread: Duration) -> Result<Arc<Self>, KubeProxyError> {
        let token = read_token(&path).map_err(|source| KubeProxyError::TokenFile {
            path: path.clone(),
            source,
        })?;
        let file = Arc::new(Self {
            path,
            current: ArcSwap::from_pointee(token),
        });
        let watched = Arc::downgrade(&file);
        std::thread::Builder::new()
            .name("zt-kube-token".to_owned())
            .spawn(move || {
                loop {
                    std::thread::sleep(reread);
                    let Some(file) = watched.upgrade() else {
                        return;
                    };
                    file.reread();
                }
            })
            .map_err(|source| KubeProxyError::TokenFile {
                path: file.path.clone(),
                source,
            })?;
        Ok(file)
    }

    /// Reads the file again; a failed read keeps the last good token (and says so).
    fn reread(&self) {
        match read_token(&self.path) {
            Ok(token) => self.current.store(Arc::new(token)),
            Err(error) => {
                tracing::warn!(path = %self.path.display(), %error, "cannot re-read the API server token; using the last one");
            }
        }
    }

    /// The current `Authorization` value.
    fn authorization(&self) -> HeaderValue {
        HeaderValue::clone(&self.current.load())
    }
}

fn read_token(path: &std::path::Path) -> std::io::Result<HeaderValue> {
    let token = std::fs::read_to_string(path)?;
    let token = token.trim();
    if token.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "the file is empty",
        ));
    }
    let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not a token"))?;
    value.set_sensitive(true);
    Ok(value)
}

/// Forwards authorized requests to the API server with impersonation; see the
/// [module](self) docs. Requests must come through the
/// [`AuthLayer`](zt_tower::AuthLayer) (which puts the caller's identity in the request's
/// extensions); one without an identity is refused with 401.
#[derive(Clone)]
pub struct KubeProxy {
    proxy: ReverseProxy,
    credential: Credential,
    users: Arc<UserMapping>,
}

impl fmt::Debug for KubeProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KubeProxy")
            .field("proxy", &self.proxy)
            .field("credential", &self.credential)
            .finish_non_exhaustive()
    }
}

impl KubeProxy {
    /// A builder for the API server and credential `access` describes (from a
    /// kubeconfig, or the pod's service account).
    pub fn builder_for(access: ClusterAccess) -> KubeProxyBuilder {
        let mut builder = Self::builder(access.server);
        builder.cluster_ca = access.ca;
        match access.credential {
            ClusterCredential::Token(token) => builder.token = Some(token),
            ClusterCredential::TokenFile(path) => builder.token_file = Some(path),
            ClusterCredential::ClientCertificate { chain, key } => {
                builder.client_certificate = Some((chain, key));
            }
        }
        builder
    }

    /// A builder for the API server at `server` (e.g. `https://10.96.0.1:443`).
    pub fn builder(server: impl Into<String>) -> KubeProxyBuilder {
        KubeProxyBuilder {
            server: server.into(),
            cluster_ca: Vec::new(),
            token_file: None,
            token: None,
            client_certificate: None,
            users: UserMapping::default(),
            timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(4 * 60 * 60),
        }
    }
}

/// Configures a [`KubeProxy`] (consuming builder).
#[must_use]
pub struct KubeProxyBuilder {
    server: String,
    cluster_ca: Vec<CertificateDer<'static>>,
    token_file: Option<PathBuf>,
    token: Option<String>,
    client_certificate: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
    users: UserMapping,
    timeout: Duration,
    idle_timeout: Duration,
}

impl fmt::Debug for KubeProxyBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KubeProxyBuilder")
            .field("server", &self.server)
            .field("token_file", &self.token_file)
            .finish_non_exhaustive()
    }
}

impl KubeProxyBuilder {
    /// Trusts `ca` for the API server's certificate. Once a cluster CA is given, the
    /// platform's roots are not trusted.
    pub fn cluster_ca(mut self, ca: CertificateDer<'static>) -> Self {
        self.cluster_ca.push(ca);
        self
    }

    /// Authenticates with the bearer token in `path`, re-read as it rotates (a service
    /// account token, `/var/run/secrets/kubernetes.io/serviceaccount/token`).
    pub fn token_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.token_file = Some(path.into());
        self
    }

    /// Authenticates with a fixed bearer token.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Authenticates with a client certificate (e.g. from a kubeconfig).
    pub fn client_certificate(
        mut self,
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Self {
        self.client_certificate = Some((chain, key));
        self
    }

    /// How identities become Kubernetes users (default: [`UserMapping::default`]).
    pub fn users(mut self, users: UserMapping) -> Self {
        self.users = users;
        self
    }

    /// Time allowed for the API server's response head (default 60 s). Watches and
    /// upgraded connections are not limited by it.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Idle time after which an exec, attach or port-forward connection is closed
    /// (default 4 h, the kubelet's streaming idle timeout).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Builds the proxy.
    ///
    /// # Errors
    /// [`KubeProxyError`] for a bad server URL, TLS material, token file or mapping.
    pub fn build(self) -> Result<KubeProxy, KubeProxyError> {
        self.users.validate()?;
        if let Ok(uri) = self.server.parse::<http::Uri>()
            && uri.scheme_str() == Some("http")
            && !uri.host().is_some_and(is_loopback)
        {
            return Err(KubeProxyError::InsecureServer(self.server));
        }
        let roots = if self.cluster_ca.is_empty() {
            zt_core::tls::platform_roots()
        } else {
            let mut roots = rustls::RootCertStore::empty();
            for ca in &self.cluster_ca {
                roots.add(ca.clone())?;
            }
            roots
        };
        let has_client_certificate = self.client_certificate.is_some();
        let tls = zt_core::tls::client_config_with(roots, self.client_certificate)?;
        let credential = match (self.token_file, self.token) {
            (Some(path), _) => Credential::TokenFile(TokenFile::open(path, TOKEN_REREAD)?),
            (None, Some(token)) => {
                let mut value = HeaderValue::from_str(&format!("Bearer {}", token.trim()))
                    .map_err(|_| KubeProxyError::InvalidToken)?;
                value.set_sensitive(true);
                Credential::Token(value)
            }
            (None, None) if has_client_certificate => Credential::ClientCertificate,
            (None, None) => return Err(KubeProxyError::NoCredential),
        };
        let proxy = ReverseProxy::builder([self.server])
            .timeout(self.timeout)
            .idle_timeout(self.idle_timeout)
            .websockets(true)
            .upgrade_protocol("SPDY/3.1")
            .tls_config(tls);
        Ok(KubeProxy {
            proxy: proxy.build()?,
            credential,
            users: Arc::new(self.users),
        })
    }
}

/// `localhost` or a loopback address (`[::1]` with or without brackets).
fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<B> Service<Request<B>> for KubeProxy
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Response<Body>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        if let Err((code, message)) = self.prepare(&mut request) {
            let response = status_response(code, &message).map(Body::new);
            return Box::pin(std::future::ready(Ok(response)));
        }
        let mut proxy = self.proxy.clone();
        Box::pin(async move {
            let Ok(response) = proxy.call(request).await;
            Ok(match response.extensions().get::<UpstreamError>() {
                Some(UpstreamError::Timeout) => status_response(
                    StatusCode::GATEWAY_TIMEOUT,
                    "the Kubernetes API server did not answer in time",
                )
                .map(Body::new),
                Some(_) => status_response(
                    StatusCode::BAD_GATEWAY,
                    "the Kubernetes API server is unavailable",
                )
                .map(Body::new),
                None => response,
            })
        })
    }
}

impl KubeProxy {
    /// Replaces the client's credentials by the proxy's own and the caller's
    /// impersonation, or says why the request is answered with an error instead.
    fn prepare<B>(&self, request: &mut Request<B>) -> Result<(), (StatusCode, String)> {
        let Some(identity) = request.extensions().get::<Arc<Identity>>().cloned() else {
            return Err((
                StatusCode::UNAUTHORIZED,
                "the Kubernetes proxy forwards only authenticated requests".to_owned(),
            ));
        };
        let user = self.users.kube_user(&identity).map_err(|error| {
            tracing::info!(subject = %identity.subject, %error, "identity has no Kubernetes user");
            (
                StatusCode::FORBIDDEN,
                format!("forbidden: your identity has no Kubernetes user: {error}"),
            )
        })?;
        let headers = request.headers_mut();
        // First what the client must not control, then what the proxy adds. The request's
        // Audit-ID (set by `KubeRequestLayer`) survives a `Connection: Audit-ID`.
        let audit_id = headers.get(AUDIT_ID).cloned();
        remove_hop_by_hop_for_forwarding(headers);
        strip_client_credentials(headers);
        if let Some(audit_id) = audit_id {
            headers.insert(AUDIT_ID, audit_id);
        }
        match &self.credential {
            Credential::TokenFile(file) => {
                headers.insert(AUTHORIZATION, file.authorization());
            }
            Credential::Token(value) => {
                headers.insert(AUTHORIZATION, value.clone());
            }
            Credential::ClientCertificate => {}
        }
        impersonate(headers, &user).map_err(|name| {
            (
                StatusCode::FORBIDDEN,
                format!("forbidden: your Kubernetes user cannot be sent ({name} is not a valid header value)"),
            )
        })
    }
}

/// Adds the impersonation headers for `user`; `Err` names the header whose value cannot
/// be sent.
fn impersonate(headers: &mut HeaderMap, user: &KubeUser) -> Result<(), String> {
    let value = |v: &str, name: &str| HeaderValue::from_str(v).map_err(|_| name.to_owned());
    headers.insert(
        HeaderName::from_static("impersonate-user"),
        value(&user.username, "Impersonate-User")?,
    );
    let group = HeaderName::from_static("impersonate-group");
    for name in &user.groups {
        headers.append(group.clone(), value(name, "Impersonate-Group")?);
    }
    if !user.groups.iter().any(|g| g == SYSTEM_AUTHENTICATED) {
        headers.append(group, HeaderValue::from_static(SYSTEM_AUTHENTICATED));
    }
    if let Some(uid) = &user.uid {
        headers.insert(
            HeaderName::from_static("impersonate-uid"),
            value(uid, "Impersonate-Uid")?,
        );
    }
    for (key, values) in &user.extra {
        let name = format!("impersonate-extra-{}", encode_extra_key(key));
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| name.clone())?;
        for v in values {
            headers.append(name.clone(), value(v, name.as_str())?);
        }
    }
    Ok(())
}

/// An extra key as a header name suffix: Kubernetes percent-encodes every byte that is
/// not legal in a header name (and `%` itself), and decodes it on the other side.
fn encode_extra_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for byte in key.bytes() {
        let legal = byte.is_ascii_alphanumeric() || b"!#$&'*+-.^_`|~".contains(&byte);
        if legal {
            out.push(char::from(byte.to_ascii_lowercase()));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impersonation_headers_carry_every_group_and_system_authenticated() {
        let mut user = KubeUser {
            username: "alice@example.com".to_owned(),
            groups: vec!["dev".to_owned(), "ops".to_owned()],
            uid: Some("u-1".to_owned()),
            ..KubeUser::default()
        };
        user.extra.insert(
            "example.com/tenant".to_owned(),
            vec!["a".to_owned(), "b".to_owned()],
        );
        let mut headers = HeaderMap::new();
        assert_eq!(impersonate(&mut headers, &user), Ok(()));
        let all = |name: &str| -> Vec<&str> {
            headers
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect()
        };
        assert_eq!(all("impersonate-user"), ["alice@example.com"]);
        assert_eq!(
            all("impersonate-group"),
            ["dev", "ops", "system:authenticated"]
        );
        assert_eq!(all("impersonate-uid"), ["u-1"]);
        assert_eq!(all("impersonate-extra-example.com%2Ftenant"), ["a", "b"]);
    }

    #[test]
    fn extra_keys_are_percent_encoded() {
        assert_eq!(encode_extra_key("scopes"), "scopes");
        assert_eq!(
            encode_extra_key("example.com/a b%"),
            "example.com%2Fa%20b%25"
        );
    }

    #[test]
    fn token_files_are_read_again_as_they_rotate() {
        let path = std::env::temp_dir().join(format!("zt-token-{}", std::process::id()));
        std::fs::write(&path, "first\n").unwrap_or_default();
        let file = TokenFile::open(path.clone(), Duration::from_millis(10))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(file.authorization(), "Bearer first");
        let becomes = |expected: &str| {
            (0..500).any(|_| {
                std::thread::sleep(Duration::from_millis(5));
                file.authorization() == expected
            })
        };
        std::fs::write(&path, "second").unwrap_or_default();
        assert!(becomes("Bearer second"));
        // A broken rotation keeps the last good token.
        std::fs::write(&path, "").unwrap_or_default();
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(file.authorization(), "Bearer second");
        let _ = std::fs::remove_file(&path);
        assert!(file.authorization().is_sensitive());
    }

    #[test]
    fn credentials_never_go_over_plain_http_to_another_host() {
        let refused = KubeProxy::builder("http://10.0.0.1:8080")
            .token("t")
            .build();
        assert!(matches!(refused, Err(KubeProxyError::InsecureServer(_))));
        assert!(
            KubeProxy::builder("http://127.0.0.1:8080")
                .token("t")
                .build()
                .is_ok()
        );
        assert!(
            KubeProxy::builder("http://[::1]:8080")
                .token("t")
                .build()
                .is_ok()
        );
        let bad = KubeProxy::builder("https://10.0.0.1").token("a\nb").build();
        assert!(matches!(bad, Err(KubeProxyError::InvalidToken)));
    }

    #[test]
    fn tokens_never_show_in_debug() {
        let mut value = HeaderValue::from_static("Bearer secret");
        value.set_sensitive(true);
        let credential = Credential::Token(value);
        assert!(!format!("{credential:?}").contains("secret"));
    }
}
