//! One request's way through the layer: find the credential, decide with the policy,
//! build the audit event. Used by the synchronous fast path and the async slow path alike.

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, MatchedPath};
use bytes::Bytes;
use http::header::USER_AGENT;
use http::{HeaderName, Request, Response};
use http_body_util::Full;
use zt_core::audit::{Actor, AuditEvent, EventKind, Source, Target};
use zt_core::identity::{Identity, Verifier};
use zt_core::policy::{Decision, Effect, KubeAttributes, RequestContext, canonical_ip};

use crate::credentials::{PeerIdentity, bearer_token};
use crate::layer::Config;
use crate::session::Session;

/// A browser session's access token is refreshed when it expires within this many
/// seconds (so it never expires mid-request).
const REFRESH_MARGIN_SECONDS: i64 = 60;
use crate::response::{forbidden, login_redirect, unauthorized, wants_html};

/// What the request presented.
pub(crate) enum Credential<'r> {
    /// Nothing: decided as an unauthenticated request.
    None,
    /// A verified mTLS peer.
    Peer(Arc<Identity>),
    /// A token to verify (borrowed from a header, or from the session cookie).
    Token(Cow<'r, str>),
    /// A browser session whose access token expires soon and can be refreshed first.
    Refresh(Box<Session>),
    /// Something unusable (e.g. two `Authorization` headers).
    Invalid(String),
}

/// Finds the credential, in order: mTLS peer identity, `Authorization: Bearer`, the
/// configured token headers, the session cookie (its access token). A session cookie
/// that cannot be opened (tampered, foreign, expired) counts as no credential.
pub(crate) fn credential<'r, B>(config: &Config, request: &'r Request<B>) -> Credential<'r> {
    if config.peer_identity
        && let Some(PeerIdentity(identity)) = request.extensions().get::<PeerIdentity>()
    {
        return Credential::Peer(Arc::clone(identity));
    }
    if config.bearer {
        match bearer_token(request.headers()) {
            Ok(Some(token)) => return Credential::Token(Cow::Borrowed(token)),
            Ok(None) => {}
            Err(error) => return Credential::Invalid(error.to_string()),
        }
    }
    for name in &config.token_headers {
        let mut values = request.headers().get_all(name).iter();
        if let Some(value) = values.next() {
            if values.next().is_some() {
                return Credential::Invalid(format!("more than one {name} header"));
            }
            return match value.to_str() {
                Ok(token) if !token.is_empty() => Credential::Token(Cow::Borrowed(token)),
                _ => Credential::Invalid(format!("the {name} header is not a token")),
            };
        }
    }
    if let Some(cookie) = &config.session {
        match cookie.from_request_headers(request.headers()) {
            Ok(Some(session)) => {
                let refreshable = config.login.is_some()
                    && session.refresh_token.is_some()
                    && session.access_token_expires_within(
                        jiff::Timestamp::now(),
                        REFRESH_MARGIN_SECONDS,
                    );
                return if refreshable {
                    Credential::Refresh(Box::new(session))
                } else {
                    Credential::Token(Cow::Owned(session.access_token))
                };
            }
            Ok(None) => {}
            Err(error) => tracing::debug!(%error, "ignoring a session cookie that does not open"),
        }
    }
    Credential::None
}

/// The verifier for a token, or why there is none.
pub(crate) fn verifier(config: &Config) -> Result<&Verifier, String> {
    config
        .verifier
        .as_ref()
        .ok_or_else(|| "this service does not accept tokens".to_owned())
}

/// The name of the route a request matched, for `request.route` in policies; set it in
/// the request's extensions before the layer (it takes precedence over axum's
/// `MatchedPath`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteName(pub Arc<str>);

/// Asks the layer to keep a [`LiveCheck`](crate::LiveCheck) with an allowed request that is
/// not an upgrade but lasts (e.g. a Kubernetes watch): put it in the request's extensions
/// before the layer, and the proxy ends the response once the request would be denied.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LongLived;

/// Lets a layer outside the [`AuthLayer`](crate::AuthLayer) learn what it decided (e.g.
/// an access log): put one in the request's extensions, keep a clone, and read it once
/// the response is there. Empty when the request never reached a decision (no or an
/// invalid credential).
#[derive(Clone, Debug, Default)]
pub struct DecisionSlot(Arc<std::sync::OnceLock<Decided>>);

impl DecisionSlot {
    /// What was decided, if the request was.
    pub fn get(&self) -> Option<&Decided> {
        self.0.get()
    }

    fn fill(&self, decided: Decided) {
        // Only the first decision of a request counts.
        let _ = self.0.set(decided);
    }
}

/// One request's decision, as a [`DecisionSlot`] holds it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Decided {
    /// Who asked, if anyone was authenticated.
    pub identity: Option<Arc<Identity>>,
    /// The decision as audited (effect, matching rules, reason).
    pub decision: zt_core::audit::Decision,
}

impl Decided {
    /// A decision for `identity`.
    pub fn new(identity: Option<Arc<Identity>>, decision: zt_core::audit::Decision) -> Self {
        Self { identity, decision }
    }
}

/// Watches every policy decision the layer makes, e.g. to count them in metrics.
pub trait DecisionObserver: Send + Sync + 'static {
    /// Called once per decided request, before the response is built.
    fn decided(&self, decision: &Decision<'_>);
}

/// The outcome of deciding one request.
pub(crate) enum Verdict {
    /// Pass it on, with what handlers may read.
    Allow(AccessDecision),
    /// Answer it with this response.
    Respond(Response<Full<Bytes>>),
}

/// What the layer decided for an allowed request; handlers read it from the request's
/// extensions (or with [`Authenticated`](crate::Authenticated)).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AccessDecision {
    /// Ids of the allow rules that matched, in source order.
    pub rules: Vec<String>,
}

/// Decides `request` for `identity` with the policy in force, and builds the audit event.
pub(crate) fn decide<B>(
    config: &Config,
    request: &Request<B>,
    identity: Option<&Arc<Identity>>,
) -> (Verdict, AuditEvent) {
    decide_observed(config, request, identity, true)
}

/// [`decide`], telling the [`DecisionObserver`] only when `observe` (re-checks of live
/// connections are not requests).
pub(crate) fn decide_observed<B>(
    config: &Config,
    request: &Request<B>,
    identity: Option<&Arc<Identity>>,
    observe: bool,
) -> (Verdict, AuditEvent) {
    let engine = config.policy.load();
    let headers = request.headers();
    let host = crate::proxy::request_host(request);
    let path = request.uri().path();
    let now = jiff::Timestamp::now();
    let kube = request.extensions().get::<KubeAttributes>();
    let mut context = match kube {
        Some(kube) => RequestContext::kube(now, kube),
        None => RequestContext::http(now),
    }
    .with_method(request.method().as_str())
    .with_path(path)
    .with_headers(headers);
    if let Some(host) = host {
        context = context.with_host(host);
    }
    if let Some(query) = request.uri().query() {
        context = context.with_query(query);
    }
    if let Some(RouteName(route)) = request.extensions().get::<RouteName>() {
        context = context.with_route(route);
    } else if let Some(route) = request.extensions().get::<MatchedPath>() {
        context = context.with_route(route.as_str());
    }
    if let Some(ip) = peer_ip(request) {
        context = context.with_source_ip(ip);
    }
    if let Some(identity) = identity {
        context = context.with_identity(identity);
    }
    let decision = engine.decide(&context);
    if observe && let Some(observer) = &config.observer {
        observer.decided(&decision);
    }
    let audited = decision.to_audit();
    if observe && let Some(slot) = request.extensions().get::<DecisionSlot>() {
        slot.fill(Decided {
            identity: identity.cloned(),
            decision: audited.clone(),
        });
    }
    let verdict = match (decision.effect(), identity) {
        (Effect::Allow, _) => Verdict::Allow(AccessDecision {
            rules: audited.rules.clone(),
        }),
        (Effect::Deny, Some(_)) => Verdict::Respond(forbidden(
            headers,
            audited.reason.as_deref().unwrap_or("denied"),
        )),
        (Effect::Deny, None) => Verdict::Respond(unauthenticated(config, request)),
    };
    let (kind, target) = match kube {
        Some(kube) => (EventKind::KubeRequest, Target::kube(kube, path)),
        None => (
            EventKind::HttpRequest,
            Target::Http {
                method: request.method().as_str().to_owned(),
                host: context.host().unwrap_or_default().to_owned(),
                path: path.to_owned(),
            },
        ),
    };
    let event = event(kind, kube.is_some(), request, identity, context.source_ip())
        .target(target)
        .decision(audited);
    (verdict, event)
}

/// A denied request without identity: browsers go to login (when configured), APIs get 401.
pub(crate) fn unauthenticated<B>(config: &Config, request: &Request<B>) -> Response<Full<Bytes>> {
    match &config.login_path {
        Some(login) if wants_html(request.headers()) && request.method() == http::Method::GET => {
            let return_to = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
            login_redirect(login, return_to)
        }
        _ => unauthorized(request.headers(), None),
    }
}

/// The rejection of a presented credential, and its audit event.
pub(crate) fn rejected<B>(request: &Request<B>, why: &str) -> (Response<Full<Bytes>>, AuditEvent) {
    let kube = request.extensions().get::<KubeAttributes>().is_some();
    let event = event(
        EventKind::TokenRejected,
        kube,
        request,
        None,
        peer_ip(request),
    )
    .field("reason", why);
    (unauthorized(request.headers(), Some(why)), event)
}

/// The connection's peer address, from axum's `ConnectInfo`.
fn peer_ip<B>(request: &Request<B>) -> Option<IpAddr> {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| canonical_ip(info.0.ip()))
}

/// The audit event of a request; `kube` links it by its `Audit-ID` first (the id the API
/// server logs), other requests by `X-Request-Id` first.
fn event<B>(
    kind: EventKind,
    kube: bool,
    request: &Request<B>,
    identity: Option<&Arc<Identity>>,
    source_ip: Option<IpAddr>,
) -> AuditEvent {
    let mut source = Source::default();
    source.ip = source_ip;
    source.user_agent = request
        .headers()
        .get(USER_AGENT)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let mut event = AuditEvent::new(kind).source(source);
    if let Some(identity) = identity {
        event = event.actor(Actor::from(&**identity));
    }
    let headers = request.headers();
    let ids = if kube {
        [AUDIT_ID, REQUEST_ID]
    } else {
        [REQUEST_ID, AUDIT_ID]
    };
    if let Some(id) = ids
        .iter()
        .find_map(|name| headers.get(name))
        .and_then(|value| value.to_str().ok())
    {
        event = event.request_id(id);
    }
    event
}

/// The request id header linked into audit events.
pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// Kubernetes' request id (`Audit-ID`), linked when there is no `X-Request-Id`.
pub(crate) const AUDIT_ID: HeaderName = HeaderName::from_static("audit-id");
