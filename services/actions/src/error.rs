//! The actions service's errors and their one mapping onto the platform's codes.

use cspr_platform::error::ServiceError;
use cspr_platform::projection::reviews::LoadError;

use crate::domain::ActionError;

#[derive(Debug, thiserror::Error)]
pub enum ActionsError {
    #[error("review {0}")]
    ReviewNotFound(String),
    #[error("action {0}")]
    ActionNotFound(String),
    #[error("an agency updates only the actions its organisation owns")]
    NotOwner,
    #[error(transparent)]
    Action(#[from] ActionError),
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// A review the caller's partnership does not have is `ReviewNotFound`, whether it exists
/// elsewhere or not.
impl From<LoadError> for ActionsError {
    fn from(error: LoadError) -> Self {
        match error {
            LoadError::NotFound(review_id) => ActionsError::ReviewNotFound(review_id.to_string()),
            LoadError::Database(database) => ActionsError::Database(database),
        }
    }
}

impl From<ActionsError> for ServiceError {
    fn from(error: ActionsError) -> Self {
        match error {
            ActionsError::ReviewNotFound(_) | ActionsError::ActionNotFound(_) => {
                ServiceError::NotFound(error.to_string())
            }
            ActionsError::NotOwner => ServiceError::PermissionDenied(error.to_string()),
            ActionsError::Action(ActionError::VerifyThroughVerifyAction) => {
                ServiceError::invalid("status", error.to_string())
            }
            ActionsError::Action(action) => ServiceError::FailedPrecondition(action.to_string()),
            ActionsError::Service(service) => service,
            ActionsError::Database(database) => ServiceError::from(database),
        }
    }
}

impl From<ActionsError> for tonic::Status {
    fn from(error: ActionsError) -> Self {
        tonic::Status::from(ServiceError::from(error))
    }
}
