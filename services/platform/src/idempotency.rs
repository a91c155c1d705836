//! Client request ids for create and submit commands: a retry with the same id returns the
//! first result; the same id with different content is refused.
//!
//! The key is claimed inside the command's transaction, so a command that fails leaves no
//! key behind, and two concurrent retries serialise on the key's primary key.

use sha2::{Digest, Sha256};
use sqlx::PgConnection;

/// What a claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// First use: go ahead, then the key points at `resource_id`.
    New,
    /// A retry of the same request: answer with this resource.
    Replay(String),
    /// The id was used for a different request.
    Conflict,
}

/// A fingerprint of a request's content (e.g. its encoded protobuf).
pub fn fingerprint(content: &[u8]) -> Vec<u8> {
    Sha256::digest(content).to_vec()
}

/// Claims `request_id` for `operation` in the partnership, recording the resource the
/// command will create. Must run in the command's transaction.
pub async fn claim(
    connection: &mut PgConnection,
    partnership_id: &str,
    operation: &str,
    request_id: &str,
    fingerprint: &[u8],
    resource_id: &str,
) -> Result<Claim, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (partnership_id, operation, request_id, fingerprint, resource_id)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT DO NOTHING",
    )
    .bind(partnership_id)
    .bind(operation)
    .bind(request_id)
    .bind(fingerprint)
    .bind(resource_id)
    .execute(&mut *connection)
    .await?
    .rows_affected();
    if inserted == 1 {
        return Ok(Claim::New);
    }
    let (stored_fingerprint, stored_resource): (Vec<u8>, String) = sqlx::query_as(
        "SELECT fingerprint, resource_id FROM idempotency_keys
         WHERE partnership_id = $1 AND operation = $2 AND request_id = $3",
    )
    .bind(partnership_id)
    .bind(operation)
    .bind(request_id)
    .fetch_one(&mut *connection)
    .await?;
    if stored_fingerprint == fingerprint {
        Ok(Claim::Replay(stored_resource))
    } else {
        Ok(Claim::Conflict)
    }
}
