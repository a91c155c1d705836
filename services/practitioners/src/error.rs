//! The practitioners service's errors and their one mapping onto the platform's codes.

use cspr_platform::error::ServiceError;

use crate::domain::EngagementError;

#[derive(Debug, thiserror::Error)]
pub enum PractitionersError {
    #[error("practitioner {0}")]
    PractitionerNotFound(String),
    #[error("learning event {0}")]
    LearningEventNotFound(String),
    #[error("conversation {0}")]
    ConversationNotFound(String),
    #[error("practitioner {0} was not invited to this learning event")]
    NotInvited(String),
    /// Confirming a practitioner under the name, role and agency another practitioner of the
    /// review already has (the two would be one person twice).
    #[error(
        "practitioner {0} of this review already has this name, role and agency: confirm that one, or correct the details"
    )]
    IdentityTaken(uuid::Uuid),
    #[error(transparent)]
    Engagement(#[from] EngagementError),
    /// A platform code: a refusal (validation, roles), the database, a review the caller
    /// may not see (see [`cspr_platform::map_service_error`]).
    #[error(transparent)]
    Service(#[from] ServiceError),
}

cspr_platform::map_service_error!(PractitionersError, error => {
    PractitionersError::PractitionerNotFound(_)
    | PractitionersError::LearningEventNotFound(_)
    | PractitionersError::ConversationNotFound(_) => {
        ServiceError::NotFound(error.to_string())
    }
    PractitionersError::IdentityTaken(_) => ServiceError::AlreadyExists(error.to_string()),
    PractitionersError::NotInvited(_) => {
        ServiceError::invalid("attended_practitioner_ids", error.to_string())
    }
    PractitionersError::Engagement(EngagementError::Unknown(id)) => {
        ServiceError::NotFound(format!("practitioner {id} in this review"))
    }
    PractitionersError::Engagement(engagement) => {
        ServiceError::FailedPrecondition(engagement.to_string())
    }
});
