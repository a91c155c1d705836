//! The small set of error codes every service maps its own errors into, turned into a
//! `tonic::Status` in exactly one place.
//!
//! Services keep their own `thiserror` enums (what went wrong in their terms) and implement
//! `From<TheirError> for ServiceError`; handlers then return `Result<_, ServiceError>` and
//! `?` does the rest. Internal errors are logged with their cause chain and answered with a
//! generic message, so nothing about the database or the bus leaks to callers.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// One bad field of a request: its path (e.g. `terms_of_reference.scope_end`) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// The field path, as in the proto.
    pub field: String,
    /// What is wrong, in words a developer integrating against the API understands.
    pub description: String,
}

impl FieldViolation {
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            description: description.into(),
        }
    }

    /// The violations an INVALID_ARGUMENT carries in its `BadRequest` details, in order —
    /// how a client of the services (the web's forms, the tests) reads back what
    /// [`ServiceError`] wrote.
    pub fn all_in(status: &Status) -> Vec<FieldViolation> {
        status
            .get_error_details()
            .bad_request()
            .map(|bad_request| {
                bad_request
                    .field_violations
                    .iter()
                    .map(|violation| FieldViolation::new(&violation.field, &violation.description))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Collects field violations while a request is parsed, so a caller learns every problem at
/// once rather than one per retry.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(FieldViolation::new(field, description));
    }

    /// Keeps the value of a parse, or records its error against `field`.
    pub fn check<T, E: std::fmt::Display>(
        &mut self,
        field: &str,
        result: Result<T, E>,
    ) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.add(field, error.to_string());
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(())` when nothing was recorded, else the `INVALID_ARGUMENT` error.
    pub fn finish(self) -> Result<(), ServiceError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ServiceError::InvalidArgument(self.0))
        }
    }

    /// `value` as one parsed field (e.g. a list whose items were checked here), refused with
    /// every violation recorded.
    pub fn with_value<T>(self, value: T) -> Result<T, Vec<FieldViolation>> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self.0)
        }
    }

    /// The values of a request's parsed [`Field`]s when neither they nor the checks
    /// recorded here found a problem; else every violation at once (the fields' in their
    /// order, then the recorded ones). The values come out of the fields themselves, so a
    /// handler cannot reach the inside with one missing.
    pub fn finish_with<F: Fields>(mut self, fields: F) -> Result<F::Values, ServiceError> {
        match fields.values() {
            Ok(values) if self.0.is_empty() => Ok(values),
            Ok(_) => Err(ServiceError::InvalidArgument(self.0)),
            Err(mut violations) => {
                violations.append(&mut self.0);
                Err(ServiceError::InvalidArgument(violations))
            }
        }
    }
}

/// One refused field on its own (a field read apart from the others) is `INVALID_ARGUMENT`.
impl From<FieldViolation> for ServiceError {
    fn from(violation: FieldViolation) -> Self {
        ServiceError::InvalidArgument(vec![violation])
    }
}

impl From<FieldViolation> for Status {
    fn from(violation: FieldViolation) -> Self {
        ServiceError::from(violation).into()
    }
}

/// One parsed request field: its value, or why it was refused.
pub type Field<T> = Result<T, FieldViolation>;

/// Parses one request field, naming it in the violation.
pub fn field<T, E: std::fmt::Display>(name: &str, result: Result<T, E>) -> Field<T> {
    result.map_err(|error| FieldViolation::new(name, error.to_string()))
}

impl From<FieldViolation> for Vec<FieldViolation> {
    fn from(violation: FieldViolation) -> Self {
        vec![violation]
    }
}

/// A tuple of parsed fields ([`Field`]s, or results refused with several violations, e.g.
/// a value built from two fields), whose values come out together or not at all.
pub trait Fields {
    /// The tuple of the fields' values.
    type Values;
    /// The values, or the violations of every refused field, in order.
    fn values(self) -> Result<Self::Values, Vec<FieldViolation>>;
}

macro_rules! fields_tuple {
    ($($name:ident $error:ident),+) => {
        impl<$($name, $error: Into<Vec<FieldViolation>>),+> Fields for ($(Result<$name, $error>,)+) {
            type Values = ($($name,)+);

            #[allow(non_snake_case)]
            fn values(self) -> Result<Self::Values, Vec<FieldViolation>> {
                let ($($name,)+) = self;
                let mut violations = Vec::new();
                $(let $name = $name.map_err(|refused| violations.extend(refused.into()));)+
                match ($($name,)+) {
                    ($(Ok($name),)+) => Ok(($($name,)+)),
                    _ => Err(violations),
                }
            }
        }
    };
}

fields_tuple!(A EA);
fields_tuple!(A EA, B EB);
fields_tuple!(A EA, B EB, C EC);
fields_tuple!(A EA, B EB, C EC, D ED);
fields_tuple!(A EA, B EB, C EC, D ED, E EE);
fields_tuple!(A EA, B EB, C EC, D ED, E EE, F EF);
fields_tuple!(A EA, B EB, C EC, D ED, E EE, F EF, G EG);
fields_tuple!(A EA, B EB, C EC, D ED, E EE, F EF, G EG, H EH);
fields_tuple!(A EA, B EB, C EC, D ED, E EE, F EF, G EG, H EH, I EI);
fields_tuple!(A EA, B EB, C EC, D ED, E EE, F EF, G EG, H EH, I EI, J EJ);

/// The one mapping of a service's error type onto the platform's codes, and from there onto
/// a gRPC status. The service lists the arms of its own variants (ending with a comma or a
/// block, as in any `match`; `$name` names the error in them); what every service's error
/// carries the same way is written here once: its `Service` variant (already a platform
/// code) passes as it is, and a database failure or a review the caller may not see
/// ([`LoadError`](crate::projection::reviews::LoadError)) becomes that `Service` variant
/// through the platform's own mapping as it is raised (unreachable is UNAVAILABLE, anything
/// else INTERNAL; a review elsewhere NOT_FOUND), so `?` works on both in every service.
///
/// ```ignore
/// cspr_platform::map_service_error!(ActionsError, error => {
///     ActionsError::NotOwner => ServiceError::PermissionDenied(error.to_string()),
/// });
/// ```
#[macro_export]
macro_rules! map_service_error {
    ($error:ident, $name:ident => { $($arms:tt)* }) => {
        impl From<$error> for $crate::error::ServiceError {
            fn from($name: $error) -> Self {
                match $name {
                    $($arms)*
                    $error::Service(service) => service,
                }
            }
        }

        impl From<::sqlx::Error> for $error {
            fn from(error: ::sqlx::Error) -> Self {
                Self::Service($crate::error::ServiceError::from(error))
            }
        }

        impl From<$crate::projection::reviews::LoadError> for $error {
            fn from(error: $crate::projection::reviews::LoadError) -> Self {
                Self::Service($crate::error::ServiceError::from(error))
            }
        }

        impl From<$error> for ::tonic::Status {
            fn from(error: $error) -> Self {
                ::tonic::Status::from($crate::error::ServiceError::from(error))
            }
        }
    };
}

/// A command made from version `given` of a document (terms of reference, an overview
/// report draft, an action, a family member's record) that someone else has since changed
/// to version `current`: each service says which document ("the terms of reference were
/// …") and answers ABORTED ([`ServiceError::Aborted`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "changed since version {given}, which this was made from: the current version is {current}"
)]
pub struct Stale {
    pub given: i32,
    pub current: i32,
}

/// Refuses a command made from version `given` of a document now at `current` (0: none
/// yet), when the caller said which; `given` None is not checked (a client that does not
/// track versions).
pub fn require_current(given: Option<i32>, current: i32) -> Result<(), Stale> {
    match given {
        Some(given) if given != current => Err(Stale { given, current }),
        _ => Ok(()),
    }
}

/// A refusal's status code as audit records store outcomes ("FAILED_PRECONDITION"), for
/// the codes that answer what the caller asked (not a service's own failure, which is
/// logged, not audited): None for the others.
pub fn refusal_name(code: Code) -> Option<&'static str> {
    Some(match code {
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        _ => return None,
    })
}

/// The shared error codes.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The request is malformed; every bad field is listed.
    #[error("invalid request: {}", summarize(.0))]
    InvalidArgument(Vec<FieldViolation>),
    /// No such resource in the caller's partnership (also used for other partnerships'
    /// resources, so their existence is not revealed).
    #[error("{0} not found")]
    NotFound(String),
    /// An idempotency key was reused with different content, or a unique thing exists.
    #[error("{0}")]
    AlreadyExists(String),
    /// The request is valid but the resource's state does not allow it now.
    #[error("{0}")]
    FailedPrecondition(String),
    /// The caller's roles do not allow this.
    #[error("{0}")]
    PermissionDenied(String),
    /// The command was made against a version of a document (terms of reference, an
    /// overview report draft) that is no longer the latest: someone else changed it since.
    /// The message names the current version; reading it and trying again may work.
    #[error("{0}")]
    Aborted(String),
    /// No valid credentials.
    #[error("{0}")]
    Unauthenticated(String),
    /// The caller has used up a limit of its own (e.g. concurrent streams): the message says
    /// which and how to change it. Other callers are unaffected; retrying once the caller's
    /// own work has finished may work.
    #[error("{0}")]
    ResourceExhausted(String),
    /// A dependency (database, bus) is unreachable; retrying later may work.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// A bug or an unexpected failure; details are logged, not returned.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

fn summarize(violations: &[FieldViolation]) -> String {
    violations
        .iter()
        .map(|violation| format!("{}: {}", violation.field, violation.description))
        .collect::<Vec<_>>()
        .join("; ")
}

impl ServiceError {
    /// Shorthand for a single field violation.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self::InvalidArgument(vec![FieldViolation::new(field, description)])
    }

    /// Wraps an unexpected error.
    pub fn internal(error: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Self {
        Self::Internal(error.into())
    }

    /// The gRPC code this error maps to.
    pub fn code(&self) -> Code {
        match self {
            Self::InvalidArgument(_) => Code::InvalidArgument,
            Self::NotFound(_) => Code::NotFound,
            Self::AlreadyExists(_) => Code::AlreadyExists,
            Self::FailedPrecondition(_) => Code::FailedPrecondition,
            Self::PermissionDenied(_) => Code::PermissionDenied,
            Self::Aborted(_) => Code::Aborted,
            Self::Unauthenticated(_) => Code::Unauthenticated,
            Self::ResourceExhausted(_) => Code::ResourceExhausted,
            Self::Unavailable(_) => Code::Unavailable,
            Self::Internal(_) => Code::Internal,
        }
    }
}

/// The full cause chain of an error, for logs.
pub fn cause_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A database that is out of reach, however that shows (see [`crate::db::connection_lost`]:
/// a call in flight when PostgreSQL stops, crashes or restarts, one made while it is down or
/// starting up), is UNAVAILABLE, which clients retry; anything else is a fault of ours.
///
/// What PostgreSQL refuses because of the request's content rather than a fault of ours is
/// the caller's to fix (see [`refused_by_database`]).
impl From<sqlx::Error> for ServiceError {
    fn from(error: sqlx::Error) -> Self {
        if crate::db::connection_lost(&error) {
            tracing::debug!(%error, "database unreachable");
            Self::Unavailable("database unreachable".to_string())
        } else if let Some(refused) = refused_by_database(&error) {
            tracing::info!(%error, "the database refused the request's content");
            refused
        } else {
            Self::Internal(Box::new(error))
        }
    }
}

/// The last line of defence for text and uniqueness, behind every handler's own checks: a
/// character PostgreSQL cannot store (a NUL byte, class 22021 `character_not_in_repertoire`,
/// or 22P05 `untranslatable_character`) in any string that reaches a query is
/// INVALID_ARGUMENT, and a unique constraint (23505) that a request runs into — e.g. two
/// requests racing to the same identity after both passed the handler's own check — is
/// ALREADY_EXISTS. Neither is INTERNAL: retrying the same request cannot succeed, and
/// nothing is wrong with the service.
pub fn refused_by_database(error: &sqlx::Error) -> Option<ServiceError> {
    let sqlx::Error::Database(database) = error else {
        return None;
    };
    match database.code().as_deref() {
        Some("22021" | "22P05") => Some(ServiceError::invalid(
            "request",
            "text contains a character that cannot be stored (such as a NUL byte)",
        )),
        Some("23505") => Some(ServiceError::AlreadyExists(
            "the request conflicts with an existing record".to_string(),
        )),
        _ => None,
    }
}

impl From<ServiceError> for Status {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::InvalidArgument(violations) => {
                let message = format!("invalid request: {}", summarize(&violations));
                let details = ErrorDetails::with_bad_request(
                    violations
                        .into_iter()
                        .map(|violation| {
                            tonic_types::FieldViolation::new(violation.field, violation.description)
                        })
                        .collect::<Vec<_>>(),
                );
                Status::with_error_details(Code::InvalidArgument, message, details)
            }
            ServiceError::Internal(source) => {
                tracing::error!(error = %cause_chain(source.as_ref()), "internal error");
                Status::internal("internal error; it has been logged")
            }
            ServiceError::Unavailable(reason) => {
                tracing::warn!(%reason, "dependency unavailable");
                Status::unavailable(format!("service unavailable: {reason}; retry later"))
            }
            other => Status::new(other.code(), other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_come_out_together_or_every_violation_is_reported() {
        let values = Violations::new()
            .finish_with((
                field("a", Ok::<_, String>(1)),
                field("b", Ok::<_, String>("x")),
            ))
            .expect("valid");
        assert_eq!(values, (1, "x"));

        let mut violations = Violations::new();
        violations.add("c", "checked apart");
        let refused = violations
            .finish_with((
                field("a", Err::<i32, _>("required")),
                field("b", Ok::<_, String>("x")),
                field("d", Err::<i32, _>("too long")),
            ))
            .expect_err("invalid");
        let ServiceError::InvalidArgument(violations) = refused else {
            panic!("invalid argument");
        };
        let fields: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["a", "d", "c"]);

        let mut violations = Violations::new();
        violations.add("c", "checked apart");
        assert!(
            violations
                .finish_with((field("a", Ok::<_, String>(1)),))
                .is_err()
        );
    }

    #[test]
    fn invalid_argument_carries_field_violations() {
        let mut violations = Violations::new();
        violations.add("child_alias", "required");
        violations.add("incident_date", "must not be in the future");
        let status = Status::from(violations.finish().expect_err("two violations"));
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_error_details();
        let bad_request = details.bad_request().expect("bad request details");
        let fields: Vec<_> = bad_request
            .field_violations
            .iter()
            .map(|violation| violation.field.as_str())
            .collect();
        assert_eq!(fields, ["child_alias", "incident_date"]);
    }

    #[test]
    fn resource_exhausted_says_which_limit() {
        let status = Status::from(ServiceError::ResourceExhausted(
            "4 streams open (CSPR_X)".into(),
        ));
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert_eq!(status.message(), "4 streams open (CSPR_X)");
    }

    #[test]
    fn internal_errors_do_not_leak_their_cause() {
        let status = Status::from(ServiceError::internal(std::io::Error::other(
            "password=secret",
        )));
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("secret"));
    }

    #[test]
    fn a_lost_database_connection_is_unavailable_and_a_bug_internal() {
        let lost = [
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            sqlx::Error::WorkerCrashed,
            // What sqlx reports when the server goes away in the middle of a reply.
            sqlx::Error::Io(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "expected to read 5 bytes, got 0 bytes at EOF",
            )),
            sqlx::Error::Io(std::io::ErrorKind::ConnectionRefused.into()),
        ];
        for error in lost {
            let shown = error.to_string();
            assert_eq!(
                Status::from(ServiceError::from(error)).code(),
                Code::Unavailable,
                "{shown}"
            );
        }
        for error in [
            sqlx::Error::RowNotFound,
            sqlx::Error::Protocol("an event needs a body".into()),
        ] {
            assert_eq!(
                Status::from(ServiceError::from(error)).code(),
                Code::Internal
            );
        }
    }
}
