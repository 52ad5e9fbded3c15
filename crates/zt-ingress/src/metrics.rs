//! Prometheus metrics: requests, latency, decisions by effect and rule, upstream errors,
//! config reloads and open connections, served as text at `/metrics`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use zt_core::policy::{Decision, Effect};
use zt_tower::DecisionObserver;
use zt_tower::proxy::UpstreamError;

/// A label value shared without copying (route names, rule ids).
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct Label(pub Arc<str>);

impl EncodeLabelValue for Label {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> Result<(), std::fmt::Error> {
        encoder.write_str(&self.0)
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: Label,
    code: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: Label,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionLabels {
    route: Label,
    effect: &'static str,
    rule: Label,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UpstreamLabels {
    route: Label,
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReloadLabels {
    result: &'static str,
}

/// The ingress's metrics and their registry.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    decisions: Family<DecisionLabels, Counter>,
    upstream_errors: Family<UpstreamLabels, Counter>,
    reloads: Family<ReloadLabels, Counter>,
    connections: Gauge,
}

fn latency_histogram() -> Histogram {
    // 100 µs to ~3.3 s.
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
}

impl Metrics {
    /// Registers every metric (names prefixed `zt_ingress_`).
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("zt_ingress");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: Family<RouteLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(latency_histogram);
        let decisions = Family::<DecisionLabels, Counter>::default();
        let upstream_errors = Family::<UpstreamLabels, Counter>::default();
        let reloads = Family::<ReloadLabels, Counter>::default();
        let connections = Gauge::default();
        registry.register(
            "requests",
            "Requests answered, by route and status code",
            requests.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time from request head to response head, by route",
            latency.clone(),
        );
        registry.register(
            "decisions",
            "Policy decisions, by route, effect and first matching rule",
            decisions.clone(),
        );
        registry.register(
            "upstream_errors",
            "Requests the upstream failed (unavailable or timeout), by route",
            upstream_errors.clone(),
        );
        registry.register(
            "config_reloads",
            "Configuration reloads, by result",
            reloads.clone(),
        );
        registry.register(
            "open_connections",
            "Client connections open now",
            connections.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            decisions,
            upstream_errors,
            reloads,
            connections,
        }
    }

    /// Counts one answered request of `route` (`-` when no route matched).
    pub fn request(
        &self,
        route: &Label,
        code: u16,
        elapsed: Duration,
        upstream: Option<UpstreamError>,
    ) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.clone(),
                code,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                route: route.clone(),
            })
            .observe(elapsed.as_secs_f64());
        if let Some(error) = upstream {
            let kind = match error {
                UpstreamError::Timeout => "timeout",
                _ => "unavailable",
            };
            self.upstream_errors
                .get_or_create(&UpstreamLabels {
                    route: route.clone(),
                    kind,
                })
                .inc();
        }
    }

    /// Counts a configuration reload.
    pub fn reload(&self, ok: bool) {
        self.reloads
            .get_or_create(&ReloadLabels {
                result: if ok { "ok" } else { "error" },
            })
            .inc();
    }

    /// The open-connections gauge.
    pub fn connections(&self) -> &Gauge {
        &self.connections
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
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Counts one route's policy decisions.
#[derive(Debug)]
pub struct RouteDecisions {
    route: Label,
    metrics: Arc<Metrics>,
    /// The rule label for decisions no rule matched.
    none: Label,
    /// Rule-id labels, made once per rule (the ids come from the route's policy).
    rules: RwLock<HashMap<Box<str>, Label>>,
}

impl RouteDecisions {
    /// Counts decisions of `route` in `metrics`.
    pub fn new(route: Label, metrics: Arc<Metrics>) -> Self {
        Self {
            route,
            metrics,
            none: Label(Arc::from("")),
            rules: RwLock::new(HashMap::new()),
        }
    }

    fn rule(&self, id: &str) -> Label {
        if let Some(label) = self
            .rules
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
        {
            return label.clone();
        }
        self.rules
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(Box::from(id))
            .or_insert_with(|| Label(Arc::from(id)))
            .clone()
    }
}

impl DecisionObserver for RouteDecisions {
    fn decided(&self, decision: &Decision<'_>) {
        let effect = match decision.effect() {
            Effect::Allow => "allow",
            _ => "deny",
        };
        let rule = decision
            .rules()
            .next()
            .map_or_else(|| self.none.clone(), |rule| self.rule(rule));
        self.metrics
            .decisions
            .get_or_create(&DecisionLabels {
                route: self.route.clone(),
                effect,
                rule,
            })
            .inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_requests_and_reloads() {
        let metrics = Metrics::new();
        let route = Label(Arc::from("app"));
        metrics.request(&route, 200, Duration::from_millis(3), None);
        metrics.request(
            &route,
            504,
            Duration::from_secs(30),
            Some(UpstreamError::Timeout),
        );
        metrics.reload(true);
        let text = metrics.encode();
        assert!(
            text.contains("zt_ingress_requests_total{route=\"app\",code=\"200\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("zt_ingress_upstream_errors_total{route=\"app\",kind=\"timeout\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("zt_ingress_config_reloads_total{result=\"ok\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("zt_ingress_request_duration_seconds_bucket"),
            "{text}"
        );
    }
}
