//! [`LiveBody`]: a streamed response body that ends once its request is no longer allowed.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::BoxError;
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use tokio::sync::oneshot;

use super::forward::until_denied;
use crate::live::LiveCheck;

pin_project! {
    /// Passes `inner` through until a watcher task finds the request denied; the body then
    /// fails, which aborts the response (an HTTP/1.1 client sees the stream break off).
    pub(crate) struct LiveBody<B> {
        #[pin]
        inner: B,
        denied: Option<oneshot::Receiver<()>>,
    }
}

impl<B> LiveBody<B> {
    /// Wraps `inner` and starts the watcher, which stops when the body is dropped.
    pub(crate) fn new(inner: B, live: LiveCheck) -> Self {
        let (deny, denied) = oneshot::channel();
        tokio::spawn(async move {
            let mut deny = deny;
            tokio::select! {
                () = until_denied(&live) => {
                    tracing::info!(?live, "ending a streamed response: its request is no longer allowed");
                    let _ = deny.send(());
                }
                () = deny.closed() => {}
            }
        });
        Self {
            inner,
            denied: Some(denied),
        }
    }
}

impl<B> Body for LiveBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.project();
        if let Some(denied) = this.denied
            && let Poll::Ready(result) = Pin::new(denied).poll(cx)
        {
            *this.denied = None;
            if result.is_ok() {
                return Poll::Ready(Some(Err("the request is no longer allowed".into())));
            }
        }
        this.inner.poll_frame(cx).map_err(Into::into)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
