//! An axum app behind zt's `AuthLayer`: a public page, a page for signed-in users and an
//! admin page, decided by a zt policy and audited.
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
    let layer = AuthLayer::builder()
        .verifier(verifier)
        .policy(policy)
        .auditor(auditor.clone())
        .build()?;

    let app = Router::new()
        .route(
            "/",
            get(|| async { "Hello from an app behind zt. Try /me and /admin.\n" }),
        )
        .route("/me", get(me))
        .route("/admin", get(admin))
        .layer(layer);

    let listener = tokio::net::TcpListener::bind(args.bind).await?;
    let url = format!("http://{}", listener.local_addr()?);
    eprintln!("axum-app listening on {url} (policy: {name}, issuer: {issuer})");
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
