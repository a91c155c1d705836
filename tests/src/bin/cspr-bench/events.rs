//! events: a committed change to the side effects downstream, beside raw JetStream.
//!
//! The chain measured is the one a partnership starts every review with: terms of reference
//! set in the registry (one transaction, one outbox row) → the submissions service creates a
//! report request per agency (hop 1) and publishes `agency_report_requested` for each →
//! the notifications service plans the email to each agency (hop 2, end to end).
//!
//! Times come from PostgreSQL, one clock for every database on the server: the registry's
//! outbox row is written in the transaction that sets the terms (`created_at`, its start),
//! and each consumer records the event in its inbox in the transaction that applies its
//! side effect (`handled_at`, its start). Latency is the difference, so it covers the relay,
//! JetStream, the consumer's pull and the side effect's transaction up to its start.
//!
//! Two phases: **paced** (terms set at a steady rate well below capacity: the latency a
//! user sees) and **flood** (many callers at once: events per second). The ceiling does the
//! same with raw async-nats: publish with ack, a durable pull consumer acking each message,
//! payloads of the same size.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, anyhow, bail};
use async_nats::jetstream;
use chrono::{DateTime, Utc};
use cspr_platform::testing;
use cspr_proto::events::v1::Event;
use cspr_tests::Stack;
use futures::StreamExt as _;
use hdrhistogram::Histogram;
use prost::Message as _;
use sqlx::PgPool;
use uuid::Uuid;

use crate::common::{Services, Setup, wait_for_quiet_bus};
use crate::{Latency, Row, Size, verdict};

/// Agencies named in each review's terms of reference when paced: two report requests, two
/// emails.
const PACED_AGENCIES: usize = 2;
/// …and in the flood: ten, so the second hop carries ten events for each of the first (the
/// first hop is bounded by how fast the registry commits terms of reference).
const FLOOD_AGENCIES: usize = 10;
/// Callers setting terms of reference at once in the flood phase.
const FLOOD_CALLERS: usize = 16;

/// What one phase of the chain measured.
struct Chain {
    hop1: Histogram<u64>,
    end_to_end: Histogram<u64>,
    /// Terms of reference committed a second (what feeds the chain).
    commit_rate: f64,
    /// Terms of reference events taken in by submissions a second.
    hop1_rate: f64,
    /// `agency_report_requested` events taken in by notifications a second.
    hop2_rate: f64,
    payload_bytes: usize,
}

pub(crate) async fn events(stack: &Stack, size: Size) -> anyhow::Result<Vec<Row>> {
    let setup = Arc::new(Setup::new(&Services::of(stack)).await?);
    let total = size.paced_events + size.flood_events;
    eprintln!("events: {total} reviews up to the decision…");
    let ids = seed_at_decision(&setup, total).await?;
    let (paced_ids, flood_ids) = ids.split_at(size.paced_events);
    let databases = Databases::connect(stack).await?;
    eprintln!("events: waiting for the consumers to take in the earlier load…");
    wait_for_quiet_bus(&stack.platform.subject_prefix).await?;

    eprintln!(
        "events: terms of reference on {} reviews, {} a second…",
        paced_ids.len(),
        size.event_rate
    );
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / size.event_rate));
    for id in paced_ids {
        ticker.tick().await;
        setup.set_terms(id, PACED_AGENCIES).await?;
    }
    let paced = databases.measure(paced_ids, PACED_AGENCIES).await?;
    wait_for_quiet_bus(&stack.platform.subject_prefix).await?;

    eprintln!(
        "events: terms of reference on {} reviews from {FLOOD_CALLERS} callers at once…",
        flood_ids.len()
    );
    let mut callers = Vec::new();
    for chunk in flood_ids.chunks(flood_ids.len().div_ceil(FLOOD_CALLERS).max(1)) {
        let setup = setup.clone();
        let chunk = chunk.to_vec();
        callers.push(tokio::spawn(async move {
            for id in &chunk {
                setup.set_terms(id, FLOOD_AGENCIES).await?;
            }
            anyhow::Ok(())
        }));
    }
    for caller in callers {
        caller.await??;
    }
    let flood = databases.measure(flood_ids, FLOOD_AGENCIES).await?;
    databases.close().await;

    eprintln!(
        "events: the ceiling, raw JetStream publish-with-ack and pull consume of {} B payloads…",
        paced.payload_bytes
    );
    let raw = raw_jetstream(
        paced.payload_bytes,
        paced_ids.len(),
        size.event_rate,
        flood_ids.len(),
    )
    .await?;

    let note = |hop: &str| {
        format!(
            "{hop}; latency paced at {}/s over {} reviews of {PACED_AGENCIES} agencies; rate from {} reviews of {FLOOD_AGENCIES} agencies set by {FLOOD_CALLERS} callers at once (terms committed at {:.0}/s); ceiling: raw JetStream, {} B payloads, same pacing, {FLOOD_CALLERS} publishers awaiting acks, one pull consumer acking each",
            size.event_rate,
            paced_ids.len(),
            flood_ids.len(),
            flood.commit_rate,
            paced.payload_bytes
        )
    };
    Ok(vec![
        Row {
            scenario: "events",
            measure: "terms of reference set → report requests in submissions".into(),
            unit: "events/s",
            rate: flood.hop1_rate,
            ceiling: Some(raw.rate),
            latency: Some(Latency::of(&paced.hop1)),
            ceiling_latency: Some(Latency::of(&raw.latency)),
            target: verdict(
                "p99 < 50 ms, ≥ 0.3",
                Latency::of(&paced.hop1).p99 < 50.0 && flood.hop1_rate / raw.rate >= 0.3,
            ),
            note: note("one hop: registry outbox → JetStream → submissions consumer"),
        },
        Row {
            scenario: "events",
            measure: "terms of reference set → emails planned in notifications".into(),
            unit: "events/s",
            rate: flood.hop2_rate,
            ceiling: Some(raw.rate),
            latency: Some(Latency::of(&paced.end_to_end)),
            ceiling_latency: Some(Latency::of(&raw.latency)),
            target: verdict(
                "p99 < 50 ms, ≥ 0.3",
                Latency::of(&paced.end_to_end).p99 < 50.0 && flood.hop2_rate / raw.rate >= 0.3,
            ),
            note: note(
                "two hops: + submissions outbox → JetStream → notifications consumer; latency to the last of the review's emails, rate in agency_report_requested events",
            ),
        },
    ])
}

/// `count` reviews at the decision, from 8 callers.
async fn seed_at_decision(setup: &Arc<Setup>, count: usize) -> anyhow::Result<Vec<String>> {
    let mut tasks = Vec::new();
    for worker in 0..8 {
        let setup = setup.clone();
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for index in (worker..count).step_by(8) {
                ids.push(
                    setup
                        .review_at_decision(&format!("bench-events-{index}"))
                        .await?,
                );
            }
            anyhow::Ok(ids)
        }));
    }
    let mut ids = Vec::with_capacity(count);
    for task in tasks {
        ids.extend(task.await??);
    }
    Ok(ids)
}

/// The three services' databases, read for the timestamps.
struct Databases {
    registry: PgPool,
    submissions: PgPool,
    notifications: PgPool,
}

impl Databases {
    async fn connect(stack: &Stack) -> anyhow::Result<Self> {
        let pool = |service: &'static str| async move {
            let url = stack
                .database_url(service)
                .with_context(|| format!("{service}'s database"))?;
            anyhow::Ok(
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(2)
                    .connect(url)
                    .await?,
            )
        };
        Ok(Self {
            registry: pool("registry").await?,
            submissions: pool("submissions").await?,
            notifications: pool("notifications").await?,
        })
    }

    async fn close(&self) {
        self.registry.close().await;
        self.submissions.close().await;
        self.notifications.close().await;
    }

    /// Waits for every email of `review_ids` to be planned, then reads the chain's times.
    async fn measure(&self, review_ids: &[String], agencies: usize) -> anyhow::Result<Chain> {
        let reviews: Vec<Uuid> = review_ids
            .iter()
            .map(|id| id.parse())
            .collect::<Result<_, _>>()?;
        let expected = (reviews.len() * agencies) as i64;
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let planned: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM deliveries WHERE template = 'report_requested' AND review_id = ANY($1)",
            )
            .bind(&reviews)
            .fetch_one(&self.notifications)
            .await?;
            if planned == expected {
                break;
            }
            if Instant::now() > deadline {
                let requested: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM report_requests WHERE review_id = ANY($1)",
                )
                .bind(&reviews)
                .fetch_one(&self.submissions)
                .await?;
                bail!(
                    "after 180 s, {requested} of {expected} report requests and {planned} of {expected} emails"
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let wanted: HashSet<&str> = review_ids.iter().map(String::as_str).collect();

        // Commit of each review's terms of reference: its registry outbox row.
        let mut committed: HashMap<String, (Uuid, DateTime<Utc>)> = HashMap::new();
        let mut payload_bytes = 0;
        let rows: Vec<(Uuid, Vec<u8>, DateTime<Utc>)> = sqlx::query_as(
            "SELECT event_id, payload, created_at FROM outbox WHERE subject LIKE '%.terms_of_reference_set'",
        )
        .fetch_all(&self.registry)
        .await?;
        for (event_id, payload, created_at) in rows {
            let event = Event::decode(payload.as_slice()).context("a registry event")?;
            if wanted.contains(event.review_id.as_str()) {
                payload_bytes = payload.len();
                committed.insert(event.review_id, (event_id, created_at));
            }
        }
        // Hop 1: submissions took each event in.
        let event_ids: Vec<Uuid> = committed.values().map(|(id, _)| *id).collect();
        let handled = handled_at(&self.submissions, &event_ids).await?;
        // Hop 2: the requests' own events, taken in by notifications.
        let rows: Vec<(Uuid, Vec<u8>)> = sqlx::query_as(
            "SELECT event_id, payload FROM outbox WHERE subject LIKE '%.agency_report_requested'",
        )
        .fetch_all(&self.submissions)
        .await?;
        let mut requested_events: Vec<(String, Uuid)> = Vec::new();
        for (event_id, payload) in rows {
            let event = Event::decode(payload.as_slice()).context("a submissions event")?;
            if wanted.contains(event.review_id.as_str()) {
                requested_events.push((event.review_id, event_id));
            }
        }
        let ids: Vec<Uuid> = requested_events.iter().map(|(_, id)| *id).collect();
        let planned = handled_at(&self.notifications, &ids).await?;
        let mut last_planned: HashMap<&str, DateTime<Utc>> = HashMap::new();
        for (review_id, event_id) in &requested_events {
            let at = *planned
                .get(event_id)
                .with_context(|| format!("notifications never took in {event_id}"))?;
            let entry = last_planned.entry(review_id.as_str()).or_insert(at);
            *entry = (*entry).max(at);
        }

        let mut hop1 = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
        let mut end_to_end = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
        let micros = |from: DateTime<Utc>, to: DateTime<Utc>| {
            (to - from).num_microseconds().unwrap_or(0).max(1) as u64
        };
        let (mut first, mut last_commit, mut last_hop1, mut last_end) =
            (None::<DateTime<Utc>>, None, None, None);
        for (review_id, (event_id, commit)) in &committed {
            let taken = *handled
                .get(event_id)
                .with_context(|| format!("submissions never took in {event_id}"))?;
            let done = *last_planned
                .get(review_id.as_str())
                .with_context(|| format!("no email planned for review {review_id}"))?;
            hop1.saturating_record(micros(*commit, taken));
            end_to_end.saturating_record(micros(*commit, done));
            first = Some(first.map_or(*commit, |at| at.min(*commit)));
            last_commit = Some(last_commit.map_or(*commit, |at: DateTime<Utc>| at.max(*commit)));
            last_hop1 = Some(last_hop1.map_or(taken, |at: DateTime<Utc>| at.max(taken)));
            last_end = Some(last_end.map_or(done, |at: DateTime<Utc>| at.max(done)));
        }
        if committed.len() != review_ids.len() {
            bail!(
                "{} of {} terms of reference events found in the registry's outbox",
                committed.len(),
                review_ids.len()
            );
        }
        let first = first.context("no events")?;
        let rate = |events: usize, last: Option<DateTime<Utc>>| {
            let span = last.map_or(0, |last| micros(first, last)) as f64 / 1e6;
            events as f64 / span
        };
        Ok(Chain {
            commit_rate: rate(committed.len(), last_commit),
            hop1_rate: rate(committed.len(), last_hop1),
            hop2_rate: rate(requested_events.len(), last_end),
            hop1,
            end_to_end,
            payload_bytes,
        })
    }
}

/// When each event was taken in (its inbox row) by any consumer of the database.
async fn handled_at(
    pool: &PgPool,
    event_ids: &[Uuid],
) -> anyhow::Result<HashMap<Uuid, DateTime<Utc>>> {
    let rows: Vec<(Uuid, DateTime<Utc>)> = sqlx::query_as(
        "SELECT event_id, min(handled_at) FROM inbox WHERE event_id = ANY($1) GROUP BY event_id",
    )
    .bind(event_ids)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().collect())
}

/// What raw JetStream did.
struct Raw {
    latency: Histogram<u64>,
    rate: f64,
}

fn micros_since_epoch() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_micros() as u64)
}

/// A payload of `bytes` (at least 9) stamped with the time it is sent and its phase
/// (0 paced, 1 flood).
fn stamped(bytes: usize, phase: u8) -> bytes::Bytes {
    let mut payload = vec![0_u8; bytes.max(9)];
    payload[..8].copy_from_slice(&micros_since_epoch().to_le_bytes());
    payload[8] = phase;
    payload.into()
}

/// Raw async-nats: publish with ack (paced, then from [`FLOOD_CALLERS`] publishers at once)
/// into a fresh stream, one durable pull consumer acking each message.
async fn raw_jetstream(
    payload_bytes: usize,
    paced: usize,
    rate: f64,
    flood: usize,
) -> anyhow::Result<Raw> {
    let client = async_nats::connect(testing::nats_url())
        .await
        .context("NATS (CSPR_TEST_NATS_URL)")?;
    let js = jetstream::new(client);
    let name = testing::unique("BENCH_").to_uppercase();
    let subject = format!("{}.events", name.to_lowercase());
    let stream = js
        .create_stream(jetstream::stream::Config {
            name: name.clone(),
            subjects: vec![subject.clone()],
            ..Default::default()
        })
        .await?;
    let outcome = async {
        let consumer = stream
            .create_consumer(jetstream::consumer::pull::Config {
                durable_name: Some("bench".into()),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                ..Default::default()
            })
            .await?;
        let total = paced + flood;
        let consuming = tokio::spawn(async move {
            let mut messages = consumer.messages().await?;
            let mut latency = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
            let mut last = Instant::now();
            for _ in 0..total {
                let message = messages
                    .next()
                    .await
                    .context("the message stream ended")??;
                let sent = u64::from_le_bytes(message.payload[..8].try_into()?);
                if message.payload[8] == 0 {
                    latency.saturating_record(micros_since_epoch().saturating_sub(sent).max(1));
                }
                message.ack().await.map_err(|error| anyhow!(error))?;
                last = Instant::now();
            }
            anyhow::Ok((latency, last))
        });

        let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
        for _ in 0..paced {
            ticker.tick().await;
            js.publish(subject.clone(), stamped(payload_bytes, 0))
                .await?
                .await?;
        }
        let started = Instant::now();
        let mut publishers = Vec::new();
        for caller in 0..FLOOD_CALLERS {
            let js = js.clone();
            let subject = subject.clone();
            let count = flood / FLOOD_CALLERS + usize::from(caller < flood % FLOOD_CALLERS);
            publishers.push(tokio::spawn(async move {
                for _ in 0..count {
                    js.publish(subject.clone(), stamped(payload_bytes, 1))
                        .await?
                        .await?;
                }
                anyhow::Ok(())
            }));
        }
        for publisher in publishers {
            publisher.await??;
        }
        let (latency, last) = tokio::time::timeout(Duration::from_secs(120), consuming)
            .await
            .context("raw consumer did not see every message in 120 s")???;
        let rate = flood as f64 / (last - started).as_secs_f64();
        anyhow::Ok(Raw { latency, rate })
    }
    .await;
    js.delete_stream(&name).await.ok();
    outcome
}
