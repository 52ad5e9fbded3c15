#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! What the client sends about identity and forwarding never reaches the upstream: forged
//! assertions, `X-Forwarded-*`, `Forwarded`, hop-by-hop headers and those named in
//! `Connection`. The upstream gets the proxy's own forwarding headers and a fresh
//! assertion naming the caller, even when the client names them in `Connection`.

#[path = "support/ingress.rs"]
mod support;

use serde_json::Value;
use support::{TempDir, base_toml, header_upstream, idp, jwt_claims, raw, route_toml, start};

const POLICY: &str = "allow \"signed-in\" when identity.authenticated\n";

/// The values of `name` the upstream received.
fn values<'a>(seen: &'a Value, name: &str) -> Vec<&'a str> {
    seen["headers"][name]
        .as_array()
        .map(|values| values.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_sent_identity_forwarding_and_hop_by_hop_headers_are_replaced_or_removed() {
    let idp = idp().await;
    let upstream = header_upstream().await;
    let dir = TempDir::new("headers");
    let mut toml = base_toml(idp.issuer(), dir.path());
    toml.push_str(&route_toml(
        "asserted",
        "asserted.test",
        &upstream,
        POLICY,
        "assertion = true",
    ));
    toml.push_str(&route_toml(
        "plain",
        "plain.test",
        &upstream,
        POLICY,
        "pass_authorization = true",
    ));
    let (ingress, _) = start(&dir, &toml).await;
    let addr = ingress.http_addr().unwrap();
    let token = idp.mint_access_token("alice").unwrap();

    let request = |host: &str, connection: &str| {
        format!(
            "GET /echo?q=1 HTTP/1.1\r\n\
             Host: {host}\r\n\
             Authorization: Bearer {token}\r\n\
             X-Zt-Assertion: forged.forged.forged\r\n\
             X-Forwarded-For: 203.0.113.66\r\n\
             X-Forwarded-Proto: https\r\n\
             X-Forwarded-Host: admin.internal\r\n\
             X-Real-IP: 203.0.113.66\r\n\
             Forwarded: for=203.0.113.66;proto=https\r\n\
             Connection: {connection}\r\n\
             X-Secret: hop-only\r\n\
             Keep-Alive: timeout=5\r\n\
             Proxy-Authorization: Basic cHJveHk6c2VjcmV0\r\n\
             TE: trailers\r\n\
             X-Kept: end-to-end\r\n\
             Cookie: a=1; __Host-zt-session=sealed; __Host-zt-login=state; b=2\r\n\
             \r\n"
        )
    };

    for connection in [
        "close, x-secret",
        "close, x-secret, x-zt-assertion, x-forwarded-for, forwarded, host",
    ] {
        let response = raw(addr, &request("asserted.test", connection)).await;
        assert_eq!(response.status, 200, "{response:?}");
        let seen = response.json();
        for gone in [
            "x-secret",
            "keep-alive",
            "proxy-authorization",
            "te",
            "connection",
            "x-real-ip",
        ] {
            assert!(values(&seen, gone).is_empty(), "{gone} passed: {seen}");
        }
        assert_eq!(values(&seen, "x-kept"), ["end-to-end"], "{seen}");
        assert_eq!(values(&seen, "x-forwarded-for"), ["127.0.0.1"], "{seen}");
        assert_eq!(values(&seen, "x-forwarded-proto"), ["http"], "{seen}");
        assert_eq!(
            values(&seen, "x-forwarded-host"),
            ["asserted.test"],
            "{seen}"
        );
        assert_eq!(
            values(&seen, "forwarded"),
            ["for=127.0.0.1;proto=http;host=asserted.test"],
            "{seen}"
        );
        let upstream_authority = upstream.trim_start_matches("http://");
        assert_eq!(values(&seen, "host"), [upstream_authority], "{seen}");
        assert_eq!(seen["path"], "/echo");
        assert_eq!(seen["query"], "q=1");

        let assertions = values(&seen, "x-zt-assertion");
        assert_eq!(assertions.len(), 1, "{seen}");
        assert_ne!(assertions[0], "forged.forged.forged");
        let claims = jwt_claims(assertions[0]);
        assert_eq!(claims["sub"], "alice", "{claims}");
        assert_eq!(claims["aud"], upstream, "{claims}");

        // The caller's credentials stay at the proxy: no bearer token, no zt cookies.
        assert!(values(&seen, "authorization").is_empty(), "{seen}");
        assert_eq!(values(&seen, "cookie"), ["a=1; b=2"], "{seen}");
    }

    // Without assertions on the route, a forged one is still removed, not passed on.
    let response = raw(addr, &request("plain.test", "close")).await;
    assert_eq!(response.status, 200, "{response:?}");
    let seen = response.json();
    assert!(values(&seen, "x-zt-assertion").is_empty(), "{seen}");
    assert_eq!(values(&seen, "x-forwarded-for"), ["127.0.0.1"], "{seen}");
    assert!(values(&seen, "te").is_empty(), "{seen}");
    // A route that opts in passes the caller's token on, as it came.
    assert_eq!(
        values(&seen, "authorization"),
        [format!("Bearer {token}").as_str()],
        "{seen}"
    );
    ingress.shutdown().await;
}
