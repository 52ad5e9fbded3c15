#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! A WebSocket through the ingress lives only as long as its request would be allowed:
//! a reload (explicit or on a file change) whose policy denies it closes it within about
//! a second; routes without `websockets = true` refuse the upgrade.

#[path = "support/ingress.rs"]
mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use support::{TempDir, base_toml, demo_upstream, idp, route_toml, start};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

const ALLOW: &str = "allow \"signed-in\" when identity.authenticated\n";
const DENY: &str = "allow \"nobody\" when identity.groups has \"nobody\"\n";

fn config(issuer: &str, dir: &Path, upstream: &str, policy: &str) -> String {
    let mut toml = base_toml(issuer, dir);
    toml.push_str(&route_toml(
        "ws",
        "*",
        upstream,
        policy,
        "websockets = true",
    ));
    toml.push_str(&route_toml("plain", "plain.test", upstream, ALLOW, ""));
    toml
}

async fn connect(addr: SocketAddr, host: &str, token: &str) -> Result<Socket, Error> {
    let mut request = format!("ws://{addr}/ws").into_client_request().unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request.headers_mut().insert("host", host.parse().unwrap());
    tokio_tungstenite::connect_async(request)
        .await
        .map(|(socket, _)| socket)
}

async fn echoes(socket: &mut Socket, text: &str) {
    socket.send(Message::text(text)).await.unwrap();
    let reply = tokio::time::timeout(Duration::from_secs(2), socket.next())
        .await
        .expect("an echo in time")
        .expect("the socket open")
        .unwrap();
    assert_eq!(reply, Message::text(text));
}

/// Waits (at most 5 s) for the socket to end; returns how long it took from `since`.
async fn closed_after(socket: &mut Socket, since: Instant) -> Duration {
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match socket.next().await {
                None | Some(Err(_) | Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the WebSocket stayed open for 5 s");
    since.elapsed()
}

fn status_of(result: Result<Socket, Error>) -> u16 {
    match result {
        Ok(_) => 101,
        Err(Error::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("the handshake failed without an HTTP answer: {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_that_denies_the_socket_closes_it() {
    let idp = idp().await;
    let upstream = demo_upstream().await;
    let dir = TempDir::new("ws-reload");
    let (ingress, path) = start(&dir, &config(idp.issuer(), dir.path(), &upstream, ALLOW)).await;
    let addr = ingress.http_addr().unwrap();
    let token = idp.mint_access_token("alice").unwrap();

    let mut socket = connect(addr, "app.test", &token).await.unwrap();
    echoes(&mut socket, "hello").await;
    let mut bystander = connect(addr, "app.test", &token).await.unwrap();
    echoes(&mut bystander, "still here").await;

    // A reload with the same policy keeps the socket.
    ingress.reload().unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    echoes(&mut socket, "after a harmless reload").await;

    std::fs::write(&path, config(idp.issuer(), dir.path(), &upstream, DENY)).unwrap();
    let reloaded = Instant::now();
    ingress.reload().unwrap();
    let latency = closed_after(&mut socket, reloaded).await;
    println!("WebSocket closed {latency:?} after reload()");
    assert!(latency < Duration::from_millis(1500), "{latency:?}");
    let latency = closed_after(&mut bystander, reloaded).await;
    assert!(latency < Duration::from_millis(1500), "{latency:?}");

    assert_eq!(status_of(connect(addr, "app.test", &token).await), 403);
    ingress.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_policy_file_closes_the_socket_without_an_explicit_reload() {
    let idp = idp().await;
    let upstream = demo_upstream().await;
    let dir = TempDir::new("ws-watch");
    let (ingress, path) = start(&dir, &config(idp.issuer(), dir.path(), &upstream, ALLOW)).await;
    let addr = ingress.http_addr().unwrap();
    let token = idp.mint_access_token("bob").unwrap();

    let mut socket = connect(addr, "app.test", &token).await.unwrap();
    echoes(&mut socket, "hello").await;
    // Let the watcher settle on the directory.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let written = Instant::now();
    std::fs::write(&path, config(idp.issuer(), dir.path(), &upstream, DENY)).unwrap();
    let latency = closed_after(&mut socket, written).await;
    println!("WebSocket closed {latency:?} after the file changed (incl. the reload settle delay)");
    assert!(latency < Duration::from_millis(1500), "{latency:?}");
    assert_eq!(status_of(connect(addr, "app.test", &token).await), 403);
    ingress.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrades_are_refused_where_websockets_are_off_and_for_strangers() {
    let idp = idp().await;
    let upstream = demo_upstream().await;
    let dir = TempDir::new("ws-off");
    let (ingress, _) = start(&dir, &config(idp.issuer(), dir.path(), &upstream, ALLOW)).await;
    let addr = ingress.http_addr().unwrap();
    let token = idp.mint_access_token("alice").unwrap();

    assert_eq!(status_of(connect(addr, "plain.test", &token).await), 400);
    assert_eq!(
        status_of(connect(addr, "app.test", "not-a-token").await),
        401
    );
    let mut socket = connect(addr, "app.test", &token).await.unwrap();
    echoes(&mut socket, "on the WebSocket route").await;
    ingress.shutdown().await;
}
