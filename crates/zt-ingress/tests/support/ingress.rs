//! Shared setup for the ingress integration tests: a temp directory, a dev IdP, upstreams
//! on loopback, an ingress started from a TOML file, raw and hyper HTTP clients, and a
//! reader for the Prometheus text on `/metrics`.
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, Method, Uri};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use zt_dev_idp::{DevIdp, RunningDevIdp};
use zt_ingress::Ingress;
use zt_ingress::config::Config;

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "zt-ingress-it-{name}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir.canonicalize().unwrap())
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn write(&self, file: &str, contents: &str) -> PathBuf {
        let path = self.0.join(file);
        std::fs::write(&path, contents).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The dev IdP, quiet.
pub async fn idp() -> RunningDevIdp {
    DevIdp::builder().banner(false).start().await.unwrap()
}

/// Serves `app` on an ephemeral loopback port; returns its base URL.
pub async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

/// The demo upstream (`/ws` echo; anything else echoes what it received as JSON).
pub async fn demo_upstream() -> String {
    serve(zt_ingress::demo::upstream()).await
}

/// An upstream that answers with every header it received (`{"path", "query",
/// "headers": {name: [values]}}`); `/slow` waits two seconds first.
pub async fn header_upstream() -> String {
    async fn show(method: Method, uri: Uri, headers: HeaderMap) -> axum::Json<Value> {
        let mut all: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, value) in &headers {
            all.entry(name.as_str().to_owned())
                .or_default()
                .push(String::from_utf8_lossy(value.as_bytes()).into_owned());
        }
        axum::Json(json!({
            "method": method.as_str(),
            "path": uri.path(),
            "query": uri.query(),
            "headers": all,
        }))
    }
    async fn slow() -> &'static str {
        tokio::time::sleep(Duration::from_secs(2)).await;
        "late\n"
    }
    serve(
        Router::new()
            .route("/slow", axum::routing::get(slow))
            .fallback(show),
    )
    .await
}

/// A loopback URL on which nothing listens.
pub async fn closed_port() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

/// `[listen]` (HTTP and metrics on ephemeral loopback ports), the dev IdP as the only
/// provider (audience `zt-dev`) and an audit file in `dir`; append `[[routes]]`.
pub fn base_toml(issuer: &str, dir: &Path) -> String {
    format!(
        r#"[listen]
http = "127.0.0.1:0"
metrics = "127.0.0.1:0"

[[providers]]
issuer = "{issuer}"
audiences = ["zt-dev"]

[audit]
file = "{audit}"
"#,
        audit = dir.join("audit.jsonl").display()
    )
}

/// A `[[routes]]` table with an inline policy and extra `key = value` lines.
pub fn route_toml(name: &str, from: &str, to: &str, policy: &str, extra: &str) -> String {
    format!(
        "\n[[routes]]\nname = \"{name}\"\nfrom = \"{from}\"\nto = [\"{to}\"]\n{extra}\npolicy_inline = '''\n{policy}'''\n"
    )
}

/// Writes `toml` to `dir/ingress.toml` and starts an ingress watching it.
pub async fn start(dir: &TempDir, toml: &str) -> (Ingress, PathBuf) {
    let path = dir.write("ingress.toml", toml);
    let config = Config::load(&path).unwrap();
    let ingress = Ingress::start(config, Some(path.clone())).await.unwrap();
    (ingress, path)
}

/// A response read off a raw connection.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!(
                "not JSON ({error}): {} {}",
                self.head,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then_some(value.trim())
        })
    }
}

/// Sends `GET target` with `headers` (`"Name: value"` lines) written by hand, so the
/// request line reaches the ingress exactly as given, and reads the whole answer.
pub async fn raw_get(addr: SocketAddr, target: &str, headers: &[String]) -> RawResponse {
    let mut request = format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\n");
    for header in headers {
        request.push_str(header);
        request.push_str("\r\n");
    }
    request.push_str("Connection: close\r\n\r\n");
    raw(addr, &request).await
}

/// Writes `request` as is and reads the answer until the connection closes.
pub async fn raw(addr: SocketAddr, request: &str) -> RawResponse {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut bytes = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut bytes))
        .await
        .expect("the answer in time")
        .unwrap();
    let split = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head: {}", String::from_utf8_lossy(&bytes)));
    let head = String::from_utf8_lossy(&bytes[..split]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status: {head}"));
    let mut response = RawResponse {
        status,
        head,
        body: bytes[split + 4..].to_vec(),
    };
    if response
        .header("transfer-encoding")
        .is_some_and(|te| te.eq_ignore_ascii_case("chunked"))
    {
        response.body = dechunk(&response.body);
    }
    response
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(end) = data.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size_text = String::from_utf8_lossy(&data[..end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .unwrap_or(0);
        if size == 0 {
            return out;
        }
        let start = end + 2;
        out.extend_from_slice(&data[start..start + size]);
        data = &data[start + size + 2..];
    }
}

/// `Authorization: Bearer <token>`, as a raw header line.
pub fn bearer(token: &str) -> String {
    format!("Authorization: Bearer {token}")
}

/// A GET with hyper's client; returns status, headers and body.
pub async fn get(url: &str, headers: &[(&str, &str)]) -> (u16, HeaderMap, Bytes) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let mut request = http::Request::get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = client
        .request(request.body(Empty::new()).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    (parts.status.as_u16(), parts.headers, body)
}

/// The text at the ingress's `/metrics`.
pub async fn metrics(ingress: &Ingress) -> String {
    let addr = ingress.metrics_addr().unwrap();
    let (status, _, body) = get(&format!("http://{addr}/metrics"), &[]).await;
    assert_eq!(status, 200);
    String::from_utf8(body.to_vec()).unwrap()
}

/// The value of the sample `name{...}` having every label in `labels` (0 when absent).
pub fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let rest = series.strip_prefix(name)?;
            let inside = match rest {
                "" => "",
                _ => rest.strip_prefix('{')?.strip_suffix('}')?,
            };
            let all = labels
                .iter()
                .all(|(k, v)| inside.split(',').any(|pair| pair == format!("{k}=\"{v}\"")));
            all.then(|| value.parse::<f64>().ok()).flatten()
        })
        .sum()
}

/// The claims of a JWT, decoded without verification.
pub fn jwt_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}
