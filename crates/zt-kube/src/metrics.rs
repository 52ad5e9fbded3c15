//! Prometheus metrics of the kube proxy: requests by verb and code, latency to the
//! response head by verb, policy decisions by effect and rule, policy reloads, served as
//! text with `/healthz` and `/readyz` by [`KubeMetrics::router`].

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use zt_core::policy::{Decision, Effect};
use zt_tower::DecisionObserver;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    verb: String,
    code: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VerbLabels {
    verb: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionLabels {
    effect: &'static str,
    rule: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReloadLabels {
    result: &'static str,
}

/// The kube proxy's metrics and their registry (names prefixed `zt_kube_proxy_`).
#[derive(Debug)]
pub struct KubeMetrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<VerbLabels, Histogram, fn() -> Histogram>,
    decisions: Family<DecisionLabels, Counter>,
    reloads: Family<ReloadLabels, Counter>,
}

/// Resource verbs, and the lower-case HTTP methods of non-resource requests.
const KNOWN_VERBS: [&str; 14] = [
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
    "proxy",
    "head",
    "options",
    "post",
    "put",
    "connect",
];

fn latency_histogram() -> Histogram {
    // 100 µs to ~3.3 s.
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
}

impl KubeMetrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("zt_kube_proxy");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: Family<VerbLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(latency_histogram);
        let decisions = Family::<DecisionLabels, Counter>::default();
        let reloads = Family::<ReloadLabels, Counter>::default();
        registry.register(
            "requests",
            "Requests answered, by Kubernetes verb and status code",
            requests.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time from request head to response head (for watches and exec: until the stream starts), by verb",
            latency.clone(),
        );
        registry.register(
            "decisions",
            "Policy decisions, by effect and first matching rule",
            decisions.clone(),
        );
        registry.register(
            "policy_reloads",
            "Policy reloads, by result",
            reloads.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            decisions,
            reloads,
        }
    }

    /// Counts one answered request. Verbs outside Kubernetes' own (a non-resource request
    /// with an invented HTTP method) are counted as `other`, so clients cannot create
    /// series at will.
    pub fn request(&self, verb: &str, code: u16, elapsed: Duration) {
        let verb = if KNOWN_VERBS.contains(&verb) {
            verb
        } else {
            "other"
        };
        self.requests
            .get_or_create(&RequestLabels {
                verb: verb.to_owned(),
                code,
            })
            .inc();
        self.latency
            .get_or_create(&VerbLabels {
                verb: verb.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// Counts a policy reload.
    pub fn policy_reloaded(&self, ok: bool) {
        self.reloads
            .get_or_create(&ReloadLabels {
                result: if ok { "ok" } else { "error" },
            })
            .inc();
    }

    /// The metrics in the Prometheus text format.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        if prometheus_client::encoding::text::encode(&mut text, &self.registry).is_err() {
            text.clear();
            let _ = writeln!(text, "# metrics could not be encoded");
        }
        text
    }

    /// `/metrics` (Prometheus text), `/healthz` and `/readyz`, for a listener of their own.
    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route(
                "/metrics",
                get(move || {
                    let metrics = Arc::clone(&self);
                    async move {
                        (
                            [(
                                http::header::CONTENT_TYPE,
                                "text/plain; version=0.0.4; charset=utf-8",
                            )],
                            metrics.encode(),
                        )
                    }
                }),
            )
            .route("/healthz", get(|| async { "ok\n" }))
            .route("/readyz", get(|| async { "ready\n" }))
    }
}

impl Default for KubeMetrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Counts the auth layer's decisions into [`KubeMetrics`].
#[derive(Clone, Debug)]
pub struct DecisionCounter(pub Arc<KubeMetrics>);

impl DecisionObserver for DecisionCounter {
    fn decided(&self, decision: &Decision<'_>) {
        let effect = match decision.effect() {
            Effect::Allow => "allow",
            _ => "deny",
        };
        self.0
            .decisions
            .get_or_create(&DecisionLabels {
                effect,
                rule: decision.rules().next().unwrap_or_default().to_owned(),
            })
            .inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_requests_decisions_and_reloads() {
        let metrics = Arc::new(KubeMetrics::new());
        metrics.request("list", 200, Duration::from_millis(3));
        metrics.request("delete", 403, Duration::from_millis(1));
        metrics.request("brew", 404, Duration::from_millis(1));
        metrics.request("steep", 404, Duration::from_millis(1));
        metrics.policy_reloaded(false);
        let engine = zt_core::policy::Engine::from_source("allow \"read\" when true\n");
        let engine = engine.unwrap_or_else(|e| panic!("{e}"));
        let context = zt_core::policy::RequestContext::http(jiff::Timestamp::now());
        DecisionCounter(Arc::clone(&metrics)).decided(&engine.decide(&context));
        let text = metrics.encode();
        for expected in [
            "zt_kube_proxy_requests_total{verb=\"list\",code=\"200\"} 1",
            "zt_kube_proxy_requests_total{verb=\"delete\",code=\"403\"} 1",
            "zt_kube_proxy_decisions_total{effect=\"allow\",rule=\"read\"} 1",
            "zt_kube_proxy_policy_reloads_total{result=\"error\"} 1",
            "zt_kube_proxy_requests_total{verb=\"other\",code=\"404\"} 2",
            "zt_kube_proxy_request_duration_seconds_bucket",
        ] {
            assert!(text.contains(expected), "{expected} in {text}");
        }
    }
}
