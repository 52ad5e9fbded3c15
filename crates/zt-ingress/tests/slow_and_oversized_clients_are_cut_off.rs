#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Slow-client protection and limits: a client that does not finish its request head
//! within `limits.header_read_timeout` is disconnected, a head over
//! `limits.max_header_bytes` is refused with 431, and an idle WebSocket is closed after
//! the route's `idle_timeout`.

#[path = "support/ingress.rs"]
mod support;

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use support::{TempDir, base_toml, demo_upstream, idp, raw, route_toml, start};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const POLICY: &str = "allow \"signed-in\" when identity.authenticated\n";

const LIMITS: &str = "\n[limits]\nheader_read_timeout = \"1s\"\nmax_header_bytes = 8192\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_head_is_disconnected_and_an_oversized_one_refused() {
    let idp = idp().await;
    let upstream = demo_upstream().await;
    let dir = TempDir::new("limits");
    let mut toml = base_toml(idp.issuer(), dir.path());
    toml.push_str(&route_toml("app", "*", &upstream, POLICY, ""));
    toml.push_str(LIMITS);
    let (ingress, _) = start(&dir, &toml).await;
    let addr = ingress.http_addr().unwrap();

    // Half a request head, then silence: the connection ends after the read timeout.
    let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: app.test\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), slow.read_to_end(&mut rest))
        .await
        .expect("the slow client is cut off")
        .unwrap();
    let waited = started.elapsed();
    eprintln!("slow client disconnected after {waited:?}");
    assert!(waited >= Duration::from_millis(900), "{waited:?}");
    assert!(
        rest.is_empty() || rest.starts_with(b"HTTP/1.1 408"),
        "{}",
        String::from_utf8_lossy(&rest)
    );

    // A head over the limit is refused before anything decides on it.
    let big = format!(
        "GET / HTTP/1.1\r\nHost: app.test\r\nX-Padding: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(16 * 1024)
    );
    let refused = raw(addr, &big).await;
    assert_eq!(refused.status, 431, "{}", refused.head);
    ingress.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_websocket_is_closed_after_the_idle_timeout() {
    let idp = idp().await;
    let upstream = demo_upstream().await;
    let dir = TempDir::new("idle");
    let mut toml = base_toml(idp.issuer(), dir.path());
    toml.push_str(&route_toml(
        "ws",
        "*",
        &upstream,
        POLICY,
        "websockets = true\nidle_timeout = \"1s\"",
    ));
    let (ingress, _) = start(&dir, &toml).await;
    let addr = ingress.http_addr().unwrap();
    let mut request = format!("ws://{addr}/ws").into_client_request().unwrap();
    let token = idp.mint_access_token("bob").unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    socket.send(Message::text("ping")).await.unwrap();
    let echo = socket.next().await.unwrap().unwrap();
    assert_eq!(echo, Message::text("ping"));

    let started = Instant::now();
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match socket.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    let waited = started.elapsed();
    eprintln!("idle WebSocket closed after {waited:?}");
    assert!(ended.is_ok(), "the idle socket stayed open");
    assert!(waited >= Duration::from_millis(900), "{waited:?}");
    ingress.shutdown().await;
}
