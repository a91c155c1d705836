//! The sender loop: picks due deliveries (`FOR UPDATE SKIP LOCKED`, so replicas never take
//! the same one), sends them concurrently over the pooled transport, and records each
//! outcome — SENT, RETRYING with a backed-off next attempt, or FAILED — in the same
//! transaction that held the rows. Woken by `NOTIFY` when deliveries are written, with a
//! poll as the backstop (and for retries falling due).

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use cspr_platform::bus::trace;
use cspr_platform::clock::Clock;
use cspr_platform::db::Wakeup;
use futures::future::join_all;
use lettre::message::Mailbox;
use opentelemetry::metrics::{Counter, Gauge, Histogram};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::domain::RetryPolicy;
use crate::mailer::{Mailer, SendError, build_message};
use crate::store::{self, Attempt, DELIVERY_CHANNEL, DeliveryRecord};

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
    retry: RetryPolicy,
    /// Deliveries per pass, sent concurrently.
    batch: i64,
    clock: Arc<dyn Clock>,
    poll: Duration,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Sender")
            .field("from", &self.from)
            .field("batch", &self.batch)
            .finish()
    }
}

impl Sender {
    pub fn new(
        pool: PgPool,
        mailer: Mailer,
        from: Mailbox,
        retry: RetryPolicy,
        batch: u32,
        clock: Arc<dyn Clock>,
        poll: Duration,
    ) -> Self {
        Self {
            pool,
            mailer,
            from,
            retry,
            batch: i64::from(batch),
            clock,
            poll,
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
            let message = build_message(
                &self.from,
                &delivery.recipient,
                &delivery.subject,
                &delivery.body_text,
                &delivery.body_html,
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

    /// One pass: sends what is due now; returns how many were attempted.
    pub async fn send_due(&self) -> Result<usize, sqlx::Error> {
        let now = self.clock.now();
        let mut transaction = self.pool.begin().await?;
        let due = store::lock_due(&mut transaction, now, self.batch).await?;
        if due.is_empty() {
            transaction.commit().await?;
            return Ok(0);
        }
        let outcomes = join_all(due.iter().map(|delivery| self.attempt(delivery))).await;
        for (delivery, outcome) in due.iter().zip(outcomes) {
            let attempts = delivery.attempts + 1;
            let attempt = match outcome {
                Ok(()) => {
                    metrics().sent.add(1, &[]);
                    Attempt::Sent
                }
                Err(error) => match (
                    error.permanent,
                    self.retry.next_delay(attempts, rand::random::<f64>()),
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
                },
            };
            store::record_attempt(&mut transaction, delivery.id, &attempt, now).await?;
        }
        transaction.commit().await?;
        Ok(due.len())
    }

    /// Sends until shutdown.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut wakeup = Wakeup::listen(&self.pool, DELIVERY_CHANNEL, self.poll).await;
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
                Ok(count) if count as i64 >= self.batch => backoff = Duration::from_millis(200),
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
