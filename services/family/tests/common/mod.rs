//! The family service started for real (own database, own subject prefix, manual clock,
//! a fixed data key), fed with the registry's events as the registry would publish them.

#![allow(dead_code, unreachable_pub, unused_imports)]

use cspr_family::store::ReviewInfo;
use cspr_platform::projection::reviews;
use std::time::Duration;

use chrono::NaiveDate;
use cspr_family::FamilyConfig;
use cspr_family::crypto::FieldCipher;
use cspr_family::store::Store;
use cspr_platform::clock::ManualClock;
use cspr_platform::config::PlatformConfig;
use cspr_platform::server::RunningService;
use cspr_platform::testing;
use cspr_proto::events::v1::{ReviewCreated, ReviewerAppointed, event::Body};
use cspr_proto::family::v1 as pb;
use cspr_proto::family::v1::family_engagement_client::FamilyEngagementClient;
use cspr_proto::google::r#type::Date;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

pub use testing::{authed, violated_fields};

pub const PARTNERSHIP: &str = "southvale";
pub const REVIEWER: &str = "isla-reviewer";
pub const KEY: &str = "k1:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

pub fn date(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

pub struct TestFamily {
    pub platform: PlatformConfig,
    pub clock: ManualClock,
    pub shutdown: CancellationToken,
    pub running: Option<RunningService>,
    pub database_url: String,
    pub client: FamilyEngagementClient<Channel>,
    pub store: Store,
}

impl TestFamily {
    pub async fn start() -> Self {
        let clock = ManualClock::on(NaiveDate::from_ymd_opt(2026, 4, 20).expect("date"));
        let shutdown = CancellationToken::new();
        let platform = testing::platform_config(&testing::nats_url());
        let context =
            testing::context(cspr_family::SERVICE_NAME, &platform, &clock, &shutdown).await;
        let store = cspr_family::store(&context);
        let database_url = context.service.database_url.clone();
        let config = FamilyConfig {
            cipher: FieldCipher::new(KEY, &[]).expect("key"),
            sweep_interval: Duration::from_secs(3600),
        };
        let running = cspr_family::start(context, config)
            .await
            .expect("family starts");
        let channel = testing::channel(running.addr).await;
        testing::wait_serving(channel.clone(), cspr_family::GRPC_NAME).await;
        Self {
            platform,
            clock,
            shutdown,
            running: Some(running),
            database_url,
            client: FamilyEngagementClient::new(channel),
            store,
        }
    }

    pub fn token(&self, roles: &[&str], subject: &str) -> String {
        testing::token(&self.platform, PARTNERSHIP, roles, None, subject)
    }

    pub fn liaison(&self) -> String {
        self.token(&["family_liaison"], "fay-liaison")
    }

    pub fn stream(&self) -> String {
        cspr_platform::bus::stream_name(&self.platform.subject_prefix, "family")
    }

    /// A review with its reviewer appointed, projected.
    pub async fn review(&self) -> String {
        let review_id = uuid::Uuid::now_v7().to_string();
        for body in [
            Body::ReviewCreated(ReviewCreated {
                reference: "SOUTHVALE-2026-001".into(),
                ..Default::default()
            }),
            Body::ReviewerAppointed(ReviewerAppointed {
                name: "Isla Oakes".into(),
                email: "isla@reviewers.example.org".into(),
                subject: REVIEWER.into(),
                review_reference: "SOUTHVALE-2026-001".into(),
            }),
        ] {
            let event = testing::foreign_event(PARTNERSHIP, &review_id, body);
            testing::publish_event(&self.platform, &event, &event.id.clone()).await;
        }
        let id: uuid::Uuid = review_id.parse().expect("uuid");
        for _ in 0..400 {
            if let Ok(Some(review)) =
                reviews::get::<ReviewInfo>(self.store.pool(), PARTNERSHIP, id).await
                && review.reviewer_subject.is_some()
            {
                return review_id;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("review never projected");
    }

    /// Adds a grandparent named `name`, reached through a known health visitor.
    pub async fn add_member(
        &self,
        review_id: &str,
        name: &str,
        request_contact: bool,
    ) -> pb::FamilyMember {
        let mut client = self.client.clone();
        client
            .add_family_member(authed(
                pb::AddFamilyMemberRequest {
                    request_id: format!("add-{name}"),
                    review_id: review_id.into(),
                    relationship: pb::Relationship::Grandparent as i32,
                    name: name.into(),
                    contact_decision_note: format!(
                        "{name} would like to be heard; contact after the inquest."
                    ),
                    route: Some(pb::add_family_member_request::Route::KnownProfessional(
                        pb::KnownProfessional {
                            name: "Dana Reed".into(),
                            agency: "Southvale Community Health Trust".into(),
                            email: "dana.reed@hv.southvale.example.org".into(),
                        },
                    )),
                    request_contact,
                    contact_purpose: if request_contact {
                        "To hear their view of the support the family received.".into()
                    } else {
                        String::new()
                    },
                },
                &self.liaison(),
            ))
            .await
            .expect("added")
            .into_inner()
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
