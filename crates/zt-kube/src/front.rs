//! [`KubeRequestLayer`]: what every request to the kube proxy goes through before the
//! [`AuthLayer`](zt_tower::AuthLayer) decides it.
//!
//! - The path is normalised (dot segments, duplicate slashes) and ambiguous encodings are
//!   refused with 400, so the policy decides on the path the API server will act on.
//! - The request's `kube.*` attributes are resolved ([`RequestInfo`]) and put in its
//!   extensions, so the layer decides it as a Kubernetes request; a watch is marked
//!   [`LongLived`] so it ends once the policy no longer allows it.
//! - A client that sends any `Impersonate-*` header is refused (403, audited): the proxy
//!   impersonates the signed-in user itself, nobody else.
//! - A bearer token carried in the WebSocket subprotocol
//!   (`base64url.bearer.authorization.k8s.io.<token>`, how browsers authenticate
//!   WebSockets to the API server) becomes the request's `Authorization` and is removed
//!   from the subprotocol list.
//! - Every request carries an `Audit-ID` (the client's, when it is a sensible token, or a
//!   new one): the API server logs it, zt's audit event links it, the response returns it.
//! - The layer's own errors (401, 403, 503 from the auth layer) are turned into
//!   `metav1.Status` objects, which is what kubectl prints.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Either};
use tower::{Layer, Service};
use zt_core::audit::{AuditEvent, Auditor, Decision, EventKind, Target};
use zt_tower::proxy::normalize_uri;
use zt_tower::{AuthBody, DecisionSlot, LongLived};

use crate::headers::{IMPERSONATE_PREFIX, take_websocket_token};
use crate::kube_audit::{Answer, KubeAuditLog, RequestMeta};
use crate::metrics::KubeMetrics;
use crate::status::{message, status_response};
use crate::{RequestInfo, RequestInfoError};

/// Kubernetes' request id header.
pub const AUDIT_ID: HeaderName = HeaderName::from_static("audit-id");

/// Longest client-sent `Audit-ID` kept (the API server's own are 36-character UUIDs).
const MAX_AUDIT_ID_LEN: usize = 128;

/// Prepares requests for the auth layer and the kube proxy; see the [module](self) docs.
#[derive(Clone, Debug, Default)]
pub struct KubeRequestLayer {
    auditor: Option<Auditor>,
    kube_audit: Option<KubeAuditLog>,
    metrics: Option<Arc<KubeMetrics>>,
}

impl KubeRequestLayer {
    /// A layer that audits refused impersonation attempts to `auditor`, if given.
    pub fn new(auditor: Option<Auditor>) -> Self {
        Self {
            auditor,
            kube_audit: None,
            metrics: None,
        }
    }

    /// Also counts every request (verb, status code, time to the response head).
    #[must_use]
    pub fn metrics(mut self, metrics: Arc<KubeMetrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Also writes every request as an `audit.k8s.io/v1` event to `log`.
    #[must_use]
    pub fn kube_audit(mut self, log: KubeAuditLog) -> Self {
        self.kube_audit = Some(log);
        self
    }
}

impl<S> Layer<S> for KubeRequestLayer {
    type Service = KubeRequest<S>;

    fn layer(&self, inner: S) -> Self::Service {
        KubeRequest {
            inner,
            auditor: self.auditor.clone(),
            kube_audit: self.kube_audit.clone(),
            metrics: self.metrics.clone(),
        }
    }
}

/// The service [`KubeRequestLayer`] wraps around the auth layer.
#[derive(Clone, Debug)]
pub struct KubeRequest<S> {
    inner: S,
    auditor: Option<Auditor>,
    kube_audit: Option<KubeAuditLog>,
    metrics: Option<Arc<KubeMetrics>>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B, ResBody> Service<Request<B>> for KubeRequest<S>
where
    S: Service<Request<B>, Response = Response<AuthBody<ResBody>>> + Send,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ResBody: Send + 'static,
{
    type Response = Response<AuthBody<ResBody>>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        // The policy and the API server must see the same path: dot segments resolved,
        // duplicate slashes collapsed, ambiguous encodings (`%2F`, `..` above the root)
        // refused. The request goes on with the normalised path.
        match normalize_uri(request.uri(), false) {
            Ok(Some(uri)) => *request.uri_mut() = uri,
            Ok(None) => {}
            Err(error) => {
                return answer(
                    StatusCode::BAD_REQUEST,
                    &format!("the request path is refused: {error}"),
                );
            }
        }
        let info = match RequestInfo::from_request(&request) {
            Ok(info) => info,
            Err(error) => return answer(StatusCode::BAD_REQUEST, &bad_path(&error)),
        };
        let started = Instant::now();
        let metrics = self.metrics.clone();
        let audit_id = audit_id(request.headers_mut());
        let logged = self
            .kube_audit
            .clone()
            .map(|log| (log, RequestMeta::of(&request), DecisionSlot::default()));
        if impersonates(request.headers()) {
            self.refuse_impersonation(&request, &info, &audit_id);
            if let Some((log, meta, _)) = &logged {
                log.answered(
                    meta,
                    Answer {
                        info: &info,
                        audit_id: &audit_id,
                        decided: None,
                        status: StatusCode::FORBIDDEN,
                    },
                );
            }
            let detail = "the proxy impersonates the signed-in user; Impersonate-* headers \
                          from clients are not allowed";
            let text = message(StatusCode::FORBIDDEN, Some(&info), detail);
            if let Some(metrics) = &metrics {
                metrics.request(
                    &info.verb,
                    StatusCode::FORBIDDEN.as_u16(),
                    started.elapsed(),
                );
            }
            return answer_with_id(StatusCode::FORBIDDEN, &text, audit_id);
        }
        websocket_token_to_authorization(request.headers_mut());
        request.extensions_mut().insert(info.to_attributes());
        if is_long_lived(&info) {
            request.extensions_mut().insert(LongLived);
        }
        if let Some((_, _, slot)) = &logged {
            request.extensions_mut().insert(slot.clone());
        }
        let call = self.inner.call(request);
        Box::pin(async move {
            let response = call.await?;
            if let Some(metrics) = &metrics {
                metrics.request(&info.verb, response.status().as_u16(), started.elapsed());
            }
            if let Some((log, meta, slot)) = &logged {
                log.answered(
                    meta,
                    Answer {
                        info: &info,
                        audit_id: &audit_id,
                        decided: slot.get(),
                        status: response.status(),
                    },
                );
            }
            Ok(kube_errors(response, &info, audit_id).await)
        })
    }
}

impl<S> KubeRequest<S> {
    fn refuse_impersonation<B>(&self, request: &Request<B>, info: &RequestInfo, id: &HeaderValue) {
        tracing::warn!(
            path = request.uri().path(),
            "refused a request that carried Impersonate-* headers"
        );
        let Some(auditor) = &self.auditor else {
            return;
        };
        let mut event = AuditEvent::new(EventKind::KubeRequest)
            .target(Target::kube(&info.to_attributes(), request.uri().path()))
            .decision(Decision::deny("client sent Impersonate-* headers"));
        if let Ok(id) = id.to_str() {
            event = event.request_id(id);
        }
        if let Err(error) = auditor.try_record(event) {
            tracing::error!(%error, "could not audit a refused impersonation attempt");
        }
    }
}

/// Requests whose response may stream for long: watches, logs (`kubectl logs -f`) and
/// proxied connections. They end once the policy no longer allows them.
fn is_long_lived(info: &RequestInfo) -> bool {
    info.verb == "watch"
        || info.verb == "proxy"
        || matches!(info.subresource.as_str(), "log" | "proxy")
}

fn bad_path(error: &RequestInfoError) -> String {
    format!("the request path is not a Kubernetes API path: {error}")
}

/// Whether the client sent any `Impersonate-*` header (names are lower case in `http`).
fn impersonates(headers: &HeaderMap) -> bool {
    headers
        .keys()
        .any(|name| name.as_str().starts_with(IMPERSONATE_PREFIX))
}

/// The request's `Audit-ID`: the client's when it is a short visible-ASCII token without
/// separators, otherwise a new UUID (set on the request either way).
fn audit_id(headers: &mut HeaderMap) -> HeaderValue {
    let mut sent = headers.get_all(AUDIT_ID).iter();
    let kept = match (sent.next(), sent.next()) {
        (Some(value), None)
            if !value.is_empty()
                && value.len() <= MAX_AUDIT_ID_LEN
                && value
                    .as_bytes()
                    .iter()
                    .all(|b| b.is_ascii_graphic() && *b != b',') =>
        {
            Some(value.clone())
        }
        _ => None,
    };
    let id = kept.unwrap_or_else(|| {
        let id = uuid::Uuid::now_v7().hyphenated().to_string();
        HeaderValue::from_str(&id).unwrap_or(HeaderValue::from_static("invalid"))
    });
    headers.insert(AUDIT_ID, id.clone());
    id
}

/// Moves a bearer token out of `Sec-WebSocket-Protocol` into `Authorization` (unless the
/// request has one already); the token never travels further in the subprotocol list.
fn websocket_token_to_authorization(headers: &mut HeaderMap) {
    if let Some(token) = take_websocket_token(headers)
        && !headers.contains_key(AUTHORIZATION)
        && let Ok(token) = std::str::from_utf8(&token)
        && let Ok(value) = HeaderValue::from_str(&format!("Bearer {token}"))
    {
        headers.insert(AUTHORIZATION, value);
    }
}

/// Turns the auth layer's own `problem+json` answers into `Status` objects and returns
/// the `Audit-ID`.
async fn kube_errors<ResBody>(
    response: Response<AuthBody<ResBody>>,
    info: &RequestInfo,
    audit_id: HeaderValue,
) -> Response<AuthBody<ResBody>> {
    let (mut parts, body) = response.into_parts();
    let body = match body {
        Either::Right(own) if is_problem(&parts.headers) => {
            let bytes = own
                .collect()
                .await
                .map(|c| c.to_bytes())
                .unwrap_or_default();
            let detail = serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|problem| problem["detail"].as_str().map(str::to_owned))
                .unwrap_or_default();
            let status = status_response(parts.status, &message(parts.status, Some(info), &detail));
            let challenge = parts.headers.remove(WWW_AUTHENTICATE);
            let (status_parts, status_body) = status.into_parts();
            parts.headers = status_parts.headers;
            if let Some(challenge) = challenge {
                parts.headers.insert(WWW_AUTHENTICATE, challenge);
            }
            Either::Right(status_body)
        }
        other => other,
    };
    if !parts.headers.contains_key(AUDIT_ID) {
        parts.headers.insert(AUDIT_ID, audit_id);
    }
    Response::from_parts(parts, body)
}

fn is_problem(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/problem+json"))
}

fn answer<T, ResBody>(
    code: StatusCode,
    text: &str,
) -> BoxFuture<Result<Response<AuthBody<ResBody>>, T>>
where
    ResBody: Send + 'static,
    T: Send + 'static,
{
    let response = status_response(code, text).map(Either::Right);
    Box::pin(std::future::ready(Ok(response)))
}

fn answer_with_id<T, ResBody>(
    code: StatusCode,
    text: &str,
    id: HeaderValue,
) -> BoxFuture<Result<Response<AuthBody<ResBody>>, T>>
where
    ResBody: Send + 'static,
    T: Send + 'static,
{
    let mut response = status_response(code, text).map(Either::Right);
    response.headers_mut().insert(AUDIT_ID, id);
    Box::pin(std::future::ready(Ok(response)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use bytes::Bytes;
    use http::header::SEC_WEBSOCKET_PROTOCOL;
    use http_body_util::Full;

    /// A body as the auth layer builds its own answers.
    fn full(bytes: &'static str) -> Full<Bytes> {
        Full::new(Bytes::from_static(bytes.as_bytes()))
    }

    #[test]
    fn websocket_tokens_move_to_authorization_and_leave_the_subprotocols() {
        let mut headers = HeaderMap::new();
        let token = URL_SAFE_NO_PAD.encode("eyJ.token.sig");
        headers.insert(
            SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_str(&format!(
                "base64url.bearer.authorization.k8s.io.{token}, v5.channel.k8s.io"
            ))
            .unwrap_or(HeaderValue::from_static("")),
        );
        websocket_token_to_authorization(&mut headers);
        assert_eq!(
            headers.get(AUTHORIZATION).map(HeaderValue::as_bytes),
            Some(&b"Bearer eyJ.token.sig"[..])
        );
        assert_eq!(
            headers
                .get(SEC_WEBSOCKET_PROTOCOL)
                .map(HeaderValue::as_bytes),
            Some(&b"v5.channel.k8s.io"[..])
        );
    }

    #[test]
    fn a_websocket_token_never_replaces_authorization() {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer header"));
        headers.insert(
            SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static("base64url.bearer.authorization.k8s.io.b3RoZXI"),
        );
        websocket_token_to_authorization(&mut headers);
        assert_eq!(
            headers.get(AUTHORIZATION).map(HeaderValue::as_bytes),
            Some(&b"Bearer header"[..])
        );
        assert!(!headers.contains_key(SEC_WEBSOCKET_PROTOCOL));
    }

    #[test]
    fn audit_ids_are_kept_when_sensible_and_made_otherwise() {
        let mut headers = HeaderMap::new();
        headers.insert(AUDIT_ID, HeaderValue::from_static("abc-123"));
        assert_eq!(audit_id(&mut headers), "abc-123");
        let mut headers = HeaderMap::new();
        headers.insert(AUDIT_ID, HeaderValue::from_static("a, b"));
        let made = audit_id(&mut headers);
        assert_eq!(made.len(), 36);
        assert_eq!(headers.get(AUDIT_ID), Some(&made));
        let mut headers = HeaderMap::new();
        headers.append(AUDIT_ID, HeaderValue::from_static("one"));
        headers.append(AUDIT_ID, HeaderValue::from_static("two"));
        assert_eq!(audit_id(&mut headers).len(), 36);
    }

    #[test]
    fn watches_log_follows_and_proxies_are_long_lived() {
        let long = |path: &str, query: Option<&str>| {
            let info = RequestInfo::resolve(&http::Method::GET, path, query).unwrap_or_default();
            is_long_lived(&info)
        };
        assert!(long("/api/v1/namespaces/d/pods", Some("watch=true")));
        assert!(long(
            "/api/v1/namespaces/d/pods/web/log",
            Some("follow=true")
        ));
        assert!(long("/api/v1/namespaces/d/services/web/proxy/x", None));
        assert!(long("/api/v1/proxy/namespaces/d/pods/web", None));
        assert!(!long("/api/v1/namespaces/d/pods/web", None));
    }

    #[test]
    fn impersonation_in_any_case_is_found() {
        let mut headers = HeaderMap::new();
        headers.insert("IMPERSONATE-EXTRA-scopes", HeaderValue::from_static("x"));
        assert!(impersonates(&headers));
        assert!(!impersonates(&HeaderMap::new()));
    }

    #[tokio::test]
    async fn problems_become_status_objects() {
        let mut response: Response<AuthBody<Full<Bytes>>> = Response::new(Either::Right(full(
            r#"{"type":"about:blank","title":"Forbidden","status":403,"detail":"denied by rule \"no-delete\""}"#,
        )));
        *response.status_mut() = StatusCode::FORBIDDEN;
        response.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        let info =
            RequestInfo::resolve(&http::Method::DELETE, "/api/v1/namespaces/d/pods/web", None)
                .unwrap_or_default();
        let response = kube_errors(response, &info, HeaderValue::from_static("id-1")).await;
        assert_eq!(
            response.headers().get(AUDIT_ID).map(HeaderValue::as_bytes),
            Some(&b"id-1"[..])
        );
        let body = response
            .into_body()
            .collect()
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        let status: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        assert_eq!(status["kind"], "Status");
        assert_eq!(status["reason"], "Forbidden");
        assert_eq!(
            status["message"],
            "pods \"web\" is forbidden: denied by rule \"no-delete\""
        );
    }
}
