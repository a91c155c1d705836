//! A message over the size limit ([`cspr_proto::MessageSizeLimit`]) answered
//! RESOURCE_EXHAUSTED, as gRPC's status code conventions have it, rather than tonic's
//! OUT_OF_RANGE.
//!
//! Tonic refuses an oversized request while decoding it, and an oversized response while
//! encoding it, both with `Status::out_of_range` ("Error, decoded message length too
//! large…", "Error, encoded message length too large…"), and no setting changes the code.
//! A tower layer around the server rewrites exactly those statuses, in the response's
//! headers (a call refused before it answered, as a unary or client-streaming call whose
//! request was too large) or its trailers (a response too large to send). OUT_OF_RANGE
//! for anything else passes through.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http_body::{Body, Frame, SizeHint};
use tonic::{Code, Status};

/// Adds [`SizeLimitStatus`] to a tonic server.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SizeLimitStatusLayer;

impl<S> tower::Layer<S> for SizeLimitStatusLayer {
    type Service = SizeLimitStatus<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SizeLimitStatus { inner }
    }
}

/// See the module documentation.
#[derive(Debug, Clone)]
pub(crate) struct SizeLimitStatus<S> {
    inner: S,
}

impl<S, B, ResBody> tower::Service<http::Request<B>> for SizeLimitStatus<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<SizeLimitBody<ResBody>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let response = self.inner.call(request);
        Box::pin(async move {
            let mut response = response.await?;
            rewrite(response.headers_mut());
            Ok(response.map(|body| SizeLimitBody { body }))
        })
    }
}

/// A response body whose trailers are rewritten like the headers.
#[derive(Debug)]
pub(crate) struct SizeLimitBody<B> {
    body: B,
}

impl<B: Body + Unpin> Body for SizeLimitBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let mut polled = Pin::new(&mut self.body).poll_frame(context);
        if let Poll::Ready(Some(Ok(frame))) = &mut polled
            && let Some(trailers) = frame.trailers_mut()
        {
            rewrite(trailers);
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

/// Turns tonic's size-limit OUT_OF_RANGE in `headers` into RESOURCE_EXHAUSTED, with the
/// same message.
fn rewrite(headers: &mut http::HeaderMap) {
    // Cheap for every other call: only an OUT_OF_RANGE (11) is decoded.
    if headers
        .get("grpc-status")
        .is_none_or(|code| code.as_bytes() != b"11")
    {
        return;
    }
    let Some(status) = Status::from_header_map(headers) else {
        return;
    };
    if status.code() == Code::OutOfRange && is_size_limit(status.message()) {
        // Only fails on a message that cannot be a header value, which this one was.
        let _ = Status::resource_exhausted(status.message()).add_header(headers);
    }
}

/// Whether `message` is tonic's refusal of a message over the limit (codec/decode.rs and
/// codec/encode.rs).
fn is_size_limit(message: &str) -> bool {
    ["decoded", "encoded"]
        .iter()
        .any(|way| message.starts_with(&format!("Error, {way} message length too large")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers_of(status: &Status) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        status.add_header(&mut headers).expect("header");
        headers
    }

    #[test]
    fn only_the_size_limit_statuses_are_rewritten() {
        let limit = "the limit is: 4096 bytes";
        for message in [
            format!("Error, decoded message length too large: found 8213 bytes, {limit}"),
            format!("Error, encoded message length too large: found 8213 bytes, {limit}"),
        ] {
            let mut headers = headers_of(&Status::out_of_range(message.clone()));
            rewrite(&mut headers);
            let status = Status::from_header_map(&headers).expect("a status");
            assert_eq!(status.code(), Code::ResourceExhausted);
            assert_eq!(status.message(), message);
        }
        for status in [
            Status::out_of_range("page 3 of 2"),
            Status::invalid_argument("Error, decoded message length too large"),
            Status::ok(""),
        ] {
            let mut headers = headers_of(&status);
            rewrite(&mut headers);
            assert_eq!(headers, headers_of(&status), "{status:?} unchanged");
        }
    }
}
