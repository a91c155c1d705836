//! The submissions service's errors and their one mapping onto the platform's codes.

use cspr_platform::error::ServiceError;
use cspr_platform::projection::reviews::LoadError;

use crate::domain::DecisionError;

#[derive(Debug, thiserror::Error)]
pub enum SubmissionsError {
    /// Not in the caller's partnership (NOT_FOUND, whether it exists elsewhere or not).
    #[error(transparent)]
    Review(#[from] LoadError),
    #[error("no report was requested from agency {0} for this review")]
    RequestNotFound(String),
    #[error(transparent)]
    Decision(#[from] DecisionError),
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl From<SubmissionsError> for ServiceError {
    fn from(error: SubmissionsError) -> Self {
        match error {
            SubmissionsError::RequestNotFound(_) => ServiceError::NotFound(error.to_string()),
            SubmissionsError::Decision(decision) => {
                ServiceError::FailedPrecondition(decision.to_string())
            }
            SubmissionsError::Review(load) => ServiceError::from(load),
            SubmissionsError::Service(service) => service,
            SubmissionsError::Database(database) => ServiceError::from(database),
        }
    }
}

impl From<SubmissionsError> for tonic::Status {
    fn from(error: SubmissionsError) -> Self {
        tonic::Status::from(ServiceError::from(error))
    }
}
