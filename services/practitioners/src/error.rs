//! The practitioners service's errors and their one mapping onto the platform's codes.

use cspr_platform::error::ServiceError;
use cspr_platform::projection::reviews::LoadError;

use crate::domain::EngagementError;

#[derive(Debug, thiserror::Error)]
pub enum PractitionersError {
    /// Not in the caller's partnership (NOT_FOUND, whether it exists elsewhere or not).
    #[error(transparent)]
    Review(#[from] LoadError),
    #[error("practitioner {0}")]
    PractitionerNotFound(String),
    #[error("learning event {0}")]
    LearningEventNotFound(String),
    #[error("conversation {0}")]
    ConversationNotFound(String),
    #[error("practitioner {0} was not invited to this learning event")]
    NotInvited(String),
    #[error(transparent)]
    Engagement(#[from] EngagementError),
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl From<PractitionersError> for ServiceError {
    fn from(error: PractitionersError) -> Self {
        match error {
            PractitionersError::PractitionerNotFound(_)
            | PractitionersError::LearningEventNotFound(_)
            | PractitionersError::ConversationNotFound(_) => {
                ServiceError::NotFound(error.to_string())
            }
            PractitionersError::NotInvited(_) => {
                ServiceError::invalid("attended_practitioner_ids", error.to_string())
            }
            PractitionersError::Engagement(EngagementError::Unknown(id)) => {
                ServiceError::NotFound(format!("practitioner {id} in this review"))
            }
            PractitionersError::Engagement(engagement) => {
                ServiceError::FailedPrecondition(engagement.to_string())
            }
            PractitionersError::Review(load) => ServiceError::from(load),
            PractitionersError::Service(service) => service,
            PractitionersError::Database(database) => ServiceError::from(database),
        }
    }
}

impl From<PractitionersError> for tonic::Status {
    fn from(error: PractitionersError) -> Self {
        tonic::Status::from(ServiceError::from(error))
    }
}
