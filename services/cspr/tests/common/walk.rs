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
    /// The ids of the agencies its terms of reference ask for reports.
    pub agencies: Vec<String>,
}

/// The agencies the walk's terms of reference ask: (id, name).
pub const AGENCIES: [(&str, &str); 2] = [
    ("police", "Southvale Police"),
    ("csc", "Southvale Children's Social Care"),
];

/// An agency asked for a report, its lead at `lead@{id}.southvale.example.org`.
pub fn agency(id: &str, name: &str) -> registry::Agency {
    registry::Agency {
        id: id.into(),
        name: name.into(),
        contact_email: format!("lead@{id}.southvale.example.org"),
    }
}

/// The dates a walk records, as the protos write them.
pub struct Dates {
    pub incident: Option<Date>,
    pub became_aware: Option<Date>,
    pub notified: Option<Date>,
    pub decided: Option<Date>,
    pub reviewer_appointed: Option<Date>,
    pub scope_start: Option<Date>,
    pub scope_end: Option<Date>,
    pub report_due: Option<Date>,
}

impl Dates {
    /// Counted back and on from today: the incident 12 days ago, reports due in 30 days.
    pub fn around_today() -> Self {
        Self {
            incident: day(-12),
            became_aware: day(-11),
            notified: day(-10),
            decided: day(-2),
            reviewer_appointed: day(-1),
            scope_start: day(-400),
            scope_end: day(-12),
            report_due: day(30),
        }
    }

    /// An incident on 9 March 2026 (decided on the 26th), the scope 15 September 2024 to
    /// 9 March 2026 (a chronology of 2025 falls in it), reports due on `report_due`.
    pub fn march_2026(report_due: Option<Date>) -> Self {
        let on = |year, month, day| Some(Date { year, month, day });
        Self {
            incident: on(2026, 3, 9),
            became_aware: on(2026, 3, 10),
            notified: on(2026, 3, 11),
            decided: on(2026, 3, 26),
            reviewer_appointed: on(2026, 3, 26),
            scope_start: on(2024, 9, 15),
            scope_end: on(2026, 3, 9),
            report_due,
        }
    }
}

/// What a walk sets up, and how far it goes.
pub struct Setup {
    pub alias: String,
    pub agencies: Vec<registry::Agency>,
    pub dates: Dates,
    /// Whether the chair and the reviewer are appointed (before the terms of reference);
    /// without them the review stays at SCOPING.
    pub appoint: bool,
    /// The stage to stop at: SCOPING, INFORMATION_GATHERING or ENGAGEMENT.
    pub stage: registry::Stage,
}

impl Default for Setup {
    /// The child "Child Q", [`AGENCIES`] asked, [`Dates::around_today`], chair and reviewer
    /// appointed, at ENGAGEMENT.
    fn default() -> Self {
        Self {
            alias: "Child Q".into(),
            agencies: AGENCIES.iter().map(|(id, name)| agency(id, name)).collect(),
            dates: Dates::around_today(),
            appoint: true,
            stage: registry::Stage::Engagement,
        }
    }
}

impl Walk {
    /// A review decided for a local CSPR, its chair and reviewer appointed and its terms of
    /// reference set asking [`AGENCIES`] for reports (due in 30 days), at ENGAGEMENT.
    pub async fn engaged(site: &Site) -> Self {
        Self::set_up(site, Setup::default()).await
    }

    /// [`Walk::engaged`] for the child `alias`, asking `agencies` (id, name) for reports.
    pub async fn engaged_with(site: &Site, alias: &str, agencies: &[(&str, &str)]) -> Self {
        Self::set_up(
            site,
            Setup {
                alias: alias.into(),
                agencies: agencies.iter().map(|(id, name)| agency(id, name)).collect(),
                ..Setup::default()
            },
        )
        .await
    }

    /// A review recorded, notified and decided for a local CSPR, (if `setup.appoint`) its
    /// chair and reviewer appointed, its terms of reference set asking `setup.agencies`,
    /// and moved on to `setup.stage`.
    pub async fn set_up(site: &Site, setup: Setup) -> Self {
        let people = People::new();
        let mut registry = ReviewRegistryClient::connect(site.grpc("registry"))
            .await
            .expect("registry");
        let submissions = AgencySubmissionsClient::connect(site.grpc("submissions"))
            .await
            .expect("submissions")
            .max_encoding_message_size(16 * 1024 * 1024);
        let (admin, dates) = (&people.admin, &setup.dates);
        let id = registry
            .create_review(authed(
                registry::CreateReviewRequest {
                    request_id: uuid_like(),
                    child_alias: setup.alias.clone(),
                    local_authority: "Southvale Council".into(),
                    incident_date: dates.incident,
                    became_aware_on: dates.became_aware,
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
                    sent_on: dates.notified,
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
                    decided_on: dates.decided,
                    rationale: String::new(),
                },
                &people.chair,
            ))
            .await
            .expect("decided");
        if setup.appoint {
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
                        appointed_on: dates.reviewer_appointed,
                    },
                    admin,
                ))
                .await
                .expect("reviewer");
        }
        let agencies = setup.agencies.iter().map(|a| a.id.clone()).collect();
        registry
            .set_terms_of_reference(authed(
                registry::SetTermsOfReferenceRequest {
                    review_id: id.clone(),
                    scope_start: dates.scope_start,
                    scope_end: dates.scope_end,
                    key_lines_of_enquiry: vec!["Information sharing".into()],
                    methodology: "Systems approach".into(),
                    agencies_in_scope: setup.agencies,
                    report_due_date: dates.report_due,
                    based_on_version: None,
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
            agencies,
        };
        for stage in [
            registry::Stage::InformationGathering,
            registry::Stage::Engagement,
        ] {
            if stage as i32 <= setup.stage as i32 {
                walk.advance(stage).await;
            }
        }
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

    /// On to `stage` once the registry allows it (it learns of reports accepted or waived
    /// over the bus).
    pub async fn advance_eventually(&self, stage: registry::Stage) {
        let registry = self.registry.clone();
        let (id, admin) = (self.id.clone(), self.people.admin.clone());
        testing::eventually(
            &format!("the review at {stage:?}"),
            testing::DEADLINE,
            || {
                let (mut registry, id, admin) = (registry.clone(), id.clone(), admin.clone());
                async move {
                    registry
                        .advance_stage(authed(
                            registry::AdvanceStageRequest {
                                review_id: id,
                                to_stage: stage as i32,
                            },
                            &admin,
                        ))
                        .await
                        .ok()
                }
            },
        )
        .await;
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
    /// and `entries` (date, description) of home visits by one police officer.
    pub async fn submit_report(
        &mut self,
        agency: &str,
        summary: &str,
        entries: &[(Option<Date>, &str)],
    ) -> submissions::SubmissionReceipt {
        let entries = entries.iter().map(|(on, description)| {
            entry(
                *on,
                "Home visit",
                ("Pat Constable", "Police officer"),
                description,
            )
        });
        self.submit_entries(agency, summary, entries.collect())
            .await
    }

    /// [`Walk::submit_report`] of chronology entries as they are.
    pub async fn submit_entries(
        &mut self,
        agency: &str,
        summary: &str,
        entries: Vec<submissions::ChronologyEntry>,
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
        let messages = std::iter::once(header).chain(entries.into_iter().map(|entry| {
            submissions::SubmitAgencyReportRequest {
                item: Some(submissions::submit_agency_report_request::Item::Entry(
                    entry,
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

    /// `agency`'s latest report as the service has it (None before any).
    pub async fn agency_report(&mut self, agency: &str) -> Option<submissions::AgencyReport> {
        match self
            .submissions
            .get_agency_report(authed(
                submissions::GetAgencyReportRequest {
                    review_id: self.id.clone(),
                    agency_id: agency.into(),
                    version: 0,
                },
                &self.people.admin,
            ))
            .await
        {
            Ok(report) => Some(report.into_inner()),
            Err(status) if status.code() == tonic::Code::NotFound => None,
            Err(status) => panic!("{agency}'s report: {status:?}"),
        }
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

    /// Every agency's report waived by the chair (once its request has come over the bus),
    /// then the review on to OVERVIEW_DRAFTING (once the registry knows of the waivers).
    pub async fn waived_to_drafting(&self) {
        for agency in &self.agencies {
            let submissions = self.submissions.clone();
            let (id, chair) = (self.id.clone(), self.people.chair.clone());
            testing::eventually("the report request, to waive it", testing::DEADLINE, || {
                let (mut submissions, id, chair) = (submissions.clone(), id.clone(), chair.clone());
                let agency = agency.clone();
                async move {
                    submissions
                        .waive_agency_report(authed(
                            submissions::WaiveAgencyReportRequest {
                                review_id: id,
                                agency_id: agency,
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
        self.advance_eventually(registry::Stage::OverviewDrafting)
            .await;
    }

    /// The reviewer's overview report: `findings` as the summary, findings on each key line
    /// of enquiry of the terms, every other section answered, and `recommendations` (ref,
    /// text) addressed to the partnership.
    pub async fn submit_overview(&mut self, findings: &str, recommendations: &[(&str, &str)]) {
        let lines = self
            .registry
            .get_review(authed(
                registry::GetReviewRequest {
                    review_id: self.id.clone(),
                },
                &self.people.reviewer,
            ))
            .await
            .expect("the review")
            .into_inner()
            .terms_of_reference
            .map(|terms| terms.key_lines_of_enquiry)
            .unwrap_or_default();
        let answered = |what: &str| format!("{what}: see the findings.");
        self.registry
            .submit_overview_report(authed(
                registry::SubmitOverviewReportRequest {
                    review_id: self.id.clone(),
                    request_id: uuid_like(),
                    findings: findings.into(),
                    recommendations: recommendations
                        .iter()
                        .map(|(r#ref, text)| registry::Recommendation {
                            r#ref: (*r#ref).into(),
                            text: (*text).into(),
                            addressed_to: vec!["partnership".into()],
                        })
                        .collect(),
                    enquiry_findings: lines
                        .into_iter()
                        .map(|line_of_enquiry| registry::EnquiryFindings {
                            findings: format!("On {line_of_enquiry}: {findings}"),
                            line_of_enquiry,
                        })
                        .collect(),
                    standards_met: answered("Standards"),
                    policies_followed: answered("Policies"),
                    working_together: answered("Working together"),
                    good_practice: answered("Good practice"),
                    learning: answered("Learning"),
                    answers: vec![],
                    based_on_version: None,
                },
                &self.people.reviewer,
            ))
            .await
            .expect("overview report");
    }

    /// [`Walk::engaged`], every agency's report waived, the overview report (findings,
    /// recommendation R1) submitted and approved: the review's recommendations can take
    /// actions.
    pub async fn approved(site: &Site) -> Self {
        Self::approved_from(site, Setup::default()).await
    }

    /// [`Walk::approved`] from the review `setup` makes (at ENGAGEMENT): at PRE_PUBLICATION.
    pub async fn approved_from(site: &Site, setup: Setup) -> Self {
        let mut walk = Self::set_up(site, setup).await;
        walk.waived_to_drafting().await;
        walk.submit_overview(
            "Concerns about neglect were not shared between agencies.",
            &[("R1", "Agree an information-sharing protocol.")],
        )
        .await;
        walk.registry
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

/// A chronology entry: `service` on `on` by `practitioner` (name, role), its description.
pub fn entry(
    on: Option<Date>,
    service: &str,
    (practitioner, role): (&str, &str),
    description: &str,
) -> submissions::ChronologyEntry {
    submissions::ChronologyEntry {
        occurred_on: on,
        service: service.into(),
        practitioner_name: practitioner.into(),
        practitioner_role: role.into(),
        description: description.into(),
        outcome: "No further action".into(),
        ..Default::default()
    }
}

/// A fresh idempotency key.
pub fn uuid_like() -> String {
    testing::unique("walk")
}
