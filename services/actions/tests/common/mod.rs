//! The actions service started for real (own database, own subject prefix, manual clock),
//! fed with the registry's events as the registry would publish them.

#![allow(dead_code, unreachable_pub, unused_imports)]

use std::time::Duration;

use chrono::NaiveDate;
use cspr_actions::ActionsConfig;
use cspr_actions::store::Store;
use cspr_platform::clock::ManualClock;
use cspr_platform::config::PlatformConfig;
use cspr_platform::server::RunningService;
use cspr_platform::testing;
use cspr_proto::actions::v1 as pb;
use cspr_proto::actions::v1::action_monitoring_client::ActionMonitoringClient;
use cspr_proto::events::v1::{OverviewReportApproved, ReviewCreated, ReviewPublished, event::Body};
use cspr_proto::google::r#type::Date;
use cspr_proto::registry::v1::Recommendation;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

pub use testing::{authed, violated_fields};

pub const PARTNERSHIP: &str = "southvale";

pub fn date(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

pub struct TestActions {
    pub platform: PlatformConfig,
    pub clock: ManualClock,
    pub shutdown: CancellationToken,
    pub running: Option<RunningService>,
    pub database_url: String,
    pub client: ActionMonitoringClient<Channel>,
    pub store: Store,
}

impl TestActions {
    pub async fn start() -> Self {
        testing::init();
        let clock = ManualClock::on(NaiveDate::from_ymd_opt(2026, 7, 1).expect("date"));
        let shutdown = CancellationToken::new();
        let platform = testing::platform_config(&testing::nats_url());
        let context =
            testing::context(cspr_actions::SERVICE_NAME, &platform, &clock, &shutdown).await;
        let store = cspr_actions::store(&context);
        let database_url = context.service.database_url.clone();
        let config = ActionsConfig {
            due_soon_days: 14,
            escalate_after_days: 30,
            sweep_interval: Duration::from_secs(3600),
        };
        let running = cspr_actions::start(context, config)
            .await
            .expect("actions starts");
        let channel = testing::channel(running.addr).await;
        testing::wait_serving(channel.clone(), cspr_actions::GRPC_NAME).await;
        Self {
            platform,
            clock,
            shutdown,
            running: Some(running),
            database_url,
            client: ActionMonitoringClient::new(channel),
            store,
        }
    }

    pub fn admin(&self) -> String {
        testing::token(
            &self.platform,
            PARTNERSHIP,
            &["partnership_admin"],
            None,
            "alice",
        )
    }

    pub fn agency(&self, org: &str) -> String {
        testing::token(&self.platform, PARTNERSHIP, &["agency"], Some(org), org)
    }

    pub fn stream(&self) -> String {
        cspr_platform::bus::stream_name(&self.platform.subject_prefix, "actions")
    }

    pub async fn publish(&self, review_id: &str, body: Body) {
        let event = testing::foreign_event(PARTNERSHIP, review_id, body);
        testing::publish_event(&self.platform, &event, &event.id.clone()).await;
    }

    /// A review whose overview report (R1, R2) was approved; waits for the headings.
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
        for _ in 0..400 {
            if self
                .store
                .has_recommendation(id, "R2")
                .await
                .unwrap_or(false)
            {
                return review_id;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("recommendations never projected");
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

    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(running) = self.running.take() {
            running.stopped().await.expect("clean stop");
        }
        self.store.pool().close().await;
        testing::delete_streams(&self.platform.nats_url, &self.platform.subject_prefix).await;
        testing::drop_database(&self.database_url).await;
    }
}
