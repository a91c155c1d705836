//! The outbox relay and the consumer runner against real PostgreSQL and NATS JetStream:
//! republished rows are dropped as duplicates, redelivered events change nothing twice,
//! poison messages are parked as dead letters while others flow. And when PostgreSQL goes
//! away: events that arrive while it is down (a server of the test's own) are each applied
//! once it is back (an unreachable database spends none of a message's deliveries), and a
//! message whose dead letter cannot be stored is delivered again and parked later.

use std::sync::Arc;
use std::time::Duration;

use cspr_platform::bus::Bus;
use cspr_platform::bus::consumer::{
    Consumed, ConsumerRunner, ConsumerSpec, EventHandler, HandlerError, Outcome,
};
use cspr_platform::bus::outbox::{EventMeta, Outbox, OutboxRelay};
use cspr_platform::clock::SystemClock;
use cspr_platform::testing::{self, DEADLINE, PgCluster, wait_until};
use cspr_proto::events::v1::{
    Actor, AgencyReportWaived, ReviewCreated, ReviewerAppointed, TermsOfReferenceSet, event::Body,
};
use futures::StreamExt;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

/// A database with the platform's tables and one table the test handler writes to.
async fn database() -> (PgPool, String) {
    database_on(&testing::server_url(), Duration::from_secs(3)).await
}

/// As [`database`], on the PostgreSQL server at `server_url`, its pool giving up on a
/// connection after `acquire_timeout`.
async fn database_on(server_url: &str, acquire_timeout: Duration) -> (PgPool, String) {
    let url = cspr_platform::config::with_database_name(server_url, &testing::unique("t_"));
    cspr_platform::db::create_database_if_missing(&url)
        .await
        .expect("create");
    // Set up with the default patience (a loaded machine may take more than a short
    // acquire timeout to open the first connection); the pool handed back is lazy.
    let setup = PgPool::connect(&url).await.expect("connect");
    cspr_platform::db::migrate_platform(&setup)
        .await
        .expect("migrate");
    sqlx::query("CREATE TABLE effects (event_id TEXT NOT NULL, agency TEXT NOT NULL)")
        .execute(&setup)
        .await
        .expect("effects table");
    setup.close().await;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(5)
        .acquire_timeout(acquire_timeout)
        .connect_lazy(&url)
        .expect("pool");
    (pool, url)
}

fn waived(agency: &str) -> Body {
    Body::AgencyReportWaived(AgencyReportWaived {
        agency_id: agency.into(),
        reason: "test".into(),
    })
}

/// Records each event's side effect; fails for agency "poison".
struct RecordingHandler;

impl EventHandler for RecordingHandler {
    async fn handle(&self, consumed: Consumed<'_>) -> Result<(), HandlerError> {
        let Consumed {
            connection,
            event,
            body,
        } = consumed;
        let Body::AgencyReportWaived(waived) = body else {
            return Ok(());
        };
        if waived.agency_id == "poison" {
            return Err(HandlerError::message("this event always fails"));
        }
        sqlx::query("INSERT INTO effects (event_id, agency) VALUES ($1, $2)")
            .bind(&event.id)
            .bind(&waived.agency_id)
            .execute(connection)
            .await?;
        Ok(())
    }
}

async fn count(pool: &PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(pool)
        .await
        .expect("count")
}

#[tokio::test]
async fn relayed_events_are_published_once_and_handled_once() {
    testing::init();
    let (pool, url) = database().await;
    let platform = testing::platform_config(&testing::nats_url());
    let bus = Bus::connect(&platform.nats_url, &platform.subject_prefix, 1)
        .await
        .expect("bus");
    bus.ensure_stream("submissions").await.expect("stream");
    let outbox = Outbox::new(platform.subject_prefix.clone(), Arc::new(SystemClock));
    let meta = EventMeta {
        partnership_id: "southvale".into(),
        review_id: Some(uuid::Uuid::now_v7()),
        actor: Actor {
            subject: "tester".into(),
            roles: vec![],
        },
    };

    // Three events written in one transaction.
    let mut transaction = pool.begin().await.expect("begin");
    for agency in ["police", "gp", "school"] {
        outbox
            .enqueue(&mut transaction, &meta, waived(agency))
            .await
            .expect("enqueue");
    }
    transaction.commit().await.expect("commit");

    let relay = OutboxRelay::new(pool.clone(), bus.clone(), Duration::from_millis(100));
    assert_eq!(relay.publish_pending().await.expect("relay"), 3);
    assert_eq!(
        relay.publish_pending().await.expect("relay"),
        0,
        "nothing left"
    );

    // A crash between the ack and marking the rows: they are published again, and
    // JetStream drops them as duplicates (same Nats-Msg-Id).
    sqlx::query("UPDATE outbox SET published_at = NULL")
        .execute(&pool)
        .await
        .expect("reset");
    assert_eq!(relay.publish_pending().await.expect("relay"), 3);
    let stream = bus.stream_name("submissions");
    let events =
        testing::read_stream(&platform.nats_url, &stream, 3, Duration::from_secs(10)).await;
    assert_eq!(events.len(), 3, "duplicates dropped by the stream");
    assert!(events.iter().all(|(subject, _)| subject
        == &format!(
            "{}.submissions.agency_report_waived",
            platform.subject_prefix
        )));

    // The consumer applies each once, even when the same event is delivered twice.
    let runner = ConsumerRunner::new(
        pool.clone(),
        bus.clone(),
        ConsumerSpec::new("registry", "submissions"),
        Arc::new(RecordingHandler),
    );
    let consumer = runner.ensure_consumer().await.expect("consumer");
    let mut messages = consumer.messages().await.expect("messages");
    let mut outcomes = Vec::new();
    for _ in 0..3 {
        let message = tokio::time::timeout(Duration::from_secs(10), messages.next())
            .await
            .expect("delivered")
            .expect("message")
            .expect("ok");
        outcomes.push(runner.process(&message).await);
        // The same message handled again (a redelivery after a lost ack) is recognised.
        outcomes.push(runner.process(&message).await);
    }
    assert_eq!(
        outcomes,
        [
            Outcome::Handled,
            Outcome::Duplicate,
            Outcome::Handled,
            Outcome::Duplicate,
            Outcome::Handled,
            Outcome::Duplicate
        ]
    );
    assert_eq!(count(&pool, "SELECT count(*) FROM effects").await, 3);
    assert_eq!(count(&pool, "SELECT count(*) FROM inbox").await, 3);

    pool.close().await;
    testing::delete_streams(&platform.nats_url, &platform.subject_prefix).await;
    testing::drop_database(&url).await;
}

#[tokio::test]
async fn poison_messages_are_parked_and_others_flow() {
    testing::init();
    let (pool, url) = database().await;
    let consumer = Impatient::start(&pool).await;
    let (platform, bus) = (&consumer.platform, &consumer.bus);

    // A message that is not an event at all, a handler that always fails, and good ones.
    let jetstream = bus.jetstream();
    let subject = bus.subject("submissions", "agency_report_waived");
    jetstream
        .publish(
            subject.clone(),
            bytes::Bytes::from_static(b"\xff\xffnot protobuf"),
        )
        .await
        .expect("publish")
        .await
        .expect("ack");
    let outbox = Outbox::new(platform.subject_prefix.clone(), Arc::new(SystemClock));
    let meta = EventMeta {
        partnership_id: "southvale".into(),
        review_id: None,
        actor: Actor::default(),
    };
    let mut transaction = pool.begin().await.expect("begin");
    for agency in ["police", "poison", "gp"] {
        outbox
            .enqueue(&mut transaction, &meta, waived(agency))
            .await
            .expect("enqueue");
    }
    transaction.commit().await.expect("commit");
    OutboxRelay::new(pool.clone(), bus.clone(), Duration::from_millis(100))
        .publish_pending()
        .await
        .expect("relay");

    cspr_platform::testing::wait_until(
        "two dead letters and two effects",
        cspr_platform::testing::DEADLINE,
        || async {
            count(&pool, "SELECT count(*) FROM dead_letters").await == 2
                && count(&pool, "SELECT count(*) FROM effects").await == 2
        },
    )
    .await;
    let parked = count(&pool, "SELECT count(*) FROM dead_letters").await;
    assert_eq!(
        parked, 2,
        "the undecodable and the failing message are parked"
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM effects").await,
        2,
        "the good events flowed"
    );
    let deliveries: Vec<i64> =
        sqlx::query_scalar("SELECT deliveries FROM dead_letters ORDER BY deliveries")
            .fetch_all(&pool)
            .await
            .expect("deliveries");
    assert_eq!(
        deliveries,
        [1, 3],
        "undecodable at once; failing after max_deliver"
    );
    assert_eq!(
        cspr_platform::bus::consumer::dead_letter_count(&pool, "registry")
            .await
            .expect("count"),
        2
    );

    consumer.drain_and_stop().await;
    pool.close().await;
    testing::drop_database(&url).await;
}

#[tokio::test]
async fn retention_deletes_old_published_events_and_old_inbox_rows_only() {
    let (pool, url) = database().await;
    let day = 24 * 3600;
    // (event published how many days ago or never, created days ago)
    let outbox = [
        (Some(40), 40), // published long ago: goes
        (Some(1), 1),   // published yesterday: stays
        (None, 40),     // never published, however old: stays
    ];
    for (published, created) in outbox {
        sqlx::query(
            "INSERT INTO outbox (event_id, subject, payload, created_at, published_at)
             VALUES ($1, 't.registry.x', '\\x00', now() - make_interval(secs => $2),
                     now() - make_interval(secs => $3))",
        )
        .bind(uuid::Uuid::new_v4())
        .bind(f64::from(created * day))
        .bind(published.map(|days: i32| f64::from(days * day)))
        .execute(&pool)
        .await
        .expect("outbox row");
    }
    for days in [40, 20] {
        sqlx::query(
            "INSERT INTO inbox (consumer, event_id, handled_at)
             VALUES ('submissions', $1, now() - make_interval(secs => $2))",
        )
        .bind(uuid::Uuid::new_v4())
        .bind(f64::from(days * day))
        .execute(&pool)
        .await
        .expect("inbox row");
    }

    let deleted = cspr_platform::bus::outbox::prune(&pool)
        .await
        .expect("pruned");
    assert_eq!(deleted, 2, "the 40-day-old published event and inbox row");
    let outbox_left: Vec<(Option<f64>,)> = sqlx::query_as(
        "SELECT extract(epoch FROM now() - published_at)::float8 / 86400 FROM outbox ORDER BY seq",
    )
    .fetch_all(&pool)
    .await
    .expect("outbox");
    assert_eq!(outbox_left.len(), 2);
    assert!(
        outbox_left[0].0.is_some_and(|days| days < 2.0),
        "yesterday's stays"
    );
    assert!(outbox_left[1].0.is_none(), "the unpublished one stays");
    let inbox_left: i64 = sqlx::query_scalar("SELECT count(*) FROM inbox")
        .fetch_one(&pool)
        .await
        .expect("inbox");
    assert_eq!(inbox_left, 1, "the 20-day-old inbox row stays");
    assert_eq!(
        cspr_platform::bus::outbox::prune(&pool)
            .await
            .expect("again"),
        0,
        "nothing more to delete"
    );
    pool.close().await;
    testing::drop_database(&url).await;
}

/// Records, for each event, the reference the review projection holds when the handler runs.
struct ReferenceReader;

impl EventHandler for ReferenceReader {
    async fn handle(&self, consumed: Consumed<'_>) -> Result<(), HandlerError> {
        let Consumed {
            connection, event, ..
        } = consumed;
        let reference: Option<String> =
            sqlx::query_scalar("SELECT reference FROM reviews WHERE review_id = $1::uuid")
                .bind(&event.review_id)
                .fetch_optional(&mut *connection)
                .await?;
        sqlx::query("INSERT INTO effects (event_id, agency) VALUES ($1, $2)")
            .bind(&event.id)
            .bind(reference.unwrap_or_default())
            .execute(connection)
            .await?;
        Ok(())
    }
}

/// Handles the next `count` messages of `runner`'s durable consumer, in order.
async fn process_next<H: EventHandler>(runner: &ConsumerRunner<H>, count: usize) -> Vec<Outcome> {
    let consumer = runner.ensure_consumer().await.expect("consumer");
    let mut messages = consumer.messages().await.expect("messages");
    let mut outcomes = Vec::new();
    for _ in 0..count {
        let message = tokio::time::timeout(Duration::from_secs(10), messages.next())
            .await
            .expect("delivered")
            .expect("message")
            .expect("ok");
        outcomes.push(runner.process(&message).await);
    }
    outcomes
}

#[tokio::test]
async fn a_consumer_keeping_reviews_applies_the_projection_before_its_handler() {
    testing::init();
    let (pool, url) = database().await;
    sqlx::query(
        "CREATE TABLE reviews (
             review_id        UUID PRIMARY KEY,
             partnership_id   TEXT NOT NULL,
             reference        TEXT NOT NULL DEFAULT '',
             reviewer_subject TEXT,
             scope_start      DATE,
             scope_end        DATE
         )",
    )
    .execute(&pool)
    .await
    .expect("reviews table");
    let platform = testing::platform_config(&testing::nats_url());
    let bus = Bus::connect(&platform.nats_url, &platform.subject_prefix, 1)
        .await
        .expect("bus");
    bus.ensure_stream("registry").await.expect("stream");
    let outbox = Outbox::new(platform.subject_prefix.clone(), Arc::new(SystemClock));
    let meta = EventMeta::system("southvale", uuid::Uuid::now_v7(), "system:test");
    let mut transaction = pool.begin().await.expect("begin");
    for body in [
        Body::ReviewCreated(ReviewCreated {
            reference: "CSPR-1".into(),
            ..Default::default()
        }),
        Body::ReviewerAppointed(ReviewerAppointed {
            subject: "reviewer-1".into(),
            ..Default::default()
        }),
        // Terms without their scope dates: the projection refuses them.
        Body::TermsOfReferenceSet(TermsOfReferenceSet::default()),
    ] {
        outbox
            .enqueue(&mut transaction, &meta, body)
            .await
            .expect("enqueue");
    }
    transaction.commit().await.expect("commit");
    OutboxRelay::new(pool.clone(), bus.clone(), Duration::from_millis(100))
        .publish_pending()
        .await
        .expect("relay");

    // A consumer that does not keep reviews hands every event to its handler and no more.
    let plain = ConsumerRunner::new(
        pool.clone(),
        bus.clone(),
        ConsumerSpec::new("plain", "registry"),
        Arc::new(ReferenceReader),
    );
    assert_eq!(process_next(&plain, 3).await, [Outcome::Handled; 3]);
    assert_eq!(count(&pool, "SELECT count(*) FROM reviews").await, 0);
    assert_eq!(
        count(&pool, "SELECT count(*) FROM effects WHERE agency = ''").await,
        3
    );

    // One that keeps them: the handler sees the projection already updated by the event,
    // and an event the projection refuses reaches no handler (retried instead).
    let keeping = ConsumerRunner::new(
        pool.clone(),
        bus.clone(),
        ConsumerSpec {
            keeps_reviews: true,
            ..ConsumerSpec::new("keeping", "registry")
        },
        Arc::new(ReferenceReader),
    );
    assert_eq!(
        process_next(&keeping, 3).await,
        [Outcome::Handled, Outcome::Handled, Outcome::Retrying]
    );
    let kept: (String, Option<String>) =
        sqlx::query_as("SELECT reference, reviewer_subject FROM reviews")
            .fetch_one(&pool)
            .await
            .expect("the review kept");
    assert_eq!(kept, ("CSPR-1".to_string(), Some("reviewer-1".to_string())));
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM effects WHERE agency = 'CSPR-1'"
        )
        .await,
        2
    );
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM inbox WHERE consumer = 'keeping'"
        )
        .await,
        2,
        "the refused event was rolled back with its inbox row"
    );

    pool.close().await;
    testing::delete_streams(&platform.nats_url, &platform.subject_prefix).await;
    testing::drop_database(&url).await;
}

/// How long PostgreSQL stays down under [`impatient_runner`]: many times what a message's
/// deliveries would last if each failed delivery counted.
const OUTAGE: Duration = Duration::from_secs(10);

/// A running consumer of the submissions stream, impatient: 3 deliveries, 2 s `ack_wait`,
/// short retries (and the outage tests' pools give up on a connection after half a second),
/// so a poison message is parked quickly, and an outage counted against the messages would
/// exhaust them.
struct Impatient {
    /// The test's settings (its own subject prefix).
    platform: cspr_platform::config::PlatformConfig,
    bus: Bus,
    shutdown: CancellationToken,
    running: tokio::task::JoinHandle<()>,
}

impl Impatient {
    /// Starts it on `pool`, on a stream of its own.
    async fn start(pool: &PgPool) -> Self {
        let platform = testing::platform_config(&testing::nats_url());
        let bus = Bus::connect(&platform.nats_url, &platform.subject_prefix, 1)
            .await
            .expect("bus");
        bus.ensure_stream("submissions").await.expect("stream");
        let mut spec = ConsumerSpec::new("registry", "submissions");
        spec.max_deliver = 3;
        spec.ack_wait = Duration::from_secs(2);
        spec.retry_backoff = Duration::from_millis(50);
        spec.concurrency = 2;
        let runner =
            ConsumerRunner::new(pool.clone(), bus.clone(), spec, Arc::new(RecordingHandler));
        let shutdown = CancellationToken::new();
        let running = tokio::spawn(runner.run(shutdown.clone()));
        Self {
            platform,
            bus,
            shutdown,
            running,
        }
    }

    /// Publishes `event` as its producer would.
    async fn publish(&self, event: &cspr_proto::events::v1::Event) {
        testing::publish_event(&self.platform, event, &event.id).await;
    }

    /// Waits until it has nothing left pending, then stops it and removes its stream.
    async fn drain_and_stop(self) {
        wait_until("the consumer drained", DEADLINE, || async {
            testing::consumer_pending(&self.bus, "registry", "submissions").await == Some(0)
        })
        .await;
        self.shutdown.cancel();
        self.running.await.expect("consumer stops");
        testing::delete_streams(&self.platform.nats_url, &self.platform.subject_prefix).await;
    }
}

/// An event of its own review, waiving `agency`'s report.
fn waived_event(agency: &str) -> cspr_proto::events::v1::Event {
    testing::foreign_event(
        "southvale",
        &uuid::Uuid::now_v7().to_string(),
        waived(agency),
    )
}

#[tokio::test]
async fn events_consumed_while_postgresql_is_down_are_each_applied_once_it_is_back() {
    testing::init();
    let mut cluster = PgCluster::start().await;
    let (pool, _url) = database_on(&cluster.server_url(), Duration::from_millis(500)).await;
    let consumer = Impatient::start(&pool).await;

    // Some events while the database is up, then PostgreSQL stops and more arrive.
    let before: Vec<_> = (0..10)
        .map(|n| waived_event(&format!("before-{n}")))
        .collect();
    for event in &before {
        consumer.publish(event).await;
    }
    wait_until("the first events applied", DEADLINE, || async {
        count(&pool, "SELECT count(*) FROM effects").await == 10
    })
    .await;
    cluster.stop().await;
    let during: Vec<_> = (0..6)
        .map(|n| waived_event(&format!("during-{n}")))
        .collect();
    for event in &during {
        consumer.publish(event).await;
    }
    tokio::time::sleep(OUTAGE).await;
    cluster.start_again().await;

    // Every event applied exactly once, none parked.
    let all = (before.len() + during.len()) as i64;
    let applied = testing::poll_until(DEADLINE, || async {
        (count(&pool, "SELECT count(DISTINCT event_id) FROM effects").await == all).then_some(())
    })
    .await;
    let lost = all - count(&pool, "SELECT count(DISTINCT event_id) FROM effects").await;
    let doubled = count(
        &pool,
        "SELECT count(*) FROM (SELECT event_id FROM effects GROUP BY event_id HAVING count(*) > 1) d",
    )
    .await;
    let parked = count(&pool, "SELECT count(*) FROM dead_letters").await;
    eprintln!(
        "PostgreSQL down {OUTAGE:?} while consuming: {all} events, {lost} lost, {doubled} doubled, {parked} parked"
    );
    assert!(
        applied.is_some(),
        "{lost} of {all} events never applied after the outage"
    );
    assert_eq!(doubled, 0, "no event applied twice");
    assert_eq!(parked, 0, "an outage parks nothing");

    consumer.drain_and_stop().await;
    pool.close().await;
}

#[tokio::test]
async fn a_dead_letter_that_cannot_be_stored_is_delivered_again_and_parked_later() {
    testing::init();
    let (pool, url) = database().await;
    // Parking fails (not for want of a connection) until the test lifts the refusal; each
    // refused attempt is counted by a sequence, which a rollback does not undo.
    sqlx::raw_sql(
        "CREATE SEQUENCE park_attempts;
         CREATE FUNCTION refuse_parking() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             PERFORM nextval('park_attempts');
             RAISE EXCEPTION 'parking refused by the test';
         END $$;
         CREATE TRIGGER refuse_parking BEFORE INSERT ON dead_letters
             FOR EACH ROW EXECUTE FUNCTION refuse_parking();",
    )
    .execute(&pool)
    .await
    .expect("refusal installed");
    let consumer = Impatient::start(&pool).await;

    let poison = waived_event("poison");
    consumer.publish(&poison).await;
    // Its last allowed delivery failed and parking it was refused.
    wait_until("a refused parking", DEADLINE, || async {
        sqlx::query_scalar::<_, bool>("SELECT is_called FROM park_attempts")
            .fetch_one(&pool)
            .await
            .unwrap_or(false)
    })
    .await;
    sqlx::raw_sql("DROP TRIGGER refuse_parking ON dead_letters")
        .execute(&pool)
        .await
        .expect("refusal lifted");

    // Delivered again by JetStream, and parked this time.
    wait_until("the poison message parked", DEADLINE, || async {
        count(&pool, "SELECT count(*) FROM dead_letters").await == 1
    })
    .await;
    let (event_id, deliveries): (Option<uuid::Uuid>, i64) =
        sqlx::query_as("SELECT event_id, deliveries FROM dead_letters")
            .fetch_one(&pool)
            .await
            .expect("dead letter");
    assert_eq!(event_id.map(|id| id.to_string()), Some(poison.id.clone()));
    assert!(
        deliveries > 3,
        "parked on a delivery after its last allowed one: {deliveries}"
    );

    consumer.drain_and_stop().await;
    pool.close().await;
    testing::drop_database(&url).await;
}
