//! The practitioners service started for real through the platform's test harness, fed
//! with the registry's and submissions' events as they would publish them.

#![allow(dead_code, unreachable_pub, unused_imports)]

use std::time::Duration;

use cspr_platform::testing::{self, TestApp, TestSetup};
use cspr_practitioners::PractitionersConfig;
use cspr_practitioners::store::Store;
use cspr_proto::events::v1::{TermsOfReferenceSet, event::Body};
use cspr_proto::google::r#type::Date;
use cspr_proto::practitioners::v1 as pb;
use cspr_proto::practitioners::v1::practitioner_engagement_client::PractitionerEngagementClient;
use tonic::transport::Channel;

pub use testing::{
    PARTNERSHIP, REVIEWER, Refusal, Reply, assert_says, authed, proto_date as date, swept_together,
    violated_fields,
};

/// The practitioners service under test, on 2026-04-20.
pub type TestPractitioners = TestApp<PractitionerEngagementClient<Channel>, Store>;

/// What the practitioners tests do with the service.
pub trait PractitionersTest {
    async fn start() -> Self;
    /// A review with its reviewer appointed and, if asked, terms of reference set (scope
    /// 2024-09-15 to 2026-03-09).
    async fn review(&self, with_terms: bool) -> String;
    async fn terms(&self, review_id: &str);
    /// Checks the projection has the review (and its reviewer; its scope if asked).
    async fn assert_projected(&self, review_id: &str, with_terms: bool);
    async fn register(
        &self,
        review_id: &str,
        name: &str,
        email: &str,
        involvement: (Option<Date>, Option<Date>),
    ) -> pb::Practitioner;
}

impl PractitionersTest for TestPractitioners {
    async fn start() -> Self {
        let setup = TestSetup::new(
            cspr_practitioners::SERVICE_NAME,
            testing::date("2026-04-20"),
        )
        .await;
        let config = PractitionersConfig {
            sweep_interval: Duration::from_secs(3600),
        };
        setup
            .serve_app(
                cspr_practitioners::GRPC_NAME,
                |context| cspr_practitioners::start(context, config),
                PractitionerEngagementClient::new,
                Store::new,
            )
            .await
    }

    async fn review(&self, with_terms: bool) -> String {
        let review_id = self.create_review().await;
        self.appoint_reviewer(&review_id).await;
        if with_terms {
            self.terms(&review_id).await;
        }
        self.assert_projected(&review_id, with_terms).await;
        review_id
    }

    async fn terms(&self, review_id: &str) {
        self.deliver_body(
            review_id,
            Body::TermsOfReferenceSet(TermsOfReferenceSet {
                version: 1,
                scope_start: date(2024, 9, 15),
                scope_end: date(2026, 3, 9),
                key_lines_of_enquiry: vec!["How was neglect recognised?".into()],
                methodology: "Systems approach".into(),
                report_due_date: date(2026, 5, 1),
                review_reference: testing::REVIEW_REFERENCE.into(),
                ..Default::default()
            }),
        )
        .await;
    }

    async fn assert_projected(&self, review_id: &str, with_terms: bool) {
        let review = self.projected_review(review_id).await;
        assert!(review.reviewer_subject.is_some(), "reviewer projected");
        assert!(!with_terms || review.scope().is_some(), "scope projected");
    }

    async fn register(
        &self,
        review_id: &str,
        name: &str,
        email: &str,
        involvement: (Option<Date>, Option<Date>),
    ) -> pb::Practitioner {
        let mut client = self.client.clone();
        client
            .register_practitioner(authed(
                pb::RegisterPractitionerRequest {
                    request_id: format!("register-{email}"),
                    review_id: review_id.into(),
                    practitioner_id: String::new(),
                    name: name.into(),
                    role: "Health visitor".into(),
                    agency_id: "health-visiting".into(),
                    agency_name: "Southvale Community Health Trust".into(),
                    email: email.into(),
                    involvement_start: involvement.0,
                    involvement_end: involvement.1,
                },
                &self.role_token("reviewer"),
            ))
            .await
            .reply("registered")
    }
}

/// A time `days` days after the test clock's date, at 10:00 UTC.
pub fn in_days(days: i64) -> Option<prost_types::Timestamp> {
    let base = testing::date("2026-04-20")
        .and_hms_opt(10, 0, 0)
        .expect("time")
        .and_utc();
    let instant = base + chrono::Duration::days(days);
    Some(prost_types::Timestamp {
        seconds: instant.timestamp(),
        nanos: 0,
    })
}
