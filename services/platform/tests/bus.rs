//! The outbox relay and the consumer runner against real PostgreSQL and NATS JetStream:
//! republished rows are dropped as duplicates, redelivered events change nothing twice,
//! poison messages are parked as dead letters while others flow.

use std::sync::Arc;
use std::time::Duration;

use cspr_platform::bus::Bus;
use cspr_platform::bus::consumer::{
    Consumed, ConsumerRunner, ConsumerSpec, EventHandler, HandlerError, Outcome,
};
use cspr_platform::bus::outbox::{EventMeta, Outbox, OutboxRelay};
use cspr_platform::clock::SystemClock;
use cspr_platform::testing;
use cspr_proto::events::v1::{
    Actor, AgencyReportWaived, ReviewCreated, ReviewerAppointed, TermsOfReferenceSet, event::Body,
};
use futures::StreamExt;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

/// A database with the platform's tables and one table the test handler writes to.
async fn database() -> (PgPool, String) {
    let url = testing::service_config("platformtest").database_url;
    cspr_platform::db::create_database_if_missing(&url)
        .await
        .expect("create");
    let pool = cspr_platform::db::connect(&url, 5).await.expect("connect");
    cspr_platform::db::migrate_platform(&pool)
        .await
        .expect("migrate");
    sqlx::query("CREATE TABLE effects (event_id TEXT NOT NULL, agency TEXT NOT NULL)")
        .execute(&pool)
        .await
        .expect("effects table");
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
    let platform = testing::platform_config(&testing::nats_url());
    let bus = Bus::connect(&platform.nats_url, &platform.subject_prefix, 1)
        .await
        .expect("bus");
    bus.ensure_stream("submissions").await.expect("stream");
    let mut spec = ConsumerSpec::new("registry", "submissions");
    spec.max_deliver = 3;
    spec.retry_backoff = Duration::from_millis(50);
    let runner = ConsumerRunner::new(pool.clone(), bus.clone(), spec, Arc::new(RecordingHandler));
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(runner.run(shutdown.clone()));

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

    shutdown.cancel();
    running.await.expect("consumer stops");
    pool.close().await;
    testing::delete_streams(&platform.nats_url, &platform.subject_prefix).await;
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
