//! `rpc.server.call.duration` for every gRPC call a service answers, labelled as
//! OpenTelemetry's RPC conventions say (`rpc.system`, `rpc.service`, `rpc.method`,
//! `rpc.grpc.status_code`).
//!
//! A tower layer around the whole server: it sees every call, including those the
//! authenticator refuses. A gRPC status travels in the response's trailers, after the body
//! (or in its headers when there is no body, as for most errors), so the call is recorded
//! when the trailers go out; a client that goes away first is recorded as CANCELLED (1).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use http_body::{Body, Frame, SizeHint};
use opentelemetry::KeyValue;

/// Adds [`RpcMetrics`] to a tonic server (`Server::builder().layer(RpcMetricsLayer)`).
#[derive(Debug, Clone, Copy, Default)]
pub struct RpcMetricsLayer;

impl<S> tower::Layer<S> for RpcMetricsLayer {
    type Service = RpcMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcMetrics { inner }
    }
}

/// See the module documentation.
#[derive(Debug, Clone)]
pub struct RpcMetrics<S> {
    inner: S,
}

impl<S, B, ResBody> tower::Service<http::Request<B>> for RpcMetrics<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
    ResBody: Body + Unpin,
{
    type Response = http::Response<MeteredBody<ResBody>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let call = Call::start(request.uri().path());
        let response = self.inner.call(request);
        Box::pin(async move {
            let (parts, body) = response.await?.into_parts();
            let call = match parts.headers.get("grpc-status") {
                Some(status) => {
                    call.finish(status.to_str().ok());
                    None
                }
                None => Some(call),
            };
            Ok(http::Response::from_parts(
                parts,
                MeteredBody { inner: body, call },
            ))
        })
    }
}

/// One call being answered.
#[derive(Debug)]
struct Call {
    service: String,
    method: String,
    started: Instant,
}

impl Call {
    fn start(path: &str) -> Self {
        let path = path.trim_start_matches('/');
        let (service, method) = path.split_once('/').unwrap_or((path, ""));
        Self {
            service: service.to_string(),
            method: method.to_string(),
            started: Instant::now(),
        }
    }

    /// Records the call with its gRPC status code (UNKNOWN, 2, when there is none).
    fn finish(self, status: Option<&str>) {
        let code: i64 = status
            .and_then(|code| code.trim().parse().ok())
            .unwrap_or(2);
        crate::metrics::platform().rpc_duration.record(
            self.started.elapsed().as_secs_f64(),
            &[
                KeyValue::new("rpc.system", "grpc"),
                KeyValue::new("rpc.service", self.service),
                KeyValue::new("rpc.method", self.method),
                KeyValue::new("rpc.grpc.status_code", code),
            ],
        );
    }
}

/// A response body that records its call when the trailers pass (or when it is dropped
/// unfinished).
#[derive(Debug)]
pub struct MeteredBody<B> {
    inner: B,
    call: Option<Call>,
}

impl<B: Body + Unpin> Body for MeteredBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(trailers) = frame.trailers_ref()
                    && let Some(call) = this.call.take()
                {
                    call.finish(
                        trailers
                            .get("grpc-status")
                            .and_then(|status| status.to_str().ok()),
                    );
                }
            }
            Poll::Ready(Some(Err(_))) | Poll::Ready(None) => {
                if let Some(call) = this.call.take() {
                    call.finish(None);
                }
            }
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B> Drop for MeteredBody<B> {
    fn drop(&mut self) {
        if let Some(call) = self.call.take() {
            call.finish(Some("1"));
        }
    }
}
