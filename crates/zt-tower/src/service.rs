//! [`Auth`], the service [`AuthLayer`](crate::AuthLayer) wraps around an inner service.

use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{SET_COOKIE, UPGRADE};
use http::{HeaderValue, Request, Response};
use http_body_util::{Either, Full};
use tower::Service;
use zt_core::audit::AuditEvent;
use zt_core::identity::{Identity, VerifyError};

use crate::assertion::JWKS_PATH;
use crate::authorize::{
    AccessDecision, Credential, LongLived, Verdict, credential, decide, rejected, verifier,
};
use crate::future::ResponseFuture;
use crate::layer::Config;
use crate::live::LiveCheck;
use crate::response::{AuthBody, unavailable};
use crate::session::Session;

/// Authenticates, authorizes and audits requests to `S`; see
/// [`AuthLayer`](crate::AuthLayer).
#[derive(Clone)]
pub struct Auth<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S> Auth<S> {
    pub(crate) fn new(inner: S, config: Arc<Config>) -> Self {
        Self { inner, config }
    }
}

impl<S: std::fmt::Debug> std::fmt::Debug for Auth<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth").field("inner", &self.inner).finish()
    }
}

/// A decided and recorded request.
enum Outcome {
    /// Call the inner service with these in the request's extensions.
    Allow(Option<Arc<Identity>>, AccessDecision),
    /// Answer with this.
    Respond(Response<Full<Bytes>>),
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Auth<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: Send + 'static,
{
    type Response = Response<AuthBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        if let Some(assertion) = &self.config.assertion
            && request.uri().path() == JWKS_PATH
        {
            return ResponseFuture::respond(assertion.jwks.respond(request.method()));
        }
        for name in &self.config.strip {
            request.headers_mut().remove(name);
        }
        // The clone takes the place of the service that was driven to readiness.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        match fast_path(&self.config, &request) {
            Some(Outcome::Allow(identity, decision)) => {
                match extend(&self.config, &mut request, identity, decision) {
                    Ok(()) => ResponseFuture::inner(inner.call(request)),
                    Err(NotAsserted) => ResponseFuture::respond(not_asserted(&request)),
                }
            }
            Some(Outcome::Respond(response)) => ResponseFuture::respond(response),
            None => {
                let config = Arc::clone(&self.config);
                ResponseFuture::slow(Box::pin(async move {
                    let (outcome, set_cookie) = slow_path(&config, &mut request).await;
                    let mut response = match outcome {
                        Outcome::Allow(identity, decision) => {
                            match extend(&config, &mut request, identity, decision) {
                                Ok(()) => inner.call(request).await?.map(Either::Left),
                                Err(NotAsserted) => not_asserted(&request).map(Either::Right),
                            }
                        }
                        Outcome::Respond(response) => response.map(Either::Right),
                    };
                    if let Some(cookie) = set_cookie {
                        response.headers_mut().append(SET_COOKIE, cookie);
                    }
                    Ok(response)
                }))
            }
        }
    }
}

/// Puts what the layer learned into the request for the inner service: the identity and
/// decision in its extensions, and the signed assertion when configured. Fails closed:
/// an allowed request whose identity cannot be asserted is not forwarded.
fn extend<B>(
    config: &Arc<Config>,
    request: &mut Request<B>,
    identity: Option<Arc<Identity>>,
    decision: AccessDecision,
) -> Result<(), NotAsserted> {
    if config.assertion.is_some() {
        // The assertion is for a proxied request: a client must not be able to have it
        // removed downstream by naming it in `Connection`.
        crate::proxy::remove_hop_by_hop_for_forwarding(request.headers_mut());
    }
    if let (Some(assertion), Some(identity)) = (&config.assertion, &identity)
        && let Err(error) =
            assertion
                .signer
                .apply(request.headers_mut(), identity, &assertion.audience)
    {
        tracing::error!(%error, "allowed request not forwarded: its identity cannot be asserted");
        return Err(NotAsserted);
    }
    if request.headers().contains_key(UPGRADE) || request.extensions().get::<LongLived>().is_some()
    {
        let live = LiveCheck::new(Arc::clone(config), request, identity.clone());
        request.extensions_mut().insert(live);
    }
    if let Some(identity) = identity {
        request.extensions_mut().insert(identity);
    }
    request.extensions_mut().insert(decision);
    Ok(())
}

/// An allowed request whose identity could not be signed for the inner service.
struct NotAsserted;

fn not_asserted<B>(request: &Request<B>) -> Response<Full<Bytes>> {
    unavailable(
        request.headers(),
        "the caller's identity cannot be passed on; try again later",
    )
}

/// Decides without waiting, or `None` when the request must wait for a token
/// verification or for room in a blocking audit queue.
fn fast_path<B>(config: &Config, request: &Request<B>) -> Option<Outcome> {
    let identity = match credential(config, request) {
        Credential::None => None,
        Credential::Peer(identity) => Some(identity),
        Credential::Token(token) => match verifier(config) {
            Ok(verifier) => Some(verifier.verify_cached(&token)?),
            Err(why) => return record_rejection(config, request, &why),
        },
        Credential::Invalid(why) => return record_rejection(config, request, &why),
        Credential::Refresh(_) => return None,
    };
    let (verdict, event) = decide(config, request, identity.as_ref());
    match try_record(config, event) {
        Recorded::Yes => Some(outcome(verdict, identity)),
        Recorded::Wait => None,
        Recorded::Refused(why) => Some(Outcome::Respond(unavailable(request.headers(), &why))),
    }
}

/// The same decision, waiting where the fast path cannot. Nothing borrowed from the
/// request is held across an await but the `&mut` itself, so the future is `Send`
/// without requiring the body to be `Sync`.
async fn slow_path<B>(config: &Config, request: &mut Request<B>) -> (Outcome, Option<HeaderValue>) {
    let presented = match credential(config, request) {
        Credential::None => Presented::Nothing,
        Credential::Peer(identity) => Presented::Identity(identity),
        Credential::Token(token) => Presented::Token(token.into_owned()),
        Credential::Invalid(why) => Presented::Invalid(why),
        Credential::Refresh(session) => Presented::Refresh(session),
    };
    let (presented, set_cookie) = refreshed(config, presented).await;
    (
        decide_presented(config, request, presented).await,
        set_cookie,
    )
}

/// Refreshes a session about to expire: the new session's token is presented and its
/// cookie set; a session that cannot be refreshed is signed out (cookie cleared).
async fn refreshed(config: &Config, presented: Presented) -> (Presented, Option<HeaderValue>) {
    let (Presented::Refresh(session), Some(login)) = (&presented, &config.login) else {
        return (presented, None);
    };
    let renewed = match login.refresh(session).await {
        Ok(mut renewed) => login
            .set_cookie(&mut renewed)
            .map(|cookie| (renewed, cookie)),
        Err(error) => Err(error),
    };
    match renewed {
        Ok((renewed, cookie)) => (Presented::Token(renewed.access_token), Some(cookie)),
        Err(error) => {
            tracing::info!(%error, "session could not be refreshed; signing it out");
            (Presented::Nothing, Some(login.cookie().clear()))
        }
    }
}

async fn decide_presented<B>(
    config: &Config,
    request: &mut Request<B>,
    presented: Presented,
) -> Outcome {
    let token = match presented {
        Presented::Nothing => None,
        Presented::Identity(identity) => return decided(config, request, Some(identity)).await,
        Presented::Token(token) => Some(token),
        // Only when no `Login` refreshed it: use the token as it is.
        Presented::Refresh(session) => Some(session.access_token),
        Presented::Invalid(why) => return rejection(config, request, &why).await,
    };
    let identity = match token {
        None => None,
        Some(token) => {
            let verified = match verifier(config) {
                Ok(verifier) => verifier.verify(&token).await.map_err(|e| public_reason(&e)),
                Err(why) => Err(why),
            };
            match verified {
                Ok(identity) => Some(identity),
                Err(why) => return rejection(config, request, &why).await,
            }
        }
    };
    decided(config, request, identity).await
}

/// Decides for `identity` and records the event, waiting for the audit queue if needed.
async fn decided<B>(
    config: &Config,
    request: &mut Request<B>,
    identity: Option<Arc<Identity>>,
) -> Outcome {
    let (verdict, event) = decide(config, request, identity.as_ref());
    match record(config, event).await {
        Ok(()) => outcome(verdict, identity),
        Err(why) => Outcome::Respond(unavailable(request.headers(), &why)),
    }
}

/// An owned [`Credential`], to hold across awaits.
enum Presented {
    Nothing,
    Identity(Arc<Identity>),
    Token(String),
    Invalid(String),
    Refresh(Box<Session>),
}

fn outcome(verdict: Verdict, identity: Option<Arc<Identity>>) -> Outcome {
    match verdict {
        Verdict::Allow(decision) => Outcome::Allow(identity, decision),
        Verdict::Respond(response) => Outcome::Respond(response),
    }
}

/// What a client is told about a refused token (the audit log gets the details).
fn public_reason(error: &VerifyError) -> String {
    match error {
        VerifyError::Expired => "the access token has expired".to_owned(),
        _ => "the access token is invalid".to_owned(),
    }
}

fn record_rejection<B>(config: &Config, request: &Request<B>, why: &str) -> Option<Outcome> {
    let (response, event) = rejected(request, why);
    match try_record(config, event) {
        Recorded::Yes => Some(Outcome::Respond(response)),
        Recorded::Wait => None,
        Recorded::Refused(refused) => {
            Some(Outcome::Respond(unavailable(request.headers(), &refused)))
        }
    }
}

async fn rejection<B>(config: &Config, request: &mut Request<B>, why: &str) -> Outcome {
    let (response, event) = rejected(request, why);
    match record(config, event).await {
        Ok(()) => Outcome::Respond(response),
        Err(refused) => Outcome::Respond(unavailable(request.headers(), &refused)),
    }
}

enum Recorded {
    Yes,
    /// The queue is full and the auditor may wait for room: wait in the slow path.
    Wait,
    /// Fail closed: the event cannot be recorded, so the request is refused.
    Refused(String),
}

fn try_record(config: &Config, event: AuditEvent) -> Recorded {
    let Some(auditor) = &config.auditor else {
        return Recorded::Yes;
    };
    match auditor.try_record(event) {
        Ok(()) => Recorded::Yes,
        Err(_) if auditor.overflow_policy().may_wait() => Recorded::Wait,
        Err(error) => Recorded::Refused(refusal(&error)),
    }
}

async fn record(config: &Config, event: AuditEvent) -> Result<(), String> {
    match &config.auditor {
        None => Ok(()),
        Some(auditor) => auditor.record(event).await.map_err(|error| refusal(&error)),
    }
}

fn refusal(error: &zt_core::audit::AuditError) -> String {
    tracing::error!(%error, "request refused: the audit log cannot record it");
    "the request cannot be audited right now; try again later".to_owned()
}
