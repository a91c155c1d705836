//! The registry started for real through the platform's test harness, with a client and
//! a second store on its database (to drive jobs as a second replica would).

#![allow(dead_code, unreachable_pub, unused_imports)]

use std::time::Duration;

use chrono::NaiveDate;
use cspr_platform::store::StoreParts;
use cspr_platform::testing::{self, TestService, TestSetup};
use cspr_proto::google::r#type::Date;
use cspr_proto::registry::v1::review_registry_client::ReviewRegistryClient;
use cspr_registry::config::RegistryConfig;
use cspr_registry::domain::deadlines::DeadlineRules;
use cspr_registry::store::Store;
use tonic::transport::Channel;

pub use testing::{authed, violated_fields};

pub const PARTNERSHIP: &str = "southvale";

pub fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("test date")
}

pub fn pdate(text: &str) -> Option<Date> {
    Some(cspr_platform::convert::date_to_proto(date(text)))
}

pub struct TestRegistry {
    /// The running service, its clock, platform settings and clean-up.
    pub service: TestService,
    pub client: ReviewRegistryClient<Channel>,
    /// A store on the same database, to drive jobs directly (as a second replica would).
    pub store: Store,
}

impl std::ops::Deref for TestRegistry {
    type Target = TestService;

    fn deref(&self) -> &TestService {
        &self.service
    }
}

impl TestRegistry {
    pub async fn start(today: &str) -> Self {
        Self::start_with_nats(&testing::nats_url(), today).await
    }

    pub async fn start_with_nats(nats_url: &str, today: &str) -> Self {
        let setup = TestSetup::with_nats(cspr_registry::SERVICE_NAME, nats_url, date(today)).await;
        let config = RegistryConfig {
            rules: DeadlineRules::default(),
            sweep_interval: Duration::from_secs(3600),
        };
        let store = Store::new(StoreParts::new(&setup.context), config.rules.clone());
        let started = cspr_registry::start(setup.context.clone(), config);
        let service = setup.serve(cspr_registry::GRPC_NAME, started).await;
        Self {
            client: ReviewRegistryClient::new(service.channel.clone()),
            store,
            service,
        }
    }

    pub fn token(&self, roles: &[&str], subject: &str) -> String {
        self.service.token(PARTNERSHIP, roles, None, subject)
    }

    pub fn token_for(
        &self,
        partnership: &str,
        roles: &[&str],
        org: Option<&str>,
        subject: &str,
    ) -> String {
        self.service.token(partnership, roles, org, subject)
    }

    pub fn admin(&self) -> String {
        self.token(&["partnership_admin"], "alice-admin")
    }

    /// Publishes an event as another service would (to its stream, with its msg id) and
    /// waits until the registry consumed it.
    pub async fn publish_as(&self, event: cspr_proto::events::v1::Event) {
        self.service.deliver(&event).await;
    }

    pub async fn stop(self) {
        self.service.stop().await;
    }
}

/// An event envelope as another service would build it, for this test's partnership.
pub fn foreign_event(
    review_id: &str,
    body: cspr_proto::events::v1::event::Body,
) -> cspr_proto::events::v1::Event {
    testing::foreign_event(PARTNERSHIP, review_id, body)
}
