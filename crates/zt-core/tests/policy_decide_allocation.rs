//! The steady-state decision does not touch the heap: with a counting global allocator
//! installed, 10,000 decisions over a policy that uses every kind of predicate (index
//! buckets, groups, CIDRs, globs, regexes, claims, time windows in a DST timezone)
//! allocate, reallocate and free nothing.
//!
//! This file holds a single test so that no other test allocates concurrently.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::alloc::System;
use std::hint::black_box;

use serde_json::json;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use zt_core::policy::{Effect, Engine, RequestFixture};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const POLICY: &str = r#"
timezone "Europe/Berlin"

allow "eng-dashboards-read"
  when identity.groups has "engineering"
   and request.host == "grafana.example.com"
   and request.method in ["GET", "HEAD"]
   and time.weekday in mon..fri
   and time.hour in 8..18

allow "sre-write"
  when identity.groups has-any ["sre", "oncall"]
   and request.host matches "**.example.com"
   and request.source_ip in ["10.20.0.0/16", "2001:db8:20::/48"]

allow "api-versioned"
  when identity.domain == "example.com"
   and request.path ~ /\/api\/v[0-9]+\/.*/
   and identity.claims.amr has "mfa"
   and identity.auth_age < 12h

allow "payments-dev"
  when identity.groups has "payments-dev"
   and kube.namespace in ["payments", "payments-staging"]
   and kube.verb in ["get", "list", "watch"]

allow "ops-ssh" until "2099-01-01T00:00:00Z"
  when identity.groups has "ops"
   and ssh.login in ["ubuntu", "deploy"]
   and ssh.host matches "*.prod.internal"
   and ssh.port == 22

deny "admin-area"
  reason "the admin area is for admins"
  when request.path starts_with "/admin"
   and not identity.groups has "admins"

deny "suspended"
  when identity.claims.status == "suspended"
"#;

fn requests() -> Vec<RequestFixture> {
    let identity = json!({
        "sub": "alice", "email": "alice@Example.com", "email_verified": true,
        "groups": ["engineering", "sre", "payments-dev", "ops"],
        "auth_time": "2026-11-23T08:00:00Z",
        "claims": {"amr": ["pwd", "mfa"], "status": "active"}
    });
    [
        json!({"now": "2026-11-23T09:30:00+01:00", "identity": identity,
               "request": {"method": "GET", "host": "grafana.example.com", "path": "/d/x",
                           "source_ip": "192.0.2.1"}}),
        json!({"now": "2026-11-28T23:00:00Z", "identity": identity,
               "request": {"method": "POST", "host": "Grafana.Example.com", "path": "/api/v2/x",
                           "source_ip": "2001:db8:20::7"}}),
        json!({"now": "2026-10-25T01:30:00Z", "identity": identity,
               "request": {"method": "GET", "host": "wiki.example.com", "path": "/admin/users",
                           "source_ip": "203.0.113.9"}}),
        json!({"now": "2026-11-23T12:00:00Z",
               "request": {"method": "GET", "host": "grafana.example.com", "path": "/"}}),
        json!({"now": "2026-11-23T12:00:00Z", "identity": identity,
               "kube": {"verb": "list", "resource": "pods", "namespace": "payments"}}),
        json!({"now": "2026-11-23T12:00:00Z", "identity": identity,
               "ssh": {"login": "ubuntu", "host": "web1.prod.internal", "channel": "session",
                       "command": "uptime"}}),
    ]
    .iter()
    .map(|document| RequestFixture::from_json(document, None).unwrap())
    .collect()
}

#[test]
fn ten_thousand_decisions_do_not_touch_the_heap() {
    let engine = Engine::from_source(POLICY).unwrap();
    let fixtures = requests();
    let contexts: Vec<_> = fixtures.iter().map(RequestFixture::context).collect();
    let decide = |count: usize| {
        let mut allowed = 0usize;
        let mut matched = 0usize;
        for index in 0..count {
            let decision = engine.decide(black_box(&contexts[index % contexts.len()]));
            allowed += usize::from(decision.effect() == Effect::Allow);
            matched += decision.rules().len();
            black_box(decision.reason());
        }
        (allowed, matched)
    };
    // Warm-up: lazily initialised state (regex caches, time zone lookups) settles here.
    let warm = decide(contexts.len() * 2);
    assert!(
        warm.0 > 0 && warm.0 < contexts.len() * 2,
        "a mix of allows and denies: {warm:?}"
    );

    let region = Region::new(GLOBAL);
    let (allowed, matched) = decide(10_000);
    let stats = region.change();
    assert_eq!(stats.allocations, 0, "{stats:?}");
    assert_eq!(stats.reallocations, 0, "{stats:?}");
    assert_eq!(stats.deallocations, 0, "{stats:?}");
    assert!(allowed > 0 && matched > 0);
}
