//! The submissions service started for real through the platform's test harness, fed with
//! the registry's events as the registry would publish them.

#![allow(dead_code, unreachable_pub, unused_imports)]

use std::time::Duration;

use chrono::NaiveDate;
use cspr_platform::testing::{self, TestApp, TestSetup};
use cspr_proto::events::v1::{Actor, TermsOfReferenceSet, event::Body};
use cspr_proto::google::r#type::Date;
use cspr_proto::registry::v1::Agency;
use cspr_proto::submissions::v1 as pb;
use cspr_proto::submissions::v1::agency_submissions_client::AgencySubmissionsClient;
use cspr_submissions::config::SubmissionsConfig;
use cspr_submissions::store::Store;
use tonic::transport::Channel;

pub use testing::{
    PARTNERSHIP, Refusal, Reply, assert_says, authed, date, pdate, swept_together, violated_fields,
};

/// The submissions service under test (a client for 64 MiB replies, and a store on the
/// same database: a second replica, for jobs).
pub type TestSubmissions = TestApp<AgencySubmissionsClient<Channel>, Store>;

/// What the submissions tests do with the service.
pub trait SubmissionsTest {
    /// On `today` (YYYY-MM-DD).
    async fn start(today: &str) -> Self;
    /// On `today`, with `config` (its reminder sweep left to the test).
    async fn start_with(today: &str, config: SubmissionsConfig) -> Self;
    /// Publishes a registry event for `review_id` (by the partnership administrator) and
    /// waits until the service consumed it.
    async fn registry_event(&self, review_id: &str, body: Body) -> cspr_proto::events::v1::Event;
    /// A review with terms of reference for `agencies`, scope 2024-09-15 to 2026-03-09,
    /// reports due 2026-05-01; waits until the requests exist.
    async fn review_with_agencies(&self, agencies: &[&str]) -> String;
    /// How many report requests `review_id` has.
    async fn request_count(&self, review_id: &str) -> usize;
}

impl SubmissionsTest for TestSubmissions {
    async fn start(today: &str) -> Self {
        Self::start_with(today, SubmissionsConfig::default()).await
    }

    async fn start_with(today: &str, config: SubmissionsConfig) -> Self {
        let setup = TestSetup::new(cspr_submissions::SERVICE_NAME, date(today)).await;
        let config = SubmissionsConfig {
            sweep_interval: Duration::from_secs(3600),
            ..config
        };
        setup
            .serve_app(
                cspr_submissions::GRPC_NAME,
                |context| cspr_submissions::start(context, config),
                |channel| {
                    AgencySubmissionsClient::new(channel)
                        .max_decoding_message_size(64 * 1024 * 1024)
                },
                Store::new,
            )
            .await
    }

    async fn registry_event(&self, review_id: &str, body: Body) -> cspr_proto::events::v1::Event {
        let mut event = self.event(review_id, body);
        event.actor = Some(Actor {
            subject: testing::persona("partnership_admin").into(),
            roles: vec!["partnership_admin".into()],
        });
        self.deliver(&event).await;
        event
    }

    async fn review_with_agencies(&self, agencies: &[&str]) -> String {
        let review_id = self.create_review().await;
        self.registry_event(&review_id, terms(agencies)).await;
        assert_eq!(self.request_count(&review_id).await, agencies.len());
        review_id
    }

    async fn request_count(&self, review_id: &str) -> usize {
        let mut client = self.client.clone();
        client
            .list_report_requests(authed(
                pb::ListReportRequestsRequest {
                    review_id: review_id.to_string(),
                    ..Default::default()
                },
                &self.role_token("partnership_admin"),
            ))
            .await
            .reply("report requests listed")
            .report_requests
            .len()
    }
}

/// The registry's terms_of_reference_set event for `agencies`.
pub fn terms(agencies: &[&str]) -> Body {
    Body::TermsOfReferenceSet(TermsOfReferenceSet {
        version: 1,
        scope_start: pdate("2024-09-15"),
        scope_end: pdate("2026-03-09"),
        key_lines_of_enquiry: vec!["How well did agencies share information?".into()],
        methodology: "Systems approach".into(),
        agencies_in_scope: agencies
            .iter()
            .map(|id| Agency {
                id: id.to_string(),
                name: format!("Southvale {id}"),
                contact_email: format!("safeguarding.lead@{id}.southvale.example.org"),
            })
            .collect(),
        report_due_date: pdate("2026-05-01"),
        review_reference: testing::REVIEW_REFERENCE.into(),
    })
}

/// The header of a submission.
pub fn header(
    request_id: &str,
    review_id: &str,
    agency_id: &str,
    entry_count: i64,
) -> pb::SubmitAgencyReportRequest {
    pb::SubmitAgencyReportRequest {
        item: Some(pb::submit_agency_report_request::Item::Header(
            pb::SubmissionHeader {
                request_id: request_id.into(),
                review_id: review_id.into(),
                agency_id: agency_id.into(),
                author_name: "Sam Lead".into(),
                author_role: "Named safeguarding lead".into(),
                narrative: Some(pb::Narrative {
                    summary: "The agency saw the family regularly.".into(),
                    analysis_of_involvement: "Concerns about neglect were recorded but not shared."
                        .into(),
                    what_went_well: "Regular contact.".into(),
                    what_could_have_been_better: "Information sharing.".into(),
                    learning: "Share concerns about neglect early.".into(),
                }),
                entry_count,
            },
        )),
    }
}

/// Entry `index` of a generated chronology: dates spread over the scope period in order.
pub fn entry(index: usize, agency_id: &str, first_day: &str) -> pb::ChronologyEntry {
    let day = date(first_day) + chrono::Days::new((index / 20) as u64);
    pb::ChronologyEntry {
        occurred_on: Some(cspr_platform::convert::date_to_proto(day)),
        time_of_day: String::new(),
        service: format!("Contact {index}"),
        practitioner_name: format!("Practitioner {}", index % 7),
        practitioner_role: "Health visitor".into(),
        description: format!("{agency_id} entry {index}: visited the family; notes recorded."),
        outcome: "No further action".into(),
    }
}

pub fn as_message(entry: pb::ChronologyEntry) -> pb::SubmitAgencyReportRequest {
    pb::SubmitAgencyReportRequest {
        item: Some(pb::submit_agency_report_request::Item::Entry(entry)),
    }
}

/// Submits a whole report as one stream.
pub async fn submit(
    client: &mut AgencySubmissionsClient<Channel>,
    token: &str,
    header: pb::SubmitAgencyReportRequest,
    entries: Vec<pb::ChronologyEntry>,
) -> Result<pb::SubmissionReceipt, tonic::Status> {
    let messages: Vec<_> = std::iter::once(header)
        .chain(entries.into_iter().map(as_message))
        .collect();
    client
        .submit_agency_report(authed(tokio_stream::iter(messages), token))
        .await
        .map(|response| response.into_inner())
}

/// The whole combined chronology.
pub async fn chronology(
    client: &mut AgencySubmissionsClient<Channel>,
    token: &str,
    review_id: &str,
    include_pending: bool,
) -> Result<Vec<pb::CombinedChronologyEntry>, tonic::Status> {
    chronology_limited(client, token, review_id, include_pending, 0).await
}

/// The combined chronology's first `limit` entries (0: all), read to the stream's end.
pub async fn chronology_limited(
    client: &mut AgencySubmissionsClient<Channel>,
    token: &str,
    review_id: &str,
    include_pending: bool,
    limit: i32,
) -> Result<Vec<pb::CombinedChronologyEntry>, tonic::Status> {
    use futures::StreamExt;
    let mut stream = client
        .stream_combined_chronology(authed(
            pb::StreamCombinedChronologyRequest {
                review_id: review_id.to_string(),
                include_pending,
                agency_id: String::new(),
                limit,
            },
            token,
        ))
        .await?
        .into_inner();
    let mut entries = Vec::new();
    while let Some(entry) = stream.next().await {
        entries.push(entry?);
    }
    Ok(entries)
}

/// How many submissions are staged, and how many entries in them.
pub async fn staged(service: &TestSubmissions) -> (i64, i64) {
    sqlx::query_as(
        "SELECT (SELECT count(*) FROM staged_submissions), (SELECT count(*) FROM staged_entries)",
    )
    .fetch_one(service.store.pool())
    .await
    .expect("staged")
}
