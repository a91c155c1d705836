//! Consuming another service's events: one durable pull consumer per consuming service and
//! stream, shared by all its replicas, with explicit acks.
//!
//! Each message is handled in one database transaction that also records `(consumer,
//! event_id)` in the inbox, so a redelivered event (after a crash, an ack lost, or an
//! `ack_wait` expiry) changes nothing the second time. A handler that fails is retried with
//! backoff (a NAK with delay); on its last allowed delivery, or when the message cannot be
//! decoded at all, it is parked in `dead_letters`, counted, and terminated, so it never
//! blocks the others and is never silently dropped.
//!
//! An unreachable database is not the message's fault, and must not count against it: a
//! handler that fails while PostgreSQL is out of reach (its error says the connection was
//! lost, or the database does not answer a probe) keeps its message (progress acks hold
//! off JetStream's redelivery), the runner stops pulling more, and the same message is
//! handled again once the database answers. JetStream itself is told to deliver without
//! limit: the runner, not JetStream, decides when a message has failed often enough to be
//! parked, so every message ends handled, parked, or delivered again — a dead letter that
//! cannot be stored (the database went away at that moment) is simply delivered again
//! later, never dropped because JetStream ran out of deliveries.
//!
//! Messages are handled several at a time, in lanes keyed by review: one review's events
//! keep the order JetStream delivered them in (a handler may rely on a review's creation
//! before its terms of reference), while different reviews' events share the database's
//! round trips. One lane at a time managed ~145 events a second on the benchmark machine.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{AckPolicy, pull};
use async_nats::jetstream::message::AckKind;
use cspr_proto::events::v1::{Event, event::Body};
use futures::StreamExt;
use prost::Message;
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use uuid::Uuid;

use super::{Bus, BusError, trace};
use crate::db;
use crate::projection::reviews;

/// A handler failed; the message will be retried (or parked after the last try).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HandlerError(pub Box<dyn std::error::Error + Send + Sync + 'static>);

impl From<sqlx::Error> for HandlerError {
    fn from(error: sqlx::Error) -> Self {
        Self(Box::new(error))
    }
}

impl HandlerError {
    pub fn message(message: impl Into<String>) -> Self {
        Self(message.into().into())
    }

    /// Whether the handler failed because the database is out of reach: a [`sqlx::Error`]
    /// anywhere in its cause chain that [`db::connection_lost`] says so.
    pub fn connection_lost(&self) -> bool {
        let mut next: Option<&(dyn std::error::Error + 'static)> = Some(self.0.as_ref());
        while let Some(error) = next {
            if error
                .downcast_ref::<sqlx::Error>()
                .is_some_and(db::connection_lost)
            {
                return true;
            }
            next = error.source();
        }
        false
    }
}

/// A message's payload as the consumer takes it in: a `cspr.events.v1.Event` whose id is a
/// UUID (the inbox and dead letters key on it).
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedEvent {
    /// The event's id, parsed.
    pub id: Uuid,
    pub event: Event,
}

/// Why a payload is no event the consumer can take in: such a message is parked as a dead
/// letter with this as its reason, never handed to a handler.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UndecodableEvent {
    #[error("cannot decode event: {0}")]
    Protobuf(#[from] prost::DecodeError),
    #[error("event id {0:?} is not a UUID")]
    EventId(String),
}

/// Decodes a JetStream message's payload into an event: what arrives on the bus comes from
/// other processes, so any bytes are refused (never a panic) or decoded. A pure function, so
/// the consumer and its fuzz target (`fuzz/`, `event_decode`) run the same code.
pub fn decode(payload: &[u8]) -> Result<DecodedEvent, UndecodableEvent> {
    let event = Event::decode(payload)?;
    let Ok(id) = event.id.parse::<Uuid>() else {
        return Err(UndecodableEvent::EventId(event.id));
    };
    Ok(DecodedEvent { id, event })
}

/// The review an event is about, or the handler error that parks a malformed event.
pub fn review_id(event: &Event) -> Result<Uuid, HandlerError> {
    event.review_id.parse::<Uuid>().map_err(|_| {
        HandlerError::message(format!(
            "event {} ({}) has no valid review_id",
            event.id, event.r#type
        ))
    })
}

/// One event handed to a handler: the transaction that also records it in the inbox, the
/// event (its id, type, review and partnership) and its body. One value rather than three
/// arguments, so every handler's signature is one line.
pub struct Consumed<'a> {
    /// The consumer's transaction: what the handler writes commits with the inbox row.
    pub connection: &'a mut PgConnection,
    pub event: &'a Event,
    pub body: &'a Body,
}

/// What a consuming service does with one event, inside the transaction that also records
/// it in the inbox. Events it does not care about are simply ignored (`Ok`).
///
/// The runner hands over the event's body, so no handler unwraps it: an event without one
/// (no service acts on those) is recorded in the inbox and acknowledged without calling the
/// handler.
pub trait EventHandler: Send + Sync + 'static {
    fn handle(
        &self,
        consumed: Consumed<'_>,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send;
}

/// Which events a consumer reads and how patiently.
#[derive(Debug, Clone)]
pub struct ConsumerSpec {
    /// The consuming service (names the durable consumer and the inbox rows).
    pub consumer: &'static str,
    /// The producing service whose stream is read.
    pub source: &'static str,
    /// How long JetStream waits for an ack before redelivering.
    pub ack_wait: Duration,
    /// Deliveries before a failing message is parked as a dead letter. Failures while the
    /// database is unreachable do not count: the message is held and handled again once it
    /// is back. (JetStream itself delivers without limit, so a message whose dead letter
    /// cannot be stored is delivered again, not dropped.)
    pub max_deliver: i64,
    /// First retry delay; doubled per delivery, capped at 60 s.
    pub retry_backoff: Duration,
    /// Messages handled at once (lanes keyed by review), per replica.
    pub concurrency: usize,
    /// Whether each event is applied to the platform's review projection
    /// ([`reviews::apply`]) before the handler sees it, in the same transaction: the handler
    /// may act on it too (the terms of reference also carry key lines of enquiry and the
    /// agencies to ask).
    pub keeps_reviews: bool,
}

impl ConsumerSpec {
    pub fn new(consumer: &'static str, source: &'static str) -> Self {
        Self {
            consumer,
            source,
            ack_wait: Duration::from_secs(30),
            max_deliver: 5,
            retry_backoff: Duration::from_millis(500),
            concurrency: 8,
            keeps_reviews: false,
        }
    }
}

/// What became of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Handled now.
    Handled,
    /// Already handled before (inbox hit); acknowledged again.
    Duplicate,
    /// Failed; will be redelivered.
    Retrying,
    /// Parked in dead_letters.
    DeadLettered,
}

/// Messages waiting per lane: enough to keep a lane busy, few enough that shutdown leaves
/// little for redelivery.
const LANE_QUEUE: usize = 16;

/// The lane of a message: by the review its event is about, so a review's events stay in
/// order; lane 0 for anything without one (a message that cannot be decoded is parked there).
pub(crate) fn lane_of(event: Option<&Event>, lanes: usize) -> usize {
    use std::hash::{Hash, Hasher};
    let Some(event) = event else {
        return 0;
    };
    if lanes <= 1 {
        return 0;
    }
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    event.review_id.hash(&mut hasher);
    (hasher.finish() % lanes as u64) as usize
}

/// A message with its payload decoded once, on arrival: the dispatcher needs the review for
/// the lane and the lane's worker needs the whole event, so neither decodes it again.
struct Delivery {
    /// What JetStream delivered: acked, retried or parked by the worker.
    message: async_nats::jetstream::Message,
    /// Its payload decoded; an error parks the message as a dead letter.
    event: Result<DecodedEvent, UndecodableEvent>,
}

impl Outcome {
    /// The `outcome` label of `messaging.process.duration`.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Handled => "handled",
            Outcome::Duplicate => "duplicate",
            Outcome::Retrying => "retrying",
            Outcome::DeadLettered => "dead_lettered",
        }
    }
}

/// Runs one consumer until shutdown.
pub struct ConsumerRunner<H> {
    pool: PgPool,
    bus: Bus,
    spec: ConsumerSpec,
    handler: Arc<H>,
    /// True while a lane waits for the unreachable database: the dispatcher takes no more
    /// messages meanwhile (they would only wait, their `ack_wait` running out).
    database_down: tokio::sync::watch::Sender<bool>,
}

impl<H: EventHandler> ConsumerRunner<H> {
    pub fn new(pool: PgPool, bus: Bus, spec: ConsumerSpec, handler: Arc<H>) -> Self {
        Self {
            pool,
            bus,
            spec,
            handler,
            database_down: tokio::sync::watch::Sender::new(false),
        }
    }

    /// Creates the stream (if its owner has not yet) and the durable consumer, or brings an
    /// existing one's settings up to date (a consumer made by an older release with a
    /// JetStream delivery limit loses it).
    pub async fn ensure_consumer(
        &self,
    ) -> Result<async_nats::jetstream::consumer::Consumer<pull::Config>, BusError> {
        let stream = self.bus.ensure_stream(self.spec.source).await?;
        let durable = self.bus.durable_name(self.spec.consumer);
        stream
            .create_consumer(pull::Config {
                durable_name: Some(durable.clone()),
                ack_policy: AckPolicy::Explicit,
                ack_wait: self.spec.ack_wait,
                // Without limit: the runner parks a message after `spec.max_deliver` failed
                // deliveries itself, and only once the dead letter is stored.
                max_deliver: -1,
                ..Default::default()
            })
            .await
            .map_err(|error| BusError::Consumer {
                consumer: durable,
                message: error.to_string(),
            })
    }

    /// Consumes until `shutdown`, re-binding after NATS outages.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut backoff = Duration::from_millis(200);
        while !shutdown.is_cancelled() {
            match self.consume(&shutdown).await {
                Ok(()) => backoff = Duration::from_millis(200),
                Err(error) => {
                    tracing::warn!(consumer = self.spec.consumer, source = self.spec.source, %error, retry_in = ?backoff, "consumer interrupted");
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(super::outbox::jitter(backoff)) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(15));
                }
            }
        }
        tracing::debug!(
            consumer = self.spec.consumer,
            source = self.spec.source,
            "consumer stopped"
        );
    }

    async fn consume(&self, shutdown: &CancellationToken) -> Result<(), BusError> {
        let consumer = self.ensure_consumer().await?;
        let consumer_error = |error: &dyn std::fmt::Display| BusError::Consumer {
            consumer: self.bus.durable_name(self.spec.consumer),
            message: error.to_string(),
        };
        let mut messages = consumer
            .messages()
            .await
            .map_err(|error| consumer_error(&error))?;
        let lanes = self.spec.concurrency.max(1);
        let mut senders = Vec::with_capacity(lanes);
        let mut workers = Vec::with_capacity(lanes);
        for _ in 0..lanes {
            let (sender, mut receiver) = tokio::sync::mpsc::channel::<Delivery>(LANE_QUEUE);
            senders.push(sender);
            workers.push(async move {
                while let Some(delivery) = receiver.recv().await {
                    // A message being handled is finished even during shutdown: the handler
                    // runs in one transaction and its ack follows. Queued ones are left
                    // unacknowledged, for redelivery.
                    if shutdown.is_cancelled() {
                        break;
                    }
                    self.process_decoded(&delivery.message, delivery.event, shutdown)
                        .await;
                }
            });
        }
        let mut database_down = self.database_down.subscribe();
        let dispatch = async move {
            loop {
                // No more messages while a lane waits for the database.
                tokio::select! {
                    _ = shutdown.cancelled() => return Ok(()),
                    _ = database_down.wait_for(|down| !*down) => {}
                }
                let next = tokio::select! {
                    _ = shutdown.cancelled() => return Ok(()),
                    next = messages.next() => next,
                };
                match next {
                    None => return Err(consumer_error(&"message stream ended")),
                    Some(Err(error)) => return Err(consumer_error(&error)),
                    Some(Ok(message)) => {
                        let event = decode(message.payload.as_ref());
                        let lane =
                            lane_of(event.as_ref().ok().map(|decoded| &decoded.event), lanes);
                        if senders[lane]
                            .send(Delivery { message, event })
                            .await
                            .is_err()
                        {
                            return Ok(());
                        }
                    }
                }
            }
        };
        let (outcome, _) = tokio::join!(dispatch, futures::future::join_all(workers));
        outcome
    }

    /// Handles one message: inbox check, handler, commit, ack — or retry / dead letter. While
    /// the database is unreachable it waits for it, however long that takes.
    pub async fn process(&self, message: &async_nats::jetstream::Message) -> Outcome {
        let event = decode(message.payload.as_ref());
        self.process_decoded(message, event, &CancellationToken::new())
            .await
    }

    /// [`Self::process`] for a message whose payload the dispatcher has already decoded;
    /// `shutdown` ends a wait for the database (the message is then left for redelivery).
    async fn process_decoded(
        &self,
        message: &async_nats::jetstream::Message,
        decoded: Result<DecodedEvent, UndecodableEvent>,
        shutdown: &CancellationToken,
    ) -> Outcome {
        let (stream, stream_seq, delivered) = match message.info() {
            Ok(info) => (
                info.stream.to_string(),
                info.stream_sequence,
                info.delivered,
            ),
            Err(_) => (String::new(), 0, 1),
        };
        let trace_headers: HashMap<String, String> = message
            .headers
            .as_ref()
            .map(|headers| {
                headers
                    .iter()
                    .filter_map(|(name, values)| {
                        values
                            .first()
                            .map(|value| (name.to_string(), value.as_str().to_string()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let span = tracing::info_span!(
            "consume",
            otel.kind = "consumer",
            messaging.system = "nats",
            messaging.destination.name = %message.subject,
            messaging.consumer.group.name = self.spec.consumer,
            delivered,
        );
        trace::continue_trace(&span, &trace_headers);
        let metrics = crate::metrics::platform();
        let subject =
            opentelemetry::KeyValue::new("messaging.destination.name", message.subject.to_string());
        let group =
            opentelemetry::KeyValue::new("messaging.consumer.group.name", self.spec.consumer);
        metrics
            .consumed
            .add(1, &[crate::metrics::nats(), subject.clone(), group.clone()]);
        let started = std::time::Instant::now();

        let outcome = async {
            let parked = Parked { message, stream: &stream, stream_seq, delivered };
            let DecodedEvent { id: event_id, event } = match decoded {
                Ok(decoded) => decoded,
                Err(error) => {
                    let reason = error.to_string();
                    return self.dead_letter(&parked, None, &reason, shutdown).await;
                }
            };
            loop {
                match self.handle_once(event_id, &event).await {
                    Ok(outcome) => {
                        if let Err(error) = message.ack().await {
                            tracing::warn!(%error, "ack failed; the event will be redelivered and recognised");
                        }
                        return outcome;
                    }
                    Err(error) if self.database_lost(&error).await => {
                        tracing::warn!(event_id = %event_id, event_type = %event.r#type, %error, "database unreachable; holding the event until it answers");
                        if !self.wait_for_database(message, shutdown).await {
                            // Shutting down: left unacknowledged, for redelivery.
                            return Outcome::Retrying;
                        }
                    }
                    Err(error) => {
                        let reason = error.to_string();
                        if delivered >= self.spec.max_deliver {
                            return self.dead_letter(&parked, Some(event_id), &reason, shutdown).await;
                        }
                        let delay = self.retry_delay(delivered);
                        tracing::warn!(event_id = %event_id, event_type = %event.r#type, delivered, error = %reason, retry_in = ?delay, "event handler failed");
                        if let Err(error) = message.ack_with(AckKind::Nak(Some(delay))).await {
                            tracing::warn!(%error, "nak failed; ack_wait will redeliver");
                        }
                        return Outcome::Retrying;
                    }
                }
            }
        }
        .instrument(span)
        .await;
        metrics.process_duration.record(
            started.elapsed().as_secs_f64(),
            &[
                crate::metrics::nats(),
                group,
                opentelemetry::KeyValue::new("outcome", outcome.label()),
            ],
        );
        outcome
    }

    async fn handle_once(&self, event_id: Uuid, event: &Event) -> Result<Outcome, HandlerError> {
        let mut transaction = self.pool.begin().await?;
        let first_time = sqlx::query(
            "INSERT INTO inbox (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(self.spec.consumer)
        .bind(event_id)
        .execute(&mut *transaction)
        .await?
        .rows_affected()
            == 1;
        if !first_time {
            transaction.rollback().await?;
            return Ok(Outcome::Duplicate);
        }
        if self.spec.keeps_reviews {
            reviews::apply(&mut transaction, event).await?;
        }
        if let Some(body) = &event.body {
            let consumed = Consumed {
                connection: &mut transaction,
                event,
                body,
            };
            self.handler.handle(consumed).await?;
        }
        transaction.commit().await?;
        Ok(Outcome::Handled)
    }

    /// Whether a failure is the database's rather than the event's: the error says the
    /// connection was lost, or the database does not answer now (a handler may have wrapped
    /// the database's error in its own).
    async fn database_lost(&self, error: &HandlerError) -> bool {
        error.connection_lost() || !db::reachable(&self.pool).await
    }

    /// Waits until the database answers again, holding `message` meanwhile: a progress ack
    /// every third of `ack_wait` keeps JetStream from redelivering it (which would spend a
    /// delivery), and the dispatcher takes no more messages. Returns false if `shutdown`
    /// came first.
    async fn wait_for_database(
        &self,
        message: &async_nats::jetstream::Message,
        shutdown: &CancellationToken,
    ) -> bool {
        self.database_down.send_replace(true);
        let keep_alive = (self.spec.ack_wait / 3).max(Duration::from_millis(100));
        let hold = async {
            loop {
                if let Err(error) = message.ack_with(AckKind::Progress).await {
                    // NATS is away too: the message is redelivered later and recognised.
                    tracing::debug!(%error, "progress ack failed");
                }
                tokio::time::sleep(keep_alive).await;
            }
        };
        let probe = async {
            let mut backoff = Duration::from_millis(100);
            loop {
                tokio::time::sleep(backoff).await;
                if db::reachable(&self.pool).await {
                    return;
                }
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
        };
        let back = tokio::select! {
            _ = shutdown.cancelled() => false,
            () = hold => false,
            () = probe => true,
        };
        if back {
            tracing::info!(
                consumer = self.spec.consumer,
                source = self.spec.source,
                "database reachable again; consuming"
            );
            self.database_down.send_replace(false);
        }
        back
    }

    fn retry_delay(&self, delivered: i64) -> Duration {
        let exponent = u32::try_from(delivered.saturating_sub(1))
            .unwrap_or(0)
            .min(8);
        super::outbox::jitter(
            (self.spec.retry_backoff * 2u32.pow(exponent)).min(Duration::from_secs(60)),
        )
    }

    /// Parks a message in `dead_letters`, then terminates it; if it cannot be stored, the
    /// message is kept (the database being away: until it is back, then stored) or left to
    /// JetStream to deliver again, never terminated unparked.
    async fn dead_letter(
        &self,
        parked: &Parked<'_>,
        event_id: Option<Uuid>,
        reason: &str,
        shutdown: &CancellationToken,
    ) -> Outcome {
        loop {
            match self.store_dead_letter(parked, event_id, reason).await {
                Ok(()) => break,
                Err(error) if db::connection_lost(&error) => {
                    tracing::warn!(%error, "database unreachable; holding the dead letter until it answers");
                    if !self.wait_for_database(parked.message, shutdown).await {
                        return Outcome::Retrying;
                    }
                }
                Err(error) => {
                    tracing::error!(%error, "cannot store dead letter; leaving message for redelivery");
                    if let Err(error) = parked
                        .message
                        .ack_with(AckKind::Nak(Some(Duration::from_secs(5))))
                        .await
                    {
                        tracing::warn!(%error, "nak failed; ack_wait will redeliver");
                    }
                    return Outcome::Retrying;
                }
            }
        }
        let Parked {
            message,
            stream_seq,
            delivered,
            ..
        } = *parked;
        tracing::error!(consumer = self.spec.consumer, subject = %message.subject, stream_seq, delivered, error = %reason, "event parked as dead letter");
        crate::metrics::platform().dead_letters.add(
            1,
            &[opentelemetry::KeyValue::new("consumer", self.spec.consumer)],
        );
        if let Err(error) = message.ack_with(AckKind::Term).await {
            tracing::warn!(%error, "term failed");
        }
        Outcome::DeadLettered
    }

    async fn store_dead_letter(
        &self,
        parked: &Parked<'_>,
        event_id: Option<Uuid>,
        reason: &str,
    ) -> Result<(), sqlx::Error> {
        let Parked {
            message,
            stream,
            stream_seq,
            delivered,
        } = *parked;
        sqlx::query(
            "INSERT INTO dead_letters (consumer, stream, stream_seq, subject, event_id, payload, deliveries, error)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (consumer, stream, stream_seq) DO NOTHING",
        )
        .bind(self.spec.consumer)
        .bind(stream)
        .bind(i64::try_from(stream_seq).unwrap_or(i64::MAX))
        .bind(message.subject.as_str())
        .bind(event_id)
        .bind(message.payload.as_ref())
        .bind(delivered)
        .bind(reason)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

/// Where a message to park came from, as its dead letter records it.
#[derive(Clone, Copy)]
struct Parked<'a> {
    message: &'a async_nats::jetstream::Message,
    stream: &'a str,
    stream_seq: u64,
    delivered: i64,
}

/// Dead letters parked by `consumer`, for metrics and operator tooling.
pub async fn dead_letter_count(pool: &PgPool, consumer: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM dead_letters WHERE consumer = $1")
        .bind(consumer)
        .fetch_one(pool)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(review_id: &str) -> Event {
        Event {
            id: Uuid::new_v4().to_string(),
            review_id: review_id.to_string(),
            ..Default::default()
        }
    }

    #[test]
    fn a_reviews_events_share_a_lane_and_reviews_spread_over_lanes() {
        let review = Uuid::new_v4().to_string();
        let lane = lane_of(Some(&event(&review)), 8);
        for _ in 0..20 {
            assert_eq!(
                lane_of(Some(&event(&review)), 8),
                lane,
                "same review, same lane"
            );
        }
        let used: std::collections::BTreeSet<usize> = (0..200)
            .map(|_| lane_of(Some(&event(&Uuid::new_v4().to_string())), 8))
            .collect();
        assert!(used.len() > 4, "reviews spread over the lanes: {used:?}");
        assert!(used.iter().all(|lane| *lane < 8));
    }

    #[test]
    fn undecodable_messages_and_a_single_lane_use_lane_zero() {
        let undecodable = decode(&b"\xff\xff not protobuf"[..]);
        assert!(matches!(undecodable, Err(UndecodableEvent::Protobuf(_))));
        assert_eq!(lane_of(undecodable.as_ref().ok().map(|d| &d.event), 8), 0);
        assert_eq!(lane_of(Some(&event(&Uuid::new_v4().to_string())), 1), 0);
    }
}
