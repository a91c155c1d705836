//! The consumer runner when PostgreSQL goes away: events that arrive while the database is
//! down are each applied once when it is back (an unreachable database spends none of a
//! message's deliveries), and a message whose dead letter cannot be stored is delivered
//! again and parked later, never dropped.

use std::sync::Arc;
use std::time::Duration;

use cspr_platform::bus::Bus;
use cspr_platform::bus::consumer::{
    Consumed, ConsumerRunner, ConsumerSpec, EventHandler, HandlerError,
};
use cspr_platform::testing::{self, DEADLINE, PgCluster, wait_until};
use cspr_proto::events::v1::{AgencyReportWaived, event::Body};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

/// How long PostgreSQL stays down: many times what a message's deliveries would last if
/// each failed delivery counted (3 deliveries of half a second, `ack_wait` 2 s).
const OUTAGE: Duration = Duration::from_secs(10);

/// A database with the platform's tables and the table the handler writes, on `server`.
async fn database(server_url: &str) -> (PgPool, String) {
    let url = cspr_platform::config::with_database_name(server_url, &testing::unique("t_"));
    cspr_platform::db::create_database_if_missing(&url)
        .await
        .expect("create");
    // Quick to give up on a connection, so a failed delivery takes half a second and an
    // outage would spend a message's deliveries quickly if they counted.
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(5)
        .acquire_timeout(Duration::from_millis(500))
        .connect(&url)
        .await
        .expect("connect");
    cspr_platform::db::migrate_platform(&pool)
        .await
        .expect("migrate");
    sqlx::query("CREATE TABLE effects (event_id TEXT NOT NULL, agency TEXT NOT NULL)")
        .execute(&pool)
        .await
        .expect("effects table");
    (pool, url)
}

/// Records each event's effect; fails for agency "poison".
struct RecordingHandler;

impl EventHandler for RecordingHandler {
    async fn handle(&self, consumed: Consumed<'_>) -> Result<(), HandlerError> {
        let Body::AgencyReportWaived(waived) = consumed.body else {
            return Ok(());
        };
        if waived.agency_id == "poison" {
            return Err(HandlerError::message("this event always fails"));
        }
        sqlx::query("INSERT INTO effects (event_id, agency) VALUES ($1, $2)")
            .bind(&consumed.event.id)
            .bind(&waived.agency_id)
            .execute(consumed.connection)
            .await?;
        Ok(())
    }
}

fn waived(agency: &str) -> cspr_proto::events::v1::Event {
    testing::foreign_event(
        "southvale",
        &uuid::Uuid::now_v7().to_string(),
        Body::AgencyReportWaived(AgencyReportWaived {
            agency_id: agency.into(),
            reason: "test".into(),
        }),
    )
}

async fn count(pool: &PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap_or(-1)
}

/// A runner of `pool` reading the submissions stream, impatient: 3 deliveries, 2 s
/// `ack_wait`, short retries, so an outage counted against the messages would exhaust them.
fn impatient_runner(pool: &PgPool, bus: &Bus) -> ConsumerRunner<RecordingHandler> {
    let mut spec = ConsumerSpec::new("registry", "submissions");
    spec.max_deliver = 3;
    spec.ack_wait = Duration::from_secs(2);
    spec.retry_backoff = Duration::from_millis(50);
    spec.concurrency = 2;
    ConsumerRunner::new(pool.clone(), bus.clone(), spec, Arc::new(RecordingHandler))
}

#[tokio::test]
async fn events_consumed_while_postgresql_is_down_are_each_applied_once_it_is_back() {
    testing::init();
    let mut cluster = PgCluster::start().await;
    let (pool, _url) = database(&cluster.server_url()).await;
    let platform = testing::platform_config(&testing::nats_url());
    let bus = Bus::connect(&platform.nats_url, &platform.subject_prefix, 1)
        .await
        .expect("bus");
    bus.ensure_stream("submissions").await.expect("stream");
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(impatient_runner(&pool, &bus).run(shutdown.clone()));

    // Some events while the database is up, then PostgreSQL stops and more arrive.
    let before: Vec<_> = (0..10).map(|n| waived(&format!("before-{n}"))).collect();
    for event in &before {
        testing::publish_event(&platform, event, &event.id).await;
    }
    wait_until("the first events applied", DEADLINE, || async {
        count(&pool, "SELECT count(*) FROM effects").await == 10
    })
    .await;
    cluster.stop().await;
    let during: Vec<_> = (0..6).map(|n| waived(&format!("during-{n}"))).collect();
    for event in &during {
        testing::publish_event(&platform, event, &event.id).await;
    }
    tokio::time::sleep(OUTAGE).await;
    cluster.start_again().await;

    // Every event applied exactly once, none parked.
    let all = before.len() + during.len();
    let applied = testing::poll_until(DEADLINE, || async {
        let applied = count(&pool, "SELECT count(DISTINCT event_id) FROM effects").await;
        (applied == all as i64).then_some(applied)
    })
    .await;
    let distinct = count(&pool, "SELECT count(DISTINCT event_id) FROM effects").await;
    let doubled = count(
        &pool,
        "SELECT count(*) FROM (SELECT event_id FROM effects GROUP BY event_id HAVING count(*) > 1) d",
    )
    .await;
    let parked = count(&pool, "SELECT count(*) FROM dead_letters").await;
    eprintln!(
        "PostgreSQL down {OUTAGE:?} while consuming: {all} events, {} lost, {doubled} doubled, {parked} parked",
        all as i64 - distinct
    );
    assert!(
        applied.is_some(),
        "{} of {all} events never applied after the outage",
        all as i64 - distinct
    );
    assert_eq!(doubled, 0, "no event applied twice");
    assert_eq!(parked, 0, "an outage parks nothing");
    testing::wait_until("the consumer drained", DEADLINE, || async {
        testing::consumer_pending(&bus, "registry", "submissions").await == Some(0)
    })
    .await;

    shutdown.cancel();
    running.await.expect("consumer stops");
    pool.close().await;
    testing::delete_streams(&platform.nats_url, &platform.subject_prefix).await;
}

#[tokio::test]
async fn a_dead_letter_that_cannot_be_stored_is_delivered_again_and_parked_later() {
    testing::init();
    let (pool, url) = database(&testing::server_url()).await;
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
    let platform = testing::platform_config(&testing::nats_url());
    let bus = Bus::connect(&platform.nats_url, &platform.subject_prefix, 1)
        .await
        .expect("bus");
    bus.ensure_stream("submissions").await.expect("stream");
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(impatient_runner(&pool, &bus).run(shutdown.clone()));

    let poison = waived("poison");
    testing::publish_event(&platform, &poison, &poison.id).await;
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
    testing::wait_until("the consumer drained", DEADLINE, || async {
        testing::consumer_pending(&bus, "registry", "submissions").await == Some(0)
    })
    .await;

    shutdown.cancel();
    running.await.expect("consumer stops");
    pool.close().await;
    testing::delete_streams(&platform.nats_url, &platform.subject_prefix).await;
    testing::drop_database(&url).await;
}
