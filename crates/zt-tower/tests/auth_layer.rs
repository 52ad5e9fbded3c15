//! The AuthLayer end to end with a real OpenID provider (zt-dev-idp) issuing the tokens:
//! bearer access allowed and denied by policy, public routes, invalid credentials,
//! browser redirects, policy swaps on the next request, stripped spoofed headers, mTLS
//! peer identities, and an audit event for every decision (fail closed without one).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;
use zt_core::audit::{Auditor, MemoryLog, MemorySink};
use zt_core::identity::{Identity, IdentityKind, IssuerConfig, Verifier};
use zt_core::policy::Engine;
use zt_dev_idp::{DevIdp, RunningDevIdp};
use zt_tower::{AuthLayer, Authenticated, PeerIdentity, PolicyHandle};

const POLICY: &str = r#"
# The landing page is public.
# zt-lint: allow allow-without-identity
allow "public" when request.path == "/"

allow "signed-in" when identity.authenticated and request.path starts_with "/me"

allow "admins" when identity.groups has "admins" and request.path starts_with "/admin"

deny "no-contractors" reason "contractors use the partner portal"
  when identity.groups has "contractors"
"#;

struct Setup {
    idp: RunningDevIdp,
    app: Router,
    policy: PolicyHandle,
    log: MemoryLog,
}

async fn setup() -> Setup {
    let idp = DevIdp::builder().banner(false).start().await.unwrap();
    let verifier = Verifier::builder()
        .issuer(IssuerConfig::discover(idp.issuer()).audience("zt-dev"))
        .build()
        .await
        .unwrap();
    let policy = PolicyHandle::new(Engine::from_source(POLICY).unwrap());
    let (sink, log) = MemorySink::new();
    let auditor = Auditor::builder(sink).start().unwrap();
    let layer = AuthLayer::builder()
        .verifier(verifier)
        .policy(policy.clone())
        .auditor(auditor)
        .login_redirect("/.zt/login")
        .strip_header(http::HeaderName::from_static("x-forwarded-user"))
        .build()
        .unwrap();
    let app =
        Router::new()
            .route("/", get(|| async { "welcome" }))
            .route(
                "/me",
                get(|caller: Authenticated| async move {
                    format!("{} {:?}", caller.subject, caller.rules)
                }),
            )
            .route(
                "/admin",
                get(|caller: Authenticated| async move { format!("admin {}", caller.subject) }),
            )
            .route(
                "/me/headers",
                get(|request: Request<Body>| async move {
                    let spoofed = ["x-zt-assertion", "x-forwarded-user"]
                        .iter()
                        .filter(|name| request.headers().contains_key(**name))
                        .count();
                    format!("spoofed headers seen: {spoofed}")
                }),
            )
            .layer(layer);
    Setup {
        idp,
        app,
        policy,
        log,
    }
}

async fn send(app: &Router, request: Request<Body>) -> (StatusCode, http::HeaderMap, String) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

fn get_as(path: &str, token: Option<&str>) -> Request<Body> {
    let mut request = Request::get(path).header(header::HOST, "app.example.com");
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    request.body(Body::empty()).unwrap()
}

#[tokio::test]
async fn bearer_access_is_allowed_and_denied_by_policy() {
    let setup = setup().await;
    let (app, idp) = (&setup.app, &setup.idp);
    let alice = idp.mint_access_token("alice").unwrap();
    let bob = idp.mint_access_token("bob").unwrap();
    let dave = idp.mint_access_token("dave").unwrap();

    let (status, _, body) = send(app, get_as("/", None)).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "welcome"));

    let (status, headers, body) = send(app, get_as("/me", None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers[header::WWW_AUTHENTICATE], "Bearer realm=\"zt\"");
    assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
    assert!(body.contains("\"status\":401"), "{body}");

    for _ in 0..2 {
        // The second time the token comes from the verifier's cache (the fast path).
        let (status, _, body) = send(app, get_as("/me", Some(&alice))).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, "alice [\"signed-in\"]");
    }
    let (status, _, body) = send(app, get_as("/admin", Some(&alice))).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "admin alice"));

    let (status, _, body) = send(app, get_as("/admin", Some(&bob))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("no allow rule matched"), "{body}");

    let (status, _, body) = send(app, get_as("/me", Some(&dave))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        body.contains("contractors use the partner portal"),
        "{body}"
    );
}

#[tokio::test]
async fn bad_credentials_get_401_with_invalid_token() {
    let setup = setup().await;
    let app = &setup.app;
    let (status, headers, _) = send(app, get_as("/", Some("not.a.jwt"))).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "an invalid token is refused even on public routes"
    );
    assert!(
        headers[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .contains("error=\"invalid_token\"")
    );

    let alice = setup.idp.mint_access_token("alice").unwrap();
    let twice = Request::get("/me")
        .header(header::AUTHORIZATION, format!("Bearer {alice}"))
        .header(header::AUTHORIZATION, format!("Bearer {alice}"))
        .body(Body::empty())
        .unwrap();
    let (status, _, _) = send(app, twice).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let foreign = DevIdp::builder().banner(false).start().await.unwrap();
    let forged = foreign.mint_access_token("alice").unwrap();
    let (status, _, _) = send(app, get_as("/me", Some(&forged))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn browsers_are_sent_to_login_and_shown_html() {
    let setup = setup().await;
    let browser = |path: &str, token: Option<&str>| {
        let mut request = get_as(path, token);
        request
            .headers_mut()
            .insert(header::ACCEPT, "text/html,*/*;q=0.8".parse().unwrap());
        request
    };
    let (status, headers, _) = send(&setup.app, browser("/me?tab=1", None)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[header::LOCATION], "/.zt/login?rd=/me%3Ftab%3D1");
    let bob = setup.idp.mint_access_token("bob").unwrap();
    let (status, headers, body) = send(&setup.app, browser("/admin", Some(&bob))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
    assert!(body.contains("<h1>403 Forbidden</h1>"), "{body}");
}

#[tokio::test]
async fn a_policy_swap_applies_to_the_next_request() {
    let setup = setup().await;
    let bob = setup.idp.mint_access_token("bob").unwrap();
    assert_eq!(
        send(&setup.app, get_as("/admin", Some(&bob))).await.0,
        StatusCode::FORBIDDEN
    );
    setup.policy.store(
        Engine::from_source("allow \"engineers\" when identity.groups has \"engineering\"\n")
            .unwrap(),
    );
    let (status, _, body) = send(&setup.app, get_as("/admin", Some(&bob))).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "admin bob"));
    assert_eq!(
        send(&setup.app, get_as("/", None)).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn spoofed_identity_headers_never_reach_the_service() {
    let setup = setup().await;
    let alice = setup.idp.mint_access_token("alice").unwrap();
    let mut request = get_as("/me/headers", Some(&alice));
    for (name, value) in [
        ("x-zt-assertion", "eyJhbGciOiJub25lIn0.e30."),
        ("X-Zt-Assertion", "second"),
        ("x-forwarded-user", "admin"),
    ] {
        request.headers_mut().append(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    let (status, _, body) = send(&setup.app, request).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "spoofed headers seen: 0")
    );
}

#[tokio::test]
async fn mtls_peer_identities_are_callers() {
    let setup = setup().await;
    let mut workload = Identity::new(
        IdentityKind::Workload,
        "spiffe://example.org/ns/ci/sa/deployer",
        "spiffe://example.org",
        jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1),
    );
    workload.groups = vec!["admins".into()];
    let mut request = get_as("/admin", None);
    request
        .extensions_mut()
        .insert(PeerIdentity(Arc::new(workload)));
    let (status, _, body) = send(&setup.app, request).await;
    assert_eq!(
        (status, body.as_str()),
        (
            StatusCode::OK,
            "admin spiffe://example.org/ns/ci/sa/deployer"
        )
    );
}

#[tokio::test]
async fn every_decision_is_audited_and_unauditable_requests_fail_closed() {
    let setup = setup().await;
    let alice = setup.idp.mint_access_token("alice").unwrap();
    let dave = setup.idp.mint_access_token("dave").unwrap();
    send(&setup.app, get_as("/", None)).await;
    send(&setup.app, get_as("/me", Some(&alice))).await;
    send(&setup.app, get_as("/me", Some(&dave))).await;
    send(&setup.app, get_as("/me", Some("bogus"))).await;

    // The memory sink sees events once the writer has taken them.
    let mut lines = Vec::new();
    for _ in 0..200 {
        lines = setup.log.lines();
        if lines.len() >= 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let events: Vec<serde_json::Value> = lines
        .iter()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let summary: Vec<(String, String, String)> = events
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap_or_default().to_owned(),
                e["actor"]["sub"].as_str().unwrap_or("-").to_owned(),
                e["decision"]["effect"].as_str().unwrap_or("-").to_owned(),
            )
        })
        .collect();
    let expected = [
        ("http.request", "-", "allow"),
        ("http.request", "alice", "allow"),
        ("http.request", "dave", "deny"),
        ("token.rejected", "-", "-"),
    ];
    assert_eq!(
        summary,
        expected.map(|(a, b, c)| (a.to_owned(), b.to_owned(), c.to_owned())),
        "{lines:#?}"
    );
    assert_eq!(events[2]["decision"]["rules"][0], "no-contractors");
    assert_eq!(events[1]["target"]["http"]["path"], "/me");
    assert_eq!(events[1]["target"]["http"]["host"], "app.example.com");

    // Without an audit log, nothing is allowed.
    let (sink, _) = MemorySink::new();
    let auditor = Auditor::builder(sink).start().unwrap();
    auditor.shutdown().await.unwrap();
    let app = Router::new().route("/", get(|| async { "welcome" })).layer(
        AuthLayer::builder()
            .policy(Engine::from_source(POLICY).unwrap())
            .auditor(auditor)
            .build()
            .unwrap(),
    );
    let (status, _, body) = send(&app, get_as("/", None)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
}

#[tokio::test]
async fn session_cookies_carry_the_access_token() {
    use zt_tower::session::{Session, SessionCookie, SessionKeys};
    let idp = DevIdp::builder().banner(false).start().await.unwrap();
    let verifier = Verifier::builder()
        .issuer(IssuerConfig::discover(idp.issuer()).audience("zt-dev"))
        .build()
        .await
        .unwrap();
    let cookie = SessionCookie::new(SessionKeys::generate().unwrap());
    let app = Router::new()
        .route(
            "/me",
            get(|caller: Authenticated| async move { caller.subject.clone() }),
        )
        .layer(
            AuthLayer::builder()
                .verifier(verifier)
                .policy(Engine::from_source(POLICY).unwrap())
                .accept_session(cookie.clone())
                .build()
                .unwrap(),
        );
    let now = jiff::Timestamp::now();
    let session = Session {
        subject: "alice".into(),
        issuer: idp.issuer().into(),
        session_id: Session::random_id().unwrap(),
        access_token: idp.mint_access_token("alice").unwrap(),
        refresh_token: None,
        id_token: None,
        access_token_expires_at: now + jiff::SignedDuration::from_mins(5),
        created_at: now,
        expires_at: now + jiff::SignedDuration::from_hours(8),
        email: None,
        name: None,
    };
    let set_cookie = cookie.to_set_cookie(&session).unwrap();
    let pair = set_cookie
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let with_cookie = |value: &str| {
        let mut request = get_as("/me", None);
        request.headers_mut().insert(
            header::COOKIE,
            format!("theme=dark; {value}").parse().unwrap(),
        );
        request
    };
    let (status, _, body) = send(&app, with_cookie(&pair)).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "alice"));

    // One flipped character: the cookie does not open, the request is unauthenticated.
    let mut tampered = pair.clone().into_bytes();
    let last = tampered.len() - 3;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert_eq!(
        send(&app, with_cookie(&tampered)).await.0,
        StatusCode::UNAUTHORIZED
    );
    // A cookie sealed by another deployment's keys does not open either.
    let foreign = SessionCookie::new(SessionKeys::generate().unwrap());
    let foreign_pair = foreign.to_set_cookie(&session).unwrap();
    let foreign_pair = foreign_pair.to_str().unwrap().split(';').next().unwrap();
    assert_eq!(
        send(&app, with_cookie(foreign_pair)).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn allowed_requests_carry_a_signed_assertion_the_upstream_verifies() {
    use zt_tower::assertion::{AssertionSigner, JWKS_PATH};
    let idp = DevIdp::builder().banner(false).start().await.unwrap();
    let verifier = Verifier::builder()
        .issuer(IssuerConfig::discover(idp.issuer()).audience("zt-dev"))
        .build()
        .await
        .unwrap();
    let signer = AssertionSigner::builder("https://proxy.example.com")
        .build()
        .unwrap();
    let upstream = assertion_upstream(&signer).await;
    let app = upstream.layer(
        AuthLayer::builder()
            .verifier(verifier)
            .policy(Engine::from_source(POLICY).unwrap())
            .assertion(signer, "grafana")
            .build()
            .unwrap(),
    );
    let alice = idp.mint_access_token("alice").unwrap();
    let mut request = get_as("/me", Some(&alice));
    request
        .headers_mut()
        .insert("x-zt-assertion", "forged".parse().unwrap());
    let (status, _, body) = send(&app, request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        format!("alice [\"admins\", \"engineering\"] {}", idp.issuer())
    );
    let (status, headers, body) = send(&app, get_as(JWKS_PATH, None)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/jwk-set+json");
    assert!(body.contains("\"ES256\""), "{body}");
}

#[tokio::test]
async fn a_client_cannot_strip_the_assertion_through_a_reverse_proxy() {
    use tower::ServiceExt;
    use zt_tower::assertion::AssertionSigner;
    use zt_tower::proxy::ReverseProxy;
    let idp = DevIdp::builder().banner(false).start().await.unwrap();
    let signer = AssertionSigner::builder("https://proxy.example.com")
        .build()
        .unwrap();
    let upstream = assertion_upstream(&signer).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, upstream).await.unwrap() });

    let verifier = Verifier::builder()
        .issuer(IssuerConfig::discover(idp.issuer()).audience("zt-dev"))
        .build()
        .await
        .unwrap();
    let layer = AuthLayer::builder()
        .verifier(verifier)
        .policy(Engine::from_source(POLICY).unwrap())
        .assertion(signer, "grafana")
        .build()
        .unwrap();
    let proxy = tower::ServiceBuilder::new()
        .layer(layer)
        .service(ReverseProxy::builder([url]).build().unwrap());
    let alice = idp.mint_access_token("alice").unwrap();
    let mut request = get_as("/me", Some(&alice));
    request
        .headers_mut()
        .insert(header::CONNECTION, "close, x-zt-assertion".parse().unwrap());
    let response = proxy.oneshot(request).await.unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(Body::new(response.into_body()), 1 << 16)
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK, "{body:?}");
    assert!(body.starts_with(b"alice "), "{body:?}");
}

/// An upstream that accepts only the proxy's assertions (signed by `signer`, for audience
/// `grafana`) and answers `/me` with the asserted subject, groups and issuer.
async fn assertion_upstream(signer: &zt_tower::assertion::AssertionSigner) -> Router {
    use zt_tower::assertion::{AssertionLayer, upstream_issuer_config};
    let verifier = Verifier::builder()
        .issuer(upstream_issuer_config(
            IssuerConfig::jwks_inline("https://proxy.example.com", signer.jwks().to_string()),
            "grafana",
        ))
        .build()
        .await
        .unwrap();
    Router::new()
        .route(
            "/me",
            get(
                |axum::Extension(identity): axum::Extension<Arc<Identity>>| async move {
                    format!(
                        "{} {:?} {}",
                        identity.subject, identity.groups, identity.issuer
                    )
                },
            ),
        )
        .layer(AssertionLayer::new(verifier))
}
