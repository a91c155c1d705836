//! The services with PostgreSQL stopped for 30 s while events are being consumed: every
//! event is applied once when it is back, and every email sent once.
//!
//! The consuming services (submissions, practitioners, family, actions, notifications) have
//! their databases on a PostgreSQL server of the test's own ([`PgCluster`]); the registry,
//! which produces the events, keeps the shared server, so that it goes on taking commands
//! and publishing events during the outage: the consumers receive every one of them with
//! their database down. Before the outage, reviews are created and decided; during it,
//! each gets its reviewer and its terms of reference (two agencies).
//!
//! Asserted afterwards: each consumer knows each review's reviewer (who may then read the
//! review's data there), submissions has each review's two report requests, nothing was
//! parked as a dead letter, and every email planned (one per reviewer, one per agency and
//! review) reached the SMTP server exactly once, by Message-ID.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use cspr_notifications::config::MailTarget;
use cspr_platform::testing::{self, PgCluster, SmtpSink, authed};
use cspr_proto::google::r#type::Date;
use cspr_proto::registry::v1 as registry;
use cspr_proto::registry::v1::review_registry_client::ReviewRegistryClient;

/// Reviews whose reviewer and terms of reference are set during the outage.
const REVIEWS: usize = 5;
/// How long PostgreSQL stays down.
const OUTAGE: Duration = Duration::from_secs(30);
/// The agencies of each review's terms of reference.
const AGENCIES: [&str; 2] = ["police", "health"];
/// The services whose databases are on the stopped server, all keeping the reviews.
const CONSUMERS: [&str; 5] = [
    cspr_submissions::SERVICE_NAME,
    cspr_practitioners::SERVICE_NAME,
    cspr_family::SERVICE_NAME,
    cspr_actions::SERVICE_NAME,
    cspr_notifications::SERVICE_NAME,
];

fn reviewer(n: usize) -> (String, String) {
    (
        format!("reviewer-{n}"),
        format!("reviewer-{n}@reviewers.example.org"),
    )
}

fn agency(id: &str, n: usize) -> registry::Agency {
    registry::Agency {
        id: id.to_string(),
        name: format!("Southvale {id}"),
        contact_email: format!("lead@{id}-{n}.southvale.example.org"),
    }
}

#[tokio::test]
async fn postgresql_stopped_while_events_are_consumed_applies_each_once_and_sends_each_email_once()
{
    testing::init();
    let mut cluster = PgCluster::start().await;
    let smtp = SmtpSink::start().await;
    let private = cluster.server_url();
    let shared = testing::server_url();
    let stack = cspr_tests::spawn_stack_on(
        testing::platform_config(&testing::nats_url()),
        NaiveDate::from_ymd_opt(2026, 3, 26).expect("date"),
        MailTarget::Smtp { url: smtp.url() },
        &|service| {
            if service == cspr_registry::SERVICE_NAME {
                shared.clone()
            } else {
                private.clone()
            }
        },
    )
    .await;
    let admin = stack.token("southvale", &["partnership_admin"], None, "alice");
    let mut registry_client =
        ReviewRegistryClient::connect(format!("http://{}", stack.registry.addr))
            .await
            .expect("registry");
    let mut reviews = Vec::new();
    for n in 0..REVIEWS {
        reviews.push(stack.decided_review(&format!("outage-{n}")).await);
    }
    stack.settle().await;

    // PostgreSQL stops; the registry goes on, and its events reach the consumers.
    cluster.stop().await;
    let stopped = Instant::now();
    for (n, review_id) in reviews.iter().enumerate() {
        let (subject, email) = reviewer(n);
        registry_client
            .appoint_reviewer(authed(
                registry::AppointReviewerRequest {
                    review_id: review_id.clone(),
                    name: format!("Reviewer {n}"),
                    email,
                    subject,
                    appointed_on: Some(Date {
                        year: 2026,
                        month: 3,
                        day: 26,
                    }),
                },
                &admin,
            ))
            .await
            .expect("reviewer appointed");
        stack
            .set_terms(review_id, AGENCIES.iter().map(|id| agency(id, n)).collect())
            .await;
    }
    tokio::time::sleep(OUTAGE.saturating_sub(stopped.elapsed())).await;
    cluster.start_again().await;

    let settled = stack.settle_within(Duration::from_secs(120)).await;

    // Every consumer knows every reviewer; submissions asked every agency.
    let mut reviewers_lost = Vec::new();
    for service in CONSUMERS {
        let known: BTreeMap<String, Option<String>> =
            sqlx::query_as("SELECT review_id::text, reviewer_subject FROM reviews")
                .fetch_all(stack.pool(service))
                .await
                .expect("reviews")
                .into_iter()
                .collect();
        for (n, review_id) in reviews.iter().enumerate() {
            if known.get(review_id).cloned().flatten() != Some(reviewer(n).0) {
                reviewers_lost.push(format!("{service}: review {n}"));
            }
        }
    }
    let requests: i64 = sqlx::query_scalar("SELECT count(*) FROM report_requests")
        .fetch_one(stack.pool(cspr_submissions::SERVICE_NAME))
        .await
        .expect("requests");
    let mut parked = 0;
    for service in CONSUMERS {
        parked += sqlx::query_scalar::<_, i64>("SELECT count(*) FROM dead_letters")
            .fetch_one(stack.pool(service))
            .await
            .expect("dead letters");
    }

    // Every email planned was sent once (all SENT, so none is still to go).
    let notifications = stack.pool(cspr_notifications::SERVICE_NAME);
    let deliveries = || async {
        sqlx::query_as::<_, (uuid::Uuid, String, String)>(
            "SELECT id, recipient, status FROM deliveries",
        )
        .fetch_all(notifications)
        .await
        .unwrap_or_default()
    };
    let all_sent = testing::poll_until(testing::DEADLINE, || async {
        let planned = deliveries().await;
        (planned.len() >= REVIEWS * (1 + AGENCIES.len())
            && planned.iter().all(|(_, _, status)| status == "SENT"))
        .then_some(())
    })
    .await
    .is_some();
    let planned = deliveries().await;
    let mut received: BTreeMap<String, usize> = BTreeMap::new();
    for (_, raw) in smtp.messages() {
        let id = raw
            .lines()
            .find_map(|line| line.strip_prefix("Message-ID: "))
            .unwrap_or_default()
            .to_string();
        *received.entry(id).or_default() += 1;
    }
    let mut expected_recipients: Vec<String> = Vec::new();
    for n in 0..REVIEWS {
        expected_recipients.push(reviewer(n).1);
        for id in AGENCIES {
            expected_recipients.push(agency(id, n).contact_email);
        }
    }
    let emails_lost = expected_recipients
        .iter()
        .filter(|recipient| {
            !planned.iter().any(|(id, to, _)| {
                to == *recipient && received.contains_key(&format!("<{id}@cspr>"))
            })
        })
        .count();
    let doubled = received.values().filter(|copies| **copies > 1).count();
    eprintln!(
        "PostgreSQL down {OUTAGE:?} while consuming: {} reviewer projections lost of {}, {requests} of {} report requests, {parked} parked; {} emails expected, {emails_lost} lost, {doubled} doubled",
        reviewers_lost.len(),
        REVIEWS * CONSUMERS.len(),
        REVIEWS * AGENCIES.len(),
        expected_recipients.len(),
    );

    assert!(settled, "the services settled after the outage");
    assert!(all_sent, "every delivery SENT: {planned:?}");
    assert!(
        reviewers_lost.is_empty(),
        "reviewers unknown after the outage: {reviewers_lost:?}"
    );
    assert_eq!(
        requests,
        (REVIEWS * AGENCIES.len()) as i64,
        "one request per agency and review"
    );
    assert_eq!(parked, 0, "an outage parks nothing");
    assert_eq!(emails_lost, 0, "every email sent");
    assert_eq!(doubled, 0, "no email sent twice: {received:?}");

    stack.stop().await;
}
