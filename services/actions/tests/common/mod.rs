//! The actions service started for real through the platform's test harness, fed with the
//! registry's events as the registry would publish them.

#![allow(dead_code, unreachable_pub, unused_imports)]

use std::time::Duration;

use cspr_actions::ActionsConfig;
use cspr_actions::store::Store;
use cspr_platform::testing::{self, TestApp, TestSetup};
use cspr_proto::actions::v1 as pb;
use cspr_proto::actions::v1::action_monitoring_client::ActionMonitoringClient;
use cspr_proto::events::v1::{OverviewReportApproved, ReviewPublished, event::Body};
use cspr_proto::google::r#type::Date;
use cspr_proto::registry::v1::Recommendation;
use tonic::transport::Channel;

pub use testing::{
    PARTNERSHIP, Refusal, Reply, assert_says, authed, proto_date as date, swept_together,
    violated_fields,
};

/// The actions service under test, on 2026-07-01.
pub type TestActions = TestApp<ActionMonitoringClient<Channel>, Store>;

/// What the actions tests do with the service.
pub trait ActionsTest {
    async fn start() -> Self;
    /// A review whose overview report (R1, R2) was approved, its headings projected.
    async fn approved_review(&self) -> String;
    async fn publish_review(&self, review_id: &str);
    /// Creates an action as the partnership administrator.
    async fn create(
        &self,
        review_id: &str,
        reference: &str,
        owner: &str,
        due: Option<Date>,
    ) -> Result<pb::Action, tonic::Status>;
}

impl ActionsTest for TestActions {
    async fn start() -> Self {
        let setup = TestSetup::new(cspr_actions::SERVICE_NAME, testing::date("2026-07-01")).await;
        let config = ActionsConfig {
            due_soon_days: 14,
            escalate_after_days: 30,
            sweep_interval: Duration::from_secs(3600),
        };
        setup
            .serve_app(
                cspr_actions::GRPC_NAME,
                |context| cspr_actions::start(context, config),
                ActionMonitoringClient::new,
                Store::new,
            )
            .await
    }

    async fn approved_review(&self) -> String {
        let review_id = self.create_review().await;
        self.deliver_body(
            &review_id,
            Body::OverviewReportApproved(OverviewReportApproved {
                version: 1,
                recommendations: vec![
                    Recommendation {
                        r#ref: "R1".into(),
                        text: "Agree an information-sharing protocol.".into(),
                        addressed_to: vec![],
                    },
                    Recommendation {
                        r#ref: "R2".into(),
                        text: "Audit the neglect toolkit.".into(),
                        addressed_to: vec![],
                    },
                ],
            }),
        )
        .await;
        let id: uuid::Uuid = review_id.parse().expect("uuid");
        assert!(
            self.store
                .has_recommendation(id, "R2")
                .await
                .expect("recommendation looked up"),
            "recommendations projected"
        );
        review_id
    }

    async fn publish_review(&self, review_id: &str) {
        self.deliver_body(
            review_id,
            Body::ReviewPublished(ReviewPublished {
                published: true,
                ..Default::default()
            }),
        )
        .await;
    }

    async fn create(
        &self,
        review_id: &str,
        reference: &str,
        owner: &str,
        due: Option<Date>,
    ) -> Result<pb::Action, tonic::Status> {
        let mut client = self.client.clone();
        client
            .create_action(authed(
                pb::CreateActionRequest {
                    request_id: format!("{reference}-{owner}-{}", uuid::Uuid::new_v4()),
                    review_id: review_id.into(),
                    recommendation_ref: reference.into(),
                    description: format!("{owner}: put {reference} into practice"),
                    owner_agency: owner.into(),
                    owner_email: format!("lead@{owner}.southvale.example.org"),
                    due_date: due,
                    measure_of_success: "An audit shows the change.".into(),
                },
                &self.role_token("partnership_admin"),
            ))
            .await
            .map(|response| response.into_inner())
    }
}
