//! Browser login with real peers, through the ingress: Debian's headless Chromium opens
//! a protected page of an upstream behind `zt-ingress`, signs in at a certified OpenID
//! Provider (`oidc-provider`) with a real login form and consent page (PKCE, a
//! confidential client over HTTP Basic, JWT access tokens), reaches the upstream with
//! its session (the upstream verifies the ingress's signed identity assertion), signs
//! out through the provider's end_session, and a second user is refused by policy (403).
//!
//! Needs `node`, `npm ci` in `tests/interop/{oidc-provider,browser}` and
//! `/usr/bin/chromium`; `ZT_INTEROP=require` (set by `.ci/run`) fails when they are
//! missing, otherwise the test says it skipped. Screenshots of every step go to
//! `target/interop-artifacts/interop_browser_login/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/peers.rs"]
mod peers;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Extension;
use axum::response::Html;
use axum::routing::get;
use peers::{BrowserArgs, InteropMode, OidcProvider, OidcProviderOptions, Peer};
use zt_core::identity::{Identity, IssuerConfig, Verifier};
use zt_ingress::Ingress;
use zt_ingress::config::Config;
use zt_tower::assertion::{AssertionLayer, upstream_issuer_config};

const CLIENT_ID: &str = "zt-interop-app";
const CLIENT_SECRET: &str = "interop-client-secret-0123456789";
const AUDIENCE: &str = "zt-interop-app";
const ADMIN_DENIED: &str = "the admin area is for admins";

const POLICY: &str = r#"
# zt-lint: allow allow-without-identity
allow "public" when request.path == "/"
allow "signed-in" when identity.authenticated and request.path == "/me"
allow "admins" when identity.groups has "admins" and request.path starts_with "/admin"
deny "admin-area"
  reason "the admin area is for admins"
  when request.path starts_with "/admin" and not identity.groups has "admins"
"#;

/// The ingress configuration: the provider for tokens and browser login (the client
/// secret read from `secret_file`), one route to the upstream with identity
/// assertions, audit to a file.
fn ingress_config(
    listen: &str,
    issuer: &str,
    upstream: &str,
    secret_file: &Path,
    audit: &Path,
) -> String {
    format!(
        r#"[listen]
http = "{listen}"

[[providers]]
issuer = "{issuer}"
audiences = ["{AUDIENCE}"]
client_id = "{CLIENT_ID}"
client_secret_file = "{secret}"
scopes = ["profile", "email", "groups"]

[audit]
file = "{audit}"

[[routes]]
name = "app"
from = "*"
to = ["{upstream}"]
assertion = true
policy_inline = '''{POLICY}'''
"#,
        secret = secret_file.display(),
        audit = audit.display()
    )
}

/// The upstream: a public page, and `/me` and `/admin` that only accept requests with
/// the ingress's identity assertion, verified against the ingress's JWKS.
async fn start_upstream(
    listener: tokio::net::TcpListener,
    ingress_url: &str,
    audience: &str,
) -> tokio::task::JoinHandle<()> {
    let keys = IssuerConfig::jwks_url(
        ingress_url,
        format!("{ingress_url}/.well-known/zt-jwks.json"),
    );
    let verifier = Verifier::builder()
        .issuer(upstream_issuer_config(keys, audience))
        .build()
        .await
        .expect("the ingress serves its assertion keys");
    let app = Router::new()
        .route("/me", get(me))
        .route("/admin", get(admin))
        .route_layer(AssertionLayer::new(verifier))
        .route(
            "/",
            get(|| async { Html("<h1>zt interop app</h1><p>public page</p>") }),
        );
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    })
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn me(Extension(caller): Extension<Arc<Identity>>) -> Html<String> {
    Html(format!(
        "<h1>Signed in</h1><p id=\"who\">Signed in as {} ({})</p><p id=\"groups\">groups: {}</p><p>issuer: {}</p>",
        escape(caller.email.as_deref().unwrap_or("-")),
        escape(&caller.subject),
        escape(&caller.groups.join(", ")),
        escape(&caller.issuer),
    ))
}

async fn admin(Extension(caller): Extension<Arc<Identity>>) -> Html<String> {
    Html(format!(
        "<h1>Admin area</h1><p>Welcome, {}.</p>",
        escape(&caller.subject)
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_signs_in_signs_out_and_is_denied_by_policy() {
    const TEST: &str = "interop_browser_login";
    if !InteropMode::from_env().peers_ready(TEST, &[Peer::OidcProvider, Peer::Browser]) {
        return;
    }
    let started = Instant::now();
    let artifacts = peers::artifact_dir(TEST);

    // Addresses first: the provider must know the redirect URIs, the ingress its upstream.
    let listen = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let listen_addr = listen.local_addr().unwrap();
    drop(listen);
    let base_url = format!("http://{listen_addr}");
    let upstream = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream_url = format!("http://{}", upstream.local_addr().unwrap());
    let idp = OidcProvider::start(&OidcProviderOptions {
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
        redirect_uris: vec![format!("{base_url}/.zt/callback")],
        post_logout_redirect_uris: vec![format!("{base_url}/")],
        audience: AUDIENCE.into(),
        log: Some(artifacts.join("oidc-provider.log")),
    })
    .unwrap_or_else(|e| panic!("{TEST}: {e}"));
    let audit_path = artifacts.join("audit.jsonl");
    let _ = std::fs::remove_file(&audit_path);
    let secret_file = artifacts.join("client-secret");
    std::fs::write(&secret_file, CLIENT_SECRET).unwrap();
    let text = ingress_config(
        &listen_addr.to_string(),
        idp.issuer(),
        &upstream_url,
        &secret_file,
        &audit_path,
    );
    let config = Config::parse(&text, "interop.toml", &artifacts).expect("ingress config");
    let ingress = Ingress::start(config, None).await.expect("ingress starts");
    let upstream_task = start_upstream(upstream, &base_url, &upstream_url).await;
    let ready = started.elapsed();

    let args = BrowserArgs {
        artifact_dir: artifacts.clone(),
        timeout: Duration::from_secs(120),
        ..BrowserArgs::default()
    }
    .arg("issuer", idp.issuer())
    .arg("protected-url", format!("{base_url}/me"))
    .arg("logout-url", format!("{base_url}/.zt/logout"))
    .arg("after-logout-url", format!("{base_url}/"))
    .arg("denied-url", format!("{base_url}/admin"))
    .arg("user1", "alice")
    .arg("password1", "alice-pw")
    .arg("expect1", "Signed in as alice@example.com (alice)")
    .arg("user2", "bob")
    .arg("password2", "bob-pw")
    .arg("expect2", "Signed in as bob@example.com (bob)")
    .arg("denied-status", "403")
    .arg("denied-text", ADMIN_DENIED);
    let browser = tokio::task::spawn_blocking(move || peers::run_browser(&args))
        .await
        .unwrap();
    let result = browser.unwrap_or_else(|e| panic!("{TEST}: {e}"));
    eprintln!(
        "{TEST}: peers ready in {ready:?}; browser run {} ms; total {:?}; chromium {}; artifacts in {}",
        result["ms"],
        started.elapsed(),
        result["chromium"],
        artifacts.display()
    );
    for step in result["steps"].as_array().unwrap() {
        eprintln!("  {step}");
    }

    // The audit log saw both sign-ins' requests and the refusal.
    ingress.shutdown().await;
    upstream_task.abort();
    let text = std::fs::read_to_string(&audit_path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let events: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let audited = |path: &str, sub: Option<&str>, effect: &str, rule: &str| {
        events.iter().any(|e| {
            e["target"]["http"]["path"] == path
                && e["actor"]["sub"].as_str() == sub
                && e["decision"]["effect"] == effect
                && (e["decision"]["rules"][0] == rule || e["decision"]["reason"] == rule)
        })
    };
    for (path, sub, effect, rule) in [
        ("/me", None, "deny", "no allow rule matched"),
        ("/me", Some("alice"), "allow", "signed-in"),
        ("/me", Some("bob"), "allow", "signed-in"),
        ("/admin", Some("bob"), "deny", "admin-area"),
    ] {
        assert!(
            audited(path, sub, effect, rule),
            "no audit event {effect} {path} for {sub:?} by {rule:?}: {lines:#?}"
        );
    }
    drop(idp);
}
