//! A tower layer for what the server does around every call without being part of it: a
//! [`CallHook`] makes a value from the request, sees the response's head, and keeps the
//! value with the response body, which shows it every frame, until the body is dropped (the
//! end of the call, however it ends). The connection tracker ([`crate::connections`]) and
//! the size-limit status ([`crate::size_limit`]) are such hooks, so the tower and body
//! plumbing is written once.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http_body::{Body, Frame, SizeHint};

/// What a layer does with each call; see the module documentation.
pub(crate) trait CallHook: Clone + Send + 'static {
    /// Kept from the request until the response body is dropped.
    type Call: Send + 'static;

    fn start<B>(&self, request: &http::Request<B>) -> Self::Call;

    /// The response's head, before it goes out (a status in its headers, when the call
    /// answered without a body).
    fn head(_call: &mut Self::Call, _head: &mut http::response::Parts) {}

    /// Each frame of the response body, before it goes out (the trailers with the status).
    fn frame<D>(_call: &mut Self::Call, _frame: &mut Frame<D>) {}
}

/// Adds a [`CallHook`] to a tonic server (`Server::builder().layer(CallHookLayer(hook))`).
#[derive(Debug, Clone)]
pub(crate) struct CallHookLayer<H>(pub(crate) H);

impl<S, H: CallHook> tower::Layer<S> for CallHookLayer<H> {
    type Service = Hooked<S, H>;

    fn layer(&self, inner: S) -> Self::Service {
        Hooked {
            inner,
            hook: self.0.clone(),
        }
    }
}

/// A service with a [`CallHook`] around each call.
#[derive(Debug, Clone)]
pub(crate) struct Hooked<S, H> {
    inner: S,
    hook: H,
}

impl<S, H, B, ResBody> tower::Service<http::Request<B>> for Hooked<S, H>
where
    S: tower::Service<http::Request<B>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
    H: CallHook,
{
    type Response = http::Response<HookedBody<ResBody, H>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let mut call = self.hook.start(&request);
        let response = self.inner.call(request);
        Box::pin(async move {
            let (mut head, body) = response.await?.into_parts();
            H::head(&mut call, &mut head);
            Ok(http::Response::from_parts(head, HookedBody { body, call }))
        })
    }
}

/// A response body carrying its call's [`CallHook::Call`].
pub(crate) struct HookedBody<B, H: CallHook> {
    body: B,
    call: H::Call,
}

impl<B: Body + Unpin, H: CallHook> Body for HookedBody<B, H>
where
    H::Call: Unpin,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        let mut polled = Pin::new(&mut this.body).poll_frame(context);
        if let Poll::Ready(Some(Ok(frame))) = &mut polled {
            H::frame(&mut this.call, frame);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
