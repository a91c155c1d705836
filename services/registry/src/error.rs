//! The registry's errors and their one mapping onto the platform's error codes.

use cspr_platform::error::{FieldViolation, ServiceError};

use crate::domain::review::ReviewError;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The review's state or rules refuse the command.
    #[error(transparent)]
    Review(#[from] ReviewError),
    /// No such review in the caller's partnership.
    #[error("review {0} not found")]
    ReviewNotFound(String),
    /// A service-level refusal (validation, roles).
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl From<RegistryError> for ServiceError {
    fn from(error: RegistryError) -> Self {
        match error {
            RegistryError::Review(ReviewError::Field { field, message }) => {
                ServiceError::InvalidArgument(vec![FieldViolation::new(field, message)])
            }
            RegistryError::Review(ReviewError::Calendar(outside)) => {
                ServiceError::invalid("date", outside.to_string())
            }
            RegistryError::Review(other) => ServiceError::FailedPrecondition(other.to_string()),
            RegistryError::ReviewNotFound(id) => ServiceError::NotFound(format!("review {id}")),
            RegistryError::Service(service) => service,
            RegistryError::Database(database) => ServiceError::from(database),
        }
    }
}

impl From<RegistryError> for tonic::Status {
    fn from(error: RegistryError) -> Self {
        tonic::Status::from(ServiceError::from(error))
    }
}
