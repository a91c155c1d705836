//! A review walked through the services' own gRPC APIs to where a page suite starts, with
//! the real clock of a `cspr serve all` (dates are counted back and on from today): what a
//! suite needs before the pages it tests, set up as the API's users would.

use chrono::{Days, NaiveDate, Utc};
use cspr_platform::testing::{self, authed};
use cspr_proto::google::r#type::Date;
use cspr_proto::registry::v1 as registry;
use cspr_proto::registry::v1::review_registry_client::ReviewRegistryClient;
use cspr_proto::submissions::v1 as submissions;
use cspr_proto::submissions::v1::agency_submissions_client::AgencySubmissionsClient;
use tonic::transport::Channel;

use super::dev_token_as;
use super::web::Site;

/// `days` from today (negative: ago), as the protos write a date.
pub fn day(days: i64) -> Option<Date> {
    let today = Utc::now().date_naive();
    let date = if days >= 0 {
        today.checked_add_days(Days::new(days.unsigned_abs()))
    } else {
        today.checked_sub_days(Days::new(days.unsigned_abs()))
    };
    Some(proto_date(date.expect("a date")))
}

fn proto_date(date: NaiveDate) -> Date {
    use chrono::Datelike;
    Date {
        year: date.year(),
        month: i32::try_from(date.month()).expect("month"),
        day: i32::try_from(date.day()).expect("day"),
    }
}

/// The people of the walk, by their development tokens (partnership "southvale").
pub struct People {
    pub admin: String,
    pub chair: String,
    /// The appointed reviewer, subject [`REVIEWER`].
    pub reviewer: String,
}

/// The appointed reviewer's name, which is also their token's subject (as the development
/// sign-in makes it).
pub const REVIEWER: &str = "Isla Oakes";

impl People {
    pub fn new() -> Self {
        Self {
            admin: dev_token_as("alice", &["partnership_admin"], None),
            chair: dev_token_as("tess", &["panel_chair"], None),
            reviewer: dev_token_as(REVIEWER, &["reviewer"], None),
        }
    }
}

/// A review at one of the walk's steps, and the clients that took it there.
pub struct Walk {
    pub id: String,
    pub people: People,
    pub registry: ReviewRegistryClient<Channel>,
    pub submissions: AgencySubmissionsClient<Channel>,
}

/// The agencies the walk's terms of reference ask: (id, name).
pub const AGENCIES: [(&str, &str); 2] = [
    ("police", "Southvale Police"),
    ("csc", "Southvale Children's Social Care"),
];

impl Walk {
    /// A review decided for a local CSPR, its chair and reviewer appointed and its terms of
    /// reference set asking [`AGENCIES`] for reports (due in 30 days), at ENGAGEMENT.
    pub async fn engaged(site: &Site) -> Self {
        Self::engaged_with(site, "Child Q", &AGENCIES).await
    }

    /// [`Walk::engaged`] for the child `alias`, asking `agencies` (id, name) for reports.
    pub async fn engaged_with(site: &Site, alias: &str, agencies: &[(&str, &str)]) -> Self {
        let people = People::new();
        let mut registry = ReviewRegistryClient::connect(site.grpc("registry"))
            .await
            .expect("registry");
        let submissions = AgencySubmissionsClient::connect(site.grpc("submissions"))
            .await
            .expect("submissions");
        let admin = &people.admin;
        let id = registry
            .create_review(authed(
                registry::CreateReviewRequest {
                    request_id: uuid_like(),
                    child_alias: alias.into(),
                    local_authority: "Southvale Council".into(),
                    incident_date: day(-12),
                    became_aware_on: day(-11),
                },
                admin,
            ))
            .await
            .expect("review created")
            .into_inner()
            .id;
        registry
            .record_notification_sent(authed(
                registry::RecordNotificationSentRequest {
                    review_id: id.clone(),
                    sent_on: day(-10),
                    ..Default::default()
                },
                admin,
            ))
            .await
            .expect("notified");
        registry
            .record_decision(authed(
                registry::RecordDecisionRequest {
                    review_id: id.clone(),
                    decision: registry::Decision::LocalCspr as i32,
                    decided_on: day(-2),
                    rationale: String::new(),
                },
                &people.chair,
            ))
            .await
            .expect("decided");
        registry
            .appoint_panel_member(authed(
                registry::AppointPanelMemberRequest {
                    review_id: id.clone(),
                    request_id: uuid_like(),
                    name: "Tess Holroyd".into(),
                    email: "tess@panel.southvale.example.org".into(),
                    organisation: "Southvale Health".into(),
                    role: registry::PanelRole::Chair as i32,
                    declares_no_involvement: true,
                    independence_statement: String::new(),
                },
                admin,
            ))
            .await
            .expect("chair");
        registry
            .appoint_reviewer(authed(
                registry::AppointReviewerRequest {
                    review_id: id.clone(),
                    name: REVIEWER.into(),
                    email: "isla@reviewers.example.org".into(),
                    subject: REVIEWER.into(),
                    appointed_on: day(-1),
                },
                admin,
            ))
            .await
            .expect("reviewer");
        registry
            .set_terms_of_reference(authed(
                registry::SetTermsOfReferenceRequest {
                    review_id: id.clone(),
                    scope_start: day(-400),
                    scope_end: day(-12),
                    key_lines_of_enquiry: vec!["Information sharing".into()],
                    methodology: "Systems approach".into(),
                    agencies_in_scope: agencies
                        .iter()
                        .map(|(agency, name)| registry::Agency {
                            id: (*agency).into(),
                            name: (*name).into(),
                            contact_email: format!("lead@{agency}.southvale.example.org"),
                        })
                        .collect(),
                    report_due_date: day(30),
                },
                admin,
            ))
            .await
            .expect("terms of reference");
        let mut walk = Self {
            id,
            people,
            registry,
            submissions,
        };
        walk.advance(registry::Stage::InformationGathering).await;
        walk.advance(registry::Stage::Engagement).await;
        walk
    }

    /// On to `stage` (the next one).
    pub async fn advance(&mut self, stage: registry::Stage) {
        self.registry
            .advance_stage(authed(
                registry::AdvanceStageRequest {
                    review_id: self.id.clone(),
                    to_stage: stage as i32,
                },
                &self.people.admin,
            ))
            .await
            .unwrap_or_else(|status| panic!("to {stage:?}: {status:?}"));
    }

    /// Waits until the submissions service holds a report request for each of `agencies`
    /// (they come over the bus from the terms of reference).
    pub async fn report_requests(&self, agencies: usize) {
        let (submissions, id, admin) = (
            self.submissions.clone(),
            self.id.clone(),
            self.people.admin.clone(),
        );
        testing::eventually("the report requests", testing::DEADLINE, || {
            let (mut submissions, id, admin) = (submissions.clone(), id.clone(), admin.clone());
            async move {
                let listed = submissions
                    .list_report_requests(authed(
                        submissions::ListReportRequestsRequest {
                            review_id: id,
                            ..Default::default()
                        },
                        &admin,
                    ))
                    .await
                    .ok()?
                    .into_inner();
                (listed.report_requests.len() >= agencies).then_some(())
            }
        })
        .await;
    }

    /// `agency`'s report, streamed as its system would: `summary` as the narrative's summary
    /// and `entries` (date, description) by one practitioner.
    pub async fn submit_report(
        &mut self,
        agency: &str,
        summary: &str,
        entries: &[(Option<Date>, &str)],
    ) -> submissions::SubmissionReceipt {
        let header = submissions::SubmitAgencyReportRequest {
            item: Some(submissions::submit_agency_report_request::Item::Header(
                submissions::SubmissionHeader {
                    request_id: uuid_like(),
                    review_id: self.id.clone(),
                    agency_id: agency.into(),
                    author_name: "Sam Lead".into(),
                    author_role: "Safeguarding lead".into(),
                    narrative: Some(submissions::Narrative {
                        summary: summary.into(),
                        analysis_of_involvement: "What was done and why.".into(),
                        learning: "Share information sooner.".into(),
                        ..Default::default()
                    }),
                    entry_count: i64::try_from(entries.len()).expect("count"),
                },
            )),
        };
        let messages = std::iter::once(header).chain(entries.iter().map(|(on, description)| {
            submissions::SubmitAgencyReportRequest {
                item: Some(submissions::submit_agency_report_request::Item::Entry(
                    submissions::ChronologyEntry {
                        occurred_on: *on,
                        service: "Home visit".into(),
                        practitioner_name: "Pat Constable".into(),
                        practitioner_role: "Police officer".into(),
                        description: (*description).into(),
                        outcome: "No further action".into(),
                        ..Default::default()
                    },
                )),
            }
        }));
        let token = dev_token_as("agency-system", &["agency"], Some(agency));
        self.submissions
            .submit_agency_report(authed(
                tokio_stream::iter(messages.collect::<Vec<_>>()),
                &token,
            ))
            .await
            .unwrap_or_else(|status| panic!("{agency}'s report: {status:?}"))
            .into_inner()
    }

    /// The review as the business unit sees it.
    pub async fn review(&mut self) -> registry::Review {
        self.registry
            .get_review(authed(
                registry::GetReviewRequest {
                    review_id: self.id.clone(),
                },
                &self.people.admin,
            ))
            .await
            .expect("review")
            .into_inner()
    }

    /// [`Walk::engaged`], every agency's report waived by the chair (once its request has
    /// come over the bus), the overview report (findings, recommendation R1) submitted and
    /// approved: the review's recommendations can take actions.
    pub async fn approved(site: &Site) -> Self {
        let walk = Self::engaged(site).await;
        for (agency, _) in AGENCIES {
            let submissions = walk.submissions.clone();
            let (id, chair) = (walk.id.clone(), walk.people.chair.clone());
            testing::eventually("the report request, to waive it", testing::DEADLINE, || {
                let (mut submissions, id, chair) = (submissions.clone(), id.clone(), chair.clone());
                async move {
                    submissions
                        .waive_agency_report(authed(
                            submissions::WaiveAgencyReportRequest {
                                review_id: id,
                                agency_id: agency.into(),
                                reason: "No involvement with the family".into(),
                            },
                            &chair,
                        ))
                        .await
                        .ok()
                }
            })
            .await;
        }
        // The registry learns of the waivers over the bus before drafting may start.
        let registry = walk.registry.clone();
        let (id, admin) = (walk.id.clone(), walk.people.admin.clone());
        testing::eventually(
            "drafting, once the waivers are known",
            testing::DEADLINE,
            || {
                let (mut registry, id, admin) = (registry.clone(), id.clone(), admin.clone());
                async move {
                    registry
                        .advance_stage(authed(
                            registry::AdvanceStageRequest {
                                review_id: id,
                                to_stage: registry::Stage::OverviewDrafting as i32,
                            },
                            &admin,
                        ))
                        .await
                        .ok()
                }
            },
        )
        .await;
        let mut registry = walk.registry.clone();
        registry
            .submit_overview_report(authed(
                registry::SubmitOverviewReportRequest {
                    review_id: walk.id.clone(),
                    request_id: uuid_like(),
                    findings: "Concerns about neglect were not shared between agencies.".into(),
                    recommendations: vec![registry::Recommendation {
                        r#ref: "R1".into(),
                        text: "Agree an information-sharing protocol.".into(),
                    }],
                },
                &walk.people.reviewer,
            ))
            .await
            .expect("overview report");
        registry
            .approve_overview_report(authed(
                registry::ApproveOverviewReportRequest {
                    review_id: walk.id.clone(),
                    version: 1,
                },
                &walk.people.chair,
            ))
            .await
            .expect("approved");
        walk
    }
}

/// A fresh idempotency key.
pub fn uuid_like() -> String {
    testing::unique("walk")
}
