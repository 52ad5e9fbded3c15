//! Runs the zt dev IdP: a small, real OpenID Provider for local development.
//! **Development only** — there are no passwords.
//!
//! ```text
//! cargo run --example dev-idp -- --bind 127.0.0.1:9000 --alg es256
//! ```

use std::net::SocketAddr;

use clap::{Parser, ValueEnum};
use zt_dev_idp::{DevIdp, SigningAlg};

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(
    name = "dev-idp",
    version,
    about = "Run the zt dev IdP: a small OpenID Provider for development and tests (NOT for production)"
)]
struct Args {
    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9000")]
    bind: SocketAddr,

    /// Issuer URL (default: http://ADDR).
    #[arg(long, value_name = "URL")]
    issuer: Option<String>,

    /// Algorithm of issued tokens.
    #[arg(long, value_enum, default_value_t = Alg::Es256)]
    alg: Alg,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Alg {
    Es256,
    Rs256,
    Eddsa,
}

impl From<Alg> for SigningAlg {
    fn from(a: Alg) -> Self {
        match a {
            Alg::Es256 => SigningAlg::Es256,
            Alg::Rs256 => SigningAlg::Rs256,
            Alg::Eddsa => SigningAlg::EdDsa,
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "zt_dev_idp=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();

    let mut builder = DevIdp::builder()
        .bind(args.bind)
        .signing_alg(args.alg.into());
    if let Some(issuer) = args.issuer {
        builder = builder.issuer(issuer);
    }
    let idp = builder.start().await?;

    let iss = idp.issuer();
    println!("zt dev IdP (development only) listening on {}", idp.addr());
    println!("issuer: {iss}");
    println!("endpoints:");
    for (name, path) in [
        ("discovery", "/.well-known/openid-configuration"),
        ("jwks", "/jwks"),
        ("authorize", "/authorize"),
        ("token", "/token"),
        ("device_authorization", "/device_authorization"),
        ("device (verification)", "/device"),
        ("userinfo", "/userinfo"),
        ("end_session", "/end_session"),
    ] {
        println!("  {name:<22} {iss}{path}");
    }
    println!("clients:");
    for c in idp.clients() {
        let kind = if c.client_secret.is_some() {
            "confidential"
        } else {
            "public"
        };
        let loopback = if c.allow_loopback_redirects {
            ", any loopback redirect URI"
        } else {
            ""
        };
        println!("  {} ({kind}{loopback})", c.client_id);
    }
    println!("dev users (no passwords; pick one on the login page):");
    for u in idp.users() {
        println!(
            "  {:<8} {:<22} groups: {}",
            u.username,
            u.email,
            u.groups.join(", ")
        );
    }
    println!("press Ctrl-C to stop");

    tokio::signal::ctrl_c().await?;
    idp.shutdown().await;
    Ok(())
}
