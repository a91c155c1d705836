//! The registry's errors and their one mapping onto the platform's error codes.

use cspr_platform::error::{FieldViolation, ServiceError};

use crate::domain::review::ReviewError;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The review's state or rules refuse the command.
    #[error(transparent)]
    Review(#[from] ReviewError),
    /// No such review in the caller's partnership.
    #[error("review {0} not found")]
    ReviewNotFound(String),
    /// No such panel meeting of the review.
    #[error("panel meeting {0} not found")]
    MeetingNotFound(String),
    /// A platform code: a refusal (validation, roles), the database (see
    /// [`cspr_platform::map_service_error`]).
    #[error(transparent)]
    Service(#[from] ServiceError),
}

cspr_platform::map_service_error!(RegistryError, error => {
    RegistryError::Review(ReviewError::Field { field, message }) => {
        ServiceError::InvalidArgument(vec![FieldViolation::new(field, message)])
    }
    RegistryError::Review(ReviewError::Calendar(outside)) => {
        ServiceError::invalid("date", outside.to_string())
    }
    RegistryError::Review(stale @ ReviewError::Stale { .. }) => {
        ServiceError::Aborted(stale.to_string())
    }
    RegistryError::Review(other) => ServiceError::FailedPrecondition(other.to_string()),
    RegistryError::ReviewNotFound(id) => ServiceError::NotFound(format!("review {id}")),
    RegistryError::MeetingNotFound(id) => {
        ServiceError::NotFound(format!("panel meeting {id} of this review"))
    }
});
