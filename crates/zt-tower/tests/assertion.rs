//! Identity assertions: what the proxy signs is what the upstream sees, and nothing else
//! (wrong audience, expired, tampered, foreign, missing or duplicated assertions) ever
//! reaches the upstream's handlers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::get;
use axum::{Extension, Router};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use tower::{Layer as _, ServiceExt as _, service_fn};
use zt_core::identity::{Identity, IdentityKind, IssuerConfig, Verifier, VerifyError};
use zt_tower::assertion::{
    AssertionLayer, AssertionSigner, DEFAULT_HEADER, GroupFilter, JWKS_PATH, SigningKey,
    upstream_issuer_config,
};

const PROXY: &str = "https://proxy.example";
const IDP: &str = "https://idp.example";
const UPSTREAM: &str = "orders";

fn alice() -> Identity {
    let mut identity = Identity::new(
        IdentityKind::User,
        "alice",
        IDP,
        Timestamp::now() + SignedDuration::from_hours(1),
    );
    identity.username = Some("alice.liddell".into());
    identity.email = Some("alice@example.com".into());
    identity.email_verified = true;
    identity.groups = vec!["staff".into(), "admins".into()];
    identity
}

fn signer() -> AssertionSigner {
    AssertionSigner::builder(PROXY).build().unwrap()
}

/// A layer trusting `signer`'s current JWKS (inline) for the upstream `audience`.
async fn layer(signer: &AssertionSigner, audience: &str) -> AssertionLayer {
    let keys = IssuerConfig::jwks_inline(PROXY, signer.jwks().to_string());
    AssertionLayer::for_proxy(keys, audience).await.unwrap()
}

/// Why a verifier configured like [`layer`] refuses `token` (the layer only logs it).
async fn reason(signer: &AssertionSigner, token: &str) -> VerifyError {
    let keys = IssuerConfig::jwks_inline(PROXY, signer.jwks().to_string());
    let verifier = Verifier::builder()
        .issuer(upstream_issuer_config(keys, UPSTREAM))
        .build()
        .await
        .unwrap();
    verifier.verify(token).await.unwrap_err()
}

/// The identity extension and headers of one request that reached the inner service.
type Seen = (Option<Arc<Identity>>, HeaderMap);

/// What the inner service saw of each request that reached it.
#[derive(Clone, Default)]
struct Upstream {
    calls: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Upstream {
    async fn call(&self, layer: &AssertionLayer, request: Request<Full<Bytes>>) -> Response<Bytes> {
        let upstream = self.clone();
        let inner = service_fn(move |request: Request<Full<Bytes>>| {
            let upstream = upstream.clone();
            async move {
                upstream.calls.fetch_add(1, Ordering::SeqCst);
                let identity = request.extensions().get::<Arc<Identity>>().cloned();
                upstream
                    .seen
                    .lock()
                    .unwrap()
                    .push((identity, request.headers().clone()));
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"inner"))))
            }
        });
        let response = layer.layer(inner).oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        Response::from_parts(parts, body.collect().await.unwrap().to_bytes())
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn last_identity(&self) -> Arc<Identity> {
        let seen = self.seen.lock().unwrap();
        seen.last()
            .unwrap()
            .0
            .clone()
            .expect("identity in extensions")
    }

    fn last_headers(&self) -> HeaderMap {
        self.seen.lock().unwrap().last().unwrap().1.clone()
    }
}

fn request(assertions: &[&str]) -> Request<Full<Bytes>> {
    let mut request = Request::builder()
        .uri("/orders")
        .header("accept", "application/json")
        .body(Full::new(Bytes::new()))
        .unwrap();
    for assertion in assertions {
        request
            .headers_mut()
            .append(DEFAULT_HEADER, HeaderValue::from_str(assertion).unwrap());
    }
    request
}

/// Sends `request`, expecting 401 from the layer and no call to the inner service.
async fn assert_refused(layer: &AssertionLayer, request: Request<Full<Bytes>>) {
    let upstream = Upstream::default();
    let response = upstream.call(layer, request).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()[CONTENT_TYPE], "application/problem+json");
    let problem: Value = serde_json::from_slice(response.body()).unwrap();
    assert_eq!(problem["status"], 401);
    assert_eq!(upstream.calls(), 0, "the inner service must not be called");
}

#[tokio::test]
async fn identity_arrives_in_extensions_and_round_trips() {
    let signer = signer();
    let layer = layer(&signer, UPSTREAM).await;
    let token = signer.sign(&alice(), UPSTREAM).unwrap();
    let upstream = Upstream::default();

    let response = upstream.call(&layer, request(&[&token])).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.body().as_ref(), b"inner");
    assert_eq!(upstream.calls(), 1);

    let identity = upstream.last_identity();
    let sent = alice();
    assert_eq!(identity.kind, IdentityKind::User);
    assert_eq!(identity.subject, sent.subject);
    assert_eq!(identity.issuer, IDP, "the original issuer, not the proxy");
    assert_eq!(identity.username, sent.username);
    assert_eq!(identity.email, sent.email);
    assert!(identity.email_verified);
    assert_eq!(identity.groups, ["admins", "staff"]);
    assert_eq!(identity.claims["iss"], PROXY);
    assert_eq!(identity.claims["aud"], UPSTREAM);
    assert_eq!(identity.claims["idp_iss"], IDP);
    assert!(identity.expires_at <= Timestamp::now() + SignedDuration::from_secs(60));

    // The handler does not see the assertion itself; other headers pass.
    let headers = upstream.last_headers();
    assert!(!headers.contains_key(DEFAULT_HEADER));
    assert_eq!(headers["accept"], "application/json");
}

#[tokio::test]
async fn unverified_email_and_workloads_round_trip() {
    let signer = signer();
    let layer = layer(&signer, UPSTREAM).await;
    let upstream = Upstream::default();

    let mut bob = alice();
    bob.email_verified = false;
    let token = signer.sign(&bob, UPSTREAM).unwrap();
    upstream.call(&layer, request(&[&token])).await;
    assert!(!upstream.last_identity().email_verified);

    let workload = Identity::new(
        IdentityKind::Workload,
        "spiffe://prod.example/ns/pay/sa/api",
        "spiffe://prod.example",
        Timestamp::now() + SignedDuration::from_hours(1),
    );
    let token = signer.sign(&workload, UPSTREAM).unwrap();
    let response = upstream.call(&layer, request(&[&token])).await;
    assert_eq!(response.status(), StatusCode::OK);
    let identity = upstream.last_identity();
    assert_eq!(identity.kind, IdentityKind::Workload);
    assert_eq!(identity.subject, workload.subject);
    assert_eq!(identity.issuer, "spiffe://prod.example");
    assert_eq!(
        identity.spiffe_id.as_ref().map(|id| id.as_str()),
        Some("spiffe://prod.example/ns/pay/sa/api")
    );
    assert_eq!(identity.email, None);
    assert!(identity.groups.is_empty());
}

#[tokio::test]
async fn wrong_audience_is_refused() {
    let signer = signer();
    let layer = layer(&signer, UPSTREAM).await;
    let token = signer.sign(&alice(), "billing").unwrap();
    assert_eq!(reason(&signer, &token).await, VerifyError::WrongAudience);
    assert_refused(&layer, request(&[&token])).await;
}

#[tokio::test]
async fn expired_assertion_is_refused() {
    let signer = signer();
    let layer = layer(&signer, UPSTREAM).await;
    // Signed two minutes ago with a 60 s lifetime: expired beyond the 15 s leeway.
    let then = Timestamp::now() - SignedDuration::from_mins(2);
    let token = signer.sign_at(&alice(), UPSTREAM, then).unwrap();
    assert_eq!(reason(&signer, &token).await, VerifyError::Expired);
    assert_refused(&layer, request(&[&token])).await;

    // Within the leeway it is still accepted.
    let short = AssertionSigner::builder(PROXY)
        .key(SigningKey::generate().unwrap())
        .lifetime(Duration::from_secs(1))
        .build()
        .unwrap();
    let layer = self::layer(&short, UPSTREAM).await;
    let then = Timestamp::now() - SignedDuration::from_secs(5);
    let token = short.sign_at(&alice(), UPSTREAM, then).unwrap();
    let upstream = Upstream::default();
    let response = upstream.call(&layer, request(&[&token])).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn assertion_from_the_future_is_refused() {
    let signer = signer();
    let layer = layer(&signer, UPSTREAM).await;
    let later = Timestamp::now() + SignedDuration::from_mins(5);
    let token = signer.sign_at(&alice(), UPSTREAM, later).unwrap();
    assert_eq!(reason(&signer, &token).await, VerifyError::NotYetValid);
    assert_refused(&layer, request(&[&token])).await;
}

#[tokio::test]
async fn tampered_assertion_is_refused() {
    let signer = signer();
    let layer = layer(&signer, UPSTREAM).await;
    let token = signer.sign(&alice(), UPSTREAM).unwrap();
    let parts: Vec<&str> = token.split('.').collect();

    // Claims changed after signing: promote alice to another subject and group.
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["sub"] = json!("admin");
    claims["groups"] = json!(["admins", "root"]);
    let forged_payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let forged = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    assert_eq!(reason(&signer, &forged).await, VerifyError::BadSignature);
    assert_refused(&layer, request(&[&forged])).await;

    // A flipped signature bit.
    let mut signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    signature[10] ^= 1;
    let flipped = format!(
        "{}.{}.{}",
        parts[0],
        parts[1],
        URL_SAFE_NO_PAD.encode(signature)
    );
    assert_eq!(reason(&signer, &flipped).await, VerifyError::BadSignature);
    assert_refused(&layer, request(&[&flipped])).await;

    // Signature stripped, and `alg: none`.
    assert_refused(&layer, request(&[&format!("{}.{}.", parts[0], parts[1])])).await;
    let none = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    assert_refused(&layer, request(&[&format!("{none}.{}.", parts[1])])).await;

    // Garbage.
    assert_refused(&layer, request(&["not-a-jwt"])).await;
}

#[tokio::test]
async fn foreign_key_is_refused() {
    let signer = signer();
    let layer = layer(&signer, UPSTREAM).await;
    // Same issuer URL and claims, but another key.
    let impostor = AssertionSigner::builder(PROXY).build().unwrap();
    let token = impostor.sign(&alice(), UPSTREAM).unwrap();
    assert_eq!(reason(&signer, &token).await, VerifyError::UnknownKey);
    assert_refused(&layer, request(&[&token])).await;

    // Another issuer altogether.
    let other = AssertionSigner::builder("https://other-proxy.example")
        .build()
        .unwrap();
    let token = other.sign(&alice(), UPSTREAM).unwrap();
    assert_eq!(reason(&signer, &token).await, VerifyError::UntrustedIssuer);
    assert_refused(&layer, request(&[&token])).await;
}

#[tokio::test]
async fn missing_assertion_is_refused() {
    let signer = signer();
    let layer = layer(&signer, UPSTREAM).await;
    assert_refused(&layer, request(&[])).await;
    assert_refused(&layer, request(&[""])).await;
}

#[tokio::test]
async fn duplicated_assertion_is_refused() {
    let signer = signer();
    let layer = layer(&signer, UPSTREAM).await;
    let token = signer.sign(&alice(), UPSTREAM).unwrap();
    // The same valid assertion twice.
    assert_refused(&layer, request(&[&token, &token])).await;
    // A valid one and a forged one, the second spelled in another case.
    let mut request = request(&[&token]);
    request.headers_mut().append(
        HeaderName::from_bytes(b"X-ZT-Assertion").unwrap(),
        HeaderValue::from_static("forged"),
    );
    assert_refused(&layer, request).await;
}

#[tokio::test]
async fn custom_header_name_is_used_on_both_sides() {
    let name = HeaderName::from_static("x-identity");
    let signer = AssertionSigner::builder(PROXY)
        .header(name.clone())
        .build()
        .unwrap();
    let layer = layer(&signer, UPSTREAM).await.header(name.clone());
    let mut headers = HeaderMap::new();
    headers.insert(&name, HeaderValue::from_static("forged by the client"));
    headers.insert(DEFAULT_HEADER, HeaderValue::from_static("forged too"));
    assert_eq!(signer.apply(&mut headers, &alice(), UPSTREAM).unwrap(), 2);
    assert!(!headers.contains_key(DEFAULT_HEADER));

    let mut request = request(&[]);
    *request.headers_mut() = headers;
    let upstream = Upstream::default();
    let response = upstream.call(&layer, request).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(upstream.last_identity().subject, "alice");
    assert!(!upstream.last_headers().contains_key(&name));

    // The default header is not looked at any more.
    let token = signer.sign(&alice(), UPSTREAM).unwrap();
    assert_refused(&layer, self::request(&[&token])).await;
}

#[tokio::test]
async fn group_filter_and_truncation_reach_the_upstream() {
    let signer = AssertionSigner::builder(PROXY)
        .groups(GroupFilter::prefix("orders-").max(2))
        .build()
        .unwrap();
    let layer = layer(&signer, UPSTREAM).await;
    let upstream = Upstream::default();

    let mut identity = alice();
    identity.groups = vec![
        "orders-write".into(),
        "staff".into(),
        "orders-admin".into(),
        "orders-read".into(),
    ];
    let token = signer.sign(&identity, UPSTREAM).unwrap();
    upstream.call(&layer, request(&[&token])).await;
    let seen = upstream.last_identity();
    assert_eq!(seen.groups, ["orders-admin", "orders-read"]);
    assert_eq!(seen.claims["groups_truncated"], true);

    identity.groups.truncate(2);
    let token = signer.sign(&identity, UPSTREAM).unwrap();
    upstream.call(&layer, request(&[&token])).await;
    let seen = upstream.last_identity();
    assert_eq!(seen.groups, ["orders-write"]);
    assert!(!seen.claims.contains_key("groups_truncated"));
}

#[tokio::test]
async fn rotated_keys_verify_while_both_are_published() {
    let signer = signer();
    let old_token = signer.sign(&alice(), UPSTREAM).unwrap();
    signer.rotate(SigningKey::generate().unwrap());
    let new_token = signer.sign(&alice(), UPSTREAM).unwrap();
    assert_eq!(signer.jwks()["keys"].as_array().unwrap().len(), 2);

    // A verifier that loaded the JWKS after the rotation accepts both.
    let layer = layer(&signer, UPSTREAM).await;
    let upstream = Upstream::default();
    for token in [&old_token, &new_token] {
        let response = upstream.call(&layer, request(&[token])).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    assert_eq!(upstream.calls(), 2);

    // Once the previous key is retired, its assertions no longer verify.
    signer.retire_previous();
    assert_eq!(reason(&signer, &old_token).await, VerifyError::UnknownKey);
    let layer = self::layer(&signer, UPSTREAM).await;
    assert_refused(&layer, request(&[&old_token])).await;
    let response = upstream.call(&layer, request(&[&new_token])).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn jwks_served_over_loopback_verifies_and_follows_rotation() {
    let signer = signer();
    let proxy: Router = Router::new().route_service(JWKS_PATH, signer.jwks_service());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}{JWKS_PATH}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, proxy).await });

    let keys = IssuerConfig::jwks_url(PROXY, url).min_refresh_interval(Duration::from_secs(1));
    let verifier = Verifier::builder()
        .issuer(upstream_issuer_config(keys, UPSTREAM))
        .build()
        .await
        .unwrap();
    let layer = AssertionLayer::new(verifier);

    // An upstream axum app reading the identity in a handler.
    let app: Router = Router::new()
        .route(
            "/orders",
            get(|Extension(who): Extension<Arc<Identity>>| async move { who.subject.clone() }),
        )
        .layer(layer);
    let call = |token: String| {
        let app = app.clone();
        async move {
            let request = Request::builder()
                .uri("/orders")
                .header(DEFAULT_HEADER, token)
                .body(axum::body::Body::empty())
                .unwrap();
            let response = app.oneshot(request).await.unwrap();
            let status = response.status();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            (status, body)
        }
    };

    let (status, body) = call(signer.sign(&alice(), UPSTREAM).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.as_ref(), b"alice");

    // After a rotation the verifier fetches the new key on the first assertion naming it
    // (at most once per min_refresh_interval).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let old_token = signer.sign(&alice(), UPSTREAM).unwrap();
    signer.rotate(SigningKey::generate().unwrap());
    let (status, _) = call(signer.sign(&alice(), UPSTREAM).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(old_token).await;
    assert_eq!(status, StatusCode::OK);

    let (status, _) = call(String::from("forged")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    server.abort();
}
