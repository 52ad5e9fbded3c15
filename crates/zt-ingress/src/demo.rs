//! The demo behind `cargo run --example ingress`: a small upstream that shows what it
//! receives through the proxy (path, forwarding headers, the caller's identity
//! assertion) with a WebSocket echo at `/ws`, and the configuration that puts the
//! ingress in front of it with a dev IdP.

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, Method, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use zt_tower::assertion::DEFAULT_HEADER;

/// The demo policy: a public landing page, the app for signed-in users, `/admin` for
/// the `admins` group only.
pub const POLICY: &str = r#"# The landing page is public.
# zt-lint: allow allow-without-identity
allow "landing" when request.path == "/"

# Signed-in users may use the app, except the admin area.
allow "signed-in" when identity.authenticated and not request.path starts_with "/admin"

deny "admin-area"
  reason "the admin area is for admins"
  when request.path starts_with "/admin" and not identity.groups has "admins"

allow "admins" when identity.groups has "admins" and request.path starts_with "/admin"
"#;

/// Where the demo's parts are.
#[derive(Clone, Debug)]
pub struct DemoSettings {
    /// The proxy's listener, e.g. `127.0.0.1:8080`.
    pub listen: std::net::SocketAddr,
    /// The metrics listener.
    pub metrics: std::net::SocketAddr,
    /// The dev IdP's issuer URL.
    pub issuer: String,
    /// The demo upstream's base URL.
    pub upstream: String,
    /// The audit log file.
    pub audit: std::path::PathBuf,
}

/// The demo configuration, in the documented TOML format.
pub fn config_toml(settings: &DemoSettings) -> String {
    format!(
        r#"# The embedded demo: zt-dev-idp, a demo upstream, and the ingress in front of it.
[listen]
http = "{listen}"
metrics = "{metrics}"

[[providers]]
issuer = "{issuer}"
audiences = ["zt-dev"]
client_id = "zt-dev"

[audit]
file = "{audit}"

[[routes]]
name = "demo"
from = "*"
to = ["{upstream}"]
assertion = true
websockets = true
policy_inline = '''
{POLICY}'''
"#,
        listen = settings.listen,
        metrics = settings.metrics,
        issuer = settings.issuer,
        upstream = settings.upstream,
        audit = settings.audit.display().to_string().replace('\\', "/"),
    )
}

/// The demo upstream: any path shows the request as received (HTML for browsers, JSON
/// otherwise); `/ws` echoes WebSocket messages.
pub fn upstream() -> Router {
    Router::new().route("/ws", get(websocket)).fallback(show)
}

async fn show(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let seen = seen(&method, &uri, &headers);
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if !wants_html {
        return axum::Json(seen).into_response();
    }
    let who = seen["identity"]["email"]
        .as_str()
        .or_else(|| seen["identity"]["sub"].as_str())
        .map_or_else(|| "an anonymous visitor".to_owned(), escape);
    let pretty = serde_json::to_string_pretty(&seen).unwrap_or_default();
    Html(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>zt demo upstream</title></head>\n\
         <body><h1>zt demo upstream</h1>\n<p>Signed in as {who}.</p>\n\
         <p><a href=\"/\">public page</a> · <a href=\"/app\">app</a> · <a href=\"/admin\">admin (admins only)</a> · \
         <a href=\"/.zt/userinfo\">userinfo</a> · <a href=\"/.zt/logout\">sign out</a></p>\n\
         <h2>What this upstream received</h2>\n<pre>{}</pre></body></html>\n",
        escape(&pretty)
    ))
    .into_response()
}

/// What the upstream saw, as JSON.
fn seen(method: &Method, uri: &Uri, headers: &HeaderMap) -> Value {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    json!({
        "method": method.as_str(),
        "path": uri.path(),
        "query": uri.query(),
        "host": header("host"),
        "x_forwarded_for": header("x-forwarded-for"),
        "x_forwarded_proto": header("x-forwarded-proto"),
        "x_forwarded_host": header("x-forwarded-host"),
        "forwarded": header("forwarded"),
        "identity": header(DEFAULT_HEADER.as_str()).and_then(claims),
    })
}

/// The claims of a JWT, decoded but not verified (an upstream that acts on them
/// verifies them with `zt_tower::assertion::AssertionLayer`).
fn claims(token: &str) -> Option<Value> {
    let payload = token.split('.').nth(1)?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}

async fn websocket(upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(echo)
}

async fn echo(mut socket: WebSocket) {
    while let Some(Ok(message)) = socket.recv().await {
        let reply = match message {
            Message::Text(_) | Message::Binary(_) => message,
            Message::Close(_) => break,
            _ => continue,
        };
        if socket.send(reply).await.is_err() {
            break;
        }
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
