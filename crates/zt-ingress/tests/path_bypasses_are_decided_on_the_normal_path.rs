#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Spellings of `/admin` (extra slashes, dot segments, escapes, upper case on a
//! case-insensitive route) are decided as `/admin` and forwarded as `/admin`; spellings
//! upstreams disagree about are refused with 400 before any route sees them.

#[path = "support/ingress.rs"]
mod support;

use support::{TempDir, base_toml, bearer, demo_upstream, idp, raw_get, route_toml, start};
use zt_ingress::demo::POLICY;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_spellings_reach_the_policy_and_the_upstream_as_admin() {
    let idp = idp().await;
    let upstream = demo_upstream().await;
    let dir = TempDir::new("paths");
    let mut toml = base_toml(idp.issuer(), dir.path());
    toml.push_str(&route_toml("app", "*", &upstream, POLICY, ""));
    toml.push_str(&route_toml(
        "ci",
        "ci.example.com",
        &upstream,
        POLICY,
        "case_insensitive = true",
    ));
    let (ingress, _) = start(&dir, &toml).await;
    let addr = ingress.http_addr().unwrap();
    let bob = bearer(&idp.mint_access_token("bob").unwrap());
    let alice = bearer(&idp.mint_access_token("alice").unwrap());

    // The plain path: bob is refused, alice reaches /admin.
    assert_eq!(
        raw_get(addr, "/admin", std::slice::from_ref(&bob))
            .await
            .status,
        403
    );
    let plain = raw_get(addr, "/admin", std::slice::from_ref(&alice)).await;
    assert_eq!(plain.status, 200, "{plain:?}");
    assert_eq!(plain.json()["path"], "/admin");

    for (target, normal) in [
        ("//admin", "/admin"),
        ("/./admin", "/admin"),
        ("/public/../admin", "/admin"),
        ("/%61dmin", "/admin"),
        ("/app/..//admin/./x", "/admin/x"),
        ("/x/%2E%2E/admin", "/admin"),
    ] {
        let refused = raw_get(addr, target, std::slice::from_ref(&bob)).await;
        assert_eq!(refused.status, 403, "bob, {target}: {refused:?}");
        let allowed = raw_get(addr, target, std::slice::from_ref(&alice)).await;
        assert_eq!(allowed.status, 200, "alice, {target}: {allowed:?}");
        assert_eq!(allowed.json()["path"], normal, "{target}");
    }

    // Bob may use the rest of the app, also through a detour; the upstream sees the
    // normal path.
    let detour = raw_get(addr, "/admin/../app//x", std::slice::from_ref(&bob)).await;
    assert_eq!(detour.status, 200, "{detour:?}");
    assert_eq!(detour.json()["path"], "/app/x");

    // Upper case on the case-insensitive route is /admin to the policy and upstream.
    for target in ["/ADMIN", "/Admin/", "/%41DMIN"] {
        let refused = raw_ci(addr, target, &bob).await;
        assert_eq!(refused.status, 403, "bob, ci {target}: {refused:?}");
        let allowed = raw_ci(addr, target, &alice).await;
        assert_eq!(allowed.status, 200, "alice, ci {target}: {allowed:?}");
        let seen = allowed.json()["path"].as_str().unwrap().to_owned();
        assert!(seen == "/admin" || seen == "/admin/", "ci {target}: {seen}");
    }

    // Spellings that upstreams read differently are refused before routing.
    for target in [
        "/admin%2f..",
        "/admin%2F..",
        "/%2e%2e/admin",
        "/../admin",
        "/a%252e",
        "/admin%5c..",
        "/admin/..;/x",
        "/admin%00",
    ] {
        let response = raw_get(addr, target, std::slice::from_ref(&alice)).await;
        assert_eq!(response.status, 400, "{target}: {response:?}");
    }
    ingress.shutdown().await;
}

/// A raw GET to the case-insensitive route's host.
async fn raw_ci(
    addr: std::net::SocketAddr,
    target: &str,
    credential: &str,
) -> support::RawResponse {
    let request = format!(
        "GET {target} HTTP/1.1\r\nHost: ci.example.com\r\n{credential}\r\nConnection: close\r\n\r\n"
    );
    support::raw(addr, &request).await
}
