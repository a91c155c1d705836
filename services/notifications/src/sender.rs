//! The sender loop: claims due deliveries (`FOR UPDATE SKIP LOCKED`, committed at once, so
//! replicas never take the same one), sends them concurrently over the pooled transport,
//! and records each outcome — SENT, RETRYING with a backed-off next attempt, or FAILED — as
//! soon as that send ends. Woken by `NOTIFY` when deliveries are written, with a poll as
//! the backstop (and for retries falling due).
//!
//! Why each on its own: a message the SMTP server accepted is sent, whatever happens to the
//! database next. Recording a whole batch in one commit after sending it meant a commit lost
//! with PostgreSQL (stopped mid-batch) put every message of the batch back in the queue, and
//! they went out twice. Now an outcome that cannot be recorded (the database is away) is
//! kept in memory and recorded first once the database answers, before anything else is
//! claimed; its delivery stays claimed meanwhile ([`SenderSettings::claim`]), so no replica
//! sends it again.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use cspr_platform::bus::trace;
use cspr_platform::clock::Clock;
use cspr_platform::db::Wakeup;
use futures::future::join_all;
use lettre::message::Mailbox;
use opentelemetry::metrics::{Counter, Gauge, Histogram};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use uuid::Uuid;

use crate::config::NotificationsConfig;
use crate::domain::RetryPolicy;
use crate::mailer::{Mailer, SendError, build_message};
use crate::store::{self, Attempt, DELIVERY_CHANNEL, DeliveryRecord};

/// How a sender works through its queue (from [`NotificationsConfig`]).
#[derive(Debug, Clone)]
pub struct SenderSettings {
    /// Backoff and the number of attempts.
    pub retry: RetryPolicy,
    /// Deliveries claimed per pass, sent concurrently.
    pub batch: u32,
    /// Backstop poll when no notification wakes the sender.
    pub poll: Duration,
    /// How long a claimed delivery is this sender's (`CSPR_MAIL_CLAIM`, 5 minutes): far
    /// longer than a send can take (the SMTP transport gives up after 15 s per command), so
    /// no replica sends it while this one is still at it or holds its unrecorded outcome
    /// through a short outage; should this sender die instead, its claimed deliveries are
    /// tried again when the claim runs out — sooner with a shorter claim, at the risk of a
    /// replica sending one a slow send still has in hand.
    pub claim: Duration,
}

impl Default for SenderSettings {
    fn default() -> Self {
        Self {
            retry: RetryPolicy::default(),
            batch: 32,
            poll: Duration::from_secs(1),
            claim: Duration::from_secs(5 * 60),
        }
    }
}

impl From<&NotificationsConfig> for SenderSettings {
    fn from(config: &NotificationsConfig) -> Self {
        Self {
            retry: config.retry.clone(),
            batch: config.concurrency,
            poll: config.poll_interval,
            claim: config.claim,
        }
    }
}

/// The service's email instruments (defined in `cspr_platform::metrics`).
struct EmailMetrics {
    sent: Counter<u64>,
    failed: Counter<u64>,
    retrying: Counter<u64>,
    latency: Histogram<f64>,
    queue_depth: Gauge<f64>,
}

fn metrics() -> &'static EmailMetrics {
    use cspr_platform::metrics::{self as m, counter, gauge, histogram};
    static METRICS: OnceLock<EmailMetrics> = OnceLock::new();
    METRICS.get_or_init(|| EmailMetrics {
        sent: counter(&m::EMAIL_SENT),
        failed: counter(&m::EMAIL_FAILED),
        retrying: counter(&m::EMAIL_RETRYING),
        latency: histogram(&m::EMAIL_SEND_DURATION),
        queue_depth: gauge(&m::EMAIL_QUEUE_DEPTH),
    })
}

#[derive(Clone)]
pub struct Sender {
    pool: PgPool,
    mailer: Mailer,
    from: Mailbox,
    settings: SenderSettings,
    clock: Arc<dyn Clock>,
    /// Outcomes of sends that could not be recorded yet (the database was away): recorded
    /// before anything new is claimed, so their deliveries are neither sent again nor
    /// forgotten. Shared by clones of this sender.
    unrecorded: Arc<Mutex<Vec<Owed>>>,
}

/// The outcome of one send, to be recorded.
#[derive(Debug, Clone)]
struct Owed {
    delivery_id: Uuid,
    /// Attempts recorded before this one (the claim's view), which makes recording it twice
    /// harmless.
    attempts_before: i32,
    attempt: Attempt,
    at: DateTime<Utc>,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Sender")
            .field("from", &self.from)
            .field("settings", &self.settings)
            .finish()
    }
}

impl Sender {
    pub fn new(
        pool: PgPool,
        mailer: Mailer,
        from: Mailbox,
        settings: SenderSettings,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            pool,
            mailer,
            from,
            settings,
            clock,
            unrecorded: Arc::new(Mutex::new(Vec::new())),
        }
    }

    async fn attempt(&self, delivery: &DeliveryRecord) -> Result<(), SendError> {
        let span = tracing::info_span!(
            "send_email",
            otel.kind = "client",
            delivery_id = %delivery.id,
            template = %delivery.template,
            attempt = delivery.attempts + 1,
        );
        trace::continue_trace(&span, &delivery.trace_headers.0);
        async {
            let calendar = delivery.calendar_part().map_err(|message| SendError {
                permanent: true,
                message,
            })?;
            let message = build_message(
                &self.from,
                &delivery.recipient,
                &delivery.subject,
                &delivery.body_text,
                &delivery.body_html,
                calendar,
                &delivery.id.to_string(),
            )?;
            let started = Instant::now();
            let outcome = self.mailer.send(message).await;
            metrics()
                .latency
                .record(started.elapsed().as_secs_f64(), &[]);
            outcome
        }
        .instrument(span)
        .await
    }

    /// One pass: records what earlier passes could not, then claims what is due now, sends
    /// it and records each outcome as its send ends; returns how many were attempted. An
    /// error means the database is out of reach: what was sent is kept for the next pass.
    pub async fn send_due(&self) -> Result<usize, sqlx::Error> {
        self.record_unrecorded().await?;
        let now = self.clock.now();
        let claim =
            chrono::Duration::from_std(self.settings.claim).unwrap_or(chrono::Duration::minutes(5));
        let due =
            store::claim_due(&self.pool, now, now + claim, i64::from(self.settings.batch)).await?;
        let recorded = join_all(due.iter().map(|delivery| self.send_one(delivery, now))).await;
        match recorded.into_iter().find_map(Result::err) {
            Some(error) => Err(error),
            None => Ok(due.len()),
        }
    }

    /// Sends one claimed delivery and records the outcome; an outcome that cannot be
    /// recorded is kept for [`Self::record_unrecorded`].
    async fn send_one(
        &self,
        delivery: &DeliveryRecord,
        now: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        let outcome = self.attempt(delivery).await;
        let owed = Owed {
            delivery_id: delivery.id,
            attempts_before: delivery.attempts,
            attempt: self.judge(delivery, outcome, now),
            at: now,
        };
        if let Err(error) = record(&self.pool, &owed).await {
            tracing::warn!(delivery_id = %delivery.id, %error, "cannot record the outcome of a send; kept until the database answers");
            self.unrecorded_outcomes().push(owed);
            return Err(error);
        }
        Ok(())
    }

    /// What one send's outcome means for its delivery: sent, retried later, or failed.
    fn judge(
        &self,
        delivery: &DeliveryRecord,
        outcome: Result<(), SendError>,
        now: DateTime<Utc>,
    ) -> Attempt {
        let attempts = delivery.attempts + 1;
        let error = match outcome {
            Ok(()) => {
                metrics().sent.add(1, &[]);
                return Attempt::Sent;
            }
            Err(error) => error,
        };
        match (
            error.permanent,
            self.settings
                .retry
                .next_delay(attempts, rand::random::<f64>()),
        ) {
            (false, Some(delay)) => {
                metrics().retrying.add(1, &[]);
                tracing::warn!(delivery_id = %delivery.id, attempts, retry_in = ?delay, error = %error.message, "email not sent; will retry");
                Attempt::Retry {
                    next_at: now
                        + chrono::Duration::from_std(delay)
                            .unwrap_or_else(|_| chrono::Duration::hours(1)),
                    error: error.message,
                }
            }
            _ => {
                metrics().failed.add(1, &[]);
                tracing::error!(delivery_id = %delivery.id, attempts, permanent = error.permanent, error = %error.message, "email delivery failed");
                Attempt::Failed {
                    error: error.message,
                }
            }
        }
    }

    /// Records the outcomes kept from earlier passes, in order; stops at the first that
    /// still cannot be recorded (it and the rest stay kept).
    async fn record_unrecorded(&self) -> Result<(), sqlx::Error> {
        let owed = std::mem::take(&mut *self.unrecorded_outcomes());
        if owed.is_empty() {
            return Ok(());
        }
        let count = owed.len();
        let mut owed = owed.into_iter();
        while let Some(next) = owed.next() {
            if let Err(error) = record(&self.pool, &next).await {
                let mut kept = self.unrecorded_outcomes();
                kept.push(next);
                kept.extend(owed);
                return Err(error);
            }
        }
        tracing::info!(
            outcomes = count,
            "recorded the outcomes of sends kept while the database was away"
        );
        Ok(())
    }

    fn unrecorded_outcomes(&self) -> std::sync::MutexGuard<'_, Vec<Owed>> {
        // A panic while holding the lock cannot leave the list half-changed (push, extend
        // and take are whole), so a poisoned lock is still a good list.
        self.unrecorded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Sends until shutdown.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut wakeup = Wakeup::listen(&self.pool, DELIVERY_CHANNEL, self.settings.poll).await;
        let mut backoff = Duration::from_millis(200);
        let mut last_depth = Instant::now() - Duration::from_secs(60);
        loop {
            if shutdown.is_cancelled() {
                break;
            }
            if last_depth.elapsed() > Duration::from_secs(10) {
                if let Ok(depth) = store::queue_depth(&self.pool).await {
                    metrics().queue_depth.record(depth as f64, &[]);
                }
                last_depth = Instant::now();
            }
            match self.send_due().await {
                Ok(count) if count >= self.settings.batch as usize => {
                    backoff = Duration::from_millis(200)
                }
                Ok(_) => {
                    backoff = Duration::from_millis(200);
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = wakeup.wait() => {}
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, retry_in = ?backoff, "email sender pass failed");
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
            }
        }
        tracing::debug!("email sender stopped");
    }
}

/// Records one outcome; one already recorded (or taken over by another sender) is left as
/// it is.
async fn record(pool: &PgPool, owed: &Owed) -> Result<(), sqlx::Error> {
    let applied = store::record_attempt(
        pool,
        owed.delivery_id,
        owed.attempts_before,
        &owed.attempt,
        owed.at,
    )
    .await?;
    if !applied {
        tracing::debug!(delivery_id = %owed.delivery_id, "outcome already recorded");
    }
    Ok(())
}
