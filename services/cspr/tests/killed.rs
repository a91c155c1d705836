//! `cspr serve notifications` SIGKILLed in the middle of a burst of 200 report-request
//! emails and started again (docs/quality.md's fault matrix): the events it had not
//! acknowledged come again and make no second delivery (the inbox), the deliveries it had
//! not recorded are sent by the new process, and every email reaches the SMTP server. None
//! is lost; none arrives twice, except one the SMTP server accepted in the instant before
//! the kill whose acceptance the dead process could not record — a crash can always land
//! between the server's reply and the commit, and such a copy carries the same Message-ID,
//! so the receiving server can tell it is one.

use std::collections::BTreeMap;
mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use cspr_platform::config::PlatformConfig;
use cspr_platform::testing::{self, DEADLINE, SmtpSink, mail_header};

use common::{Server, cspr};

/// Emails in the burst.
const EMAILS: usize = 200;
/// The process is killed once this many emails have arrived.
const KILL_AFTER: usize = 60;
/// How long the SMTP server takes to accept each message, so sends are in flight at the kill.
const SMTP_PACE: Duration = Duration::from_millis(100);
/// Sends in parallel (`CSPR_MAIL_CONCURRENCY`).
const CONCURRENCY: usize = 8;
/// How long the dead process's claim on the deliveries it had in hand lasts
/// (`CSPR_MAIL_CLAIM`): when it runs out, the new process sends them.
const CLAIM: Duration = Duration::from_secs(3);
/// How long before the kill an email may have been accepted and still be sent again: the
/// time from the SMTP server's acceptance to the sender's commit, with room for a loaded
/// machine.
const UNRECORDABLE: Duration = Duration::from_millis(500);

fn serve(platform: &PlatformConfig, addr: &str, database_url: &str, smtp_url: &str) -> Server {
    Server::spawn(
        cspr()
            .args(["serve", "notifications"])
            .env(
                "CSPR_AUTH_HS256_SECRET",
                std::str::from_utf8(testing::TEST_SECRET).expect("text"),
            )
            .env("CSPR_AUTH_ISSUER", "cspr-test")
            .env("CSPR_NATS_URL", &platform.nats_url)
            .env("CSPR_SUBJECT_PREFIX", &platform.subject_prefix)
            .env("CSPR_NOTIFICATIONS_ADDR", addr)
            .env("CSPR_NOTIFICATIONS_DATABASE_URL", database_url)
            .env("CSPR_SMTP_URL", smtp_url)
            .env("CSPR_MAIL_CONCURRENCY", CONCURRENCY.to_string())
            .env(
                "CSPR_MAIL_CLAIM",
                humantime::format_duration(CLAIM).to_string(),
            )
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit()),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_burst_and_restarted_every_email_arrives_once() {
    testing::init();
    let smtp = SmtpSink::start_slow(SMTP_PACE).await;
    let platform = testing::platform_config(&testing::nats_url());
    let addr = format!("127.0.0.1:{}", testing::free_port());
    let database_url = testing::service_config("notifications").database_url;
    let channel = || {
        tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .expect("endpoint")
            .connect_lazy()
    };
    let mut serving = serve(&platform, &addr, &database_url, &smtp.url());
    testing::wait_serving(channel(), cspr_notifications::GRPC_NAME).await;

    // A burst of report requests, published as the submissions service would.
    let review = uuid::Uuid::now_v7().to_string();
    for n in 0..EMAILS {
        let event =
            testing::foreign_event("southvale", &review, testing::agency_report_requested(n));
        testing::publish_event(&platform, &event, &event.id).await;
    }

    // Kill it mid-burst, with sends in flight.
    testing::wait_until(
        &format!("{KILL_AFTER} emails through and more in flight"),
        DEADLINE,
        || {
            let ready = smtp.arrivals().len() >= KILL_AFTER && smtp.accepting() > 0;
            async move { ready }
        },
    )
    .await;
    serving.child().kill().expect("SIGKILL");
    let killed_at = Instant::now();
    serving.child().wait().expect("reaped");
    let at_kill = smtp.arrivals().len();

    // Start it again on the same database and streams.
    let _restarted = serve(&platform, &addr, &database_url, &smtp.url());
    testing::wait_serving(channel(), cspr_notifications::GRPC_NAME).await;
    let pool = cspr_platform::db::connect(&database_url, 2)
        .await
        .expect("the service's database");
    let recorded = testing::poll_until(DEADLINE * 2, || async {
        let sent: Option<i64> = sqlx::query_scalar(
            "SELECT count(*) FROM deliveries WHERE status = 'SENT' HAVING count(*) >= $1",
        )
        .bind(EMAILS as i64)
        .fetch_optional(&pool)
        .await
        .ok()
        .flatten();
        sent.map(|_| ())
    })
    .await;
    // Anything sent twice would have been sent before its delivery was recorded SENT.
    let deliveries: Vec<uuid::Uuid> = sqlx::query_scalar("SELECT id FROM deliveries")
        .fetch_all(&pool)
        .await
        .expect("deliveries");

    let mut first_arrival: BTreeMap<String, Instant> = BTreeMap::new();
    let mut copies: BTreeMap<String, usize> = BTreeMap::new();
    for (at, raw) in smtp.arrivals() {
        let id = mail_header(&raw, "Message-ID").unwrap_or_default();
        first_arrival.entry(id.clone()).or_insert(at);
        *copies.entry(id).or_default() += 1;
    }
    let lost = deliveries
        .iter()
        .filter(|id| !copies.contains_key(&format!("<{id}@cspr>")))
        .count();
    let doubled: Vec<&String> = copies
        .iter()
        .filter(|(_, count)| **count > 1)
        .map(|(id, _)| id)
        .collect();
    let doubled_long_before_the_kill: Vec<&&String> = doubled
        .iter()
        .filter(|id| first_arrival[**id] + UNRECORDABLE < killed_at)
        .collect();
    eprintln!(
        "SIGKILL after {at_kill} of {EMAILS} emails: {} received, {lost} lost, {} doubled",
        copies.len(),
        doubled.len()
    );
    let statuses: Vec<(String, i32, i64)> = sqlx::query_as(
        "SELECT status, attempts, count(*) FROM deliveries GROUP BY status, attempts ORDER BY 1, 2",
    )
    .fetch_all(&pool)
    .await
    .expect("statuses");
    assert!(
        recorded.is_some(),
        "every delivery recorded SENT: {statuses:?}"
    );
    assert_eq!(
        deliveries.len(),
        EMAILS,
        "one delivery per event, none twice"
    );
    assert_eq!(lost, 0, "every email arrived");
    assert!(
        doubled_long_before_the_kill.is_empty() && doubled.len() <= CONCURRENCY,
        "only an email accepted in the instant before the kill may come twice: {doubled:?}"
    );
    pool.close().await;
    testing::drop_database(&database_url).await;
}
