//! [`ReverseProxy`]: the Tower service that forwards a request to an upstream and streams
//! the response back, WebSocket upgrades included.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use bytes::Bytes;
use http::header::{ACCEPT, CONNECTION, HOST, UPGRADE};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode, Uri, Version};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{HttpConnector, capture_connection};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls_pki_types::CertificateDer;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tower::Service;

use super::headers::{
    Forwarded, remove_hop_by_hop, remove_hop_by_hop_for_forwarding, requested_upgrade,
    set_forwarded, strip_cookies,
};
use super::live_body::LiveBody;
use crate::live::LiveCheck;
use crate::response::problem;

/// The scheme the client used to reach the proxy (for `X-Forwarded-Proto`); put it in the
/// request's extensions. Absent means `http`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientScheme(pub &'static str);

/// Numbers threads in the order they first proxy a request.
static NEXT_SLOT: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's connection-pool slot.
    static THREAD_SLOT: usize = NEXT_SLOT.fetch_add(1, Ordering::Relaxed);
}

/// Kept alive for as long as an upgraded connection lasts: put one in the request's
/// extensions (e.g. holding the server's connection-limit permit), and the proxy moves it
/// into the task that bridges the upgraded connection, so the connection still counts
/// after its HTTP exchange is over.
#[derive(Clone)]
pub struct UpgradeGuard(pub Arc<dyn std::any::Any + Send + Sync>);

impl fmt::Debug for UpgradeGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UpgradeGuard")
    }
}

/// Why the proxy answered a request itself; found in the extensions of such responses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UpstreamError {
    /// The upstream could not be reached or broke the exchange (502).
    Unavailable,
    /// The upstream's response head did not arrive in time (504).
    Timeout,
}

/// Why a [`ReverseProxy`] could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyBuildError {
    /// An upstream URL is not `http(s)://host[:port][/base]` without a query.
    #[error("upstream `{0}` must be an http(s) URL with a host and no query")]
    Upstream(String),
    /// No upstream was given.
    #[error("a reverse proxy needs at least one upstream")]
    NoUpstream,
    /// The TLS client configuration failed.
    #[error("upstream TLS: {0}")]
    Tls(#[from] rustls::Error),
}

/// Forwards requests to one of its upstreams (round-robin) over pooled keep-alive
/// connections, streaming bodies both ways.
///
/// On the way up: hop-by-hop headers (and those named in `Connection`) are removed first,
/// then client-sent forwarding headers are replaced by `X-Forwarded-For/-Proto/-Host` and
/// `Forwarded` from the connection, then the configured header rules apply. Upgrades to
/// the enabled protocols (WebSocket, or e.g. `SPDY/3.1`) pass through; an upstream
/// connection that refused an upgrade is never reused. A request carrying a
/// [`LiveCheck`] ends as soon as it would no longer be allowed (checked on every policy
/// swap or revocation, and every second for time windows and expiry): an upgraded
/// connection is closed, a streamed response body cut off.
///
/// Errors never escape as `Err`: an unreachable upstream is a `502`, a slow one a `504`.
#[derive(Clone)]
pub struct ReverseProxy {
    inner: Arc<Inner>,
}

struct Inner {
    /// One connection pool per slot; a thread always uses its own slot, so an upstream
    /// connection is driven by the thread that sends on it when each worker thread runs
    /// its own runtime.
    clients: Vec<Client<HttpsConnector<HttpConnector>, Body>>,
    upstreams: Vec<Upstream>,
    next: AtomicUsize,
    timeout: Duration,
    idle_timeout: Duration,
    /// Protocols an upgrade may switch to (`websocket`, `spdy/3.1`), lower case.
    upgrades: Vec<String>,
    preserve_host: bool,
    set_headers: Vec<(HeaderName, HeaderValue)>,
    remove_headers: Vec<HeaderName>,
    strip_cookies: Vec<String>,
}

impl Inner {
    /// Whether `request` upgrades to an enabled protocol; `Err` for a WebSocket upgrade
    /// that is not enabled. Other upgrades (e.g. `h2c`) are forwarded as plain requests.
    fn upgrade(&self, headers: &HeaderMap) -> Result<bool, ()> {
        let Some(protocol) = requested_upgrade(headers) else {
            return Ok(false);
        };
        let first = protocol
            .as_bytes()
            .split(|&b| b == b',')
            .next()
            .unwrap_or_default();
        let first = first.trim_ascii();
        if self
            .upgrades
            .iter()
            .any(|enabled| enabled.as_bytes().eq_ignore_ascii_case(first))
        {
            Ok(true)
        } else if first.eq_ignore_ascii_case(b"websocket") {
            Err(())
        } else {
            Ok(false)
        }
    }
}

struct Upstream {
    scheme: Scheme,
    authority: Authority,
    host: HeaderValue,
    /// Base path without a trailing slash (empty for `/`).
    base: String,
}

impl ReverseProxy {
    /// A builder forwarding to `upstreams` (base URLs such as `http://10.0.0.5:8080`).
    pub fn builder<I, S>(upstreams: I) -> ReverseProxyBuilder
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        ReverseProxyBuilder {
            upstreams: upstreams.into_iter().map(Into::into).collect(),
            timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(300),
            upgrades: Vec::new(),
            preserve_host: false,
            roots: Vec::new(),
            tls: None,
            set_headers: Vec::new(),
            remove_headers: Vec::new(),
            strip_cookies: Vec::new(),
        }
    }

    /// This thread's connection pool.
    fn client(&self) -> &Client<HttpsConnector<HttpConnector>, Body> {
        let clients = &self.inner.clients;
        &clients[THREAD_SLOT.with(|slot| *slot) % clients.len()]
    }

    fn pick(&self) -> Option<&Upstream> {
        let upstreams = &self.inner.upstreams;
        let index = self.inner.next.fetch_add(1, Ordering::Relaxed) % upstreams.len().max(1);
        upstreams.get(index)
    }
}

impl fmt::Debug for ReverseProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let upstreams: Vec<String> = self
            .inner
            .upstreams
            .iter()
            .map(|u| format!("{}://{}{}", u.scheme, u.authority, u.base))
            .collect();
        f.debug_struct("ReverseProxy")
            .field("upstreams", &upstreams)
            .field("timeout", &self.inner.timeout)
            .field("upgrades", &self.inner.upgrades)
            .finish_non_exhaustive()
    }
}

/// Configures a [`ReverseProxy`] (consuming builder).
#[must_use]
#[derive(Debug)]
pub struct ReverseProxyBuilder {
    upstreams: Vec<String>,
    timeout: Duration,
    idle_timeout: Duration,
    upgrades: Vec<String>,
    preserve_host: bool,
    roots: Vec<CertificateDer<'static>>,
    tls: Option<rustls::ClientConfig>,
    set_headers: Vec<(HeaderName, HeaderValue)>,
    remove_headers: Vec<HeaderName>,
    strip_cookies: Vec<String>,
}

impl ReverseProxyBuilder {
    /// Time allowed for the upstream's response head (default 30 s); then `504`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Idle time after which an upgraded connection is closed (default 5 min).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Pass WebSocket upgrades through (default: refused with `400`).
    pub fn websockets(mut self, on: bool) -> Self {
        self.upgrades.retain(|protocol| protocol != "websocket");
        if on {
            self.upgrades.push("websocket".to_owned());
        }
        self
    }

    /// Also pass upgrades to `protocol` through (e.g. `SPDY/3.1`, matched
    /// case-insensitively against the first protocol in `Upgrade`).
    pub fn upgrade_protocol(mut self, protocol: &str) -> Self {
        self.upgrades.push(protocol.to_ascii_lowercase());
        self
    }

    /// Send the client's `Host` upstream instead of the upstream's own.
    pub fn preserve_host(mut self, on: bool) -> Self {
        self.preserve_host = on;
        self
    }

    /// Also trust `cert` for HTTPS upstreams (besides the platform's roots).
    pub fn root_certificate(mut self, cert: CertificateDer<'static>) -> Self {
        self.roots.push(cert);
        self
    }

    /// Uses `config` for HTTPS upstreams instead of the platform's roots and those added
    /// with [`root_certificate`](Self::root_certificate) (e.g. to trust only a cluster CA,
    /// or to present a client certificate). Its ALPN protocols are replaced by HTTP/1.1.
    pub fn tls_config(mut self, config: rustls::ClientConfig) -> Self {
        self.tls = Some(config);
        self
    }

    /// Sets a request header on the way upstream (replacing any value).
    pub fn set_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.set_headers.push((name, value));
        self
    }

    /// Removes a request header on the way upstream.
    pub fn remove_header(mut self, name: HeaderName) -> Self {
        self.remove_headers.push(name);
        self
    }

    /// Removes the cookie `name` from requests on the way upstream (e.g. the proxy's own
    /// session and login cookies).
    pub fn strip_cookie(mut self, name: impl Into<String>) -> Self {
        self.strip_cookies.push(name.into());
        self
    }

    /// Builds the proxy and its connection pool.
    ///
    /// # Errors
    /// [`ProxyBuildError`] for a bad upstream URL or TLS setup.
    pub fn build(self) -> Result<ReverseProxy, ProxyBuildError> {
        if self.upstreams.is_empty() {
            return Err(ProxyBuildError::NoUpstream);
        }
        let upstreams = self
            .upstreams
            .iter()
            .map(|url| parse_upstream(url).ok_or_else(|| ProxyBuildError::Upstream(url.clone())))
            .collect::<Result<Vec<_>, _>>()?;
        let tls = match self.tls {
            Some(tls) => tls,
            None => zt_core::tls::client_config(&self.roots)?,
        };
        // HTTP/1.1 upstream: upgrades need it, and it pools well for a proxy.
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        let slots = std::thread::available_parallelism().map_or(1, usize::from);
        let clients = (0..slots)
            .map(|_| {
                Client::builder(TokioExecutor::new())
                    .pool_idle_timeout(Duration::from_secs(90))
                    .pool_max_idle_per_host(256)
                    .build(connector.clone())
            })
            .collect();
        Ok(ReverseProxy {
            inner: Arc::new(Inner {
                clients,
                upstreams,
                next: AtomicUsize::new(0),
                timeout: self.timeout,
                idle_timeout: self.idle_timeout,
                upgrades: self.upgrades,
                preserve_host: self.preserve_host,
                set_headers: self.set_headers,
                remove_headers: self.remove_headers,
                strip_cookies: self.strip_cookies,
            }),
        })
    }
}

fn parse_upstream(url: &str) -> Option<Upstream> {
    let uri: Uri = url.parse().ok()?;
    let scheme = uri.scheme()?.clone();
    if scheme != Scheme::HTTP && scheme != Scheme::HTTPS || uri.query().is_some() {
        return None;
    }
    let authority = uri.authority()?.clone();
    let host = HeaderValue::from_str(authority.as_str()).ok()?;
    Some(Upstream {
        scheme,
        authority,
        host,
        base: uri.path().trim_end_matches('/').to_owned(),
    })
}

impl<B> Service<Request<B>> for ReverseProxy
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let proxy = self.clone();
        Box::pin(async move { Ok(proxy.forward(request).await) })
    }
}

impl ReverseProxy {
    async fn forward<B>(&self, mut request: Request<B>) -> Response<Body>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<axum::BoxError>,
    {
        let inner = &*self.inner;
        let Ok(upgrade) = inner.upgrade(request.headers()) else {
            return answer(
                request.headers(),
                StatusCode::BAD_REQUEST,
                "WebSocket upgrades are not enabled on this route",
                None,
            );
        };
        let live = request.extensions_mut().remove::<LiveCheck>();
        let guard = request.extensions_mut().remove::<UpgradeGuard>();
        let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut request));
        let (mut parts, body) = request.into_parts();
        let Some(upstream) = self.pick() else {
            return answer(
                &parts.headers,
                StatusCode::BAD_GATEWAY,
                "no upstream",
                Some(UpstreamError::Unavailable),
            );
        };

        let client_host = parts.headers.get(HOST).cloned().or_else(|| {
            parts
                .uri
                .authority()
                .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
        });
        remove_hop_by_hop_for_forwarding(&mut parts.headers);
        if !upgrade {
            parts.headers.remove(CONNECTION);
            parts.headers.remove(UPGRADE);
        }
        for name in &inner.remove_headers {
            parts.headers.remove(name);
        }
        if !inner.strip_cookies.is_empty() {
            strip_cookies(&mut parts.headers, &inner.strip_cookies);
        }
        if let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() {
            let scheme = parts
                .extensions
                .get::<ClientScheme>()
                .map_or("http", |scheme| scheme.0);
            set_forwarded(
                &mut parts.headers,
                &Forwarded {
                    client: peer.ip(),
                    proto: scheme,
                    host: client_host.clone(),
                    by: None,
                },
            );
        }
        for (name, value) in &inner.set_headers {
            parts.headers.insert(name.clone(), value.clone());
        }
        let host = match (&client_host, inner.preserve_host) {
            (Some(host), true) => host.clone(),
            _ => upstream.host.clone(),
        };
        parts.headers.insert(HOST, host);
        let Some(uri) = upstream_uri(upstream, &parts.uri) else {
            return answer(
                &parts.headers,
                StatusCode::BAD_REQUEST,
                "request target not understood",
                None,
            );
        };
        // Error answers follow the client's Accept; keep only that header for them.
        let accept = parts.headers.get(ACCEPT).cloned();
        parts.uri = uri;
        parts.version = Version::HTTP_11;
        let mut outbound = Request::from_parts(parts, Body::new(body));
        let connection = upgrade.then(|| capture_connection(&mut outbound));

        let mut response = match tokio::time::timeout(
            inner.timeout,
            self.client().request(outbound),
        )
        .await
        {
            Ok(Ok(response)) => response,
            Ok(Err(error)) => {
                tracing::warn!(upstream = %upstream.authority, %error, "upstream request failed");
                return answer(
                    &accept_only(accept),
                    StatusCode::BAD_GATEWAY,
                    "the upstream service is unavailable",
                    Some(UpstreamError::Unavailable),
                );
            }
            Err(_) => {
                tracing::warn!(upstream = %upstream.authority, timeout = ?inner.timeout, "upstream timed out");
                return answer(
                    &accept_only(accept),
                    StatusCode::GATEWAY_TIMEOUT,
                    "the upstream service did not answer in time",
                    Some(UpstreamError::Timeout),
                );
            }
        };
        if let Some(connection) = connection
            && response.status() != StatusCode::SWITCHING_PROTOCOLS
        {
            // The upstream refused the upgrade: whatever it does with the connection
            // next, no other request may be sent on it, and the client's connection,
            // which may carry upgrade bytes already, ends with this response.
            if let Some(connected) = connection.connection_metadata().as_ref() {
                connected.poison();
            }
            remove_hop_by_hop(response.headers_mut());
            response
                .headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
            return response.map(Body::new);
        }
        if let Some(client_upgrade) = client_upgrade
            && response.status() == StatusCode::SWITCHING_PROTOCOLS
        {
            let upstream_upgrade = hyper::upgrade::on(&mut response);
            let idle = inner.idle_timeout;
            tokio::spawn(async move {
                let _guard = guard;
                match tokio::try_join!(client_upgrade, upstream_upgrade) {
                    Ok((client, upstream)) => {
                        bridge(TokioIo::new(client), TokioIo::new(upstream), live, idle).await;
                    }
                    Err(error) => tracing::debug!(%error, "upgrade did not complete"),
                }
            });
            let (mut parts, _) = response.into_parts();
            let keep_upgrade = parts.headers.get(UPGRADE).cloned();
            remove_hop_by_hop(&mut parts.headers);
            parts
                .headers
                .insert(CONNECTION, HeaderValue::from_static("upgrade"));
            if let Some(value) = keep_upgrade {
                parts.headers.insert(UPGRADE, value);
            }
            return Response::from_parts(parts, Body::empty());
        }
        remove_hop_by_hop(response.headers_mut());
        match live {
            Some(live) => response.map(|body| Body::new(LiveBody::new(body, live))),
            None => response.map(Body::new),
        }
    }
}

/// The upstream URI: its scheme and authority, its base path joined with the request's
/// path and query.
fn upstream_uri(upstream: &Upstream, uri: &Uri) -> Option<Uri> {
    let path_and_query = uri.path_and_query().map_or("/", PathAndQuery::as_str);
    let joined = if upstream.base.is_empty() {
        PathAndQuery::try_from(path_and_query).ok()?
    } else {
        PathAndQuery::try_from(format!("{}{path_and_query}", upstream.base)).ok()?
    };
    Uri::builder()
        .scheme(upstream.scheme.clone())
        .authority(upstream.authority.clone())
        .path_and_query(joined)
        .build()
        .ok()
}

fn accept_only(accept: Option<HeaderValue>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Some(accept) = accept {
        headers.insert(ACCEPT, accept);
    }
    headers
}

fn answer(
    headers: &HeaderMap,
    status: StatusCode,
    detail: &str,
    error: Option<UpstreamError>,
) -> Response<Body> {
    let mut response = problem(headers, status, detail).map(Body::new);
    if let Some(error) = error {
        response.extensions_mut().insert(error);
    }
    response
}

/// Copies bytes both ways until either side closes, the connection idles for `idle`, or
/// (with a [`LiveCheck`]) its request is no longer allowed.
async fn bridge<C, U>(client: C, upstream: U, live: Option<LiveCheck>, idle: Duration)
where
    C: AsyncRead + AsyncWrite + Unpin,
    U: AsyncRead + AsyncWrite + Unpin,
{
    let copy = copy_until_idle(client, upstream, idle);
    match live {
        None => copy.await,
        Some(live) => {
            tokio::select! {
                () = copy => {}
                () = until_denied(&live) => {
                    tracing::info!(?live, "closing a live connection: its request is no longer allowed");
                }
            }
        }
    }
}

/// Resolves when `live`'s request is denied: checked once at the start (a change between
/// the request's decision and the subscription is not notified), then on every change
/// notification and every second.
pub(super) async fn until_denied(live: &LiveCheck) {
    let mut changes = live.changes();
    if !live.is_allowed().await {
        return;
    }
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            () = changes.changed() => {}
            _ = tick.tick() => {}
        }
        if !live.is_allowed().await {
            return;
        }
    }
}

/// Bidirectional copy with an idle timeout; both sides are shut down at the end.
async fn copy_until_idle<C, U>(mut client: C, mut upstream: U, idle: Duration)
where
    C: AsyncRead + AsyncWrite + Unpin,
    U: AsyncRead + AsyncWrite + Unpin,
{
    let mut up = vec![0u8; 16 * 1024];
    let mut down = vec![0u8; 16 * 1024];
    let (mut client_open, mut upstream_open) = (true, true);
    while client_open || upstream_open {
        let step = tokio::time::timeout(idle, async {
            tokio::select! {
                read = client.read(&mut up), if client_open => match read {
                    Ok(0) | Err(_) => {
                        client_open = false;
                        upstream.shutdown().await.is_ok()
                    }
                    Ok(n) => upstream.write_all(&up[..n]).await.is_ok(),
                },
                read = upstream.read(&mut down), if upstream_open => match read {
                    Ok(0) | Err(_) => {
                        upstream_open = false;
                        client.shutdown().await.is_ok()
                    }
                    Ok(n) => client.write_all(&down[..n]).await.is_ok(),
                },
            }
        })
        .await;
        match step {
            Ok(true) => {}
            Ok(false) | Err(_) => break,
        }
    }
    let _ = client.shutdown().await;
    let _ = upstream.shutdown().await;
}
