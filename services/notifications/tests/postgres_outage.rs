//! PostgreSQL stopped for 10 s in the middle of a burst of report-request emails, on a
//! server of the test's own: every email reaches the SMTP server exactly once (told apart
//! by Message-ID, which is the delivery id), none lost, none doubled, each delivery SENT
//! after one attempt.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::{NotificationsTest, PARTNERSHIP, SmtpSink, TestNotifications, header};
use cspr_notifications::config::MailTarget;
use cspr_platform::testing::{self, DEADLINE, PgCluster};

/// Emails in the burst.
const EMAILS: usize = 200;
/// How long PostgreSQL stays down.
const OUTAGE: Duration = Duration::from_secs(10);
/// How long the SMTP server takes to accept each message: the burst takes seconds, and a
/// send in flight has time left when PostgreSQL is stopped.
const SMTP_PACE: Duration = Duration::from_millis(500);
/// PostgreSQL is stopped once this many emails are through and more are being accepted.
const STOP_AFTER: usize = 40;

#[tokio::test]
async fn postgresql_stopped_during_a_burst_of_emails_loses_none_and_doubles_none() {
    let mut cluster = PgCluster::start().await;
    let smtp = SmtpSink::start_slow(SMTP_PACE).await;
    let service =
        TestNotifications::start_on(MailTarget::Smtp { url: smtp.url() }, &cluster.server_url())
            .await;

    // A burst of report requests, published as the submissions service would.
    let review = uuid::Uuid::now_v7().to_string();
    for n in 0..EMAILS {
        let event =
            testing::foreign_event(PARTNERSHIP, &review, testing::agency_report_requested(n));
        service.service.publish(&event).await;
    }
    service
        .eventually(
            &format!("{STOP_AFTER} emails sent and more in flight"),
            || async {
                (smtp.messages().len() >= STOP_AFTER && smtp.accepting() > 0).then_some(())
            },
        )
        .await;
    cluster.stop().await;
    let at_stop = smtp.messages().len();
    tokio::time::sleep(OUTAGE).await;
    cluster.start_again().await;

    // Once every delivery is recorded SENT nothing more is sent: any resend came before.
    let recorded = testing::poll_until(DEADLINE * 2, || async {
        let sent: Option<i64> = sqlx::query_scalar(
            "SELECT count(*) FROM deliveries WHERE status = 'SENT' HAVING count(*) = $1",
        )
        .bind(EMAILS as i64)
        .fetch_optional(service.pool())
        .await
        .ok()
        .flatten();
        sent.map(|_| ())
    })
    .await;
    let mut received: BTreeMap<String, usize> = BTreeMap::new();
    for (_, raw) in smtp.messages() {
        let id = header(&raw, "Message-ID").unwrap_or_default();
        *received.entry(id).or_default() += 1;
    }
    let deliveries: Vec<(uuid::Uuid, String, i32)> =
        sqlx::query_as("SELECT id, status, attempts FROM deliveries")
            .fetch_all(service.pool())
            .await
            .unwrap_or_default();
    let expected: BTreeSet<String> = deliveries
        .iter()
        .map(|(id, _, _)| format!("<{id}@cspr>"))
        .collect();
    let lost = EMAILS
        - expected
            .iter()
            .filter(|id| received.contains_key(*id))
            .count();
    let doubled = received.values().filter(|copies| **copies > 1).count();
    eprintln!(
        "PostgreSQL stopped {OUTAGE:?} after {at_stop} of {EMAILS} emails: {} received, {lost} lost, {doubled} doubled",
        received.len()
    );
    assert!(
        recorded.is_some(),
        "not every delivery was recorded SENT: {deliveries:?}\n{}",
        cluster.log_tail()
    );
    assert_eq!(expected.len(), EMAILS, "one delivery per request");
    assert_eq!(lost, 0, "every email arrived");
    assert_eq!(doubled, 0, "no email arrived twice: {received:?}");
    assert!(
        received.keys().all(|id| expected.contains(id)),
        "only the deliveries' emails"
    );
    assert!(
        deliveries
            .iter()
            .all(|(_, status, attempts)| status == "SENT" && *attempts == 1),
        "each sent at its first attempt"
    );

    service.stop().await;
}
