//! The actions service started for real through the platform's test harness, fed with the
//! registry's events as the registry would publish them.

#![allow(dead_code, unreachable_pub, unused_imports)]

use std::time::Duration;

use chrono::NaiveDate;
use cspr_actions::ActionsConfig;
use cspr_actions::store::Store;
use cspr_platform::store::StoreParts;
use cspr_platform::testing::{self, TestService, TestSetup};
use cspr_proto::actions::v1 as pb;
use cspr_proto::actions::v1::action_monitoring_client::ActionMonitoringClient;
use cspr_proto::events::v1::{OverviewReportApproved, ReviewCreated, ReviewPublished, event::Body};
use cspr_proto::google::r#type::Date;
use cspr_proto::registry::v1::Recommendation;
use tonic::transport::Channel;

pub use testing::{authed, violated_fields};

pub const PARTNERSHIP: &str = "southvale";

pub fn date(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

pub struct TestActions {
    /// The running service, its clock, platform settings and clean-up.
    pub service: TestService,
    pub client: ActionMonitoringClient<Channel>,
    pub store: Store,
}

impl std::ops::Deref for TestActions {
    type Target = TestService;

    fn deref(&self) -> &TestService {
        &self.service
    }
}

impl TestActions {
    pub async fn start() -> Self {
        let today = NaiveDate::from_ymd_opt(2026, 7, 1).expect("date");
        let setup = TestSetup::new(cspr_actions::SERVICE_NAME, today).await;
        let store = Store::new(StoreParts::new(&setup.context));
        let config = ActionsConfig {
            due_soon_days: 14,
            escalate_after_days: 30,
            sweep_interval: Duration::from_secs(3600),
        };
        let started = cspr_actions::start(setup.context.clone(), config);
        let service = setup.serve(cspr_actions::GRPC_NAME, started).await;
        Self {
            client: ActionMonitoringClient::new(service.channel.clone()),
            store,
            service,
        }
    }

    pub fn admin(&self) -> String {
        self.service
            .token(PARTNERSHIP, &["partnership_admin"], None, "alice")
    }

    pub fn agency(&self, org: &str) -> String {
        self.service.token(PARTNERSHIP, &["agency"], Some(org), org)
    }

    /// Publishes an event of `review_id` and waits until the service consumed it.
    pub async fn publish(&self, review_id: &str, body: Body) {
        let event = testing::foreign_event(PARTNERSHIP, review_id, body);
        self.service.deliver(&event).await;
    }

    /// A review whose overview report (R1, R2) was approved, its headings projected.
    pub async fn approved_review(&self) -> String {
        let review_id = uuid::Uuid::now_v7().to_string();
        self.publish(
            &review_id,
            Body::ReviewCreated(ReviewCreated {
                reference: "SOUTHVALE-2026-001".into(),
                ..Default::default()
            }),
        )
        .await;
        self.publish(
            &review_id,
            Body::OverviewReportApproved(OverviewReportApproved {
                version: 1,
                recommendations: vec![
                    Recommendation {
                        r#ref: "R1".into(),
                        text: "Agree an information-sharing protocol.".into(),
                    },
                    Recommendation {
                        r#ref: "R2".into(),
                        text: "Audit the neglect toolkit.".into(),
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

    pub async fn publish_review(&self, review_id: &str) {
        self.publish(
            review_id,
            Body::ReviewPublished(ReviewPublished {
                published: true,
                ..Default::default()
            }),
        )
        .await;
    }

    pub async fn create(
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
                &self.admin(),
            ))
            .await
            .map(|response| response.into_inner())
    }

    pub async fn stop(self) {
        self.service.stop().await;
    }
}
