//! The full per-request path through zt's `AuthLayer` (cached token -> identity -> policy
//! decision -> audit record -> trivial inner service), next to a published JWT-validation
//! layer (`tower-oauth2-resource-server`, validation only) on the same token; and the
//! cold path (every request checks the ES256 signature) next to the bare signature check.
//!
//! Targets (issue 5): zt's cached path median under 3 µs. Setup runs a `zt_dev_idp` OpenID
//! provider on the bench's runtime; both layers find its keys through OIDC discovery and
//! see the same access token (alice, audience `zt-dev`, ES256). Before measuring, every
//! stack must answer 200 for the token and 401 for a tampered copy, and zt's policy must
//! allow it by the rule that reads `identity.groups`, `request.host` and `request.path`
//! (and refuse the same caller on another host).
//!
//! Groups: `layer/{zt_cached,tower_oauth2_resource_server,zt_cold,es256_signature_only}`,
//! and the diagnostic `layer/zt_cached_unaudited` (the cached path without an auditor).
//! Note the baseline has no verified-token cache: it checks the signature on every
//! request, so `zt_cold` is its like-for-like counterpart. Requests are built outside the
//! timed section (`iter_batched`); the service clone and `oneshot` (what axum does per
//! request) are timed. Run:
//! `cargo bench -p zt-benches --bench layer`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::convert::Infallible;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::signature::{self as sig, ParsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use criterion::measurement::WallTime;
use criterion::{BatchSize, BenchmarkGroup, Criterion, criterion_group, criterion_main};
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::Empty;
use tokio::runtime::Runtime;
use tower::{Layer, Service, ServiceExt, service_fn};
use tower_oauth2_resource_server::server::OAuth2ResourceServer;
use tower_oauth2_resource_server::tenant::TenantConfiguration;
use zt_benches::DiscardSink;
use zt_core::audit::{Auditor, OverflowPolicy};
use zt_core::identity::{DEFAULT_CACHE_BYTES, Identity, IssuerConfig, Verifier};
use zt_core::policy::Engine;
use zt_dev_idp::{DevIdp, RunningDevIdp, SigningAlg};
use zt_tower::{AccessDecision, AuthLayer};

const AUDIENCE: &str = "zt-dev";
const HOST: &str = "grafana.example.com";
const PATH: &str = "/d/f3b1c9/service-overview?orgId=1&refresh=30s";
/// The rule that must allow the measured request (alice is in `engineering`).
const ALLOWING_RULE: &str = "eng-grafana-dashboards";

/// Twenty per-host and per-group rules, as a small organisation's policy might read.
const POLICY: &str = r#"
timezone "Europe/Berlin"

deny "contractors-no-infra" reason "contractors cannot use infrastructure tools"
  when identity.groups has "contractors"
   and request.host in ["jenkins.example.com", "vault.example.com", "admin.example.com"]
deny "admin-area" reason "the admin area is for admins"
  when request.path starts_with "/admin" and not identity.groups has "admins"
deny "prod-api-deletes" reason "deleting through the production API needs the sre group"
  when request.host == "api.prod.example.com" and request.method == "DELETE"
   and not identity.groups has "sre"

allow "eng-grafana-dashboards"
  when identity.groups has "engineering"
   and request.host == "grafana.example.com"
   and request.method in ["GET", "HEAD"]
   and request.path starts_with "/d/"
allow "ops-grafana" when identity.groups has "ops" and request.host == "grafana.example.com"
allow "eng-kibana" when identity.groups has "engineering" and request.host == "kibana.example.com"
allow "ops-kibana" when identity.groups has-any ["ops", "sre"] and request.host == "kibana.example.com"
allow "ci" when identity.groups has-any ["engineering", "release"]
  and request.host == "jenkins.example.com"
allow "wiki" when identity.authenticated and request.host == "wiki.example.com"
allow "git-eng" when identity.groups has "engineering" and request.host == "git.example.com"
allow "git-partners-read"
  when identity.groups has "contractors" and request.host == "git.example.com"
   and request.method == "GET" and request.path starts_with "/partners/"
allow "vault-sre" when identity.groups has "sre" and request.host == "vault.example.com"
allow "admin-console" when identity.groups has "admins" and request.host == "admin.example.com"
allow "api-read" when identity.authenticated and request.host == "api.prod.example.com"
  and request.method == "GET"
allow "api-write-eng"
  when identity.groups has "engineering" and request.host == "api.prod.example.com"
   and request.method in ["POST", "PUT", "PATCH"]
# zt-lint: allow allow-without-identity
allow "status-page" when request.host == "status.example.com"
# zt-lint: allow allow-without-identity
allow "health" when request.path == "/healthz"
allow "pager-oncall-workdays"
  when identity.groups has "oncall" and request.host == "pager.example.com"
   and time.weekday in mon..fri
allow "crm-support" when identity.groups has "support" and request.host matches "*.crm.example.com"
allow "metrics-scrape"
  when identity.groups has "monitoring" and request.path starts_with "/metrics"
   and request.source_ip in "10.0.0.0/8"
"#;

type Body = Empty<Bytes>;

/// The inner service every stack wraps: an empty 200.
fn ok(_: Request<Body>) -> std::future::Ready<Result<Response<Body>, Infallible>> {
    std::future::ready(Ok(Response::new(Body::new())))
}

/// A browser-like GET of a Grafana dashboard with this bearer credential.
fn request(authorization: &HeaderValue) -> Request<Body> {
    Request::get(PATH)
        .header(header::HOST, HOST)
        .header(header::AUTHORIZATION, authorization.clone())
        .header(
            header::USER_AGENT,
            "Mozilla/5.0 (X11; Linux x86_64; rv:128.0)",
        )
        .header(header::ACCEPT, "application/json")
        .header("x-request-id", "4bf92f3577b34da6a3ce929d0e0e4736")
        .body(Body::new())
        .unwrap()
}

fn bearer(token: &str) -> HeaderValue {
    HeaderValue::try_from(format!("Bearer {token}")).unwrap()
}

/// The token with one signature byte changed.
fn tampered(token: &str) -> String {
    let (signing_input, signature) = token.rsplit_once('.').unwrap();
    let mut bytes = URL_SAFE_NO_PAD.decode(signature).unwrap();
    bytes[10] ^= 0x01;
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// Calls `service` once (on a clone, as axum does) and returns the status.
async fn status<S, B>(service: &S, authorization: &HeaderValue) -> StatusCode
where
    S: Service<Request<Body>, Response = Response<B>, Error = Infallible> + Clone,
{
    let response = service
        .clone()
        .oneshot(request(authorization))
        .await
        .unwrap();
    response.status()
}

async fn zt_verifier(idp: &RunningDevIdp, cache_bytes: u64) -> Verifier {
    Verifier::builder()
        .issuer(
            IssuerConfig::discover(idp.issuer())
                .audience(AUDIENCE)
                .refresh_interval(Duration::from_secs(3600)),
        )
        .cache_bytes(cache_bytes)
        .build()
        .await
        .unwrap()
}

fn zt_layer(verifier: Verifier, engine: Engine, auditor: &Auditor) -> AuthLayer {
    AuthLayer::builder()
        .verifier(verifier)
        .policy(engine)
        .auditor(auditor.clone())
        .build()
        .unwrap()
}

/// The issuer's current ES256 key, parsed once with aws-lc-rs: the bare check.
fn parsed_es256_key(idp: &RunningDevIdp) -> ParsedPublicKey {
    let kid = idp.current_kid(SigningAlg::Es256).unwrap();
    let jwks = idp.jwks();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .unwrap();
    let coordinate = |name: &str| URL_SAFE_NO_PAD.decode(jwk[name].as_str().unwrap()).unwrap();
    let mut point = vec![4];
    point.extend(coordinate("x"));
    point.extend(coordinate("y"));
    ParsedPublicKey::new(&sig::ECDSA_P256_SHA256_FIXED, point).unwrap()
}

/// Checks what an allowed request carries to the inner service: alice, and the rule.
async fn check_zt_decision(layer: &AuthLayer, authorization: &HeaderValue) {
    let checking = layer.layer(service_fn(|request: Request<Body>| async move {
        let identity = request.extensions().get::<Arc<Identity>>().unwrap();
        let decision = request.extensions().get::<AccessDecision>().unwrap();
        assert_eq!(identity.subject, "alice");
        assert!(identity.in_group("engineering"), "{:?}", identity.groups);
        assert_eq!(decision.rules, [ALLOWING_RULE]);
        Ok::<_, Infallible>(Response::new(Body::new()))
    }));
    assert_eq!(status(&checking, authorization).await, StatusCode::OK);
    // The policy is enforced, not just evaluated: another host is refused.
    let mut elsewhere = request(authorization);
    elsewhere
        .headers_mut()
        .insert(header::HOST, HeaderValue::from_static("vault.example.com"));
    let response = checking.clone().oneshot(elsewhere).await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

/// Times one request through `service` (a clone per request, as axum does); the request
/// is built outside the timed section.
fn bench_service<S, B>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    runtime: &Runtime,
    name: &str,
    service: &S,
    authorization: &HeaderValue,
) where
    S: Service<Request<Body>, Response = Response<B>, Error = Infallible> + Clone,
{
    group.bench_function(name, |b| {
        b.to_async(runtime).iter_batched(
            || request(authorization),
            |request| {
                let service = service.clone();
                async move {
                    let response = service.oneshot(request).await.unwrap();
                    assert_eq!(response.status(), StatusCode::OK);
                    response
                }
            },
            BatchSize::SmallInput,
        )
    });
}

fn bench_layer(c: &mut Criterion) {
    let runtime: Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let idp = runtime.block_on(async {
        DevIdp::builder()
            .banner(false)
            .access_token_ttl(Duration::from_secs(6 * 3600))
            .start()
            .await
            .unwrap()
    });
    let token = idp.mint_access_token("alice").unwrap();
    eprintln!(
        "layer: alice's ES256 access token is {} bytes; AuditEvent is {} bytes",
        token.len(),
        std::mem::size_of::<zt_core::audit::AuditEvent>()
    );
    let good = bearer(&token);
    let bad = bearer(&tampered(&token));

    // Blocks rather than failing closed if the writer thread falls behind: every
    // measured request is recorded and answered 200, never 503.
    let auditor = Auditor::builder(DiscardSink)
        .overflow(OverflowPolicy::Block)
        .start()
        .unwrap();
    let engine = || Engine::from_source(POLICY).unwrap();
    assert_eq!(engine().rule_count(), 20);

    let (zt_cached, zt_unaudited, zt_cold, baseline) = runtime.block_on(async {
        let cached_verifier = zt_verifier(&idp, DEFAULT_CACHE_BYTES).await;
        let cold_verifier = zt_verifier(&idp, 0).await;
        // The token is verified once before measuring; the layer shares this cache.
        cached_verifier.verify(&token).await.unwrap();
        let unaudited_layer = AuthLayer::builder()
            .verifier(cached_verifier.clone())
            .policy(engine())
            .build()
            .unwrap();
        let cached_layer = zt_layer(cached_verifier, engine(), &auditor);
        let cold_layer = zt_layer(cold_verifier, engine(), &auditor);
        check_zt_decision(&cached_layer, &good).await;
        check_zt_decision(&cold_layer, &good).await;
        check_zt_decision(&unaudited_layer, &good).await;

        let tenant = TenantConfiguration::builder(idp.issuer())
            .audiences(&[AUDIENCE])
            .jwks_refresh_interval(Duration::from_secs(3600))
            .build()
            .await
            .unwrap();
        let server = <OAuth2ResourceServer>::builder()
            .add_tenant(tenant)
            .build()
            .await
            .unwrap();
        let baseline = server.into_layer::<Body>().layer(service_fn(ok));
        // Its keys arrive from a background task: wait for the first 200.
        let mut tries = 0;
        while status(&baseline, &good).await != StatusCode::OK {
            tries += 1;
            assert!(
                tries < 500,
                "tower-oauth2-resource-server never accepted the token"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        (
            cached_layer.layer(service_fn(ok)),
            unaudited_layer.layer(service_fn(ok)),
            cold_layer.layer(service_fn(ok)),
            baseline,
        )
    });

    runtime.block_on(async {
        assert_eq!(status(&zt_cached, &good).await, StatusCode::OK);
        assert_eq!(status(&zt_cached, &bad).await, StatusCode::UNAUTHORIZED);
        assert_eq!(status(&zt_unaudited, &good).await, StatusCode::OK);
        assert_eq!(status(&zt_unaudited, &bad).await, StatusCode::UNAUTHORIZED);
        assert_eq!(status(&zt_cold, &good).await, StatusCode::OK);
        assert_eq!(status(&zt_cold, &bad).await, StatusCode::UNAUTHORIZED);
        assert_eq!(status(&baseline, &good).await, StatusCode::OK);
        assert_eq!(status(&baseline, &bad).await, StatusCode::UNAUTHORIZED);
    });

    let key = parsed_es256_key(&idp);
    let (signing_input, signature) = token.rsplit_once('.').unwrap();
    let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
    key.verify_sig(signing_input.as_bytes(), &signature)
        .unwrap();
    assert!(
        key.verify_sig(
            signing_input.as_bytes(),
            &URL_SAFE_NO_PAD
                .decode(tampered(&token).rsplit_once('.').unwrap().1)
                .unwrap()
        )
        .is_err()
    );
    let queued_before = auditor.stats().queued;

    let mut group = c.benchmark_group("layer");
    bench_service(&mut group, &runtime, "zt_cached", &zt_cached, &good);
    bench_service(
        &mut group,
        &runtime,
        "tower_oauth2_resource_server",
        &baseline,
        &good,
    );
    bench_service(&mut group, &runtime, "zt_cold", &zt_cold, &good);
    group.bench_function("es256_signature_only", |b| {
        b.iter(|| key.verify_sig(black_box(signing_input.as_bytes()), black_box(&signature)))
    });
    // Diagnostic: the cached path without an auditor (identity and policy only).
    bench_service(
        &mut group,
        &runtime,
        "zt_cached_unaudited",
        &zt_unaudited,
        &good,
    );
    group.finish();

    let stats = runtime.block_on(async {
        auditor.flush().await.unwrap();
        auditor.shutdown().await.unwrap()
    });
    assert_eq!(stats.failed, 0);
    // Shutdown seals the log with one event of its own.
    assert_eq!(stats.written, stats.queued + 1);
    eprintln!(
        "layer: {} audit events recorded while measuring (all written, none failed)",
        stats.queued - queued_before
    );
    drop(idp);
}

criterion_group!(benches, bench_layer);
criterion_main!(benches);
