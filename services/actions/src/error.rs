//! The actions service's errors and their one mapping onto the platform's codes.

use cspr_platform::error::ServiceError;
use cspr_platform::projection::reviews::LoadError;

use crate::domain::ActionError;

#[derive(Debug, thiserror::Error)]
pub enum ActionsError {
    /// Not in the caller's partnership (NOT_FOUND, whether it exists elsewhere or not).
    #[error(transparent)]
    Review(#[from] LoadError),
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

impl From<ActionsError> for ServiceError {
    fn from(error: ActionsError) -> Self {
        match error {
            ActionsError::ActionNotFound(_) => ServiceError::NotFound(error.to_string()),
            ActionsError::NotOwner => ServiceError::PermissionDenied(error.to_string()),
            ActionsError::Action(ActionError::VerifyThroughVerifyAction) => {
                ServiceError::invalid("status", error.to_string())
            }
            ActionsError::Action(action) => ServiceError::FailedPrecondition(action.to_string()),
            ActionsError::Review(load) => ServiceError::from(load),
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
