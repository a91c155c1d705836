//! The submissions service's errors and their one mapping onto the platform's codes.

use cspr_platform::error::ServiceError;
use cspr_platform::projection::reviews::LoadError;

use crate::domain::DecisionError;

#[derive(Debug, thiserror::Error)]
pub enum SubmissionsError {
    #[error("review {0} not found")]
    ReviewNotFound(String),
    #[error("no report was requested from agency {0} for this review")]
    RequestNotFound(String),
    #[error(transparent)]
    Decision(#[from] DecisionError),
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// A review the caller's partnership does not have is `ReviewNotFound`, whether it exists
/// elsewhere or not.
impl From<LoadError> for SubmissionsError {
    fn from(error: LoadError) -> Self {
        match error {
            LoadError::NotFound(review_id) => {
                SubmissionsError::ReviewNotFound(review_id.to_string())
            }
            LoadError::Database(database) => SubmissionsError::Database(database),
        }
    }
}

impl From<SubmissionsError> for ServiceError {
    fn from(error: SubmissionsError) -> Self {
        match error {
            SubmissionsError::ReviewNotFound(_) | SubmissionsError::RequestNotFound(_) => {
                ServiceError::NotFound(error.to_string().trim_end_matches(" not found").to_string())
            }
            SubmissionsError::Decision(decision) => {
                ServiceError::FailedPrecondition(decision.to_string())
            }
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
