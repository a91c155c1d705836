//! Audit records: who did what to which resource, when, from where, and the outcome.
//!
//! Commands write their record in the same transaction as their change, so a change never
//! exists without its record; reads and refusals write one on their own, through the
//! service's one [`AuditLog`] (in its `ServiceContext`) that commits them in groups. Every
//! record's time comes from the service's injected [`Clock`], as the change's own does.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::access::Denied;
use crate::access::rules::Rule;
use crate::auth::Principal;
use crate::clock::Clock;
use crate::error::ServiceError;

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

/// Writes an audit record at `at` (the command's clock time) on `connection` (pass the
/// command's transaction).
pub async fn record(
    connection: &mut PgConnection,
    at: DateTime<Utc>,
    entry: &AuditEntry<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_records (id, at, partnership_id, review_id, actor, actor_roles, action, resource, outcome, peer)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(Uuid::now_v7())
    .bind(at)
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

/// Writes the record of an action on one of a review's resources (pass the command's
/// transaction): the services' usual case of [`record`].
pub async fn record_on_review(
    connection: &mut PgConnection,
    at: DateTime<Utc>,
    principal: &Principal,
    action: &str,
    review_id: Uuid,
    resource: String,
    outcome: &str,
) -> Result<(), sqlx::Error> {
    record(
        connection,
        at,
        &AuditEntry {
            principal,
            action,
            review_id: Some(review_id),
            resource,
            outcome,
        },
    )
    .await
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

/// One page of review `review_id`'s audit trail in this service's database, oldest first,
/// as every service's ListAuditRecords answers it (page size 1..500, 0 meaning 100; the
/// token is the last record's time and id). The caller was authorized; the read is not
/// recorded here.
pub async fn page(
    pool: &PgPool,
    partnership_id: &str,
    review_id: Uuid,
    request: &cspr_proto::registry::v1::ListAuditRecordsRequest,
) -> Result<cspr_proto::registry::v1::ListAuditRecordsResponse, ServiceError> {
    use crate::pagination::{Cursor, PageRequest};
    let page = PageRequest::parse(request.page_size, &request.page_token, 100, 500)?;
    let (records, next_page_token) = page
        .read(
            |after, limit| async move {
                let mut connection = pool.acquire().await?;
                list_for_review(
                    &mut connection,
                    partnership_id,
                    review_id,
                    after.map(|cursor: Cursor| (cursor.at, cursor.id)),
                    limit,
                )
                .await
            },
            |record| Cursor::new(record.at, record.id),
        )
        .await?;
    Ok(cspr_proto::registry::v1::ListAuditRecordsResponse {
        records: records
            .into_iter()
            .map(|record| cspr_proto::registry::v1::AuditRecord {
                id: record.id.to_string(),
                time: Some(crate::convert::timestamp_to_proto(record.at)),
                actor: record.actor,
                actor_roles: record.actor_roles,
                action: record.action,
                resource: record.resource,
                outcome: record.outcome,
                peer: record.peer.unwrap_or_default(),
            })
            .collect(),
        next_page_token,
    })
}

/// The most read audits one group commit writes.
const GROUP: usize = 512;

/// Read and refusal audits, committed in groups by one writer task.
///
/// Why: a read's audit record must be durable before the read is answered, and one commit
/// per read made every read wait for its own WAL flush, so reads under load queued on
/// fsync (BENCHMARKS.md, "read"). The writer takes every record waiting, writes them in one
/// `INSERT … UNNEST` and commit, then answers each caller: still durable before the reply,
/// but one flush serves a whole group.
#[derive(Debug, Clone)]
pub struct AuditLog {
    /// To the one writer task of the service.
    sender: mpsc::Sender<Pending>,
    /// The service's time source, for each record's time.
    clock: Arc<dyn Clock>,
}

#[derive(Debug)]
struct Pending {
    at: DateTime<Utc>,
    partnership_id: String,
    review_id: Option<Uuid>,
    actor: String,
    actor_roles: String,
    action: String,
    resource: String,
    outcome: String,
    peer: Option<String>,
    done: oneshot::Sender<GroupOutcome>,
}

/// What became of a group's commit, told to each of its callers: the writer's own error,
/// shared whole, so a connection lost while writing still reads as one to every caller
/// (UNAVAILABLE, as for any other statement) instead of an opaque INTERNAL.
type GroupOutcome = Result<(), Arc<sqlx::Error>>;

/// A caller's error for a group that could not be written.
fn caller_error(error: &Arc<sqlx::Error>) -> sqlx::Error {
    if crate::db::connection_lost(error) {
        sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            Arc::clone(error),
        ))
    } else {
        sqlx::Error::Protocol(format!("cannot write audit records: {error}"))
    }
}

impl AuditLog {
    /// Starts the writer on `pool`; it ends when the last clone is dropped. Must be called
    /// inside a Tokio runtime.
    pub fn start(pool: PgPool, clock: Arc<dyn Clock>) -> Self {
        let (sender, receiver) = mpsc::channel(GROUP * 4);
        tokio::spawn(write_groups(pool, receiver));
        Self { sender, clock }
    }

    /// Records a read or refusal of one of a review's resources: the services' usual case
    /// of [`AuditLog::record`].
    pub async fn record_on_review(
        &self,
        principal: &Principal,
        action: &str,
        review_id: Uuid,
        resource: String,
        outcome: &str,
    ) -> Result<(), sqlx::Error> {
        self.record(&AuditEntry {
            principal,
            action,
            review_id: Some(review_id),
            resource,
            outcome,
        })
        .await
    }

    /// Records a read of one of a review's resources (outcome "ok"). A read is answered only
    /// once its record is committed, so a record that cannot be written fails the read, as
    /// the database error the handler answers with.
    pub async fn record_read(
        &self,
        principal: &Principal,
        action: &str,
        review_id: Uuid,
        resource: String,
    ) -> Result<(), ServiceError> {
        Ok(self
            .record_on_review(principal, action, review_id, resource, "ok")
            .await?)
    }

    /// Step 1 of an RPC's `rule` ([`crate::access::rules`]): the caller's roles, before
    /// anything is loaded; a refusal audited first (outcome `PERMISSION_DENIED` on
    /// `resource`, of the review if one is named).
    pub async fn gate(
        &self,
        principal: &Principal,
        rule: &Rule,
        review_id: Option<Uuid>,
        resource: String,
    ) -> Result<(), Denied> {
        let decision = rule.gate(principal);
        if let Err(denied) = &decision {
            self.record_refusal(&AuditEntry {
                principal,
                action: rule.method,
                review_id,
                resource,
                outcome: denied.code(),
            })
            .await;
        }
        decision
    }

    /// Records a refusal. A refusal is answered whether or not its record could be written
    /// (the caller is refused either way), so a failure is logged, not returned.
    pub async fn record_refusal(&self, entry: &AuditEntry<'_>) {
        if let Err(error) = self.record(entry).await {
            tracing::warn!(%error, action = entry.action, "cannot audit a refusal");
        }
    }

    /// [`AuditLog::record_refusal`] of one of a review's resources.
    pub async fn record_refusal_on_review(
        &self,
        principal: &Principal,
        action: &str,
        review_id: Uuid,
        resource: String,
        outcome: &str,
    ) {
        self.record_refusal(&AuditEntry {
            principal,
            action,
            review_id: Some(review_id),
            resource,
            outcome,
        })
        .await;
    }

    /// Records one read or refusal; returns once it is committed.
    pub async fn record(&self, entry: &AuditEntry<'_>) -> Result<(), sqlx::Error> {
        let (done, committed) = oneshot::channel();
        let pending = Pending {
            at: self.clock.now(),
            partnership_id: entry.principal.partnership.clone(),
            review_id: entry.review_id,
            actor: entry.principal.subject.clone(),
            // Role names are identifiers without commas (see `auth::Role`).
            actor_roles: entry.principal.role_names().join(","),
            action: entry.action.to_string(),
            resource: entry.resource.clone(),
            outcome: entry.outcome.to_string(),
            peer: entry.principal.peer.clone(),
            done,
        };
        let writer_gone = || sqlx::Error::Protocol("the audit writer has stopped".into());
        self.sender.send(pending).await.map_err(|_| writer_gone())?;
        committed
            .await
            .map_err(|_| writer_gone())?
            .map_err(|error| caller_error(&error))
    }
}

async fn write_groups(pool: PgPool, mut receiver: mpsc::Receiver<Pending>) {
    let mut group = Vec::with_capacity(GROUP);
    while receiver.recv_many(&mut group, GROUP).await > 0 {
        let outcome = insert_group(&pool, &group).await.map_err(|error| {
            tracing::warn!(%error, records = group.len(), "cannot write audit records");
            Arc::new(error)
        });
        for pending in group.drain(..) {
            let _ = pending.done.send(outcome.clone());
        }
    }
}

async fn insert_group(pool: &PgPool, group: &[Pending]) -> Result<(), sqlx::Error> {
    let ids: Vec<Uuid> = group.iter().map(|_| Uuid::now_v7()).collect();
    let ats: Vec<DateTime<Utc>> = group.iter().map(|p| p.at).collect();
    let partnerships: Vec<&str> = group.iter().map(|p| p.partnership_id.as_str()).collect();
    let reviews: Vec<Option<Uuid>> = group.iter().map(|p| p.review_id).collect();
    let actors: Vec<&str> = group.iter().map(|p| p.actor.as_str()).collect();
    let roles: Vec<&str> = group.iter().map(|p| p.actor_roles.as_str()).collect();
    let actions: Vec<&str> = group.iter().map(|p| p.action.as_str()).collect();
    let resources: Vec<&str> = group.iter().map(|p| p.resource.as_str()).collect();
    let outcomes: Vec<&str> = group.iter().map(|p| p.outcome.as_str()).collect();
    let peers: Vec<Option<&str>> = group.iter().map(|p| p.peer.as_deref()).collect();
    sqlx::query(
        "INSERT INTO audit_records (id, at, partnership_id, review_id, actor, actor_roles, action, resource, outcome, peer)
         SELECT id, at, partnership_id, review_id, actor,
                CASE WHEN roles = '' THEN '{}'::text[] ELSE string_to_array(roles, ',') END,
                action, resource, outcome, peer
         FROM UNNEST($1::uuid[], $2::timestamptz[], $3::text[], $4::uuid[], $5::text[], $6::text[],
                     $7::text[], $8::text[], $9::text[], $10::text[])
              AS t(id, at, partnership_id, review_id, actor, roles, action, resource, outcome, peer)",
    )
    .bind(&ids)
    .bind(&ats)
    .bind(&partnerships)
    .bind(&reviews)
    .bind(&actors)
    .bind(&roles)
    .bind(&actions)
    .bind(&resources)
    .bind(&outcomes)
    .bind(&peers)
    .execute(pool)
    .await?;
    Ok(())
}
