//! What a test expects of an RPC's outcome, said once: every service's tests called an RPC
//! and then took the reply out of the response, or expected the call to fail and checked
//! the status code, the field violations or the message, each in the same three or four
//! lines. [`Reply`] and [`Refusal`] are methods on the `Result` a tonic client returns (or
//! any `Result<_, Status>`, such as a collected server stream), so a call reads
//! `client.get_x(authed(request, &token)).await.refused(Code::NotFound, "why")`.

use tonic::{Code, Response, Status};

/// The reply of a call that must succeed.
pub trait Reply<T> {
    /// The reply's message; panics naming `what` (and the status) if the call failed.
    fn reply(self, what: &str) -> T;
}

impl<T> Reply<T> for Result<Response<T>, Status> {
    #[track_caller]
    fn reply(self, what: &str) -> T {
        match self {
            Ok(response) => response.into_inner(),
            Err(status) => panic!("{what}: {status:?}"),
        }
    }
}

/// The refusal of a call that must fail.
pub trait Refusal {
    /// The status, which must carry `code`; panics naming `what` if the call succeeded or
    /// failed with another code.
    fn refused(self, code: Code, what: &str) -> Status;

    /// An INVALID_ARGUMENT whose field violations are exactly `fields`, in order (see
    /// [`violated_fields`]); the status, for further checks.
    fn invalid(self, fields: &[&str], what: &str) -> Status;
}

impl<T> Refusal for Result<T, Status> {
    #[track_caller]
    fn refused(self, code: Code, what: &str) -> Status {
        match self {
            Ok(_) => panic!("{what}: expected {code:?}, the call succeeded"),
            Err(status) => {
                assert_eq!(status.code(), code, "{what}: {status:?}");
                status
            }
        }
    }

    #[track_caller]
    fn invalid(self, fields: &[&str], what: &str) -> Status {
        let status = self.refused(Code::InvalidArgument, what);
        assert_eq!(violated_fields(&status), fields, "{what}: {status:?}");
        status
    }
}

/// Asserts that `status`'s message contains `text` (the message shown if not).
#[track_caller]
pub fn assert_says(status: &Status, text: &str) {
    assert!(
        status.message().contains(text),
        "expected {text:?} in {:?}",
        status.message()
    );
}

/// The field paths of an INVALID_ARGUMENT's violations.
pub fn violated_fields(status: &Status) -> Vec<String> {
    crate::error::FieldViolation::all_in(status)
        .into_iter()
        .map(|violation| violation.field)
        .collect()
}

/// A request with `authorization: Bearer <token>`.
pub fn authed<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("header value"),
    );
    request
}

#[cfg(test)]
mod tests {
    use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

    use super::*;

    fn violations(fields: &[&str]) -> Status {
        let details = ErrorDetails::with_bad_request(
            fields
                .iter()
                .map(|field| FieldViolation::new(*field, "bad"))
                .collect::<Vec<_>>(),
        );
        Status::with_error_details(Code::InvalidArgument, "bad input", details)
    }

    #[test]
    fn a_reply_is_the_message_and_a_refusal_the_status_of_its_code() {
        let ok: Result<Response<u8>, Status> = Ok(Response::new(7));
        assert_eq!(ok.reply("seven"), 7);
        let refused: Result<Response<u8>, Status> = Err(Status::not_found("no such review"));
        let status = refused.refused(Code::NotFound, "hidden");
        assert_says(&status, "no such review");
        let invalid: Result<(), Status> = Err(violations(&["name", "route"]));
        let status = invalid.invalid(&["name", "route"], "bad input");
        assert_eq!(status.code(), Code::InvalidArgument);
    }

    #[test]
    #[should_panic(expected = "the call succeeded")]
    fn a_success_is_no_refusal() {
        let ok: Result<Response<u8>, Status> = Ok(Response::new(7));
        ok.refused(Code::NotFound, "hidden");
    }

    #[test]
    #[should_panic(expected = "hidden")]
    fn another_code_is_not_the_refusal_expected() {
        let refused: Result<(), Status> = Err(Status::permission_denied("no"));
        refused.refused(Code::NotFound, "hidden");
    }

    #[test]
    #[should_panic(expected = "bad input")]
    fn other_violations_are_not_the_ones_expected() {
        let invalid: Result<(), Status> = Err(violations(&["name"]));
        invalid.invalid(&["name", "route"], "bad input");
    }

    #[test]
    #[should_panic(expected = "the call failed")]
    fn a_failure_has_no_reply() {
        let failed: Result<Response<u8>, Status> = Err(Status::internal("the call failed"));
        failed.reply("seven");
    }
}
