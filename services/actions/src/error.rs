//! The actions service's errors and their one mapping onto the platform's codes.

use cspr_platform::error::ServiceError;

use crate::domain::ActionError;

#[derive(Debug, thiserror::Error)]
pub enum ActionsError {
    #[error("action {0}")]
    ActionNotFound(String),
    #[error(transparent)]
    Action(#[from] ActionError),
    /// A platform code: a refusal (validation, roles), the database, a review the caller
    /// may not see (see [`cspr_platform::map_service_error`]).
    #[error(transparent)]
    Service(#[from] ServiceError),
}

cspr_platform::map_service_error!(ActionsError, error => {
    ActionsError::ActionNotFound(_) => ServiceError::NotFound(error.to_string()),
    ActionsError::Action(ActionError::VerifyThroughVerifyAction) => {
        ServiceError::invalid("status", error.to_string())
    }
    ActionsError::Action(stale @ ActionError::Stale(_)) => {
        ServiceError::Aborted(stale.to_string())
    }
    ActionsError::Action(action) => ServiceError::FailedPrecondition(action.to_string()),
});
