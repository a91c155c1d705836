//! The registry started for real through the platform's test harness, with a client and
//! a second store on its database (to drive jobs as a second replica would).

#![allow(dead_code, unreachable_pub, unused_imports)]

use std::time::Duration;

use chrono::NaiveDate;
use cspr_platform::config::PlatformConfig;
use cspr_platform::testing::{self, TestApp, TestSetup};
use cspr_proto::google::r#type::Date;
use cspr_proto::registry::v1::review_registry_client::ReviewRegistryClient;
use cspr_registry::config::RegistryConfig;
use cspr_registry::domain::deadlines::DeadlineRules;
use cspr_registry::store::Store;
use tonic::transport::Channel;

pub use testing::{
    PARTNERSHIP, Refusal, Reply, assert_says, authed, date, pdate, swept_together, violated_fields,
};

/// The registry under test.
pub type TestRegistry = TestApp<ReviewRegistryClient<Channel>, Store>;

/// How the registry tests start it.
pub trait RegistryTest: Sized {
    /// On `today` (YYYY-MM-DD).
    async fn start(today: &str) -> Self {
        Self::start_with_nats(&testing::nats_url(), today).await
    }

    /// On `today`, connected to the NATS server at `nats_url` (a test's own).
    async fn start_with_nats(nats_url: &str, today: &str) -> Self {
        Self::start_with_platform(testing::platform_config(nats_url), today).await
    }

    /// On `today`, with settings of the test's own (e.g. another token configuration).
    async fn start_with_platform(platform: PlatformConfig, today: &str) -> Self;
}

impl RegistryTest for TestRegistry {
    async fn start_with_platform(platform: PlatformConfig, today: &str) -> Self {
        let setup =
            TestSetup::with_platform(cspr_registry::SERVICE_NAME, platform, date(today)).await;
        let config = RegistryConfig {
            rules: DeadlineRules::default(),
            sweep_interval: Duration::from_secs(3600),
        };
        let rules = config.rules.clone();
        setup
            .serve_app(
                cspr_registry::GRPC_NAME,
                |context| cspr_registry::start(context, config),
                ReviewRegistryClient::new,
                |parts| Store::new(parts, rules),
            )
            .await
    }
}

/// A CreateReview of Southvale Council's `alias` (incident 9 March 2026, aware the 10th).
pub fn new_review(request_id: &str, alias: &str) -> cspr_proto::registry::v1::CreateReviewRequest {
    cspr_proto::registry::v1::CreateReviewRequest {
        request_id: request_id.into(),
        child_alias: alias.into(),
        local_authority: "Southvale Council".into(),
        incident_date: pdate("2026-03-09"),
        became_aware_on: pdate("2026-03-10"),
    }
}

/// [`new_review`] created by `token`'s holder.
pub async fn created(
    client: &mut ReviewRegistryClient<Channel>,
    token: &str,
    request_id: &str,
    alias: &str,
) -> cspr_proto::registry::v1::Review {
    client
        .create_review(authed(new_review(request_id, alias), token))
        .await
        .reply("create")
}

/// A complete SubmitOverviewReport of `review_id`: findings on each of `lines` (the terms'
/// key lines of enquiry), the three questions, good practice and learning answered, and one
/// recommendation R1 to the partnership.
pub fn overview_report(
    review_id: &str,
    request_id: &str,
    lines: &[&str],
) -> cspr_proto::registry::v1::SubmitOverviewReportRequest {
    use cspr_proto::registry::v1 as pb;
    pb::SubmitOverviewReportRequest {
        review_id: review_id.into(),
        request_id: request_id.into(),
        findings: "Information about neglect was not shared in time.".into(),
        recommendations: vec![pb::Recommendation {
            r#ref: "R1".into(),
            text: "Agree a neglect information-sharing protocol.".into(),
            addressed_to: vec!["partnership".into()],
        }],
        enquiry_findings: lines
            .iter()
            .map(|line| pb::EnquiryFindings {
                line_of_enquiry: (*line).into(),
                findings: format!("Findings on: {line}"),
            })
            .collect(),
        standards_met: "Mostly, but not in the health visiting service.".into(),
        policies_followed: "The neglect strategy was not followed.".into(),
        working_together: "Health and social care did not share concerns.".into(),
        good_practice: "The school's designated lead acted quickly.".into(),
        learning: "Neglect needs a shared picture over time.".into(),
        answers: vec![],
        based_on_version: None,
    }
}

/// Review `id` notified on 11 March 2026 (by `admin`) and decided a local CSPR the same day
/// (by `chair`): at SCOPING.
pub async fn decided_local(
    client: &mut ReviewRegistryClient<Channel>,
    (admin, chair): (&str, &str),
    id: &str,
) {
    use cspr_proto::registry::v1 as pb;
    client
        .record_notification_sent(authed(
            pb::RecordNotificationSentRequest {
                review_id: id.into(),
                sent_on: pdate("2026-03-11"),
                national_panel_reference: String::new(),
            },
            admin,
        ))
        .await
        .reply("notification");
    client
        .record_decision(authed(
            pb::RecordDecisionRequest {
                review_id: id.into(),
                decision: pb::Decision::LocalCspr as i32,
                decided_on: pdate("2026-03-11"),
                rationale: "Criteria met".into(),
            },
            chair,
        ))
        .await
        .reply("decision");
}

/// Isla Oakes (`isla-reviewer`, isla.oakes@reviewers.example.org) appointed reviewer of
/// review `id` on 11 March 2026 by `admin`.
pub async fn isla_appointed(client: &mut ReviewRegistryClient<Channel>, admin: &str, id: &str) {
    client
        .appoint_reviewer(authed(
            cspr_proto::registry::v1::AppointReviewerRequest {
                review_id: id.into(),
                name: "Isla Oakes".into(),
                email: "isla.oakes@reviewers.example.org".into(),
                subject: "isla-reviewer".into(),
                appointed_on: pdate("2026-03-11"),
            },
            admin,
        ))
        .await
        .reply("reviewer");
}
