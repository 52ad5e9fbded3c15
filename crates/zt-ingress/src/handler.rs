//! One request's way through the ingress: HTTPS redirect, strict path normalisation,
//! the login routes, route matching, then the route's stack (auth layer, reverse proxy);
//! metrics on the way out.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use arc_swap::ArcSwap;
use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use http::header::{LOCATION, UPGRADE};
use http::{HeaderValue, Request, Response, StatusCode};
use hyper::body::Incoming;
use tower::ServiceExt;
use tower::util::BoxCloneSyncService;
use zt_core::audit::Auditor;
use zt_core::identity::Verifier;
use zt_core::policy::{Engine, HostName};
use zt_tower::assertion::AssertionSigner;
use zt_tower::login::Login;
use zt_tower::proxy::{
    ClientScheme, ReverseProxy, UpgradeGuard, UpstreamError, ambiguous_host, normalize_uri,
    remove_hop_by_hop_for_forwarding, request_host,
};
use zt_tower::{AuthLayer, PeerIdentity, PolicyHandle, RouteName};

use crate::StartError;
use crate::config::RouteConfig;
use crate::metrics::{Label, Metrics, RouteDecisions};
use crate::routes::{HostPattern, best_match, prefix_matches};

/// The layer's error answer, as an axum body.
fn problem(headers: &http::HeaderMap, status: StatusCode, detail: &str) -> Response<Body> {
    zt_tower::problem(headers, status, detail).map(Body::new)
}

/// A client connection, as the handler sees it.
pub(crate) struct Connection {
    peer: SocketAddr,
    tls: bool,
    identity: Option<PeerIdentity>,
    /// The connection's slot (limit permit, open-connections gauge), kept by upgraded
    /// connections too.
    held: UpgradeGuard,
}

impl Connection {
    pub(crate) fn new(
        peer: SocketAddr,
        tls: bool,
        identity: Option<PeerIdentity>,
        held: Arc<dyn std::any::Any + Send + Sync>,
    ) -> Self {
        Self {
            peer,
            tls,
            identity,
            held: UpgradeGuard(held),
        }
    }
}

type RouteService = BoxCloneSyncService<Request<Body>, Response<Body>, Infallible>;

/// A route ready to serve.
struct Route {
    name: Label,
    host: HostPattern,
    prefix: String,
    case_insensitive: bool,
    service: RouteService,
}

/// The routes in force; swapped whole on reload.
#[derive(Default)]
pub(crate) struct RouteTable {
    routes: Vec<Route>,
}

impl RouteTable {
    fn find(&self, host: &str, path: &str) -> Option<&Route> {
        let candidates = self
            .routes
            .iter()
            .map(|r| (&r.host, r.prefix.as_str(), r.case_insensitive));
        best_match(candidates, host, path).and_then(|index| self.routes.get(index))
    }

    /// Route names, for logs.
    pub(crate) fn names(&self) -> Vec<String> {
        self.routes.iter().map(|r| r.name.0.to_string()).collect()
    }
}

/// Builds route stacks; keeps each route's policy handle across reloads, so live
/// connections re-check against the new policy of their route.
pub(crate) struct RouteFactory {
    pub(crate) verifier: Option<Verifier>,
    pub(crate) auditor: Auditor,
    pub(crate) login: Option<Login>,
    pub(crate) signer: AssertionSigner,
    pub(crate) metrics: Arc<Metrics>,
    handles: Mutex<HashMap<String, PolicyHandle>>,
}

impl RouteFactory {
    pub(crate) fn new(
        verifier: Option<Verifier>,
        auditor: Auditor,
        login: Option<Login>,
        signer: AssertionSigner,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            verifier,
            auditor,
            login,
            signer,
            metrics,
            handles: Mutex::new(HashMap::new()),
        }
    }

    /// Builds every route; nothing changes unless all of them build. Then routes that
    /// are gone get a deny-all policy, so their live connections end.
    pub(crate) fn build(&self, configs: Vec<RouteConfig>) -> Result<RouteTable, StartError> {
        let mut handles = self.handles.lock().unwrap_or_else(PoisonError::into_inner);
        // First build every stack without touching a policy in force: a route that
        // exists keeps its handle, to be given the new policy once everything built.
        let mut routes = Vec::with_capacity(configs.len());
        let mut kept = HashMap::with_capacity(configs.len());
        let mut updates = Vec::new();
        for config in configs {
            let proxy = proxy(&config)?;
            let name = Label(Arc::from(config.name.as_str()));
            let audience = config.assertion.then(|| assertion_audience(&config));
            let handle = match handles.get(&config.name) {
                Some(handle) => {
                    updates.push((handle.clone(), config.policy));
                    handle.clone()
                }
                None => PolicyHandle::new(config.policy),
            };
            let service = self.stack(&config.name, &name, audience, handle.clone(), proxy)?;
            kept.insert(config.name, handle);
            routes.push(Route {
                name,
                host: config.host,
                prefix: config.prefix,
                case_insensitive: config.case_insensitive,
                service,
            });
        }
        // Then switch, which cannot fail.
        for (handle, policy) in updates {
            handle.store(policy);
        }
        for (name, removed) in handles.drain() {
            if kept.contains_key(&name) {
                continue;
            }
            tracing::info!(route = %name, "route removed; its open connections will close");
            match Engine::from_source(DENY_ALL) {
                Ok(deny_all) => removed.store(deny_all),
                Err(error) => tracing::error!(%error, "cannot compile the deny-all policy"),
            }
        }
        *handles = kept;
        Ok(RouteTable { routes })
    }

    fn stack(
        &self,
        route: &str,
        name: &Label,
        assertion_audience: Option<String>,
        policy: PolicyHandle,
        proxy: ReverseProxy,
    ) -> Result<RouteService, StartError> {
        let mut layer = AuthLayer::builder()
            .policy(policy)
            .auditor(self.auditor.clone())
            .observer(RouteDecisions::new(name.clone(), Arc::clone(&self.metrics)));
        if let Some(verifier) = &self.verifier {
            layer = layer.verifier(verifier.clone());
        }
        if let Some(login) = &self.login {
            layer = layer.login(login.clone());
        }
        if let Some(audience) = assertion_audience {
            layer = layer.assertion(self.signer.clone(), audience);
        }
        let layer = layer
            .build()
            .map_err(|error| StartError::Route(format!("route {route}: {error}")))?;
        let service = tower::ServiceBuilder::new()
            .map_response(|response: Response<zt_tower::AuthBody<Body>>| response.map(Body::new))
            .layer(layer)
            .service(proxy);
        Ok(BoxCloneSyncService::new(service))
    }
}

/// The `aud` of a route's identity assertions: its first upstream's origin.
pub(crate) fn assertion_audience(config: &RouteConfig) -> String {
    config.upstreams.first().map_or_else(String::new, |uri| {
        format!(
            "{}://{}",
            uri.scheme_str().unwrap_or("http"),
            uri.authority().map_or("", |a| a.as_str())
        )
    })
}

fn proxy(config: &RouteConfig) -> Result<ReverseProxy, StartError> {
    let mut builder = ReverseProxy::builder(config.upstreams.iter().map(ToString::to_string))
        .timeout(config.timeout)
        .idle_timeout(config.idle_timeout)
        .websockets(config.websockets)
        .preserve_host(config.preserve_host);
    if let Some(path) = &config.upstream_ca {
        for cert in crate::read_certificates(path)? {
            builder = builder.root_certificate(cert);
        }
    }
    for (name, value) in &config.set_headers {
        builder = builder.set_header(name.clone(), value.clone());
    }
    for name in &config.remove_headers {
        builder = builder.remove_header(name.clone());
    }
    if !config.pass_authorization {
        builder = builder.remove_header(http::header::AUTHORIZATION);
    }
    // The proxy's own cookies carry sealed tokens; upstreams never need them.
    builder = builder
        .strip_cookie(zt_tower::session::DEFAULT_COOKIE_NAME)
        .strip_cookie(zt_tower::login::LOGIN_STATE_COOKIE);
    builder
        .build()
        .map_err(|error| StartError::Route(format!("route {}: {error}", config.name)))
}

/// The policy of a route that was removed: its live connections end.
const DENY_ALL: &str = "deny \"route-removed\" reason \"this route no longer exists\" when true\n";

/// The browser-login routes (`/.zt/...`).
pub(crate) struct LoginRoutes {
    /// Path prefix.
    pub(crate) prefix: String,
    /// login, callback, logout, userinfo.
    pub(crate) router: Router,
    /// Served on this host only, when set (the configured public URL's host).
    pub(crate) host: Option<String>,
}

impl LoginRoutes {
    fn serves(&self, host: &str, path: &str) -> bool {
        prefix_matches(&self.prefix, path) && self.host.as_deref().is_none_or(|h| h == host)
    }
}

/// State shared by every connection of every listener.
pub(crate) struct Shared {
    pub(crate) routes: ArcSwap<RouteTable>,
    pub(crate) login: Option<LoginRoutes>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) no_route: Label,
}

/// Answers requests of one listener.
#[derive(Clone)]
pub(crate) struct Handler {
    shared: Arc<Shared>,
    /// Redirect everything to HTTPS on this port instead of serving.
    redirect_to: Option<u16>,
}

impl Handler {
    pub(crate) fn serving(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            redirect_to: None,
        }
    }

    pub(crate) fn redirecting(shared: Arc<Shared>, https_port: u16) -> Self {
        Self {
            shared,
            redirect_to: Some(https_port),
        }
    }

    /// Counts the connection as open until the guard drops.
    pub(crate) fn open_connection(&self) -> OpenConnection {
        self.shared.metrics.connections().inc();
        OpenConnection(Arc::clone(&self.shared.metrics))
    }

    pub(crate) async fn handle(
        &self,
        request: Request<Incoming>,
        connection: &Connection,
    ) -> Response<Body> {
        let started = Instant::now();
        let (route, response) = self.route(request, connection).await;
        let upstream = response.extensions().get::<UpstreamError>().copied();
        let route = route.unwrap_or_else(|| self.shared.no_route.clone());
        self.shared.metrics.request(
            &route,
            response.status().as_u16(),
            started.elapsed(),
            upstream,
        );
        response
    }

    async fn route(
        &self,
        mut request: Request<Incoming>,
        connection: &Connection,
    ) -> (Option<Label>, Response<Body>) {
        if ambiguous_host(&request) {
            return (
                None,
                problem(
                    request.headers(),
                    StatusCode::BAD_REQUEST,
                    "the request names two different hosts (Host and the request target)",
                ),
            );
        }
        if let Some(port) = self.redirect_to {
            return (None, redirect_to_https(&request, port));
        }
        match normalize_uri(request.uri(), false) {
            Ok(Some(uri)) => *request.uri_mut() = uri,
            Ok(None) => {}
            Err(error) => {
                return (
                    None,
                    problem(
                        request.headers(),
                        StatusCode::BAD_REQUEST,
                        &error.to_string(),
                    ),
                );
            }
        }
        remove_hop_by_hop_for_forwarding(request.headers_mut());
        let extensions = request.extensions_mut();
        extensions.insert(ConnectInfo(connection.peer));
        extensions.insert(ClientScheme(if connection.tls { "https" } else { "http" }));
        if let Some(identity) = &connection.identity {
            extensions.insert(identity.clone());
        }
        if request.headers().contains_key(UPGRADE) {
            request.extensions_mut().insert(connection.held.clone());
        }
        let target = {
            let host = HostName::normalize(request_host(&request).unwrap_or(""));
            let path = request.uri().path();
            match &self.shared.login {
                Some(login) if login.serves(host.as_str(), path) => Target::Login(login),
                _ => match self.shared.routes.load().find(host.as_str(), path) {
                    Some(route) => Target::Route {
                        name: route.name.clone(),
                        service: route.service.clone(),
                        case_insensitive: route.case_insensitive,
                    },
                    None => Target::Nowhere,
                },
            }
        };
        let response = match target {
            Target::Login(login) => login.router.clone().oneshot(request.map(Body::new)).await,
            Target::Nowhere => Ok(problem(
                request.headers(),
                StatusCode::NOT_FOUND,
                "no route for this host and path",
            )),
            Target::Route {
                name,
                service,
                case_insensitive,
            } => {
                if case_insensitive && let Ok(Some(uri)) = normalize_uri(request.uri(), true) {
                    *request.uri_mut() = uri;
                }
                request
                    .extensions_mut()
                    .insert(RouteName(Arc::clone(&name.0)));
                let response = service.oneshot(request.map(Body::new)).await;
                return (Some(name), response.unwrap_or_else(|never| match never {}));
            }
        };
        (None, response.unwrap_or_else(|never| match never {}))
    }
}

/// Where a request goes, decided on its normalised host and path.
enum Target<'a> {
    /// The browser-login routes.
    Login(&'a LoginRoutes),
    /// A route's stack.
    Route {
        name: Label,
        service: RouteService,
        case_insensitive: bool,
    },
    /// No route: 404.
    Nowhere,
}

/// Decrements the open-connections gauge on drop.
pub(crate) struct OpenConnection(Arc<Metrics>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.connections().dec();
    }
}

/// Removes the hop-by-hop headers before the route's auth layer adds identity headers,
/// so a client cannot name those in `Connection` to have them removed on the way
/// upstream. `Host` stays (it is part of the request target); a WebSocket upgrade keeps
/// its `Connection: upgrade` and `Upgrade`.
fn redirect_to_https<B>(request: &Request<B>, port: u16) -> Response<Body> {
    let host = request_host(request)
        .map(|host| HostName::normalize(host).as_str().to_owned())
        .filter(|host| HostPattern::parse(host).is_ok());
    let Some(host) = host else {
        return problem(
            request.headers(),
            StatusCode::BAD_REQUEST,
            "a Host header is required",
        );
    };
    let path = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
    let location = if port == 443 {
        format!("https://{host}{path}")
    } else {
        format!("https://{host}:{port}{path}")
    };
    match HeaderValue::try_from(location) {
        Ok(location) => {
            let mut response = Response::new(Body::empty());
            *response.status_mut() = StatusCode::PERMANENT_REDIRECT;
            response.headers_mut().insert(LOCATION, location);
            response
        }
        Err(_) => problem(
            request.headers(),
            StatusCode::BAD_REQUEST,
            "the Host header is not usable",
        ),
    }
}
