//! zt-ingress: an identity-aware reverse proxy built from zt's layers.
//!
//! Requests arrive on HTTP and/or HTTPS listeners ([`server`] side: rustls with SNI and
//! optional client certificates, HTTP/1.1 and HTTP/2, header limits and timeouts), have
//! their path normalised once, are matched to a route (host + path prefix), then pass
//! the route's [`AuthLayer`](zt_tower::AuthLayer) (credential, policy, audit) and its
//! [`ReverseProxy`](zt_tower::proxy::ReverseProxy). Routes and policies reload on file
//! change and on `SIGHUP`; `/metrics`, `/healthz` and `/readyz` live on a separate
//! listener. The configuration format is in `docs/ingress.md`.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let path = std::path::Path::new("ingress.toml");
//! let config = zt_ingress::config::Config::load(path)?;
//! let ingress = zt_ingress::Ingress::start(config, Some(path.to_owned())).await?;
//! println!("serving on {:?}", ingress.http_addr());
//! ingress.run_until_signal().await;
//! # Ok(())
//! # }
//! ```

pub mod config;
pub mod demo;
mod handler;
mod health;
pub mod metrics;
mod reload;
pub mod routes;
mod server;
pub mod tls;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls_pki_types::CertificateDer;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use zt_core::audit::{Auditor, FileSink, OverflowPolicy, StdoutSink};
use zt_core::identity::{IssuerConfig, SpiffeVerifier, TrustBundle, Verifier};
use zt_tower::assertion::{AssertionSigner, SigningKey};
use zt_tower::login::{DEFAULT_PREFIX, LoginConfig};
use zt_tower::session::{Revocations, SessionCookie, SessionKeys};

use crate::config::{AuditTarget, Config, ConfigError};
use crate::handler::{Handler, LoginRoutes, RouteFactory, Shared};
use crate::metrics::{Label, Metrics};
use crate::reload::Reloader;
use crate::server::Transport;

/// How long a request waits for room in a full audit queue before it is refused.
const AUDIT_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Why the ingress could not start (or a reload could not be applied).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A listener address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The TLS settings are unusable.
    #[error("tls: {0}")]
    Tls(#[from] tls::TlsError),
    /// A file the configuration names cannot be used.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The token verifier could not be set up (e.g. the IdP's discovery failed).
    #[error("identity providers: {0}")]
    Verifier(String),
    /// Browser login could not be set up.
    #[error("browser login: {0}")]
    Login(String),
    /// The audit log cannot be opened.
    #[error("audit: {0}")]
    Audit(String),
    /// A route cannot be built.
    #[error("{0}")]
    Route(String),
    /// The identity-assertion signing key cannot be made or used.
    #[error("assertion signer: {0}")]
    Assertion(String),
    /// `listen.https` is set but `tls` is not (a `Config` changed after it was checked).
    #[error("listen.https needs a [tls] section")]
    HttpsWithoutTls,
    /// `reload` was called on an ingress started without a configuration file.
    #[error("started without a configuration file: nothing to reload")]
    NoConfigFile,
}

/// A running ingress: its addresses, reload and shutdown.
pub struct Ingress {
    http: Option<SocketAddr>,
    https: Option<SocketAddr>,
    metrics: Option<SocketAddr>,
    public_url: String,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    auditor: Auditor,
    reloader: Arc<Reloader>,
    revocations: Revocations,
}

impl std::fmt::Debug for Ingress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ingress")
            .field("http", &self.http)
            .field("https", &self.https)
            .field("metrics", &self.metrics)
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

impl Ingress {
    /// Binds the listeners, sets up verification, login, audit and routes, and starts
    /// serving. With `config_path`, routes and policies reload when that file (or a
    /// policy file it names) changes, and on `SIGHUP`.
    ///
    /// # Errors
    /// [`StartError`] saying what could not be set up.
    pub async fn start(
        mut config: Config,
        config_path: Option<PathBuf>,
    ) -> Result<Self, StartError> {
        let http = bind(config.listen.http).await?;
        let https = bind(config.listen.https).await?;
        let metrics_listener = bind(config.listen.metrics).await?;
        let http_addr = local_addr(http.as_ref())?;
        let https_addr = local_addr(https.as_ref())?;
        let metrics_addr = local_addr(metrics_listener.as_ref())?;
        let public_url = match (&config.listen.public_url, https_addr, http_addr) {
            (Some(url), _, _) => url.clone(),
            (None, Some(addr), _) => format!("https://{addr}"),
            (None, None, Some(addr)) => format!("http://{addr}"),
            (None, None, None) => String::new(),
        };

        let verifier = verifier(&config).await?;
        let auditor = match &config.audit {
            AuditTarget::Stdout => Auditor::builder(StdoutSink),
            AuditTarget::File(path) => {
                let sink = FileSink::open(path).map_err(|error| StartError::File {
                    path: path.clone(),
                    message: error.to_string(),
                })?;
                Auditor::builder(sink)
            }
        }
        // A moment of a full queue (the disk syncing under load) slows requests down;
        // only a log that stays unavailable refuses them.
        .overflow(OverflowPolicy::FailClosedAfter(AUDIT_WAIT))
        .start()
        .map_err(|error| StartError::Audit(error.to_string()))?;
        let revocations = Revocations::new();
        let login = match config.login_provider() {
            None => None,
            Some((provider, client)) => {
                let keys = session_keys(config.session.keys_file.as_deref())?;
                let cookie = SessionCookie::new(keys).with_revocations(revocations.clone());
                let mut login =
                    LoginConfig::new(&provider.issuer, &client.client_id, &public_url, cookie);
                if let Some(secret) = &client.client_secret {
                    login = login.client_secret(secret);
                }
                if let Some(scopes) = &client.scopes {
                    login = login.scopes(scopes.iter().cloned());
                }
                if let Some(lifetime) = config.session.lifetime {
                    login = login.session_lifetime(lifetime);
                }
                Some(
                    login
                        .build()
                        .await
                        .map_err(|error| StartError::Login(error.to_string()))?,
                )
            }
        };
        // Always ready, so a reload can turn assertions on for a route.
        let signer = signer(&config, &public_url)?;
        let metrics = Arc::new(Metrics::new());
        let factory = RouteFactory::new(
            verifier,
            auditor.clone(),
            login.clone(),
            signer,
            Arc::clone(&metrics),
        );
        // With a configured public URL, sign-in happens on its host only (the session
        // cookie is host-only): say so for routes browsers could not sign in on.
        let login_host = match (&config.listen.public_url, config.login_provider()) {
            (Some(url), Some(_)) => url::Url::parse(url)
                .ok()
                .and_then(|url| url.host_str().map(str::to_ascii_lowercase)),
            _ => None,
        };
        if let Some(host) = &login_host {
            for route in config
                .routes
                .iter()
                .filter(|route| !route.host.matches(host))
            {
                tracing::warn!(
                    route = %route.name,
                    public_host = %host,
                    "browsers cannot sign in on this route's host (sessions live on the public_url host); bearer tokens and client certificates still work"
                );
            }
        }
        let watched = reload::watched_files(config_path.as_deref(), &config.routes);
        let table = factory.build(std::mem::take(&mut config.routes))?;
        tracing::info!(routes = ?table.names(), "routes loaded");
        let shared = Arc::new(Shared {
            routes: ArcSwap::from_pointee(table),
            login: login.map(|login| LoginRoutes {
                prefix: DEFAULT_PREFIX.to_owned(),
                router: login.router(),
                host: login_host.clone(),
            }),
            metrics: Arc::clone(&metrics),
            no_route: Label(Arc::from("-")),
        });

        let (shutdown, _) = watch::channel(false);
        let mut tasks = Vec::new();
        let limits = config.limits.clone();
        if let Some(listener) = https {
            let settings = config.tls.as_ref().ok_or(StartError::HttpsWithoutTls)?;
            let server_config = tls::server_config(settings)?;
            let spiffe = spiffe(&config)?;
            let transport = Transport::Tls {
                acceptor: tokio_rustls::TlsAcceptor::from(server_config),
                spiffe,
            };
            tasks.push(tokio::spawn(server::serve(
                listener,
                transport,
                Handler::serving(Arc::clone(&shared)),
                limits.clone(),
                shutdown.subscribe(),
            )));
        }
        if let Some(listener) = http {
            let handler = match https_addr {
                Some(addr) => Handler::redirecting(Arc::clone(&shared), addr.port()),
                None => Handler::serving(Arc::clone(&shared)),
            };
            tasks.push(tokio::spawn(server::serve(
                listener,
                Transport::Plain,
                handler,
                limits,
                shutdown.subscribe(),
            )));
        }
        let reloader = Arc::new(Reloader::new(config_path, factory, Arc::clone(&shared)));
        if let Some(listener) = metrics_listener {
            tasks.push(tokio::spawn(health::serve(
                listener,
                Arc::clone(&metrics),
                shutdown.subscribe(),
            )));
        }
        if reloader.has_file() {
            tasks.push(tokio::spawn(reload::watch(
                Arc::clone(&reloader),
                watched,
                shutdown.subscribe(),
            )));
        }
        Ok(Self {
            http: http_addr,
            https: https_addr,
            metrics: metrics_addr,
            public_url,
            shutdown,
            tasks,
            auditor,
            reloader,
            revocations,
        })
    }

    /// The plain-HTTP listener's address.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http
    }

    /// The HTTPS listener's address.
    pub fn https_addr(&self) -> Option<SocketAddr> {
        self.https
    }

    /// The metrics and health listener's address.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics
    }

    /// The URL browsers use (configured, or derived from the listeners).
    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// Signed-out browser sessions (logout adds to it); revoke a session here to end it
    /// and its live connections.
    pub fn revocations(&self) -> &Revocations {
        &self.revocations
    }

    /// Reloads routes and policies from the configuration file now. On error the
    /// routes in force stay.
    ///
    /// # Errors
    /// Why the new configuration was refused.
    pub fn reload(&self) -> Result<(), StartError> {
        self.reloader.reload()
    }

    /// Serves until Ctrl-C or `SIGTERM`, then shuts down gracefully.
    pub async fn run_until_signal(self) {
        shutdown_signal().await;
        tracing::info!("shutting down");
        self.shutdown().await;
    }

    /// Stops accepting, lets open requests finish (bounded), flushes the audit log.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
        if let Err(error) = self.auditor.shutdown().await {
            tracing::error!(%error, "audit log did not shut down cleanly");
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

async fn bind(addr: Option<SocketAddr>) -> Result<Option<TcpListener>, StartError> {
    match addr {
        None => Ok(None),
        Some(addr) => TcpListener::bind(addr)
            .await
            .map(Some)
            .map_err(|source| StartError::Bind { addr, source }),
    }
}

fn local_addr(listener: Option<&TcpListener>) -> Result<Option<SocketAddr>, StartError> {
    listener
        .map(|l| {
            l.local_addr().map_err(|source| StartError::Bind {
                addr: SocketAddr::from(([0, 0, 0, 0], 0)),
                source,
            })
        })
        .transpose()
}

async fn verifier(config: &Config) -> Result<Option<Verifier>, StartError> {
    if config.providers.is_empty() {
        return Ok(None);
    }
    let mut builder = Verifier::builder();
    for provider in &config.providers {
        let mut issuer = match (&provider.jwks_file, &provider.jwks_url) {
            (Some(file), _) => IssuerConfig::jwks_file(&provider.issuer, file),
            (None, Some(url)) => IssuerConfig::jwks_url(&provider.issuer, url),
            (None, None) => IssuerConfig::discover(&provider.issuer),
        };
        for audience in &provider.audiences {
            issuer = issuer.audience(audience);
        }
        if let Some(client) = &provider.login
            && provider.audiences.is_empty()
        {
            issuer = issuer.audience(&client.client_id);
        }
        builder = builder.issuer(issuer);
        if let Some(ca) = &provider.ca {
            for cert in read_certificates(ca)? {
                builder = builder.root_certificate(cert);
            }
        }
    }
    builder
        .build()
        .await
        .map(Some)
        .map_err(|error| StartError::Verifier(error.to_string()))
}

fn spiffe(config: &Config) -> Result<Option<Arc<SpiffeVerifier>>, StartError> {
    let Some(ca) = config.tls.as_ref().and_then(|tls| tls.client_ca.as_ref()) else {
        return Ok(None);
    };
    if config.spiffe_trust_domains.is_empty() {
        return Ok(None);
    }
    let pem = std::fs::read(ca).map_err(|error| StartError::File {
        path: ca.clone(),
        message: error.to_string(),
    })?;
    let mut bundles = Vec::new();
    for domain in &config.spiffe_trust_domains {
        bundles.push(
            TrustBundle::from_pem(domain.clone(), &pem).map_err(|error| StartError::File {
                path: ca.clone(),
                message: format!("SPIFFE trust domain {domain}: {error}"),
            })?,
        );
    }
    Ok(Some(Arc::new(SpiffeVerifier::new(bundles))))
}

fn session_keys(file: Option<&Path>) -> Result<SessionKeys, StartError> {
    let Some(path) = file else {
        tracing::info!("no session.keys_file: sessions end when this process does");
        return SessionKeys::generate().map_err(|error| StartError::Login(error.to_string()));
    };
    let text = std::fs::read_to_string(path).map_err(|error| StartError::File {
        path: path.to_owned(),
        message: error.to_string(),
    })?;
    let mut secrets = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'));
    let primary = secrets.next().ok_or_else(|| StartError::File {
        path: path.to_owned(),
        message: "no session secret in the file (one base64 secret per line, newest first)".into(),
    })?;
    SessionKeys::from_base64_secrets(primary, secrets).map_err(|error| StartError::File {
        path: path.to_owned(),
        message: error.to_string(),
    })
}

fn signer(config: &Config, public_url: &str) -> Result<AssertionSigner, StartError> {
    let key = match &config.assertion.key_file {
        Some(path) => {
            let pem = std::fs::read_to_string(path).map_err(|error| StartError::File {
                path: path.clone(),
                message: error.to_string(),
            })?;
            SigningKey::from_pem(&pem).map_err(|error| StartError::File {
                path: path.clone(),
                message: error.to_string(),
            })?
        }
        None => SigningKey::generate().map_err(|error| StartError::Assertion(error.to_string()))?,
    };
    let issuer = config
        .assertion
        .issuer
        .clone()
        .unwrap_or_else(|| public_url.to_owned());
    AssertionSigner::builder(issuer)
        .key(key)
        .build()
        .map_err(|error| StartError::Assertion(error.to_string()))
}

/// Reads PEM certificates from `path`.
pub(crate) fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, StartError> {
    zt_core::tls::read_certificates(path).map_err(|error| StartError::File {
        path: path.to_owned(),
        message: error.to_string(),
    })
}
