//! An axum app behind zt's `AuthLayer`: a public page, a page for signed-in users and an
//! admin page, decided by a zt policy and audited. Browsers sign in through the IdP
//! (OIDC code + PKCE at `/.zt/login`); API clients send bearer tokens.
//!
//! ```text
//! cargo run --example axum-app                 # with an embedded dev IdP and demo tokens
//! cargo run --example axum-app -- --issuer https://idp.example.com --audience my-api
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::Json;
use axum::Router;
use axum::routing::get;
use clap::Parser;
use serde_json::{Value, json};
use zt_core::audit::{Auditor, FileSink, StdoutSink};
use zt_core::identity::{IssuerConfig, Verifier};
use zt_core::policy::Engine;
use zt_dev_idp::DevIdp;
use zt_tower::login::LoginConfig;
use zt_tower::session::{SessionCookie, SessionKeys};
use zt_tower::{AuthLayer, Authenticated};

/// The policy used without `--policy`.
const POLICY: &str = r#"# The landing page is public.
# zt-lint: allow allow-without-identity
allow "public" when request.path == "/"

allow "signed-in" when identity.authenticated and request.path == "/me"

allow "admins" when identity.groups has "admins" and request.path starts_with "/admin"
"#;

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(
    name = "axum-app",
    version,
    about = "An axum app behind zt's AuthLayer (public, signed-in and admin routes)"
)]
struct Args {
    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:3000")]
    bind: SocketAddr,
    /// OpenID issuer to trust (default: an embedded dev IdP on a free loopback port).
    #[arg(long, value_name = "URL")]
    issuer: Option<String>,
    /// Audience access tokens must carry.
    #[arg(long, default_value = "zt-dev")]
    audience: String,
    /// OAuth client id for browser sign-in (the dev IdP's public client by default).
    #[arg(long, default_value = "zt-dev")]
    client_id: String,
    /// File holding the OAuth client secret (public clients have none).
    #[arg(long, value_name = "FILE")]
    client_secret_file: Option<PathBuf>,
    /// The URL browsers use to reach this app (default: http://ADDR).
    #[arg(long, value_name = "URL")]
    base_url: Option<String>,
    /// Policy file (default: the built-in policy shown by `--help`'s source).
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Audit log file (default: audit events on stdout).
    #[arg(long, value_name = "FILE")]
    audit: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();

    let (source, name) = match &args.policy {
        Some(path) => (std::fs::read_to_string(path)?, path.display().to_string()),
        None => (POLICY.to_owned(), "built-in policy".to_owned()),
    };
    let policy = Engine::from_source(&source).map_err(|e| e.render(&name, &source))?;

    let (issuer, idp) = match args.issuer.clone() {
        Some(issuer) => (issuer, None),
        None => {
            let idp = DevIdp::builder().banner(false).start().await?;
            (idp.issuer().to_owned(), Some(idp))
        }
    };
    let verifier = Verifier::builder()
        .issuer(IssuerConfig::discover(&issuer).audience(&args.audience))
        .build()
        .await?;
    let auditor = match &args.audit {
        Some(path) => Auditor::builder(FileSink::open(path)?).start()?,
        None => Auditor::builder(StdoutSink).start()?,
    };
    let listener = tokio::net::TcpListener::bind(args.bind).await?;
    let url = match &args.base_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => format!("http://{}", listener.local_addr()?),
    };
    // Sessions live as long as this process: the cookie keys are generated at start.
    let cookie = SessionCookie::new(SessionKeys::generate()?);
    let mut login = LoginConfig::new(&issuer, &args.client_id, &url, cookie).offline_access(true);
    if let Some(path) = &args.client_secret_file {
        login = login.client_secret(std::fs::read_to_string(path)?.trim());
    }
    let login = login.build().await?;
    let layer = AuthLayer::builder()
        .verifier(verifier)
        .policy(policy)
        .auditor(auditor.clone())
        .login(login.clone())
        .build()?;

    let app = Router::new()
        .route(
            "/",
            get(|| async { "Hello from an app behind zt. Try /me and /admin.\n" }),
        )
        .route("/me", get(me))
        .route("/admin", get(admin))
        .layer(layer)
        .merge(login.router());

    eprintln!("axum-app listening on {url} (policy: {name}, issuer: {issuer})");
    eprintln!("open {url}/me in a browser to sign in; sign out at {url}/.zt/logout");
    if let Some(idp) = &idp {
        eprintln!("demo tokens from the embedded dev IdP (development only):");
        for (user, note) in [("alice", "admin"), ("bob", "signed in, not admin")] {
            let token = idp.mint_access_token(user)?;
            eprintln!("  # {user}: {note}");
            eprintln!("  curl -H 'Authorization: Bearer {token}' {url}/admin");
        }
        eprintln!("  curl {url}/me    # 401: no credential");
    }
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    auditor.shutdown().await?;
    Ok(())
}

async fn me(caller: Authenticated) -> Json<Value> {
    Json(json!({
        "sub": caller.subject,
        "email": caller.email,
        "groups": caller.groups,
        "issuer": caller.issuer,
        "allowed_by": caller.rules,
    }))
}

async fn admin(caller: Authenticated) -> String {
    format!("Welcome to the admin area, {}.\n", caller.subject)
}
