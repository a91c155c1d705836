//! The family service started for real through the platform's test harness (with a fixed
//! data key), fed with the registry's events as the registry would publish them.

#![allow(dead_code, unreachable_pub, unused_imports)]

use std::time::Duration;

use cspr_family::FamilyConfig;
use cspr_family::crypto::FieldCipher;
use cspr_family::store::Store;
use cspr_platform::testing::{self, TestApp, TestSetup};
use cspr_proto::family::v1 as pb;
use cspr_proto::family::v1::family_engagement_client::FamilyEngagementClient;
use tonic::transport::Channel;

pub use testing::{
    PARTNERSHIP, REVIEWER, Refusal, Reply, assert_says, authed, proto_date as date, violated_fields,
};

pub const KEY: &str = "k1:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

/// The family service under test, on 2026-04-20.
pub type TestFamily = TestApp<FamilyEngagementClient<Channel>, Store>;

/// What the family tests do with the service.
pub trait FamilyTest {
    async fn start() -> Self;
    /// Adds a grandparent named `name`, reached through a known health visitor.
    async fn add_member(
        &self,
        review_id: &str,
        name: &str,
        request_contact: bool,
    ) -> pb::FamilyMember;
}

impl FamilyTest for TestFamily {
    async fn start() -> Self {
        let setup = TestSetup::new(cspr_family::SERVICE_NAME, testing::date("2026-04-20")).await;
        let config = FamilyConfig {
            cipher: FieldCipher::new(KEY, &[]).expect("key"),
            sweep_interval: Duration::from_secs(3600),
        };
        setup
            .serve_app(
                cspr_family::GRPC_NAME,
                |context| cspr_family::start(context, config),
                FamilyEngagementClient::new,
                Store::new,
            )
            .await
    }

    async fn add_member(
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
                &self.role_token("family_liaison"),
            ))
            .await
            .reply("added")
    }
}
