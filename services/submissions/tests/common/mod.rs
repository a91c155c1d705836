//! The submissions service started for real through the platform's test harness, fed with
//! the registry's events as the registry would publish them.

#![allow(dead_code, unreachable_pub, unused_imports)]

use std::time::Duration;

use chrono::NaiveDate;
use cspr_platform::store::StoreParts;
use cspr_platform::testing::{self, TestService, TestSetup};
use cspr_proto::events::v1::{
    Actor, ReviewCreated, ReviewerAppointed, TermsOfReferenceSet, event::Body,
};
use cspr_proto::google::r#type::Date;
use cspr_proto::registry::v1::Agency;
use cspr_proto::submissions::v1 as pb;
use cspr_proto::submissions::v1::agency_submissions_client::AgencySubmissionsClient;
use cspr_submissions::config::SubmissionsConfig;
use cspr_submissions::store::Store;
use tonic::transport::Channel;

pub use testing::{authed, violated_fields};

pub const PARTNERSHIP: &str = "southvale";

pub fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("test date")
}

pub fn pdate(text: &str) -> Option<Date> {
    Some(cspr_platform::convert::date_to_proto(date(text)))
}

pub struct TestSubmissions {
    /// The running service, its clock, platform settings and clean-up.
    pub service: TestService,
    pub client: AgencySubmissionsClient<Channel>,
    /// A store on the same database (a second replica, for jobs).
    pub store: Store,
}

impl std::ops::Deref for TestSubmissions {
    type Target = TestService;

    fn deref(&self) -> &TestService {
        &self.service
    }
}

impl TestSubmissions {
    pub async fn start(today: &str) -> Self {
        let setup = TestSetup::new(cspr_submissions::SERVICE_NAME, date(today)).await;
        let store = Store::new(StoreParts::new(&setup.context));
        let config = SubmissionsConfig {
            sweep_interval: Duration::from_secs(3600),
            ..SubmissionsConfig::default()
        };
        let started = cspr_submissions::start(setup.context.clone(), config);
        let service = setup.serve(cspr_submissions::GRPC_NAME, started).await;
        Self {
            client: AgencySubmissionsClient::new(service.channel.clone())
                .max_decoding_message_size(64 * 1024 * 1024),
            store,
            service,
        }
    }

    pub fn token(&self, roles: &[&str], subject: &str) -> String {
        self.service.token(PARTNERSHIP, roles, None, subject)
    }

    pub fn agency(&self, agency_id: &str) -> String {
        self.service.token(
            PARTNERSHIP,
            &["agency"],
            Some(agency_id),
            &format!("{agency_id}-system"),
        )
    }

    pub fn chair(&self) -> String {
        self.token(&["panel_chair"], "tess-chair")
    }

    /// Publishes a registry event for `review_id` and waits until the service consumed it.
    pub async fn registry_event(
        &self,
        review_id: &str,
        body: Body,
    ) -> cspr_proto::events::v1::Event {
        let mut event = testing::foreign_event(PARTNERSHIP, review_id, body);
        event.actor = Some(Actor {
            subject: "alice-admin".into(),
            roles: vec!["partnership_admin".into()],
        });
        self.service.deliver(&event).await;
        event
    }

    /// A review with terms of reference for `agencies`, scope 2024-09-15 to 2026-03-09,
    /// reports due 2026-05-01; waits until the requests exist.
    pub async fn review_with_agencies(&self, agencies: &[&str]) -> String {
        let review_id = uuid::Uuid::now_v7().to_string();
        self.registry_event(
            &review_id,
            Body::ReviewCreated(ReviewCreated {
                reference: "SOUTHVALE-2026-001".into(),
                ..Default::default()
            }),
        )
        .await;
        self.registry_event(&review_id, terms(agencies)).await;
        assert_eq!(self.request_count(&review_id).await, agencies.len());
        review_id
    }

    /// How many report requests `review_id` has.
    pub async fn request_count(&self, review_id: &str) -> usize {
        let admin = self.token(&["partnership_admin"], "alice-admin");
        let mut client = self.client.clone();
        client
            .list_report_requests(authed(
                pb::ListReportRequestsRequest {
                    review_id: review_id.to_string(),
                    ..Default::default()
                },
                &admin,
            ))
            .await
            .expect("report requests listed")
            .into_inner()
            .report_requests
            .len()
    }

    pub async fn stop(self) {
        self.service.stop().await;
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
        review_reference: "SOUTHVALE-2026-001".into(),
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
    use futures::StreamExt;
    let mut stream = client
        .stream_combined_chronology(authed(
            pb::StreamCombinedChronologyRequest {
                review_id: review_id.to_string(),
                include_pending,
                agency_id: String::new(),
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
