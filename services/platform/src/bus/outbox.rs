//! The transactional outbox: events are written to the `outbox` table in the same
//! transaction as the change they describe, and a relay publishes them to JetStream.
//!
//! Nothing is lost when NATS is down: rows wait, and the relay retries with backoff. Nothing
//! is doubled: the relay sets `Nats-Msg-Id` to the event id, so a row published twice (a
//! crash between the ack and marking it) is dropped by the stream's duplicate window. Several
//! relays (replicas) share the table safely through `FOR UPDATE SKIP LOCKED`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use cspr_proto::events::v1::{Actor, Event, event};
use futures::future::join_all;
use prost::Message;
use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use sqlx::{PgConnection, PgPool, Postgres};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{Bus, trace};
use crate::auth::Principal;
use crate::clock::Clock;

/// The NOTIFY channel a commit with new outbox rows wakes the relay on.
pub const OUTBOX_CHANNEL: &str = "cspr_outbox";

/// What an event is about and who caused it; the body says what happened.
#[derive(Debug, Clone)]
pub struct EventMeta {
    pub partnership_id: String,
    pub review_id: Option<Uuid>,
    pub actor: Actor,
}

impl EventMeta {
    /// An event a caller's command causes, about a review of the caller's partnership.
    pub fn by(principal: &Principal, review_id: Uuid) -> Self {
        Self {
            partnership_id: principal.partnership.clone(),
            review_id: Some(review_id),
            actor: actor(principal),
        }
    }

    /// An event the service raises on its own (a sweep, a plan's activation) about a review.
    pub fn system(partnership_id: &str, review_id: Uuid, system: &str) -> Self {
        Self {
            partnership_id: partnership_id.to_string(),
            review_id: Some(review_id),
            actor: system_actor(system),
        }
    }
}

/// The caller as an event's actor: their subject and roles, as the audit records them.
pub fn actor(principal: &Principal) -> Actor {
    Actor {
        subject: principal.subject.clone(),
        roles: principal.role_names(),
    }
}

/// The service itself as an event's actor: `system` names the job (e.g.
/// `system:deferral-reviews`), so a reader of the event sees no person acted.
pub fn system_actor(system: &str) -> Actor {
    Actor {
        subject: system.to_string(),
        roles: vec![],
    }
}

/// Writes events to the outbox of the caller's transaction.
#[derive(Debug, Clone)]
pub struct Outbox {
    /// The subject prefix of this deployment.
    prefix: String,
    /// The service's clock: an event occurs when the change it describes is made, in the
    /// same time as the change's own timestamps (a test's manual clock included).
    clock: Arc<dyn Clock>,
}

impl Outbox {
    pub fn new(prefix: impl Into<String>, clock: Arc<dyn Clock>) -> Self {
        Self {
            prefix: prefix.into(),
            clock,
        }
    }

    /// Raises a sweep's alert once: runs `record_alert` (the alert's bound `INSERT … ON
    /// CONFLICT DO NOTHING`) in the sweep's transaction and, only when it inserted the row,
    /// enqueues `body` as `meta`. However many replicas sweep and however often, an alert
    /// is raised once. Returns whether it was raised now.
    pub async fn raise_once(
        &self,
        connection: &mut PgConnection,
        record_alert: Query<'_, Postgres, PgArguments>,
        meta: &EventMeta,
        body: event::Body,
    ) -> Result<bool, sqlx::Error> {
        let inserted = record_alert
            .execute(&mut *connection)
            .await?
            .rows_affected();
        if inserted == 0 {
            return Ok(false);
        }
        self.enqueue(connection, meta, body).await?;
        Ok(true)
    }

    /// Adds an event to the outbox in `connection`'s transaction, returning the envelope.
    /// The relay is woken when the transaction commits.
    pub async fn enqueue(
        &self,
        connection: &mut PgConnection,
        meta: &EventMeta,
        body: event::Body,
    ) -> Result<Event, sqlx::Error> {
        let now = self.clock.now();
        let event = Event {
            id: Uuid::now_v7().to_string(),
            r#type: body.type_name().to_string(),
            occurred_at: Some(prost_types::Timestamp {
                seconds: now.timestamp(),
                nanos: now.timestamp_subsec_nanos() as i32,
            }),
            partnership_id: meta.partnership_id.clone(),
            review_id: meta.review_id.map(|id| id.to_string()).unwrap_or_default(),
            actor: Some(meta.actor.clone()),
            body: Some(body),
        };
        self.enqueue_event(connection, &event).await?;
        Ok(event)
    }

    /// Adds an already built envelope (its `id` must be a UUID).
    pub async fn enqueue_event(
        &self,
        connection: &mut PgConnection,
        event: &Event,
    ) -> Result<(), sqlx::Error> {
        let Some(body) = &event.body else {
            return Err(sqlx::Error::Protocol("an event needs a body".into()));
        };
        let event_id: Uuid = event
            .id
            .parse()
            .map_err(|_| sqlx::Error::Protocol(format!("event id {} is not a UUID", event.id)))?;
        let subject = super::subject(&self.prefix, body.producer(), body.type_name());
        let headers = serde_json::to_value(trace::current_headers()).unwrap_or_default();
        sqlx::query(
            "INSERT INTO outbox (event_id, subject, payload, headers) VALUES ($1, $2, $3, $4)",
        )
        .bind(event_id)
        .bind(&subject)
        .bind(event.encode_to_vec())
        .bind(headers)
        .execute(&mut *connection)
        .await?;
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(OUTBOX_CHANNEL)
            .execute(&mut *connection)
            .await?;
        Ok(())
    }
}

/// Why a relay pass stopped.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("outbox query failed: {0}")]
    Database(#[from] sqlx::Error),
    #[error("publishing to JetStream failed for {failed} of {attempted} events: {first_error}")]
    Publish {
        failed: usize,
        attempted: usize,
        first_error: String,
    },
}

/// Publishes outbox rows to JetStream.
#[derive(Debug, Clone)]
pub struct OutboxRelay {
    /// The service's database (its outbox table).
    pool: PgPool,
    /// Where events go.
    bus: Bus,
    /// Rows per pass; acks of one pass are awaited together (JetStream caps unacked
    /// publishes in flight, so batches stay well below that).
    batch_size: i64,
    /// Backstop poll when no NOTIFY arrives (e.g. the listener reconnecting).
    poll_interval: Duration,
}

#[derive(sqlx::FromRow)]
struct OutboxRow {
    seq: i64,
    event_id: Uuid,
    subject: String,
    payload: Vec<u8>,
    headers: serde_json::Value,
}

impl OutboxRelay {
    pub fn new(pool: PgPool, bus: Bus, poll_interval: Duration) -> Self {
        Self {
            pool,
            bus,
            batch_size: 500,
            poll_interval,
        }
    }

    /// Publishes one batch of pending rows; returns how many were published. Tests call this
    /// to drain the outbox without waiting for the background loop.
    pub async fn publish_pending(&self) -> Result<usize, RelayError> {
        let mut transaction = self.pool.begin().await?;
        let rows: Vec<OutboxRow> = sqlx::query_as(
            "SELECT seq, event_id, subject, payload, headers FROM outbox
             WHERE published_at IS NULL
             ORDER BY seq
             LIMIT $1
             FOR UPDATE SKIP LOCKED",
        )
        .bind(self.batch_size)
        .fetch_all(&mut *transaction)
        .await?;
        if rows.is_empty() {
            return Ok(0);
        }

        let mut pending_acks = Vec::with_capacity(rows.len());
        for row in &rows {
            pending_acks.push(self.publish_row(row));
        }
        let outcomes = join_all(pending_acks).await;

        let mut published_seqs = Vec::with_capacity(rows.len());
        let mut failed_seqs = Vec::new();
        let mut first_error = None;
        for (row, outcome) in rows.iter().zip(outcomes) {
            match outcome {
                Ok(()) => published_seqs.push(row.seq),
                Err(error) => {
                    failed_seqs.push(row.seq);
                    first_error.get_or_insert(error);
                }
            }
        }
        sqlx::query(
            "UPDATE outbox SET published_at = now(), attempts = attempts + 1 WHERE seq = ANY($1)",
        )
        .bind(&published_seqs)
        .execute(&mut *transaction)
        .await?;
        if let Some(error) = &first_error {
            sqlx::query(
                "UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE seq = ANY($1)",
            )
            .bind(&failed_seqs)
            .bind(error)
            .execute(&mut *transaction)
            .await?;
        }
        transaction.commit().await?;
        let metrics = crate::metrics::platform();
        metrics
            .outbox_published
            .add(published_seqs.len() as u64, &[]);
        for row in rows.iter().filter(|row| published_seqs.contains(&row.seq)) {
            metrics.sent.add(
                1,
                &[
                    crate::metrics::nats(),
                    opentelemetry::KeyValue::new("messaging.destination.name", row.subject.clone()),
                ],
            );
        }

        match first_error {
            None => Ok(published_seqs.len()),
            Some(first_error) => Err(RelayError::Publish {
                failed: failed_seqs.len(),
                attempted: rows.len(),
                first_error,
            }),
        }
    }

    /// Publishes one row in a `publish` span (a child of the command that wrote it), whose
    /// trace context travels in the message headers, so the consumers' spans follow it.
    async fn publish_row(&self, row: &OutboxRow) -> Result<(), String> {
        use tracing::Instrument as _;
        let stored = serde_json::from_value::<HashMap<String, String>>(row.headers.clone())
            .unwrap_or_default();
        let span = tracing::info_span!(
            "publish",
            otel.name = %format!("{} publish", row.subject),
            otel.kind = "producer",
            messaging.system = "nats",
            messaging.operation.type = "send",
            messaging.destination.name = %row.subject,
            messaging.message.id = %row.event_id,
        );
        trace::continue_trace(&span, &stored);
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", row.event_id.to_string().as_str());
        let propagated = span.in_scope(trace::current_headers);
        for (name, value) in if propagated.contains_key("traceparent") {
            propagated
        } else {
            stored
        } {
            headers.insert(name.as_str(), value.as_str());
        }
        async {
            let ack = self
                .bus
                .jetstream()
                .publish_with_headers(row.subject.clone(), headers, row.payload.clone().into())
                .await
                .map_err(|error| error.to_string())?;
            ack.await.map_err(|error| error.to_string())?;
            Ok(())
        }
        .instrument(span)
        .await
    }

    /// Publishes until `shutdown`: woken by NOTIFY on commit, polling as a backstop, backing
    /// off (up to 30 s) while NATS or PostgreSQL is unreachable.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut wakeup =
            crate::db::Wakeup::listen(&self.pool, OUTBOX_CHANNEL, self.poll_interval).await;
        let mut backoff = Duration::from_millis(100);
        loop {
            if shutdown.is_cancelled() {
                break;
            }
            match self.publish_pending().await {
                Ok(count) if count as i64 >= self.batch_size => {
                    backoff = Duration::from_millis(100);
                }
                Ok(_) => {
                    backoff = Duration::from_millis(100);
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = wakeup.wait() => {}
                    }
                }
                Err(error) => {
                    tracing::warn!(error = %error, retry_in = ?backoff, "outbox relay pass failed");
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(jitter(backoff)) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
            }
        }
        tracing::debug!("outbox relay stopped");
    }
}

/// Adds up to 20 % random jitter, so replicas do not retry in lockstep.
pub fn jitter(delay: Duration) -> Duration {
    let fraction = rand::random::<f64>() * 0.2;
    delay + delay.mul_f64(fraction)
}

/// Rows not yet published, for metrics and health reports.
pub async fn backlog(pool: &PgPool) -> Result<i64, sqlx::Error> {
    backlog_and_age(pool).await.map(|(count, _)| count)
}

/// Events committed but not yet published, and the age in seconds of the oldest of them
/// (0 when none): the outbox's backlog, for its gauges.
pub async fn backlog_and_age(pool: &PgPool) -> Result<(i64, f64), sqlx::Error> {
    sqlx::query_as(
        "SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at))::float8, 0)
         FROM outbox WHERE published_at IS NULL",
    )
    .fetch_one(pool)
    .await
}

/// Published events stay in the outbox this long: as long as the streams keep them
/// (`STREAM_MAX_AGE`), so an operator can republish any event a stream still could hold.
pub const OUTBOX_RETENTION: Duration = super::STREAM_MAX_AGE;
/// Inbox rows stay this long: past the streams' retention, so no redelivery or replay of a
/// stream can bring back an event whose inbox row is gone.
pub const INBOX_RETENTION: Duration = Duration::from_secs(35 * 24 * 3600);
/// Rows deleted per statement, so a first pass over a large backlog never holds long locks.
const PRUNE_BATCH: i64 = 5_000;

/// Deletes published outbox rows older than [`OUTBOX_RETENTION`] and inbox rows older than
/// [`INBOX_RETENTION`], in batches; returns how many rows went. Unpublished events are
/// never deleted, however old.
pub async fn prune(pool: &PgPool) -> Result<u64, sqlx::Error> {
    let mut deleted = 0;
    loop {
        let done = sqlx::query(
            "DELETE FROM outbox WHERE seq IN (
                 SELECT seq FROM outbox
                 WHERE published_at IS NOT NULL AND published_at < now() - make_interval(secs => $1)
                 LIMIT $2)",
        )
        .bind(OUTBOX_RETENTION.as_secs_f64())
        .bind(PRUNE_BATCH)
        .execute(pool)
        .await?
        .rows_affected();
        deleted += done;
        if done < PRUNE_BATCH as u64 {
            break;
        }
    }
    loop {
        let done = sqlx::query(
            "DELETE FROM inbox WHERE (consumer, event_id) IN (
                 SELECT consumer, event_id FROM inbox
                 WHERE handled_at < now() - make_interval(secs => $1)
                 LIMIT $2)",
        )
        .bind(INBOX_RETENTION.as_secs_f64())
        .bind(PRUNE_BATCH)
        .execute(pool)
        .await?
        .rows_affected();
        deleted += done;
        if done < PRUNE_BATCH as u64 {
            break;
        }
    }
    Ok(deleted)
}
