//! The family service started for real through the platform's test harness (with a fixed
//! data key), fed with the registry's events as the registry would publish them.

#![allow(dead_code, unreachable_pub, unused_imports)]

use cspr_family::store::ReviewInfo;
use cspr_platform::projection::reviews;
use std::time::Duration;

use chrono::NaiveDate;
use cspr_family::FamilyConfig;
use cspr_family::crypto::FieldCipher;
use cspr_family::store::Store;
use cspr_platform::store::StoreParts;
use cspr_platform::testing::{self, TestService, TestSetup};
use cspr_proto::events::v1::{ReviewCreated, ReviewerAppointed, event::Body};
use cspr_proto::family::v1 as pb;
use cspr_proto::family::v1::family_engagement_client::FamilyEngagementClient;
use cspr_proto::google::r#type::Date;
use tonic::transport::Channel;

pub use testing::{authed, violated_fields};

pub const PARTNERSHIP: &str = "southvale";
pub const REVIEWER: &str = "isla-reviewer";
pub const KEY: &str = "k1:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

pub fn date(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

pub struct TestFamily {
    /// The running service, its clock, platform settings and clean-up.
    pub service: TestService,
    pub client: FamilyEngagementClient<Channel>,
    pub store: Store,
}

impl std::ops::Deref for TestFamily {
    type Target = TestService;

    fn deref(&self) -> &TestService {
        &self.service
    }
}

impl TestFamily {
    pub async fn start() -> Self {
        let today = NaiveDate::from_ymd_opt(2026, 4, 20).expect("date");
        let setup = TestSetup::new(cspr_family::SERVICE_NAME, today).await;
        let store = Store::new(StoreParts::new(&setup.context));
        let config = FamilyConfig {
            cipher: FieldCipher::new(KEY, &[]).expect("key"),
            sweep_interval: Duration::from_secs(3600),
        };
        let started = cspr_family::start(setup.context.clone(), config);
        let service = setup.serve(cspr_family::GRPC_NAME, started).await;
        Self {
            client: FamilyEngagementClient::new(service.channel.clone()),
            store,
            service,
        }
    }

    pub fn token(&self, roles: &[&str], subject: &str) -> String {
        self.service.token(PARTNERSHIP, roles, None, subject)
    }

    pub fn liaison(&self) -> String {
        self.token(&["family_liaison"], "fay-liaison")
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
            self.service.deliver(&event).await;
        }
        let id: uuid::Uuid = review_id.parse().expect("uuid");
        let review = reviews::get::<ReviewInfo>(self.store.pool(), PARTNERSHIP, id)
            .await
            .expect("review read")
            .expect("review projected");
        assert!(review.reviewer_subject.is_some(), "reviewer projected");
        review_id
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

    pub async fn stop(self) {
        self.service.stop().await;
    }
}
