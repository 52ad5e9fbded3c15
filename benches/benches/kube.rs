//! What the kube proxy adds to a Kubernetes request: the same requests to the stand-in
//! API server (crates/zt-kube/tests/support/apiserver.rs) direct and through zt's kube
//! proxy (token verified, policy decided, audited, impersonation added), side by side.
//!
//! - `get`: one pod; `list`: 500 pods; `watch`: from a pod's creation to its event at the
//!   client, over an open watch.
//!
//! Before criterion's runs it prints p50 and p99 of each case from 2,000 sequential
//! requests (200 watch events), and the difference: the latency the proxy adds.
//!
//! `cargo bench -p zt-benches --bench kube`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "../../crates/zt-kube/tests/support"]
#[allow(dead_code, unreachable_pub)]
mod support {
    pub mod apiserver;
}

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http::{HeaderValue, Request};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use support::apiserver::{self, StandIn, StandInConfig};
use tokio::runtime::Runtime;
use tower::Layer;
use zt_core::audit::{Auditor, MemorySink};
use zt_core::identity::{IssuerConfig, Verifier};
use zt_core::policy::Engine;
use zt_dev_idp::DevIdp;
use zt_kube::user::UserMapping;
use zt_kube::{KubeProxy, KubeRequestLayer};
use zt_tower::{AuthLayer, PolicyHandle};

const POLICY: &str = r#"
allow "read-pods"
  when identity.groups has "engineering"
   and kube.resource == "pods"
   and kube.verb in ["get", "list", "watch"]
"#;

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// The stand-in, the proxy in front of it, and how to reach each.
struct Bench {
    stand_in: StandIn,
    client: HttpsClient,
    direct: Target,
    proxied: Target,
    /// Keeps the IdP (discovery, keys) running.
    _idp: zt_dev_idp::RunningDevIdp,
}

/// Where to send a request and with which headers: direct requests carry what the proxy
/// would send (its token and the impersonation), so the stand-in does the same work.
struct Target {
    base: String,
    headers: Vec<(&'static str, HeaderValue)>,
}

impl Target {
    fn request(&self, path: &str) -> Request<Empty<Bytes>> {
        let mut request = Request::get(format!("{}{path}", self.base));
        for (name, value) in &self.headers {
            request = request.header(*name, value.clone());
        }
        request.body(Empty::new()).unwrap()
    }
}

async fn setup() -> Bench {
    let idp = DevIdp::builder()
        .banner(false)
        .access_token_audience("kubernetes")
        .start()
        .await
        .unwrap();
    let config = StandInConfig {
        pods: (0..500)
            .map(|i| ("demo".to_owned(), format!("pod-{i:03}")))
            .collect(),
        ..StandInConfig::default()
    };
    let stand_in = StandIn::start(config).await.unwrap();
    let stand_in_ca = CertificateDer::from_pem_slice(stand_in.ca_pem.as_bytes()).unwrap();

    let verifier = Verifier::builder()
        .issuer(IssuerConfig::discover(idp.issuer()).audience("kubernetes"))
        .build()
        .await
        .unwrap();
    let auditor = Auditor::builder(MemorySink::default()).start().unwrap();
    let proxy = KubeProxy::builder(stand_in.url())
        .cluster_ca(stand_in_ca.clone())
        .token(&stand_in.token)
        .users(UserMapping::default().username_claim("email"))
        .build()
        .unwrap();
    let auth = AuthLayer::builder()
        .verifier(verifier)
        .policy(PolicyHandle::new(Engine::from_source(POLICY).unwrap()))
        .auditor(auditor.clone())
        .build()
        .unwrap();
    let service = KubeRequestLayer::new(Some(auditor)).layer(auth.layer(proxy));
    let tls = apiserver::tls::generate().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_addr = listener.local_addr().unwrap();
    tokio::spawn(zt_kube::serve::serve(
        listener,
        Some(tokio_rustls::TlsAcceptor::from(tls.config)),
        service,
        std::future::pending(),
    ));

    let mut roots = rustls::RootCertStore::empty();
    roots.add(stand_in_ca).unwrap();
    roots
        .add(CertificateDer::from_pem_slice(tls.ca_pem.as_bytes()).unwrap())
        .unwrap();
    let tls_client = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls_client)
        .https_only()
        .enable_http1()
        .build();
    let client = Client::builder(TokioExecutor::new()).build(connector);

    let token = idp.mint_access_token("alice").unwrap();
    let header = |value: &str| HeaderValue::from_str(value).unwrap();
    Bench {
        direct: Target {
            base: stand_in.url(),
            headers: vec![
                (
                    "authorization",
                    header(&format!("Bearer {}", stand_in.token)),
                ),
                ("impersonate-user", header("alice@example.com")),
                ("impersonate-group", header("engineering")),
                ("impersonate-group", header("admins")),
                ("impersonate-group", header("system:authenticated")),
            ],
        },
        proxied: Target {
            base: format!("https://{proxy_addr}"),
            headers: vec![("authorization", header(&format!("Bearer {token}")))],
        },
        stand_in,
        client,
        _idp: idp,
    }
}

const GET: &str = "/api/v1/namespaces/demo/pods/pod-042";
const LIST: &str = "/api/v1/namespaces/demo/pods";

/// One request, its whole body read.
async fn fetch(bench: &Bench, target: &Target, path: &str) -> usize {
    let response = bench.client.request(target.request(path)).await.unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .len()
}

async fn open_watch(bench: &Bench, target: &Target) -> hyper::body::Incoming {
    let path = format!("{LIST}?watch=true&resourceVersion={}", u32::MAX);
    let response = bench.client.request(target.request(&path)).await.unwrap();
    assert!(response.status().is_success());
    response.into_body()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// p50 and p99 of direct and proxied, and the difference, printed as a table row.
fn report(case: &str, mut direct: Vec<Duration>, mut proxied: Vec<Duration>) {
    direct.sort();
    proxied.sort();
    let (d50, d99) = (percentile(&direct, 0.5), percentile(&direct, 0.99));
    let (p50, p99) = (percentile(&proxied, 0.5), percentile(&proxied, 0.99));
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "{case:<6} direct p50 {:>8.1} µs p99 {:>8.1} µs | proxy p50 {:>8.1} µs p99 {:>8.1} µs | added p50 {:>7.1} µs p99 {:>7.1} µs",
        us(d50),
        us(d99),
        us(p50),
        us(p99),
        us(p50) - us(d50),
        us(p99) - us(d99),
    );
}

/// Sequential samples of both targets, interleaved so drift hits both alike.
fn latency_table(runtime: &Runtime, bench: &Bench) {
    runtime.block_on(async {
        for (case, path, n) in [("get", GET, 2000), ("list", LIST, 500)] {
            for _ in 0..50 {
                fetch(bench, &bench.direct, path).await;
                fetch(bench, &bench.proxied, path).await;
            }
            let (mut direct, mut proxied) = (Vec::with_capacity(n), Vec::with_capacity(n));
            for _ in 0..n {
                let started = Instant::now();
                fetch(bench, &bench.direct, path).await;
                direct.push(started.elapsed());
                let started = Instant::now();
                fetch(bench, &bench.proxied, path).await;
                proxied.push(started.elapsed());
            }
            report(case, direct, proxied);
        }
        let mut direct_watch = open_watch(bench, &bench.direct).await;
        let mut proxied_watch = open_watch(bench, &bench.proxied).await;
        let (mut direct, mut proxied) = (Vec::new(), Vec::new());
        for i in 0..200 {
            // Both watches see the same new pod; each is timed from its creation.
            let name = format!("w-{i:03}");
            let started = Instant::now();
            bench.stand_in.add_pod("demo", &name);
            let (d, p) = tokio::join!(
                watch_until(&mut direct_watch, &name, started),
                watch_until(&mut proxied_watch, &name, started),
            );
            direct.push(d);
            proxied.push(p);
        }
        report("watch", direct, proxied);
    });
}

/// Reads `watch` until an event naming `name` arrives; the time since `started`.
async fn watch_until(watch: &mut hyper::body::Incoming, name: &str, started: Instant) -> Duration {
    loop {
        let frame = watch.frame().await.unwrap().unwrap();
        if let Some(data) = frame.data_ref()
            && data.windows(name.len()).any(|w| w == name.as_bytes())
        {
            return started.elapsed();
        }
    }
}

fn kube(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let bench = Arc::new(runtime.block_on(setup()));
    latency_table(&runtime, &bench);

    let mut group = c.benchmark_group("kube");
    for (case, path) in [("get", GET), ("list500", LIST)] {
        for (via, target) in [("direct", &bench.direct), ("proxy", &bench.proxied)] {
            group.bench_function(format!("{case}/{via}"), |b| {
                b.to_async(&runtime).iter(|| fetch(&bench, target, path));
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).measurement_time(Duration::from_secs(5));
    targets = kube
}
criterion_main!(benches);
