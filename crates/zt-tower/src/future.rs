//! [`ResponseFuture`], the future of [`Auth`](crate::Auth).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::Response;
use http_body_util::{Either, Full};
use pin_project_lite::pin_project;

use crate::response::AuthBody;

/// The boxed future of the slow path (token verification or a blocking audit queue).
type Slow<B, E> = Pin<Box<dyn Future<Output = Result<Response<AuthBody<B>>, E>> + Send>>;

pin_project! {
    /// Response future of [`Auth`](crate::Auth): the inner service's future when the
    /// request was decided at once (no allocation), the layer's own response, or the
    /// boxed slow path.
    pub struct ResponseFuture<F, B, E> {
        #[pin]
        state: State<F, B, E>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, B, E> {
        Inner { #[pin] future: F },
        Respond { response: Option<Response<Full<Bytes>>> },
        Slow { future: Slow<B, E> },
    }
}

impl<F, B, E> ResponseFuture<F, B, E> {
    pub(crate) fn inner(future: F) -> Self {
        Self {
            state: State::Inner { future },
        }
    }

    pub(crate) fn respond(response: Response<Full<Bytes>>) -> Self {
        Self {
            state: State::Respond {
                response: Some(response),
            },
        }
    }

    pub(crate) fn slow(future: Slow<B, E>) -> Self {
        Self {
            state: State::Slow { future },
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F, B, E>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<AuthBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Inner { future } => {
                let response = ready!(future.poll(cx))?;
                Poll::Ready(Ok(response.map(Either::Left)))
            }
            StateProj::Respond { response } => match response.take() {
                Some(response) => Poll::Ready(Ok(response.map(Either::Right))),
                None => Poll::Pending,
            },
            StateProj::Slow { future } => future.as_mut().poll(cx),
        }
    }
}
