//! The notifications database: the only place with SQL.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use cspr_platform::audit::{self, AuditEntry};
use cspr_platform::auth::Principal;
use cspr_platform::pagination::Cursor;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::calendar::Method;
use crate::domain::Chair;

/// The channel a new delivery's commit wakes the sender on.
pub const DELIVERY_CHANNEL: &str = "cspr_deliveries";

cspr_platform::named_enum! {
    /// A delivery's status.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum DeliveryStatus {
        Pending => "PENDING",
        Sent => "SENT",
        Retrying => "RETRYING",
        Failed => "FAILED",
    }
}

/// A delivery to write (from an event).
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub event_id: Uuid,
    pub event_type: String,
    pub template: &'static str,
    pub recipient: String,
    pub partnership_id: String,
    pub review_id: Option<Uuid>,
    pub review_reference: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    /// A panel meeting's calendar entry (iCalendar text) and its method.
    pub calendar: Option<(Method, String)>,
    pub trace_headers: HashMap<String, String>,
    pub now: DateTime<Utc>,
}

/// A delivery as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryRecord {
    pub id: Uuid,
    pub event_id: Uuid,
    pub event_type: String,
    pub template: String,
    pub recipient: String,
    pub partnership_id: String,
    pub review_id: Option<Uuid>,
    pub review_reference: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: String,
    pub sent_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub trace_headers: sqlx::types::Json<HashMap<String, String>>,
    /// The calendar entry sent with it, if any (`calendar_method` is then its method).
    pub calendar: Option<String>,
    pub calendar_method: Option<String>,
}

impl DeliveryRecord {
    /// The calendar entry to send with it and its method; an unknown method is an error.
    pub fn calendar_part(&self) -> Result<Option<(Method, &str)>, String> {
        match (&self.calendar, &self.calendar_method) {
            (None, _) => Ok(None),
            (Some(text), method) => {
                let method = method.as_deref().unwrap_or_default();
                Method::from_name(method)
                    .map(|method| Some((method, text.as_str())))
                    .ok_or_else(|| format!("unknown calendar method {method:?}"))
            }
        }
    }
}

const DELIVERY_COLUMNS: &str = "id, event_id, event_type, template, recipient, partnership_id, review_id, review_reference,
    subject, body_text, body_html, status, attempts, next_attempt_at, last_error, sent_at, created_at, trace_headers,
    calendar, calendar_method";

/// Filters of ListDeliveries.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub review_id: Option<Uuid>,
    pub recipient: Option<String>,
    pub status: Option<DeliveryStatus>,
}

/// What became of one attempt.
#[derive(Debug, Clone)]
pub enum Attempt {
    Sent,
    Retry {
        next_at: DateTime<Utc>,
        error: String,
    },
    Failed {
        error: String,
    },
}

// ---- consumer side (in the handler's transaction; the review's reference is kept by the
// platform's review projection, `cspr_platform::projection::reviews`)

/// A review's panel chair (from panel_member_appointed).
pub async fn record_chair(
    connection: &mut PgConnection,
    review_id: Uuid,
    partnership_id: &str,
    chair: &Chair,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO reviews (review_id, partnership_id, chair_name, chair_email) VALUES ($1, $2, $3, $4)
         ON CONFLICT (review_id) DO UPDATE SET chair_name = EXCLUDED.chair_name, chair_email = EXCLUDED.chair_email",
    )
    .bind(review_id)
    .bind(partnership_id)
    .bind(&chair.name)
    .bind(&chair.email)
    .execute(connection)
    .await?;
    Ok(())
}

/// The review's reference and chair, as known.
pub async fn review_facts(
    connection: &mut PgConnection,
    review_id: Uuid,
) -> Result<(String, Option<Chair>), sqlx::Error> {
    let row: Option<(String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT reference, chair_name, chair_email FROM reviews WHERE review_id = $1",
    )
    .bind(review_id)
    .fetch_optional(connection)
    .await?;
    Ok(match row {
        Some((reference, Some(name), Some(email))) => (reference, Some(Chair { name, email })),
        Some((reference, _, _)) => (reference, None),
        None => (String::new(), None),
    })
}

/// Writes a delivery unless the same (event, recipient, template) exists; wakes the sender.
/// Returns whether it was new.
pub async fn insert_delivery(
    connection: &mut PgConnection,
    delivery: &NewDelivery,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO deliveries (id, event_id, event_type, template, recipient, partnership_id, review_id, review_reference,
             subject, body_text, body_html, status, attempts, next_attempt_at, created_at, trace_headers,
             calendar, calendar_method)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'PENDING', 0, $12, $12, $13, $14, $15)
         ON CONFLICT (event_id, recipient, template) DO NOTHING",
    )
    .bind(Uuid::now_v7())
    .bind(delivery.event_id)
    .bind(&delivery.event_type)
    .bind(delivery.template)
    .bind(&delivery.recipient)
    .bind(&delivery.partnership_id)
    .bind(delivery.review_id)
    .bind(&delivery.review_reference)
    .bind(&delivery.subject)
    .bind(&delivery.body_text)
    .bind(&delivery.body_html)
    .bind(delivery.now)
    .bind(sqlx::types::Json(&delivery.trace_headers))
    .bind(delivery.calendar.as_ref().map(|(_, text)| text.as_str()))
    .bind(delivery.calendar.as_ref().map(|(method, _)| method.as_str()))
    .execute(&mut *connection)
    .await?
    .rows_affected()
        == 1;
    if inserted {
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(DELIVERY_CHANNEL)
            .execute(connection)
            .await?;
    }
    Ok(inserted)
}

// ---- sender side

/// Claims up to `limit` deliveries due by `now` for this sender until `until`: their next
/// attempt moves to `until`, so no other sender (replica) takes them meanwhile, and one
/// that dies mid-send leaves them to be tried again then. Committed at once: the sends
/// happen outside any transaction, each recorded as it ends ([`record_attempt`]).
pub async fn claim_due(
    pool: &PgPool,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<DeliveryRecord>, sqlx::Error> {
    let sql = format!(
        "UPDATE deliveries SET next_attempt_at = $2
         WHERE id IN (
             SELECT id FROM deliveries
             WHERE status IN ('PENDING', 'RETRYING') AND next_attempt_at <= $1
             ORDER BY next_attempt_at, id
             LIMIT $3
             FOR UPDATE SKIP LOCKED)
         RETURNING {DELIVERY_COLUMNS}"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(now)
        .bind(until)
        .bind(limit)
        .fetch_all(pool)
        .await
}

/// Records the outcome of attempt number `attempts_before + 1` of a claimed delivery.
/// Applied once: recording it again (its first commit's reply was lost with the
/// connection) changes nothing, as does recording it after another sender took the
/// delivery over. Returns whether it was applied now.
pub async fn record_attempt(
    pool: &PgPool,
    id: Uuid,
    attempts_before: i32,
    attempt: &Attempt,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let (status, next_at, error, sent_at) = match attempt {
        Attempt::Sent => (DeliveryStatus::Sent, now, "", Some(now)),
        Attempt::Retry { next_at, error } => {
            (DeliveryStatus::Retrying, *next_at, error.as_str(), None)
        }
        Attempt::Failed { error } => (DeliveryStatus::Failed, now, error.as_str(), None),
    };
    let applied = sqlx::query(
        "UPDATE deliveries SET status = $2, attempts = $3 + 1, next_attempt_at = $4,
             last_error = CASE WHEN $5 = '' THEN last_error ELSE $5 END, sent_at = $6
         WHERE id = $1 AND attempts = $3 AND status IN ('PENDING', 'RETRYING')",
    )
    .bind(id)
    .bind(status.as_str())
    .bind(attempts_before)
    .bind(next_at)
    .bind(error)
    .bind(sent_at)
    .execute(pool)
    .await?
    .rows_affected()
        == 1;
    Ok(applied)
}

/// Deliveries waiting to be sent (for the queue-depth metric).
pub async fn queue_depth(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM deliveries WHERE status IN ('PENDING', 'RETRYING')")
        .fetch_one(pool)
        .await
}

// ---- reads and operator commands

pub async fn list(
    pool: &PgPool,
    partnership_id: &str,
    filter: &DeliveryFilter,
    after: Option<Cursor>,
    limit: i64,
) -> Result<Vec<DeliveryRecord>, sqlx::Error> {
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM deliveries
         WHERE partnership_id = $1
           AND ($2::uuid IS NULL OR review_id = $2)
           AND ($3::text IS NULL OR lower(recipient) = lower($3))
           AND ($4::text IS NULL OR status = $4)
           AND ($5::timestamptz IS NULL OR (created_at, id) < ($5, $6))
         ORDER BY created_at DESC, id DESC
         LIMIT $7"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(partnership_id)
        .bind(filter.review_id)
        .bind(filter.recipient.as_deref())
        .bind(filter.status.map(DeliveryStatus::as_str))
        .bind(after.map(|cursor| cursor.at))
        .bind(after.map(|cursor| cursor.id))
        .bind(limit)
        .fetch_all(pool)
        .await
}

pub async fn get(
    pool: &PgPool,
    partnership_id: &str,
    id: Uuid,
) -> Result<Option<DeliveryRecord>, sqlx::Error> {
    let sql =
        format!("SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE id = $1 AND partnership_id = $2");
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(partnership_id)
        .fetch_optional(pool)
        .await
}

/// Puts a FAILED delivery back in the queue; returns None when it is not FAILED (or not
/// the partnership's).
/// RetryDelivery: a FAILED delivery back to PENDING, with its audit record in the same
/// transaction; `None` if it is not (or no longer) FAILED.
pub async fn requeue_failed(
    pool: &PgPool,
    principal: &Principal,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<DeliveryRecord>, sqlx::Error> {
    let sql = format!(
        "UPDATE deliveries SET status = 'PENDING', attempts = 0, next_attempt_at = $3
         WHERE id = $1 AND partnership_id = $2 AND status = 'FAILED'
         RETURNING {DELIVERY_COLUMNS}"
    );
    let mut transaction = pool.begin().await?;
    let requeued: Option<DeliveryRecord> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(&principal.partnership)
        .bind(now)
        .fetch_optional(&mut *transaction)
        .await?;
    if let Some(delivery) = &requeued {
        audit::record(
            &mut transaction,
            now,
            &AuditEntry {
                principal,
                action: "RetryDelivery",
                review_id: delivery.review_id,
                resource: format!("deliveries/{id}"),
                outcome: "ok",
            },
        )
        .await?;
        // Delivered on commit, so the sender wakes to a row it can see.
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(DELIVERY_CHANNEL)
            .execute(&mut *transaction)
            .await?;
    }
    transaction.commit().await?;
    Ok(requeued)
}
