//! [`AssertionService`]: verifies the assertion of each request.

use std::fmt;
use std::mem;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, Entry};
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode};
use http_body_util::{Either, Full};
use serde_json::Value;
use tower::Service;
use zt_core::identity::{Identity, IdentityKind, SpiffeId, VerifyError};

use super::AssertionError;
use super::future::{ResponseFuture, VerifyFuture};
use super::layer::Shared;

/// The service built by [`AssertionLayer`](super::AssertionLayer): verifies the
/// assertion, then calls the inner service with `Arc<Identity>` in the request's
/// extensions, or answers 401 itself.
pub struct AssertionService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> AssertionService<S> {
    pub(crate) fn new(inner: S, shared: Arc<Shared>) -> Self {
        Self { inner, shared }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S: Clone> Clone for AssertionService<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for AssertionService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AssertionService")
            .field("inner", &self.inner)
            .field("header", &self.shared.header)
            .finish_non_exhaustive()
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for AssertionService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
{
    type Response = Response<Either<ResBody, Full<Bytes>>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ReqBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let value = match take_single(request.headers_mut(), &self.shared.header) {
            Ok(value) => value,
            Err(error) => {
                log_rejection(&error);
                return ResponseFuture::rejected();
            }
        };
        let verifier = self.shared.verifier.clone();
        let verify: VerifyFuture = Box::pin(async move {
            let token = value
                .to_str()
                .map_err(|_| VerifyError::Malformed("assertion header is not visible ASCII"))?;
            restore(verifier.verify(token).await?)
        });
        // Call the instance that was polled ready; keep a fresh clone for the next request.
        let fresh = self.inner.clone();
        let ready = mem::replace(&mut self.inner, fresh);
        ResponseFuture::verifying(verify, request, ready)
    }
}

/// Removes every copy of `name` and returns the value if there was exactly one.
fn take_single(headers: &mut HeaderMap, name: &HeaderName) -> Result<HeaderValue, AssertionError> {
    let Entry::Occupied(entry) = headers.entry(name) else {
        return Err(AssertionError::Missing);
    };
    let mut values = entry.remove_entry_mult().1;
    match (values.next(), values.next()) {
        (Some(value), None) => Ok(value),
        (Some(_), Some(_)) => Err(AssertionError::Multiple),
        (None, _) => Err(AssertionError::Missing),
    }
}

/// The caller's identity as the proxy saw it: `kind` from the `kind` claim, `issuer`
/// from `idp_iss`, and for workloads the SPIFFE ID. Ill-typed claims reject the assertion.
fn restore(verified: Arc<Identity>) -> Result<Arc<Identity>, AssertionError> {
    let invalid = |claim: &str, reason| VerifyError::InvalidClaim {
        claim: claim.to_owned(),
        reason,
    };
    let kind = match verified.claims.get("kind") {
        None | Some(Value::Null) => IdentityKind::User,
        Some(Value::String(kind)) if kind == "user" => IdentityKind::User,
        Some(Value::String(kind)) if kind == "workload" => IdentityKind::Workload,
        Some(_) => return Err(invalid("kind", "not \"user\" or \"workload\"").into()),
    };
    let issuer = match verified.claims.get("idp_iss") {
        None | Some(Value::Null) => None,
        Some(Value::String(issuer)) if !issuer.is_empty() => Some(issuer),
        Some(_) => return Err(invalid("idp_iss", "not a non-empty string").into()),
    };
    if kind == verified.kind && issuer.is_none_or(|issuer| *issuer == verified.issuer) {
        return Ok(verified);
    }
    let mut identity = Identity::clone(&verified);
    identity.kind = kind;
    if let Some(issuer) = issuer {
        identity.issuer.clone_from(issuer);
    }
    if kind == IdentityKind::Workload {
        identity.spiffe_id = SpiffeId::parse(&identity.subject).ok();
    }
    Ok(Arc::new(identity))
}

pub(crate) fn log_rejection(error: &AssertionError) {
    match error {
        AssertionError::Missing => tracing::debug!("request without identity assertion refused"),
        error => tracing::info!(%error, "identity assertion refused"),
    }
}

/// 401 as `application/problem+json` (RFC 9457); the reason stays in the logs.
pub(crate) fn unauthorized<B>() -> Response<Either<B, Full<Bytes>>> {
    const BODY: &str = r#"{"type":"about:blank","title":"Unauthorized","status":401,"detail":"a valid identity assertion is required"}"#;
    let mut response = Response::new(Either::Right(Full::new(Bytes::from_static(
        BODY.as_bytes(),
    ))));
    *response.status_mut() = StatusCode::UNAUTHORIZED;
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::Timestamp;
    use serde_json::json;

    fn verified(claims: Value) -> Arc<Identity> {
        let mut identity = Identity::new(
            IdentityKind::User,
            "spiffe://prod.example/ns/a/sa/b",
            "https://proxy.example",
            Timestamp::now(),
        );
        identity.claims = claims.as_object().unwrap().clone();
        Arc::new(identity)
    }

    #[test]
    fn restores_kind_and_original_issuer() {
        let user = restore(verified(
            json!({"kind": "user", "idp_iss": "https://idp.example"}),
        ))
        .unwrap();
        assert_eq!(user.kind, IdentityKind::User);
        assert_eq!(user.issuer, "https://idp.example");
        assert_eq!(user.claims["idp_iss"], "https://idp.example");
        assert!(user.spiffe_id.is_none());

        let workload = restore(verified(
            json!({"kind": "workload", "idp_iss": "spiffe://prod.example"}),
        ))
        .unwrap();
        assert_eq!(workload.kind, IdentityKind::Workload);
        assert_eq!(workload.issuer, "spiffe://prod.example");
        assert_eq!(
            workload.spiffe_id.as_ref().map(SpiffeId::as_str),
            Some("spiffe://prod.example/ns/a/sa/b")
        );

        let untouched = verified(json!({}));
        assert!(Arc::ptr_eq(
            &restore(Arc::clone(&untouched)).unwrap(),
            &untouched
        ));
    }

    #[test]
    fn ill_typed_kind_or_idp_iss_rejects() {
        for claims in [
            json!({"kind": "admin"}),
            json!({"kind": 1}),
            json!({"idp_iss": ""}),
            json!({"idp_iss": ["https://idp.example"]}),
        ] {
            assert!(matches!(
                restore(verified(claims)),
                Err(AssertionError::Rejected(VerifyError::InvalidClaim { .. }))
            ));
        }
    }

    #[test]
    fn exactly_one_header_is_taken() {
        let name = super::super::DEFAULT_HEADER;
        let mut headers = HeaderMap::new();
        assert!(matches!(
            take_single(&mut headers, &name),
            Err(AssertionError::Missing)
        ));
        headers.append(&name, HeaderValue::from_static("a"));
        assert_eq!(take_single(&mut headers, &name).unwrap(), "a");
        assert!(headers.is_empty());
        headers.append("X-ZT-Assertion", HeaderValue::from_static("a"));
        headers.append("x-zt-assertion", HeaderValue::from_static("b"));
        assert!(matches!(
            take_single(&mut headers, &name),
            Err(AssertionError::Multiple)
        ));
        assert!(headers.is_empty());
    }

    #[tokio::test]
    async fn rejection_is_problem_json() {
        use http_body_util::BodyExt as _;
        let response = unauthorized::<Full<Bytes>>();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()[CONTENT_TYPE], "application/problem+json");
        assert_eq!(response.headers()[CACHE_CONTROL], "no-store");
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let problem: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            problem,
            json!({
                "type": "about:blank",
                "title": "Unauthorized",
                "status": 401,
                "detail": "a valid identity assertion is required",
            })
        );
    }
}
