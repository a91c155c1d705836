//! The family service's errors and their one mapping onto the platform's codes. Messages
//! never carry personal data.

use cspr_platform::error::ServiceError;

use crate::crypto::SealError;
use crate::domain::ContactError;

#[derive(Debug, thiserror::Error)]
pub enum FamilyError {
    #[error("family member {0}")]
    MemberNotFound(String),
    #[error("no publication consultation was sent to this family member")]
    NotConsulted,
    #[error(transparent)]
    Contact(#[from] ContactError),
    #[error("a personal field could not be sealed or opened: {0}")]
    Seal(#[from] SealError),
    /// Changed by someone else since the version the command was made from.
    #[error("this family member's record was {0}")]
    Stale(cspr_platform::error::Stale),
    /// A platform code: a refusal (validation, roles), the database, a review the caller
    /// may not see (see [`cspr_platform::map_service_error`]).
    #[error(transparent)]
    Service(#[from] ServiceError),
}

cspr_platform::map_service_error!(FamilyError, error => {
    FamilyError::MemberNotFound(_) => ServiceError::NotFound(error.to_string()),
    FamilyError::NotConsulted | FamilyError::Contact(_) => {
        ServiceError::FailedPrecondition(error.to_string())
    }
    FamilyError::Seal(seal) => ServiceError::internal(seal),
    FamilyError::Stale(_) => ServiceError::Aborted(error.to_string()),
});
