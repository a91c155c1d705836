//! Client request ids for create and submit commands: a retry with the same id returns the
//! first result; the same id with different content is refused.
//!
//! The key is claimed inside the command's transaction, so a command that fails leaves no
//! key behind, and two concurrent retries serialise on the key's primary key.

use prost::Message;
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::auth::Principal;
use crate::error::{Field, ServiceError, field};
use crate::values::{ValueError, required_text};

/// The longest client request id accepted, in characters.
pub const MAX_REQUEST_ID: usize = 100;

/// A client's request id for one operation, with the fingerprint of the request it came
/// with, parsed at the gRPC edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestKey {
    /// The RPC name: the same request id may be used once per operation.
    pub operation: &'static str,
    /// The client's id, trimmed.
    pub request_id: String,
    /// Fingerprint of the request's content, to tell a retry from a reuse.
    pub fingerprint: Vec<u8>,
}

impl RequestKey {
    /// Parses the request id of `request` (required, at most [`MAX_REQUEST_ID`] characters)
    /// and fingerprints the whole request.
    pub fn parse(
        operation: &'static str,
        request_id: &str,
        request: &impl Message,
    ) -> Result<Self, ValueError> {
        Self::with_fingerprint(operation, request_id, fingerprint(&request.encode_to_vec()))
    }

    /// [`RequestKey::parse`] of a request's `request_id` field, refused on that field: how
    /// every create and submit command reads it among its other fields.
    pub fn field(operation: &'static str, request_id: &str, request: &impl Message) -> Field<Self> {
        field("request_id", Self::parse(operation, request_id, request))
    }

    /// As [`RequestKey::parse`], with a fingerprint the caller computed (e.g. of a stream).
    pub fn with_fingerprint(
        operation: &'static str,
        request_id: &str,
        fingerprint: Vec<u8>,
    ) -> Result<Self, ValueError> {
        Ok(Self {
            operation,
            request_id: required_text(request_id, MAX_REQUEST_ID)?,
            fingerprint,
        })
    }
}

/// Why a request id cannot be claimed.
#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    /// The id was used for a different request (answered `ALREADY_EXISTS`).
    #[error("request_id {0:?} was already used for a different request")]
    Conflict(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl From<ClaimError> for ServiceError {
    fn from(error: ClaimError) -> Self {
        match error {
            ClaimError::Conflict(_) => ServiceError::AlreadyExists(error.to_string()),
            ClaimError::Database(database) => ServiceError::from(database),
        }
    }
}

/// A fingerprint of a request's content (e.g. its encoded protobuf).
pub fn fingerprint(content: &[u8]) -> Vec<u8> {
    Sha256::digest(content).to_vec()
}

/// [`claim`] by a command's caller, in the caller's partnership, with the error its handler
/// answers (a conflict is `ALREADY_EXISTS`): what every store's command does with a request
/// id (each service's error takes a [`ServiceError`] with `?`).
pub async fn claim_by(
    connection: &mut PgConnection,
    principal: &Principal,
    key: &RequestKey,
    resource_id: Uuid,
) -> Result<Option<Uuid>, ServiceError> {
    Ok(claim(connection, &principal.partnership, key, resource_id).await?)
}

/// Claims `key` in the partnership, recording `resource_id`, the resource the command will
/// create: `None` for a first use (go ahead), the first use's resource for a retry of the
/// same request. Must run in the command's transaction. A stored resource that is not a
/// UUID is a corrupt row, reported as a decode error (never taken for a first use).
pub async fn claim(
    connection: &mut PgConnection,
    partnership_id: &str,
    key: &RequestKey,
    resource_id: Uuid,
) -> Result<Option<Uuid>, ClaimError> {
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (partnership_id, operation, request_id, fingerprint, resource_id)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT DO NOTHING",
    )
    .bind(partnership_id)
    .bind(key.operation)
    .bind(&key.request_id)
    .bind(&key.fingerprint)
    .bind(resource_id.to_string())
    .execute(&mut *connection)
    .await?
    .rows_affected();
    if inserted == 1 {
        return Ok(None);
    }
    let (stored_fingerprint, stored_resource): (Vec<u8>, String) = sqlx::query_as(
        "SELECT fingerprint, resource_id FROM idempotency_keys
         WHERE partnership_id = $1 AND operation = $2 AND request_id = $3",
    )
    .bind(partnership_id)
    .bind(key.operation)
    .bind(&key.request_id)
    .fetch_one(&mut *connection)
    .await?;
    if stored_fingerprint != key.fingerprint {
        return Err(ClaimError::Conflict(key.request_id.clone()));
    }
    let replayed = stored_resource.parse().map_err(|_| {
        sqlx::Error::Decode(
            format!(
                "idempotency key {} points at {stored_resource:?}, not a UUID",
                key.request_id
            )
            .into(),
        )
    })?;
    Ok(Some(replayed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_too_long_request_id_is_reported_as_too_long() {
        let request = prost_types::Duration::default();
        let error = RequestKey::parse("Op", &"x".repeat(MAX_REQUEST_ID + 1), &request)
            .expect_err("too long");
        assert_eq!(error.to_string(), "at most 100 characters");
        let error = RequestKey::parse("Op", "  ", &request).expect_err("blank");
        assert_eq!(error.to_string(), "required");
        let key = RequestKey::parse("Op", " r-1 ", &request).expect("valid");
        assert_eq!(key.request_id, "r-1");
    }
}
