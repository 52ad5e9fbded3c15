//! Browser login with real peers: Debian's headless Chromium signs in at an app behind
//! zt through a certified OpenID Provider (`oidc-provider`), with a real login form and
//! consent page, PKCE, a confidential client (HTTP Basic) and JWT access tokens; signs
//! out through the provider's end_session; and a second user is refused by policy (403).
//!
//! Needs `node`, `npm ci` in `tests/interop/{oidc-provider,browser}` and
//! `/usr/bin/chromium`; `ZT_INTEROP=require` (set by `.ci/run`) fails when they are
//! missing, otherwise the test says it skipped. Screenshots of every step go to
//! `target/interop-artifacts/interop_browser_login/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/peers.rs"]
mod peers;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::response::Html;
use axum::routing::get;
use peers::{BrowserArgs, InteropMode, OidcProvider, OidcProviderOptions, Peer};
use zt_core::audit::{Auditor, MemoryLog, MemorySink};
use zt_core::identity::{IssuerConfig, Verifier};
use zt_core::policy::Engine;
use zt_tower::login::LoginConfig;
use zt_tower::session::{SessionCookie, SessionKeys};
use zt_tower::{AuthLayer, Authenticated};

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

/// The app under test, listening at `base_url`. In-process for now; the ingress proxy
/// in front of an upstream will take its place (same URLs, same policy).
struct AppUnderTest {
    base_url: String,
    audit: MemoryLog,
    auditor: Auditor,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for AppUnderTest {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Binds the app's address first: the provider must know its redirect URIs.
async fn bind_app() -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    (listener, base_url)
}

/// An axum app behind `AuthLayer` with browser login at `issuer` (wiring as in
/// `examples/axum-app.rs`).
async fn start_app(
    listener: tokio::net::TcpListener,
    base_url: &str,
    issuer: &str,
) -> AppUnderTest {
    let verifier = Verifier::builder()
        .issuer(IssuerConfig::discover(issuer).audience(AUDIENCE))
        .build()
        .await
        .expect("discover the provider for the verifier");
    let (sink, audit) = MemorySink::new();
    let auditor = Auditor::builder(sink).start().unwrap();
    let cookie = SessionCookie::new(SessionKeys::generate().unwrap());
    let login = LoginConfig::new(issuer, CLIENT_ID, base_url, cookie)
        .client_secret(CLIENT_SECRET)
        .scopes(["profile", "email", "groups"])
        .build()
        .await
        .expect("browser login against oidc-provider");
    let layer = AuthLayer::builder()
        .verifier(verifier)
        .policy(Engine::from_source(POLICY).expect("policy"))
        .auditor(auditor.clone())
        .login(login.clone())
        .build()
        .unwrap();
    let app = Router::new()
        .route(
            "/",
            get(|| async { Html("<h1>zt interop app</h1><p>public page</p>") }),
        )
        .route("/me", get(me))
        .route("/admin", get(admin))
        .layer(layer)
        .merge(login.router());
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    AppUnderTest {
        base_url: base_url.to_owned(),
        audit,
        auditor,
        server,
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn me(caller: Authenticated) -> Html<String> {
    Html(format!(
        "<h1>Signed in</h1><p id=\"who\">Signed in as {} ({})</p><p id=\"groups\">groups: {}</p><p>issuer: {}</p>",
        escape(caller.email.as_deref().unwrap_or("-")),
        escape(&caller.subject),
        escape(&caller.groups.join(", ")),
        escape(&caller.issuer),
    ))
}

async fn admin(caller: Authenticated) -> Html<String> {
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

    let (listener, base_url) = bind_app().await;
    let idp = OidcProvider::start(&OidcProviderOptions {
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
        redirect_uris: vec![format!("{base_url}/.zt/callback")],
        post_logout_redirect_uris: vec![format!("{base_url}/")],
        audience: AUDIENCE.into(),
        log: Some(artifacts.join("oidc-provider.log")),
    })
    .unwrap_or_else(|e| panic!("{TEST}: {e}"));
    let app = start_app(listener, &base_url, idp.issuer()).await;
    let ready = started.elapsed();

    let args = BrowserArgs {
        artifact_dir: artifacts.clone(),
        timeout: Duration::from_secs(120),
        ..BrowserArgs::default()
    }
    .arg("issuer", idp.issuer())
    .arg("protected-url", format!("{}/me", app.base_url))
    .arg("logout-url", format!("{}/.zt/logout", app.base_url))
    .arg("after-logout-url", format!("{}/", app.base_url))
    .arg("denied-url", format!("{}/admin", app.base_url))
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
    app.auditor.flush().await.unwrap();
    let lines = app.audit.lines();
    std::fs::write(artifacts.join("audit.jsonl"), lines.join("\n")).unwrap();
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
    drop(app);
    drop(idp);
}
