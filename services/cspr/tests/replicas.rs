//! Two replicas of the whole deployment (two `cspr serve all` on the same databases and
//! streams, docs/quality.md's fault matrix), with commands sent to both: every event is
//! published once, every report request made once, every email sent once.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{Isolated, dev_token};
use cspr_platform::testing::{self, SmtpSink, authed, mail_header};
use cspr_proto::google::r#type::Date;
use cspr_proto::registry::v1 as registry;
use cspr_proto::registry::v1::review_registry_client::ReviewRegistryClient;

/// Reviews created, alternately on each replica.
const REVIEWS: usize = 10;
/// Agencies asked for a report in each review's terms of reference: one email each.
const AGENCIES: usize = 4;

fn date(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

/// A due date the real clock of `cspr serve` takes as in the future.
fn in_sixty_days() -> Option<Date> {
    use chrono::Datelike;
    let due = chrono::Utc::now().date_naive() + chrono::Days::new(60);
    date(due.year(), due.month() as i32, due.day() as i32)
}

/// Creates, notifies, decides and sets the terms of one review through `client`.
async fn review_with_terms(
    client: &mut ReviewRegistryClient<tonic::transport::Channel>,
    n: usize,
    admin: &str,
    chair: &str,
) -> String {
    let id = client
        .create_review(authed(
            registry::CreateReviewRequest {
                request_id: format!("replicas-{n}"),
                child_alias: format!("Child R{n}"),
                local_authority: "Southvale Council".into(),
                incident_date: date(2026, 3, 9),
                became_aware_on: date(2026, 3, 10),
            },
            admin,
        ))
        .await
        .expect("created")
        .into_inner()
        .id;
    client
        .record_notification_sent(authed(
            registry::RecordNotificationSentRequest {
                review_id: id.clone(),
                sent_on: date(2026, 3, 11),
                ..Default::default()
            },
            admin,
        ))
        .await
        .expect("notified");
    client
        .record_decision(authed(
            registry::RecordDecisionRequest {
                review_id: id.clone(),
                decision: registry::Decision::LocalCspr as i32,
                decided_on: date(2026, 3, 26),
                rationale: String::new(),
            },
            chair,
        ))
        .await
        .expect("decided");
    client
        .set_terms_of_reference(authed(
            registry::SetTermsOfReferenceRequest {
                review_id: id.clone(),
                scope_start: date(2024, 9, 15),
                scope_end: date(2026, 3, 9),
                key_lines_of_enquiry: vec!["Information sharing".into()],
                methodology: "Systems approach".into(),
                agencies_in_scope: (0..AGENCIES)
                    .map(|agency| registry::Agency {
                        id: format!("agency-{agency}"),
                        name: format!("Southvale agency {agency}"),
                        contact_email: format!("lead{n}@agency-{agency}.southvale.example.org"),
                    })
                    .collect(),
                report_due_date: in_sixty_days(),
                based_on_version: None,
            },
            admin,
        ))
        .await
        .expect("terms set");
    id
}

#[test]
fn two_replicas_publish_request_and_email_each_thing_once() {
    testing::init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let smtp = runtime.block_on(SmtpSink::start());
    let mut isolated = Isolated::new();
    isolated.env.push(("CSPR_SMTP_URL".to_string(), smtp.url()));
    let _first = isolated.serve();
    isolated.wait_serving();
    let replica = isolated.replica();
    let _second = isolated.serve_replica(&replica);
    replica.wait_serving();

    runtime.block_on(async {
        let admin = dev_token(&["partnership_admin"], None);
        let chair = dev_token(&["panel_chair"], None);
        let mut clients = Vec::new();
        for addr in [isolated.addr("registry"), replica.addr("registry")] {
            clients.push(
                ReviewRegistryClient::connect(format!("http://{addr}"))
                    .await
                    .expect("registry"),
            );
        }
        let mut reviews = Vec::new();
        for n in 0..REVIEWS {
            let client = &mut clients[n % 2];
            reviews.push(review_with_terms(client, n, &admin, &chair).await);
        }

        // Every email, once: the replicas' senders share one queue.
        let expected = REVIEWS * AGENCIES;
        let arrived = smtp.wait_for(expected, testing::DEADLINE).await;
        let mut copies: BTreeMap<String, usize> = BTreeMap::new();
        for (_, raw) in &arrived {
            *copies
                .entry(mail_header(raw, "Message-ID").unwrap_or_default())
                .or_default() += 1;
        }
        let doubled: Vec<_> = copies.iter().filter(|(_, count)| **count > 1).collect();
        assert_eq!(copies.len(), expected, "one email per report request");
        assert!(doubled.is_empty(), "emails sent twice: {doubled:?}");

        // Every event of the registry, once on its stream, though both relays publish: the
        // stream holds exactly the events its outbox committed.
        let database = |service: &str| {
            isolated
                .services
                .iter()
                .find(|(name, _, _)| *name == service)
                .map(|(_, _, database)| database.clone())
                .unwrap_or_default()
        };
        let registry_db = cspr_platform::db::connect(&database("registry"), 1)
            .await
            .expect("registry database");
        let committed: Vec<uuid::Uuid> =
            sqlx::query_scalar("SELECT event_id FROM outbox ORDER BY event_id")
                .fetch_all(&registry_db)
                .await
                .expect("outbox");
        registry_db.close().await;
        assert!(committed.len() >= REVIEWS * 4, "{} events", committed.len());
        let stream = cspr_platform::bus::stream_name(&isolated.prefix, "registry");
        let events = testing::read_stream(
            &testing::nats_url(),
            &stream,
            committed.len(),
            Duration::from_secs(10),
        )
        .await;
        let mut published: Vec<uuid::Uuid> = events
            .iter()
            .map(|(_, event)| event.id.parse().expect("event id"))
            .collect();
        published.sort();
        assert_eq!(
            published, committed,
            "each committed event on the stream once"
        );

        // Every report request once in submissions, though both replicas consume.
        let submissions = cspr_platform::db::connect(&database("submissions"), 1)
            .await
            .expect("submissions database");
        let requests: Vec<(uuid::Uuid, String, i64)> = sqlx::query_as(
            "SELECT review_id, agency_id, count(*) FROM report_requests GROUP BY 1, 2",
        )
        .fetch_all(&submissions)
        .await
        .expect("report requests");
        assert_eq!(requests.len(), expected, "a request per review and agency");
        assert!(requests.iter().all(|(_, _, count)| *count == 1));
        submissions.close().await;
    });
    drop(runtime);
}
