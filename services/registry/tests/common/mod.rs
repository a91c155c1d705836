//! The registry started for real (own database, own subject prefix, manual clock) and a
//! client with tokens, for the integration tests.

#![allow(dead_code, unreachable_pub, unused_imports)]

use std::time::Duration;

use chrono::NaiveDate;
use cspr_platform::clock::ManualClock;
use cspr_platform::config::PlatformConfig;
use cspr_platform::server::RunningService;
use cspr_platform::testing;
use cspr_proto::google::r#type::Date;
use cspr_proto::registry::v1::review_registry_client::ReviewRegistryClient;
use cspr_registry::config::RegistryConfig;
use cspr_registry::domain::deadlines::DeadlineRules;
use cspr_registry::store::Store;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

pub const PARTNERSHIP: &str = "southvale";

pub fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("test date")
}

pub fn pdate(text: &str) -> Option<Date> {
    Some(cspr_platform::convert::date_to_proto(date(text)))
}

pub struct TestRegistry {
    pub platform: PlatformConfig,
    pub clock: ManualClock,
    pub shutdown: CancellationToken,
    pub running: Option<RunningService>,
    pub database_url: String,
    pub nats_url: String,
    pub client: ReviewRegistryClient<Channel>,
    /// A store on the same database, to drive jobs directly (as a second replica would).
    pub store: Store,
    pub addr: std::net::SocketAddr,
}

impl TestRegistry {
    pub async fn start(today: &str) -> Self {
        Self::start_with_nats(&testing::nats_url(), today).await
    }

    pub async fn start_with_nats(nats_url: &str, today: &str) -> Self {
        cspr_platform::telemetry::init_for_tests();
        let clock = ManualClock::on(date(today));
        let shutdown = CancellationToken::new();
        let platform = testing::platform_config(nats_url);
        let context =
            testing::context(cspr_registry::SERVICE_NAME, &platform, &clock, &shutdown).await;
        let config = RegistryConfig {
            rules: DeadlineRules::default(),
            sweep_interval: Duration::from_secs(3600),
        };
        let store = cspr_registry::store(&context, &config);
        let database_url = context.service.database_url.clone();
        let running = cspr_registry::start(context, config)
            .await
            .expect("registry starts");
        let addr = running.addr;
        let channel = testing::channel(addr).await;
        testing::wait_serving(channel.clone(), cspr_registry::GRPC_NAME).await;
        Self {
            platform,
            clock,
            shutdown,
            running: Some(running),
            database_url,
            nats_url: nats_url.to_string(),
            client: ReviewRegistryClient::new(channel),
            store,
            addr,
        }
    }

    pub fn token(&self, roles: &[&str], subject: &str) -> String {
        testing::token(&self.platform, PARTNERSHIP, roles, None, subject)
    }

    pub fn token_for(
        &self,
        partnership: &str,
        roles: &[&str],
        org: Option<&str>,
        subject: &str,
    ) -> String {
        testing::token(&self.platform, partnership, roles, org, subject)
    }

    pub fn admin(&self) -> String {
        self.token(&["partnership_admin"], "alice-admin")
    }

    /// The stream of this test's registry events.
    pub fn stream(&self) -> String {
        cspr_platform::bus::stream_name(&self.platform.subject_prefix, "registry")
    }

    /// Publishes an event as another service would (to its stream, with its msg id).
    pub async fn publish_as(&self, event: cspr_proto::events::v1::Event) {
        let message_id = event.id.clone();
        testing::publish_event(&self.platform, &event, &message_id).await;
    }

    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(running) = self.running.take() {
            running.stopped().await.expect("clean stop");
        }
        self.store.pool().close().await;
        testing::delete_streams(&self.nats_url, &self.platform.subject_prefix).await;
        testing::drop_database(&self.database_url).await;
    }
}

pub use testing::{authed, violated_fields};

/// An event envelope as another service would build it, for this test's partnership.
pub fn foreign_event(
    review_id: &str,
    body: cspr_proto::events::v1::event::Body,
) -> cspr_proto::events::v1::Event {
    testing::foreign_event(PARTNERSHIP, review_id, body)
}
