//! Helpers for tests that start real services against the real PostgreSQL and NATS
//! (feature `test-support`; never in production builds).
//!
//! Each test gets its own database (`t_<uuid>`) and its own subject prefix (so its own
//! streams and consumers), so tests run in parallel and never see each other's state.
//! `CSPR_TEST_DATABASE_URL` and `CSPR_TEST_NATS_URL` point them elsewhere than localhost.
//!
//! # Layout
//! - `harness`: [`TestSetup`] → [`TestService`], one service started for a test, and
//!   [`Leftovers`], which removes its database and streams even after a panic.
//! - `app`: [`TestApp`], a service under test with its client and store, and what every
//!   service's tests do with it: tokens of the test partnership by role, events of a review
//!   delivered as their producer publishes them, a review and its reviewer projected, the
//!   service's own events read back.
//! - `rpc`: [`Reply`] and [`Refusal`], an RPC's expected outcome (a reply; a refusal with
//!   its code or field violations) said in one call.
//! - [`matrix`]: the authorization matrix of a service, every RPC × every shape of caller
//!   checked against `access::rules`.
//! - `wait`: [`eventually`] and [`wait_until`], waiting for a condition with a deadline
//!   instead of sleeping.
//! - `identity_provider`: [`OidcProvider`], a real OpenID provider (oidc-provider on
//!   Node.js) issuing JWT access tokens, whose keys a test rotates.
//! - `pg_cluster`: [`PgCluster`], a PostgreSQL server of the test's own that it may stop,
//!   crash and start again ([`TestSetup::on_servers`] puts a service's database on it).
//! - here: the pieces they are built from (configs, tokens, events, an own NATS server).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::auth::{TokenRequest, issue_development_token};
use crate::clock::{Clock, ManualClock};
use crate::config::{
    AuthConfig, AuthKeys, ClaimMapping, ConnectionLimits, PlatformConfig, ServiceConfig,
};
use crate::server::ServiceContext;

mod app;
mod harness;
mod identity_provider;
pub mod matrix;
mod pg_cluster;
mod pki;
mod rpc;
mod tools;
mod wait;

pub use app::{
    OTHER_PARTNERSHIP, PARTNERSHIP, REVIEW_REFERENCE, REVIEWER, TestApp, date, pdate, persona,
    proto_date, swept_together,
};
pub use harness::{Leftovers, TestService, TestSetup, consumer_pending, settled, wait_settled};
pub use identity_provider::{OidcClient, OidcProvider, ProviderStats, SigningKey};
pub use pg_cluster::PgCluster;
pub use pki::TestPki;
pub use rpc::{Refusal, Reply, assert_says, authed, violated_fields};
pub use tools::{debian_packages, npm_ci};
pub use wait::{
    DEADLINE, eventually, eventually_blocking, eventually_blocking_every, poll_until, wait_until,
};

/// The HS256 secret test tokens are signed with.
pub const TEST_SECRET: &[u8] = b"test-secret-for-cspr-integration-tests";

/// Quiet logging for tests (warnings only; `TEST_LOG=debug` for more).
pub fn init() {
    crate::telemetry::init_for_tests();
}

/// The PostgreSQL server tests use.
pub fn server_url() -> String {
    std::env::var("CSPR_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

/// The NATS server tests use.
pub fn nats_url() -> String {
    std::env::var("CSPR_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_string())
}

/// A local port nothing listens on now, for a server or process a test starts (which binds
/// it itself).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free port")
}

/// A fresh name, unique per call (letters and digits only).
pub fn unique(prefix: &str) -> String {
    format!("{prefix}{}", &Uuid::new_v4().simple().to_string()[..16])
}

/// The smallest gRPC service to start the platform's builder with in its own tests: the
/// benchmark's Echo, answering `reply_bytes` of payload.
pub struct EchoApi;

#[tonic::async_trait]
impl cspr_proto::bench::v1::echo_server::Echo for EchoApi {
    async fn echo(
        &self,
        request: tonic::Request<cspr_proto::bench::v1::EchoRequest>,
    ) -> Result<tonic::Response<cspr_proto::bench::v1::EchoReply>, tonic::Status> {
        let reply_bytes = request.into_inner().reply_bytes as usize;
        Ok(tonic::Response::new(cspr_proto::bench::v1::EchoReply {
            payload: vec![0; reply_bytes],
        }))
    }
}

/// The platform's own echo service (behind the authenticator, like every service) started
/// with the test's platform settings `configure`d, SERVING: what the server's and TLS's
/// tests run against.
pub async fn echo_service(
    configure: impl FnOnce(&mut PlatformConfig),
) -> (TestSetup, crate::server::RunningService) {
    let mut setup = TestSetup::new(
        "registry",
        chrono::NaiveDate::from_ymd_opt(2026, 4, 20).expect("date"),
    )
    .await;
    configure(&mut setup.context.platform);
    let running = crate::server::ServiceBuilder::new(
        setup.context.clone(),
        cspr_proto::bench::v1::echo_server::EchoServer::new(EchoApi),
        || sqlx::migrate!("./migrations"),
    )
    .start()
    .await
    .expect("starts");
    assert!(running.wait_ready().await, "SERVING");
    (setup, running)
}

/// Stops a service of [`echo_service`], which must stop cleanly.
pub async fn stop_echo_service(setup: TestSetup, running: crate::server::RunningService) {
    setup.shutdown.cancel();
    running.stopped().await.expect("stops");
}

/// Asserts that a health Watch stream is still open and that a call on its connection
/// (`channel`) is answered: a connection with a call open is not closed as idle.
pub async fn assert_watch_kept(
    watch: &mut tonic::Streaming<tonic_health::pb::HealthCheckResponse>,
    channel: tonic::transport::Channel,
) {
    use futures::{FutureExt, StreamExt};
    assert!(
        watch.next().now_or_never().is_none(),
        "the Watch stream is still open"
    );
    tonic_health::pb::health_client::HealthClient::new(channel)
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .expect("answered on the Watch's connection");
}

/// Platform settings for one test: unique subject prefix, test token key.
pub fn platform_config(nats_url: &str) -> PlatformConfig {
    PlatformConfig {
        database_url: server_url(),
        nats_url: nats_url.to_string(),
        subject_prefix: unique("t"),
        nats_stream_replicas: 1,
        auth: AuthConfig {
            keys: AuthKeys::Hs256Secret(TEST_SECRET.to_vec()),
            issuer: "cspr-test".into(),
            audience: "cspr".into(),
            claims: ClaimMapping::default(),
        },
        max_message_bytes: 4 * 1024 * 1024,
        database_max_connections: 5,
        outbox_poll_interval: Duration::from_millis(200),
        gauge_interval: Duration::from_secs(1),
        // No drain: a test stops its service at once (a shutdown test sets its own).
        shutdown_drain: Duration::ZERO,
        shutdown_grace: Duration::from_secs(5),
        connections: ConnectionLimits::default(),
        tls: None,
    }
}

/// A service on a free local port with its own fresh database.
pub fn service_config(name: &'static str) -> ServiceConfig {
    service_config_on(name, &server_url())
}

/// As [`service_config`], the database on the PostgreSQL server at `server_url` (e.g. a
/// test's own [`PgCluster`]).
pub fn service_config_on(name: &'static str, server_url: &str) -> ServiceConfig {
    ServiceConfig {
        name,
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        database_url: crate::config::with_database_name(server_url, &unique("t_")),
    }
}

/// A context for one test service, with a manual clock on `today`.
pub async fn context(
    name: &'static str,
    platform: &PlatformConfig,
    clock: &ManualClock,
    shutdown: &CancellationToken,
) -> ServiceContext {
    context_on(name, platform, clock, shutdown, &server_url()).await
}

/// As [`context`], the service's database on the PostgreSQL server at `server_url`.
pub async fn context_on(
    name: &'static str,
    platform: &PlatformConfig,
    clock: &ManualClock,
    shutdown: &CancellationToken,
    server_url: &str,
) -> ServiceContext {
    let clock: Arc<dyn Clock> = Arc::new(clock.clone());
    ServiceContext::new(
        name,
        platform.clone(),
        service_config_on(name, server_url),
        clock,
        shutdown.clone(),
    )
    .await
    .expect("test service context")
}

/// A token for the test key.
pub fn token(
    platform: &PlatformConfig,
    partnership: &str,
    roles: &[&str],
    org: Option<&str>,
    subject: &str,
) -> String {
    issue_development_token(
        &platform.auth,
        &TokenRequest {
            subject: subject.to_string(),
            partnership: partnership.to_string(),
            roles: roles.iter().map(|role| role.to_string()).collect(),
            org: org.map(str::to_string),
            ttl: Duration::from_secs(3600),
        },
    )
    .expect("test token")
}

/// Drops a test database (after its pools are closed).
pub async fn drop_database(url: &str) {
    let Ok(options) = url.parse::<PgConnectOptions>() else {
        return;
    };
    let Some(database) = options.get_database().map(str::to_string) else {
        return;
    };
    if let Ok(mut connection) = options.database("postgres").connect().await {
        let statement = format!(
            "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
            database.replace('"', "\"\"")
        );
        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
            .execute(&mut connection)
            .await;
        let _ = connection.close().await;
    }
}

/// Deletes the streams a test created (every stream named with its prefix).
pub async fn delete_streams(nats_url: &str, prefix: &str) {
    let Ok(client) = async_nats::connect(nats_url).await else {
        return;
    };
    let jetstream = async_nats::jetstream::new(client);
    for service in crate::config::SERVICE_NAMES {
        let _ = jetstream
            .delete_stream(crate::bus::stream_name(prefix, service))
            .await;
    }
}

/// A `nats-server` process of the test's own (so the test can stop and restart it), with
/// JetStream storage in a temporary folder.
pub struct OwnNatsServer {
    /// The running process, if started.
    child: Option<tokio::process::Child>,
    /// Where it listens.
    pub port: u16,
    /// JetStream storage, kept across restarts.
    store_dir: std::path::PathBuf,
}

impl OwnNatsServer {
    /// Starts `nats-server -js` on a free port (`CSPR_TEST_NATS_SERVER` names the binary;
    /// default `nats-server` on PATH or /usr/sbin/nats-server).
    pub async fn start() -> Self {
        let port = free_port();
        let store_dir = std::env::temp_dir().join(unique("cspr-nats-"));
        let mut server = Self {
            child: None,
            port,
            store_dir,
        };
        server.restart().await;
        server
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn binary() -> String {
        if let Ok(binary) = std::env::var("CSPR_TEST_NATS_SERVER") {
            return binary;
        }
        if std::path::Path::new("/usr/sbin/nats-server").exists() {
            "/usr/sbin/nats-server".to_string()
        } else {
            "nats-server".to_string()
        }
    }

    /// (Re)starts the process on the same port and storage; waits until it accepts.
    pub async fn restart(&mut self) {
        let child = tokio::process::Command::new(Self::binary())
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(&self.store_dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("nats-server starts (install Debian's nats-server)");
        self.child = Some(child);
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("nats-server did not start on port {}", self.port);
    }

    /// Kills the process (SIGKILL): clients see the connection drop.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
            let _ = child.wait().await;
        }
    }
}

impl Drop for OwnNatsServer {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
        let _ = std::fs::remove_dir_all(&self.store_dir);
    }
}

/// Every event in a stream, read by a plain ephemeral JetStream consumer from the start:
/// waits until at least `at_least` arrived (or `timeout`), then a little longer to catch
/// any duplicate. Returns (subject, event) pairs in stream order.
pub async fn read_stream(
    nats_url: &str,
    stream: &str,
    at_least: usize,
    timeout: Duration,
) -> Vec<(String, cspr_proto::events::v1::Event)> {
    use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
    use futures::StreamExt;
    use prost::Message;

    let client = async_nats::connect(nats_url)
        .await
        .expect("connect to NATS");
    let jetstream = async_nats::jetstream::new(client);
    let deadline = tokio::time::Instant::now() + timeout;
    let stream = loop {
        match jetstream.get_stream(stream).await {
            Ok(stream) => break stream,
            Err(error) if tokio::time::Instant::now() > deadline => {
                panic!("stream {stream} not found: {error}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    let consumer = stream
        .create_consumer(pull::Config {
            deliver_policy: DeliverPolicy::All,
            ack_policy: AckPolicy::None,
            ..Default::default()
        })
        .await
        .expect("ephemeral consumer");
    let mut events = Vec::new();
    let mut quiet_until: Option<tokio::time::Instant> = None;
    loop {
        let now = tokio::time::Instant::now();
        if now > deadline || quiet_until.is_some_and(|until| now > until) {
            break;
        }
        let mut batch = consumer
            .fetch()
            .max_messages(500)
            .expires(Duration::from_millis(200))
            .messages()
            .await
            .expect("fetch");
        while let Some(Ok(message)) = batch.next().await {
            let event = cspr_proto::events::v1::Event::decode(message.payload.as_ref())
                .expect("event decodes");
            events.push((message.subject.to_string(), event));
        }
        if events.len() >= at_least && quiet_until.is_none() {
            quiet_until = Some(tokio::time::Instant::now() + Duration::from_millis(500));
        }
    }
    events
}

/// Polls `grpc.health.v1` until `service` reports SERVING (30 s at most).
pub async fn wait_serving(channel: tonic::transport::Channel, service: &str) {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;

    let mut health = HealthClient::new(channel);
    for _ in 0..600 {
        let status = health
            .check(HealthCheckRequest {
                service: service.to_string(),
            })
            .await
            .map(|response| response.into_inner().status);
        if status.is_ok_and(|status| status == ServingStatus::Serving as i32) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{service} never became SERVING");
}

/// A channel to a service started on `addr`.
pub async fn channel(addr: SocketAddr) -> tonic::transport::Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("connects")
}

/// The paths of the files in `directory` (none if it does not exist or cannot be read).
pub fn files_in(directory: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(directory)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .collect()
        })
        .unwrap_or_default()
}

/// An event envelope as another service would build it.
pub fn foreign_event(
    partnership_id: &str,
    review_id: &str,
    body: cspr_proto::events::v1::event::Body,
) -> cspr_proto::events::v1::Event {
    cspr_proto::events::v1::Event {
        id: Uuid::now_v7().to_string(),
        r#type: body.type_name().to_string(),
        occurred_at: None,
        partnership_id: partnership_id.to_string(),
        review_id: review_id.to_string(),
        actor: None,
        body: Some(body),
    }
}

/// The `n`-th of a burst of report requests, as the submissions service publishes them
/// (agency `agency-<n>`, its own contact address): the fault tests' load of emails.
pub fn agency_report_requested(n: usize) -> cspr_proto::events::v1::event::Body {
    use cspr_proto::google::r#type::Date;
    let date = |year, month, day| Some(Date { year, month, day });
    cspr_proto::events::v1::event::Body::AgencyReportRequested(
        cspr_proto::events::v1::AgencyReportRequested {
            agency_id: format!("agency-{n}"),
            agency_name: format!("Southvale agency {n}"),
            contact_email: format!("lead@agency-{n}.southvale.example.org"),
            due_date: date(2026, 5, 1),
            review_reference: "SOUTHVALE-2026-001".into(),
            scope_start: date(2024, 9, 15),
            scope_end: date(2026, 3, 9),
        },
    )
}

/// Publishes an event as its producing service would (on its stream, `Nats-Msg-Id` = the
/// given message id, normally the event id).
pub async fn publish_event(
    platform: &PlatformConfig,
    event: &cspr_proto::events::v1::Event,
    message_id: &str,
) {
    let bus = crate::bus::Bus::connect(&platform.nats_url, &platform.subject_prefix, 1)
        .await
        .expect("nats");
    let body = event.body.as_ref().expect("event body");
    bus.ensure_stream(body.producer()).await.expect("stream");
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", message_id);
    bus.jetstream()
        .publish_with_headers(
            bus.subject(body.producer(), body.type_name()),
            headers,
            prost::Message::encode_to_vec(event).into(),
        )
        .await
        .expect("publish")
        .await
        .expect("ack");
}

/// The tests' SMTP server, in Rust and in-process (module `testing_smtp`).
pub use crate::testing_smtp::{REFUSED_DOMAIN, Refusals, SmtpSink, mail_header};
