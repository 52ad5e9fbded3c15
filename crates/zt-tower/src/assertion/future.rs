//! [`ResponseFuture`] of [`AssertionService`](super::AssertionService).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{Either, Full};
use pin_project_lite::pin_project;
use tower::Service;
use zt_core::identity::Identity;

use super::AssertionError;
use super::service::{log_rejection, unauthorized};

/// Verification of one assertion. `Verifier::verify` is an `async fn` whose future type
/// cannot be named, so this one step is boxed; the inner service's future is not.
pub(crate) type VerifyFuture =
    Pin<Box<dyn Future<Output = Result<Arc<Identity>, AssertionError>> + Send>>;

pin_project! {
    /// Response future of [`AssertionService`](super::AssertionService): verifies the
    /// assertion, then runs the inner service's future, or yields the 401.
    pub struct ResponseFuture<S, ReqBody>
    where
        S: Service<Request<ReqBody>>,
    {
        #[pin]
        state: State<S, ReqBody>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, ReqBody>
    where
        S: Service<Request<ReqBody>>,
    {
        Verifying {
            verify: VerifyFuture,
            request: Option<Request<ReqBody>>,
            inner: Option<S>,
        },
        Calling {
            #[pin]
            future: S::Future,
        },
        Rejected,
    }
}

impl<S, ReqBody> ResponseFuture<S, ReqBody>
where
    S: Service<Request<ReqBody>>,
{
    pub(crate) fn verifying(verify: VerifyFuture, request: Request<ReqBody>, inner: S) -> Self {
        Self {
            state: State::Verifying {
                verify,
                request: Some(request),
                inner: Some(inner),
            },
        }
    }

    pub(crate) fn rejected() -> Self {
        Self {
            state: State::Rejected,
        }
    }
}

impl<S, ReqBody, ResBody> Future for ResponseFuture<S, ReqBody>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Output = Result<Response<Either<ResBody, Full<Bytes>>>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        loop {
            match state.as_mut().project() {
                StateProj::Verifying {
                    verify,
                    request,
                    inner,
                } => {
                    let verified = ready!(verify.as_mut().poll(cx));
                    let (Some(mut request), Some(mut inner)) = (request.take(), inner.take())
                    else {
                        // Not reachable: the state is left as soon as they are taken.
                        state.set(State::Rejected);
                        continue;
                    };
                    match verified {
                        Ok(identity) => {
                            request.extensions_mut().insert(identity);
                            let future = inner.call(request);
                            state.set(State::Calling { future });
                        }
                        Err(error) => {
                            log_rejection(&error);
                            state.set(State::Rejected);
                        }
                    }
                }
                StateProj::Calling { future } => {
                    return future
                        .poll(cx)
                        .map_ok(|response| response.map(Either::Left));
                }
                StateProj::Rejected => return Poll::Ready(Ok(unauthorized())),
            }
        }
    }
}
