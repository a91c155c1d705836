//! Audit records: who did what to which resource, when, from where, and the outcome.
//!
//! Commands write their record in the same transaction as their change, so a change never
//! exists without its record; reads and refusals write one on their own.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::auth::Principal;

/// One audited action.
#[derive(Debug, Clone)]
pub struct AuditEntry<'a> {
    /// The caller.
    pub principal: &'a Principal,
    /// The RPC or job, e.g. "SetTermsOfReference".
    pub action: &'a str,
    /// The review the resource belongs to, if any (audit trails are listed per review).
    pub review_id: Option<Uuid>,
    /// The resource, e.g. "reviews/<id>".
    pub resource: String,
    /// "ok" or the refusal's status code name.
    pub outcome: &'a str,
}

/// A stored audit record.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditRecord {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub actor_roles: Vec<String>,
    pub action: String,
    pub resource: String,
    pub outcome: String,
    pub peer: Option<String>,
}

/// Writes an audit record on `connection` (pass the command's transaction).
pub async fn record(
    connection: &mut PgConnection,
    entry: &AuditEntry<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_records (id, partnership_id, review_id, actor, actor_roles, action, resource, outcome, peer)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(Uuid::now_v7())
    .bind(&entry.principal.partnership)
    .bind(entry.review_id)
    .bind(&entry.principal.subject)
    .bind(entry.principal.role_names())
    .bind(entry.action)
    .bind(&entry.resource)
    .bind(entry.outcome)
    .bind(entry.principal.peer.as_deref())
    .execute(connection)
    .await?;
    Ok(())
}

/// A page of one review's audit trail, oldest first, after the record `after` (keyset).
pub async fn list_for_review(
    connection: &mut PgConnection,
    partnership_id: &str,
    review_id: Uuid,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<AuditRecord>, sqlx::Error> {
    let (after_at, after_id) = match after {
        Some((at, id)) => (Some(at), Some(id)),
        None => (None, None),
    };
    sqlx::query_as::<_, AuditRecord>(
        "SELECT id, at, actor, actor_roles, action, resource, outcome, peer
         FROM audit_records
         WHERE partnership_id = $1 AND review_id = $2
           AND ($3::timestamptz IS NULL OR (at, id) > ($3, $4))
         ORDER BY at, id
         LIMIT $5",
    )
    .bind(partnership_id)
    .bind(review_id)
    .bind(after_at)
    .bind(after_id)
    .bind(limit)
    .fetch_all(connection)
    .await
}
