//! The registry started for real (own database, own subject prefix, manual clock) and a
//! client with tokens, for the integration tests.

#![allow(dead_code, unreachable_pub)]

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
use tonic::Request;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

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
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .expect("endpoint")
            .connect()
            .await
            .expect("connects");
        wait_serving(channel.clone()).await;
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
    pub async fn publish_as(&self, producer: &str, event: cspr_proto::events::v1::Event) {
        let client = async_nats::connect(&self.nats_url).await.expect("nats");
        let jetstream = async_nats::jetstream::new(client);
        let bus_stream = cspr_platform::bus::stream_name(&self.platform.subject_prefix, producer);
        jetstream
            .get_or_create_stream(async_nats::jetstream::stream::Config {
                name: bus_stream,
                subjects: vec![format!("{}.{producer}.>", self.platform.subject_prefix)],
                storage: async_nats::jetstream::stream::StorageType::File,
                max_age: cspr_platform::bus::STREAM_MAX_AGE,
                duplicate_window: cspr_platform::bus::DUPLICATE_WINDOW,
                ..Default::default()
            })
            .await
            .expect("stream");
        let subject = format!(
            "{}.{producer}.{}",
            self.platform.subject_prefix,
            event
                .body
                .as_ref()
                .map(|body| body.type_name())
                .unwrap_or("unknown")
        );
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", event.id.as_str());
        jetstream
            .publish_with_headers(
                subject,
                headers,
                prost::Message::encode_to_vec(&event).into(),
            )
            .await
            .expect("publish")
            .await
            .expect("ack");
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

/// Adds the bearer token.
pub fn authed<T>(message: T, token: &str) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("header value"),
    );
    request
}

/// Polls grpc.health.v1 until the registry reports SERVING.
pub async fn wait_serving(channel: Channel) {
    let mut health = HealthClient::new(channel);
    for _ in 0..300 {
        let status = health
            .check(HealthCheckRequest {
                service: cspr_registry::GRPC_NAME.to_string(),
            })
            .await
            .map(|response| response.into_inner().status);
        if status.is_ok_and(|status| status == ServingStatus::Serving as i32) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("registry never became SERVING");
}

/// The field paths of an INVALID_ARGUMENT's violations.
pub fn violated_fields(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt;
    status
        .get_error_details()
        .bad_request()
        .map(|bad_request| {
            bad_request
                .field_violations
                .iter()
                .map(|violation| violation.field.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// An event envelope as another service would build it.
pub fn foreign_event(
    review_id: &str,
    body: cspr_proto::events::v1::event::Body,
) -> cspr_proto::events::v1::Event {
    cspr_proto::events::v1::Event {
        id: uuid::Uuid::now_v7().to_string(),
        r#type: body.type_name().to_string(),
        occurred_at: None,
        partnership_id: PARTNERSHIP.to_string(),
        review_id: review_id.to_string(),
        actor: None,
        body: Some(body),
    }
}
