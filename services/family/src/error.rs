//! The family service's errors and their one mapping onto the platform's codes. Messages
//! never carry personal data.

use cspr_platform::error::ServiceError;
use cspr_platform::projection::reviews::LoadError;

use crate::crypto::SealError;
use crate::domain::ContactError;

#[derive(Debug, thiserror::Error)]
pub enum FamilyError {
    /// Not in the caller's partnership (NOT_FOUND, whether it exists elsewhere or not).
    #[error(transparent)]
    Review(#[from] LoadError),
    #[error("family member {0}")]
    MemberNotFound(String),
    #[error("no publication consultation was sent to this family member")]
    NotConsulted,
    #[error(transparent)]
    Contact(#[from] ContactError),
    #[error("a personal field could not be sealed or opened: {0}")]
    Seal(#[from] SealError),
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl From<FamilyError> for ServiceError {
    fn from(error: FamilyError) -> Self {
        match error {
            FamilyError::MemberNotFound(_) => ServiceError::NotFound(error.to_string()),
            FamilyError::NotConsulted | FamilyError::Contact(_) => {
                ServiceError::FailedPrecondition(error.to_string())
            }
            FamilyError::Seal(seal) => ServiceError::internal(seal),
            FamilyError::Review(load) => ServiceError::from(load),
            FamilyError::Service(service) => service,
            FamilyError::Database(database) => ServiceError::from(database),
        }
    }
}

impl From<FamilyError> for tonic::Status {
    fn from(error: FamilyError) -> Self {
        tonic::Status::from(ServiceError::from(error))
    }
}
