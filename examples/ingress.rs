//! The identity-aware ingress proxy: every request is authenticated (bearer token,
//! browser session via OIDC login, or mTLS/SPIFFE), decided by the route's zt policy,
//! audited, and only then forwarded to the upstream.
//!
//! ```text
//! cargo run --example ingress                          # embedded demo: dev IdP + demo upstream
//! cargo run --example ingress -- --config ingress.toml # a real deployment (docs/ingress.md)
//! cargo run --example ingress -- --config ingress.toml --check
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use zt_dev_idp::DevIdp;
use zt_ingress::Ingress;
use zt_ingress::config::Config;
use zt_ingress::demo::{self, DemoSettings};

/// A proxy allocates and frees small buffers per request from several threads; mimalloc
/// does that with less contention than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(
    name = "ingress",
    version,
    about = "zt's identity-aware reverse proxy",
    long_about = "zt's identity-aware reverse proxy. Without --config it runs an embedded demo \
                  (a development OpenID provider, a demo upstream and the proxy on loopback); \
                  with --config it runs the deployment that file describes (docs/ingress.md). \
                  Routes and policies reload when their files change and on SIGHUP."
)]
struct Args {
    /// Configuration file (TOML; see docs/ingress.md).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Check the configuration (and the policies it names), print a summary and exit.
    #[arg(long, requires = "config")]
    check: bool,
    /// Demo only: where the proxy listens.
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "127.0.0.1:8080",
        conflicts_with = "config"
    )]
    bind: SocketAddr,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,zt_ingress=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let result = match &args.config {
        Some(path) if args.check => check(path),
        Some(path) => deployment(path).await,
        None => demo(args.bind).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn check(path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::load(path)?;
    println!("{}: ok", path.display());
    for route in &config.routes {
        println!(
            "  route {:<16} {}{} -> {} ({} rules from {})",
            route.name,
            route.host,
            route.prefix,
            route
                .upstreams
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            route.policy.rule_count(),
            route.policy_origin,
        );
    }
    Ok(())
}

async fn deployment(path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::load(path)?;
    let ingress = Ingress::start(config, Some(path.to_owned())).await?;
    if let Some(addr) = ingress.https_addr() {
        eprintln!("ingress: HTTPS on {addr}");
    }
    if let Some(addr) = ingress.http_addr() {
        eprintln!("ingress: HTTP on {addr}");
    }
    if let Some(addr) = ingress.metrics_addr() {
        eprintln!("ingress: metrics on http://{addr}/metrics (also /healthz, /readyz)");
    }
    ingress.run_until_signal().await;
    Ok(())
}

async fn demo(bind: SocketAddr) -> Result<(), Box<dyn std::error::Error>> {
    let idp = DevIdp::builder().banner(false).start().await?;
    let upstream = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let upstream_url = format!("http://{}", upstream.local_addr()?);
    tokio::spawn(async move {
        if let Err(error) = axum::serve(upstream, demo::upstream()).await {
            tracing::error!(%error, "demo upstream failed");
        }
    });
    let audit = std::env::temp_dir().join("zt-ingress-demo-audit.jsonl");
    let settings = DemoSettings {
        listen: bind,
        metrics: SocketAddr::from(([127, 0, 0, 1], 0)),
        issuer: idp.issuer().to_owned(),
        upstream: upstream_url.clone(),
        audit: audit.clone(),
    };
    let config = Config::parse(&demo::config_toml(&settings), "<demo>", Path::new("."))?;
    let ingress = Ingress::start(config, None).await?;
    let url = ingress.public_url().to_owned();
    println!();
    println!("  zt ingress demo (development only: the IdP signs anyone in without a password)");
    println!();
    println!("  open      {url}/app            sign in, then see what the upstream receives");
    println!("            {url}/admin          admins only (alice); others get a 403");
    println!("            {url}/.zt/logout     sign out");
    println!(
        "  users     alice (engineering, admins), bob (engineering), carol (ops), dave (contractors)"
    );
    println!("  upstream  {upstream_url} (only the proxy should talk to it)");
    println!("  IdP       {}", idp.issuer());
    if let Some(metrics) = ingress.metrics_addr() {
        println!("  metrics   http://{metrics}/metrics");
    }
    println!("  audit     {}", audit.display());
    println!();
    println!("  API access with bearer tokens:");
    println!(
        "    curl -H 'Authorization: Bearer {}' {url}/admin",
        idp.mint_access_token("alice")?
    );
    println!(
        "    curl -H 'Authorization: Bearer {}' {url}/admin   # 403",
        idp.mint_access_token("bob")?
    );
    println!("    curl {url}/app                                  # 401");
    println!();
    ingress.run_until_signal().await;
    Ok(())
}
