#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The operations listener: `/healthz` and `/readyz` answer, and `/metrics` counts
//! requests by route and code, decisions by effect and rule, and upstream errors (an
//! unreachable upstream is a 502, a slow one a 504 after the route's timeout).

#[path = "support/ingress.rs"]
mod support;

use std::time::{Duration, Instant};

use support::{
    TempDir, base_toml, closed_port, get, header_upstream, idp, metrics, route_toml, sample, start,
};

const POLICY: &str = r#"deny "admin-area" when request.path starts_with "/admin" and not identity.groups has "admins"
allow "signed-in" when identity.authenticated
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_decisions_and_upstream_errors_are_counted() {
    let idp = idp().await;
    let upstream = header_upstream().await;
    let dir = TempDir::new("metrics");
    let mut toml = base_toml(idp.issuer(), dir.path());
    toml.push_str(&route_toml("app", "app.test", &upstream, POLICY, ""));
    toml.push_str(&route_toml(
        "down",
        "down.test",
        &closed_port().await,
        POLICY,
        "",
    ));
    toml.push_str(&route_toml(
        "slow",
        "slow.test",
        &upstream,
        POLICY,
        "timeout = \"200ms\"",
    ));
    let (ingress, _) = start(&dir, &toml).await;
    let ops = ingress.metrics_addr().unwrap();
    let (status, _, body) = get(&format!("http://{ops}/healthz"), &[]).await;
    assert_eq!((status, &body[..]), (200, &b"ok\n"[..]));
    let (status, _, _) = get(&format!("http://{ops}/readyz"), &[]).await;
    assert_eq!(status, 200);

    let base = format!("http://{}", ingress.http_addr().unwrap());
    let bob = format!("Bearer {}", idp.mint_access_token("bob").unwrap());
    let call = |host: &'static str, path: &'static str, auth: Option<&str>| {
        let url = format!("{base}{path}");
        let auth = auth.map(str::to_owned);
        async move {
            let mut headers = vec![("host", host)];
            if let Some(auth) = &auth {
                headers.push(("authorization", auth.as_str()));
            }
            get(&url, &headers).await.0
        }
    };
    assert_eq!(call("app.test", "/x", Some(&bob)).await, 200);
    assert_eq!(call("app.test", "/y", Some(&bob)).await, 200);
    assert_eq!(call("app.test", "/admin", Some(&bob)).await, 403);
    assert_eq!(call("app.test", "/x", None).await, 401);
    assert_eq!(call("down.test", "/x", Some(&bob)).await, 502);
    let started = Instant::now();
    assert_eq!(call("slow.test", "/slow", Some(&bob)).await, 504);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(200) && waited < Duration::from_millis(1500),
        "{waited:?}"
    );
    assert_eq!(call("slow.test", "/fast", Some(&bob)).await, 200);
    assert_eq!(call("nowhere.test", "/x", Some(&bob)).await, 404);

    let text = metrics(&ingress).await;
    let requests = |route: &str, code: &str| {
        sample(
            &text,
            "zt_ingress_requests_total",
            &[("route", route), ("code", code)],
        )
    };
    assert_eq!(requests("app", "200"), 2.0, "{text}");
    assert_eq!(requests("app", "403"), 1.0, "{text}");
    assert_eq!(requests("app", "401"), 1.0, "{text}");
    assert_eq!(requests("down", "502"), 1.0, "{text}");
    assert_eq!(requests("slow", "504"), 1.0, "{text}");
    assert_eq!(requests("slow", "200"), 1.0, "{text}");
    assert_eq!(requests("-", "404"), 1.0, "{text}");

    let decisions = |route: &str, effect: &str, rule: &str| {
        sample(
            &text,
            "zt_ingress_decisions_total",
            &[("route", route), ("effect", effect), ("rule", rule)],
        )
    };
    assert_eq!(decisions("app", "allow", "signed-in"), 2.0, "{text}");
    assert_eq!(decisions("app", "deny", "admin-area"), 1.0, "{text}");
    assert_eq!(decisions("down", "allow", "signed-in"), 1.0, "{text}");

    let upstream_errors = |route: &str, kind: &str| {
        sample(
            &text,
            "zt_ingress_upstream_errors_total",
            &[("route", route), ("kind", kind)],
        )
    };
    assert_eq!(upstream_errors("down", "unavailable"), 1.0, "{text}");
    assert_eq!(upstream_errors("slow", "timeout"), 1.0, "{text}");
    assert_eq!(upstream_errors("app", "unavailable"), 0.0, "{text}");
    assert!(
        sample(
            &text,
            "zt_ingress_request_duration_seconds_count",
            &[("route", "app")]
        ) >= 4.0,
        "{text}"
    );
    ingress.shutdown().await;
}
