//! kubectl access through SSO: a Kubernetes API proxy that verifies the caller's OIDC
//! token, decides every request with zt policy on its `kube.*` attributes, audits it, and
//! forwards it to the API server as that user (impersonation).
//!
//! ```text
//! cargo run --example kube-proxy -- serve --server https://10.96.0.1 --cluster-ca ca.crt \
//!     --token-file /var/run/secrets/kubernetes.io/serviceaccount/token \
//!     --issuer https://idp.example.com --audience kube --policy kube.zt \
//!     --tls-cert proxy.crt --tls-key proxy.key
//! ```
//!
//! kubectl side (the exec-credential plugin kubectl runs for a token):
//!
//! ```text
//! kube-proxy kubeconfig --server https://kube-proxy.example.com:8443 --ca-file proxy-ca.crt \
//!     --issuer https://idp.example.com --client-id kubectl -o ~/.kube/zt.json
//! KUBECONFIG=~/.kube/zt.json kubectl get pods     # runs `kube-proxy login` when needed
//! kube-proxy logout --issuer https://idp.example.com --client-id kubectl
//! ```
//!
//! See docs/kube.md.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use clap::{Parser, Subcommand};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tower::Layer;
use zt_core::audit::{Auditor, FileSink, OverflowPolicy, StdoutSink};
use zt_core::identity::{IssuerConfig, Verifier};
use zt_core::policy::Engine;
use zt_kube::cli::{KubeconfigArgs, LoginArgs, LogoutArgs};
use zt_kube::metrics::DecisionCounter;
use zt_kube::user::UserMapping;
use zt_kube::webhook::Webhook;
use zt_kube::{ClusterAccess, KubeAuditLog, KubeMetrics, KubeProxy, KubeRequestLayer};
use zt_tower::{AuthLayer, PolicyHandle};

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(
    name = "kube-proxy",
    version,
    about = "zt's Kubernetes API proxy: kubectl through SSO, per-request policy, impersonation"
)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the proxy.
    Serve(Box<ServeArgs>),
    /// kubectl exec-credential plugin: print a token for kubectl, signing in with the
    /// device-code flow when there is no valid cached one.
    Login(LoginArgs),
    /// Forget (and revoke, when the IdP can) the cached sign-in.
    Logout(LogoutArgs),
    /// Write a kubeconfig entry for the proxy that signs in with `kube-proxy login`.
    Kubeconfig(KubeconfigArgs),
}

/// `kube-proxy serve`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("cluster").required(true)))]
struct ServeArgs {
    /// Where the proxy listens.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8443")]
    listen: SocketAddr,
    /// Certificate chain (PEM) the proxy presents to kubectl. Without it the proxy speaks
    /// plain HTTP, which it allows on loopback addresses only.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// Private key (PEM) for --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// The Kubernetes API server (e.g. https://10.96.0.1), with --cluster-ca and
    /// --token-file or --client-cert.
    #[arg(long, value_name = "URL", group = "cluster")]
    server: Option<String>,
    /// Or: the API server and the proxy's credential from this kubeconfig (YAML or JSON;
    /// a token, token file or client certificate user).
    #[arg(long, value_name = "FILE", group = "cluster", conflicts_with_all = ["cluster_ca", "token_file", "client_cert"])]
    kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use (default: its current context).
    #[arg(long, value_name = "NAME", requires = "kubeconfig")]
    context: Option<String>,
    /// Or: the API server of the pod the proxy runs in, with its service account.
    #[arg(long, group = "cluster", conflicts_with_all = ["cluster_ca", "token_file", "client_cert"])]
    in_cluster: bool,
    /// CA certificate (PEM) the API server's certificate must chain to; only it is
    /// trusted. Default: the platform's roots.
    #[arg(long, value_name = "FILE")]
    cluster_ca: Option<PathBuf>,
    /// The proxy's own bearer token for the API server, re-read as it rotates (a service
    /// account token).
    #[arg(long, value_name = "FILE", conflicts_with = "client_cert")]
    token_file: Option<PathBuf>,
    /// The proxy's client certificate (PEM) for the API server.
    #[arg(long, value_name = "FILE", requires = "client_key")]
    client_cert: Option<PathBuf>,
    /// Private key (PEM) for --client-cert.
    #[arg(long, value_name = "FILE", requires = "client_cert")]
    client_key: Option<PathBuf>,
    /// OpenID issuer whose tokens are accepted (keys from its discovery document).
    #[arg(long, value_name = "URL")]
    issuer: String,
    /// Audience the tokens must carry (repeatable); default: any.
    #[arg(long, value_name = "AUD")]
    audience: Vec<String>,
    /// Read the issuer's keys from this JWKS file instead of discovery.
    #[arg(long, value_name = "FILE")]
    jwks_file: Option<PathBuf>,
    /// Extra CA certificate (PEM) for the issuer's HTTPS endpoints.
    #[arg(long, value_name = "FILE")]
    issuer_ca: Option<PathBuf>,
    /// The zt policy deciding every request (reloaded when the file changes and on SIGHUP).
    #[arg(long, value_name = "FILE")]
    policy: PathBuf,
    /// Audit log file (hash-chained JSON lines); default: standard output.
    #[arg(long, value_name = "FILE")]
    audit: Option<PathBuf>,
    /// Serve Prometheus metrics (/metrics) and /healthz, /readyz on this address.
    #[arg(long, value_name = "ADDR")]
    metrics: Option<SocketAddr>,
    /// Also write every request as an `audit.k8s.io/v1` event (JSON lines) to this file.
    #[arg(long, value_name = "FILE")]
    kube_audit: Option<PathBuf>,
    /// Also serve the webhook endpoints (TokenReview at /token-review, SubjectAccessReview
    /// at /subject-access-review) on this address, over TLS (--tls-cert) requiring a
    /// client certificate from --webhook-client-ca.
    #[arg(long, value_name = "ADDR", requires_all = ["webhook_client_ca", "tls_cert"])]
    webhook_listen: Option<SocketAddr>,
    /// CA certificate (PEM) of the API server's webhook client certificates.
    #[arg(long, value_name = "FILE", requires = "webhook_listen")]
    webhook_client_ca: Option<PathBuf>,
    /// The claim that names the Kubernetes user (`--oidc-username-claim`).
    #[arg(long, value_name = "CLAIM", default_value = "sub")]
    username_claim: String,
    /// Prefix for user names (`--oidc-username-prefix`; `-` for none). Default: the issuer
    /// URL and `#`, except for `email`.
    #[arg(long, value_name = "PREFIX")]
    username_prefix: Option<String>,
    /// The claim holding the groups (`--oidc-groups-claim`).
    #[arg(long, value_name = "CLAIM", default_value = "groups")]
    groups_claim: String,
    /// Prefix for group names (`--oidc-groups-prefix`).
    #[arg(long, value_name = "PREFIX")]
    groups_prefix: Option<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let result: Result<(), BoxError> = match args.command {
        Command::Serve(serve_args) => serve(*serve_args).await,
        Command::Login(args) => args.run().await.map_err(Into::into),
        Command::Logout(args) => args.run().await.map_err(Into::into),
        Command::Kubeconfig(args) => args.run().map_err(Into::into),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

type BoxError = Box<dyn std::error::Error>;

async fn serve(args: ServeArgs) -> Result<(), BoxError> {
    let policy = PolicyHandle::new(load_policy(&args.policy)?);
    let verifier = verifier(&args).await?;
    let auditor = match &args.audit {
        Some(path) => Auditor::builder(
            FileSink::open(path).map_err(|e| format!("audit log {}: {e}", path.display()))?,
        ),
        None => Auditor::builder(StdoutSink),
    }
    // A moment of a full queue slows requests down; a log that stays unavailable
    // refuses them.
    .overflow(OverflowPolicy::FailClosedAfter(Duration::from_secs(1)))
    .start()?;
    let mut users = UserMapping::default()
        .username_claim(&args.username_claim)
        .groups_claim(&args.groups_claim);
    if let Some(prefix) = &args.username_prefix {
        users = users.username_prefix(prefix);
    }
    if let Some(prefix) = &args.groups_prefix {
        users = users.groups_prefix(prefix);
    }
    let metrics = Arc::new(KubeMetrics::new());
    let mut front = KubeRequestLayer::new(Some(auditor.clone())).metrics(Arc::clone(&metrics));
    if let Some(path) = &args.kube_audit {
        let log = KubeAuditLog::open(path, users.clone())
            .map_err(|e| format!("Kubernetes audit log {}: {e}", path.display()))?;
        front = front.kube_audit(log);
    }
    let (mut proxy, server) = match (&args.server, &args.kubeconfig) {
        (Some(server), _) => (KubeProxy::builder(server), server.clone()),
        (None, Some(path)) => {
            let access = ClusterAccess::from_kubeconfig(path, args.context.as_deref())?;
            let server = access.server.clone();
            (KubeProxy::builder_for(access), server)
        }
        (None, None) => {
            let access = ClusterAccess::in_cluster()?;
            let server = access.server.clone();
            (KubeProxy::builder_for(access), server)
        }
    };
    proxy = proxy.users(users.clone());
    if let Some(path) = &args.cluster_ca {
        for cert in certificates(path)? {
            proxy = proxy.cluster_ca(cert);
        }
    }
    if let Some(path) = &args.token_file {
        proxy = proxy.token_file(path);
    }
    if let (Some(cert), Some(key)) = (&args.client_cert, &args.client_key) {
        proxy = proxy.client_certificate(certificates(cert)?, private_key(key)?);
    }
    let proxy = proxy.build()?;
    if let (Some(addr), Some(client_ca), Some(cert), Some(key)) = (
        args.webhook_listen,
        &args.webhook_client_ca,
        &args.tls_cert,
        &args.tls_key,
    ) {
        let webhook = Webhook::builder()
            .verifier(verifier.clone())
            .policy(policy.clone())
            .user_mapping(users.clone())
            .auditor(auditor.clone())
            .build()?;
        let acceptor = mtls_acceptor(cert, key, client_ca)?;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        eprintln!("kube-proxy: webhooks on https://{addr} (client certificates required)");
        tokio::spawn(zt_kube::serve::serve(
            listener,
            Some(acceptor),
            webhook.router(),
            shutdown_signal(),
        ));
    }
    let auth = AuthLayer::builder()
        .verifier(verifier)
        .policy(policy.clone())
        .auditor(auditor.clone())
        .observer(DecisionCounter(Arc::clone(&metrics)))
        .build()?;
    if let Some(addr) = args.metrics {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        eprintln!(
            "kube-proxy: metrics on http://{}/metrics (also /healthz, /readyz)",
            listener.local_addr()?
        );
        tokio::spawn(zt_kube::serve::serve(
            listener,
            None,
            Arc::clone(&metrics).router(),
            shutdown_signal(),
        ));
    }
    let service = front.layer(auth.layer(proxy));

    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(tls_acceptor(cert, key)?),
        _ if args.listen.ip().is_loopback() => None,
        _ => return Err("without --tls-cert the proxy listens on loopback addresses only".into()),
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    eprintln!(
        "kube-proxy: serving {scheme}://{} -> {}",
        listener.local_addr()?,
        server
    );
    tokio::spawn(reload_policy(args.policy.clone(), policy, metrics));
    zt_kube::serve::serve(listener, tls, service, shutdown_signal()).await;
    if let Err(error) = auditor.shutdown().await {
        eprintln!("error: the audit log did not close cleanly: {error}");
    }
    Ok(())
}

async fn verifier(args: &ServeArgs) -> Result<Verifier, BoxError> {
    let mut issuer = match &args.jwks_file {
        Some(file) => IssuerConfig::jwks_file(&args.issuer, file),
        None => IssuerConfig::discover(&args.issuer),
    };
    for audience in &args.audience {
        issuer = issuer.audience(audience);
    }
    let mut builder = Verifier::builder().issuer(issuer);
    if let Some(ca) = &args.issuer_ca {
        for cert in certificates(ca)? {
            builder = builder.root_certificate(cert);
        }
    }
    Ok(builder.build().await?)
}

fn load_policy(path: &Path) -> Result<Engine, BoxError> {
    let source = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the policy {}: {e}", path.display()))?;
    Engine::from_source(&source).map_err(|error| {
        let origin = path.display().to_string();
        format!(
            "the policy {origin} does not compile:\n{}",
            error.render(&origin, &source)
        )
        .into()
    })
}

/// Reloads the policy when its file changes (checked every second) and on SIGHUP; a policy
/// that does not compile is logged and the one in force stays.
async fn reload_policy(path: PathBuf, policy: PolicyHandle, metrics: Arc<KubeMetrics>) {
    let modified = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let mut seen: Option<SystemTime> = modified(&path);
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    loop {
        let signalled = async {
            match &mut hangup {
                Some(hangup) => {
                    hangup.recv().await;
                }
                None => std::future::pending().await,
            }
        };
        let forced = tokio::select! {
            () = signalled => true,
            () = tokio::time::sleep(Duration::from_secs(1)) => false,
        };
        let now = modified(&path);
        if !forced && now == seen {
            continue;
        }
        seen = now;
        match load_policy(&path) {
            Ok(engine) => {
                policy.store(engine);
                metrics.policy_reloaded(true);
                tracing::info!(path = %path.display(), "policy reloaded");
            }
            Err(error) => {
                metrics.policy_reloaded(false);
                tracing::error!(%error, "policy not reloaded; the previous one stays in force");
            }
        }
    }
}

async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, BoxError> {
    zt_core::tls::read_certificates(path).map_err(|e| format!("{}: {e}", path.display()).into())
}

fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, BoxError> {
    let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    zt_core::tls::pem_private_key(&pem).map_err(|e| format!("{}: {e}", path.display()).into())
}

/// TLS that requires a client certificate issued by `client_ca` (the API server's).
fn mtls_acceptor(
    cert: &Path,
    key: &Path,
    client_ca: &Path,
) -> Result<tokio_rustls::TlsAcceptor, BoxError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for ca in certificates(client_ca)? {
        roots.add(ca)?;
    }
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()?;
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certificates(cert)?, private_key(key)?)?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

fn tls_acceptor(cert: &Path, key: &Path) -> Result<tokio_rustls::TlsAcceptor, BoxError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certificates(cert)?, private_key(key)?)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}
