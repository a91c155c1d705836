//! A message over the size limit ([`cspr_proto::MessageSizeLimit`]) answered
//! RESOURCE_EXHAUSTED, as gRPC's status code conventions have it, rather than tonic's
//! OUT_OF_RANGE.
//!
//! Tonic refuses an oversized request while decoding it, and an oversized response while
//! encoding it, both with `Status::out_of_range` ("Error, decoded message length too
//! large…", "Error, encoded message length too large…"), and no setting changes the code.
//! A [`CallHook`] around the server rewrites exactly those statuses, in the response's
//! headers (a call refused before it answered, as a unary or client-streaming call whose
//! request was too large) or its trailers (a response too large to send). OUT_OF_RANGE
//! for anything else passes through.

use http_body::Frame;
use tonic::{Code, Status};

use crate::call_hook::CallHook;

/// The [`CallHook`] that rewrites the statuses; see the module documentation.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SizeLimitStatus;

impl CallHook for SizeLimitStatus {
    type Call = ();

    fn start<B>(&self, _request: &http::Request<B>) {}

    fn head(_call: &mut (), head: &mut http::response::Parts) {
        rewrite(&mut head.headers);
    }

    fn frame<D>(_call: &mut (), frame: &mut Frame<D>) {
        if let Some(trailers) = frame.trailers_mut() {
            rewrite(trailers);
        }
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
