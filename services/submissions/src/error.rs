//! The submissions service's errors and their one mapping onto the platform's codes.

use cspr_platform::error::ServiceError;

use crate::domain::DecisionError;

#[derive(Debug, thiserror::Error)]
pub enum SubmissionsError {
    #[error("report request of agency {0} in this review")]
    RequestNotFound(String),
    #[error(transparent)]
    Decision(#[from] DecisionError),
    /// The submission's staged entries are gone: the stage sweep took its stream for
    /// abandoned (it went longer than `CSPR_SUBMISSIONS_STAGE_MAX_AGE` without a batch).
    #[error(
        "this submission's staged entries were discarded (no progress for longer than CSPR_SUBMISSIONS_STAGE_MAX_AGE, or the database restarted after a crash); nothing was stored: send it again"
    )]
    StageDiscarded,
    /// A platform code: a refusal (validation, roles), the database, a review the caller
    /// may not see (see [`cspr_platform::map_service_error`]).
    #[error(transparent)]
    Service(#[from] ServiceError),
}

cspr_platform::map_service_error!(SubmissionsError, error => {
    SubmissionsError::RequestNotFound(_) => ServiceError::NotFound(error.to_string()),
    SubmissionsError::Decision(decision) => {
        ServiceError::FailedPrecondition(decision.to_string())
    }
    SubmissionsError::StageDiscarded => ServiceError::FailedPrecondition(error.to_string()),
});
