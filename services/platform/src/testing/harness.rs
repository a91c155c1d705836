//! One service started for a test, the way every service's integration tests need it: its
//! own fresh database, its own subject prefix (so its own streams and durable consumers), a
//! manual clock, tokens of the test key, events published as their producer would, and a
//! wait for the service's durable consumer to have taken them in.
//!
//! What a test creates outside its process (the database, the streams) is removed by
//! [`Leftovers`] when it is dropped, so a test that panics half-way cleans up too.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use chrono::NaiveDate;
use cspr_proto::events::v1::Event;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

use crate::clock::ManualClock;
use crate::config::PlatformConfig;
use crate::server::{RunningService, ServiceContext, StartError};

use super::wait::{DEADLINE, eventually, wait_until};

/// How long clean-up after a test may take before it is abandoned (NATS or PostgreSQL may
/// be the very thing the test broke).
const CLEAN_UP_LIMIT: Duration = Duration::from_secs(15);

/// The databases and streams a test created, removed on [`Leftovers::clean`] or, if the
/// test never got there (it panicked), on drop.
#[derive(Debug)]
pub struct Leftovers {
    /// The NATS server the streams live on.
    nats_url: String,
    /// The test's subject prefix: every stream named with it is the test's.
    subject_prefix: String,
    /// The test's databases, dropped with `FORCE` (a panicking test leaves pools open).
    database_urls: Vec<String>,
}

impl Leftovers {
    /// Nothing yet, for the streams of `platform`'s subject prefix.
    pub fn new(platform: &PlatformConfig) -> Self {
        Self {
            nats_url: platform.nats_url.clone(),
            subject_prefix: platform.subject_prefix.clone(),
            database_urls: Vec::new(),
        }
    }

    /// Adds a database to drop.
    pub fn database(&mut self, url: &str) {
        self.database_urls.push(url.to_string());
    }

    /// Removes everything now (call after the services stopped and pools closed).
    pub async fn clean(mut self) {
        let (nats_url, prefix, databases) = self.take();
        remove(nats_url, prefix, databases).await;
    }

    fn take(&mut self) -> (String, String, Vec<String>) {
        (
            std::mem::take(&mut self.nats_url),
            std::mem::take(&mut self.subject_prefix),
            std::mem::take(&mut self.database_urls),
        )
    }
}

async fn remove(nats_url: String, prefix: String, databases: Vec<String>) {
    let removal = async {
        if !prefix.is_empty() {
            super::delete_streams(&nats_url, &prefix).await;
        }
        for url in &databases {
            super::drop_database(url).await;
        }
    };
    if tokio::time::timeout(CLEAN_UP_LIMIT, removal).await.is_err() {
        tracing::warn!(%prefix, "test clean-up abandoned");
    }
}

impl Drop for Leftovers {
    fn drop(&mut self) {
        let (nats_url, prefix, databases) = self.take();
        if prefix.is_empty() && databases.is_empty() {
            return;
        }
        // Drop may run inside the test's runtime (which cannot be blocked on) or during a
        // panic's unwinding; a thread with a runtime of its own works in both.
        let cleaner = std::thread::spawn(move || {
            if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                runtime.block_on(remove(nats_url, prefix, databases));
            }
        });
        let _ = cleaner.join();
    }
}

/// A service's context made for a test, before the service is started: the service's own
/// `start` is called with [`TestSetup::context`], then [`TestSetup::serve`] waits for it.
pub struct TestSetup {
    /// The service name, which also names its durable consumers and inbox rows.
    pub name: &'static str,
    /// The test's platform settings (own subject prefix, test token key).
    pub platform: PlatformConfig,
    /// The clock the service reads; the test moves it.
    pub clock: ManualClock,
    /// Cancelled to stop the service.
    pub shutdown: CancellationToken,
    /// What the service is started with (a clone stays here for stores on its database).
    pub context: ServiceContext,
    /// Removed when the test ends, however it ends.
    leftovers: Leftovers,
}

impl TestSetup {
    /// A context for `name` on the default NATS server, the clock on `today`.
    pub async fn new(name: &'static str, today: NaiveDate) -> Self {
        Self::with_nats(name, &super::nats_url(), today).await
    }

    /// As [`TestSetup::new`], on the NATS server at `nats_url` (a test's own server).
    pub async fn with_nats(name: &'static str, nats_url: &str, today: NaiveDate) -> Self {
        Self::with_platform(name, super::platform_config(nats_url), today).await
    }

    /// As [`TestSetup::new`], with settings of the test's own (from
    /// [`super::platform_config`], e.g. another token configuration).
    pub async fn with_platform(
        name: &'static str,
        platform: PlatformConfig,
        today: NaiveDate,
    ) -> Self {
        Self::on(name, platform, &super::server_url(), today).await
    }

    /// As [`TestSetup::new`], on the NATS server at `nats_url` with the service's database
    /// on the PostgreSQL server at `database_server_url` (e.g. a test's own
    /// [`PgCluster`](super::PgCluster), which it stops and starts).
    pub async fn on_servers(
        name: &'static str,
        nats_url: &str,
        database_server_url: &str,
        today: NaiveDate,
    ) -> Self {
        Self::on(
            name,
            super::platform_config(nats_url),
            database_server_url,
            today,
        )
        .await
    }

    async fn on(
        name: &'static str,
        platform: PlatformConfig,
        database_server_url: &str,
        today: NaiveDate,
    ) -> Self {
        super::init();
        let clock = ManualClock::on(today);
        let shutdown = CancellationToken::new();
        let mut leftovers = Leftovers::new(&platform);
        let context =
            super::context_on(name, &platform, &clock, &shutdown, database_server_url).await;
        leftovers.database(&context.service.database_url);
        Self {
            name,
            platform,
            clock,
            shutdown,
            context,
            leftovers,
        }
    }

    /// Waits for the service `started` (its own `start(context, config)`) until
    /// `grpc_name` reports SERVING.
    pub async fn serve(
        self,
        grpc_name: &str,
        started: impl Future<Output = Result<RunningService, StartError>>,
    ) -> TestService {
        let running = match started.await {
            Ok(running) => running,
            Err(error) => panic!("{} does not start: {error}", self.name),
        };
        let addr = running.addr;
        let channel = super::channel(addr).await;
        super::wait_serving(channel.clone(), grpc_name).await;
        TestService {
            name: self.name,
            platform: self.platform,
            clock: self.clock,
            shutdown: self.shutdown,
            context: self.context,
            running: Some(running),
            addr,
            channel,
            leftovers: Some(self.leftovers),
        }
    }
}

/// A service serving for a test; see the module docs.
pub struct TestService {
    /// The service name (its durable consumers' and inbox rows' name).
    pub name: &'static str,
    /// The test's platform settings.
    pub platform: PlatformConfig,
    /// The clock the service reads.
    pub clock: ManualClock,
    /// Cancelled to stop the service.
    pub shutdown: CancellationToken,
    /// A clone of the context the service runs with (its pool, its bus).
    pub context: ServiceContext,
    /// The running service, until [`TestService::stop`].
    pub running: Option<RunningService>,
    /// Where it listens.
    pub addr: SocketAddr,
    /// A channel to it.
    pub channel: Channel,
    /// Removed when the test ends; `None` once cleaned.
    leftovers: Option<Leftovers>,
}

impl TestService {
    /// A token of the test key.
    pub fn token(
        &self,
        partnership: &str,
        roles: &[&str],
        org: Option<&str>,
        subject: &str,
    ) -> String {
        super::token(&self.platform, partnership, roles, org, subject)
    }

    /// The pool on the service's database.
    pub fn pool(&self) -> &sqlx::PgPool {
        &self.context.pool
    }

    /// The stream of the service's own events.
    pub fn stream(&self) -> String {
        crate::bus::stream_name(&self.platform.subject_prefix, self.name)
    }

    /// Publishes `event` as its producer would (message id = event id).
    pub async fn publish(&self, event: &Event) {
        super::publish_event(&self.platform, event, &event.id).await;
    }

    /// Publishes `event` and waits until this service consumed it ([`TestService::wait_consumed`]).
    pub async fn deliver(&self, event: &Event) {
        self.publish(event).await;
        self.wait_consumed(event).await;
    }

    /// Waits until this service's durable consumer of `event`'s producer has nothing
    /// pending or unacknowledged and has written `event`'s inbox row: its handler's
    /// transaction committed.
    pub async fn wait_consumed(&self, event: &Event) {
        let source = event
            .body
            .as_ref()
            .map(|body| body.producer())
            .unwrap_or("");
        let event_id: uuid::Uuid = match event.id.parse() {
            Ok(id) => id,
            Err(error) => panic!("event id {} is not a UUID: {error}", event.id),
        };
        wait_until(
            &format!("{} to consume event {}", self.name, event.id),
            DEADLINE,
            || async move {
                let recorded: bool = sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM inbox WHERE consumer = $1 AND event_id = $2)",
                )
                .bind(self.name)
                .bind(event_id)
                .fetch_one(self.pool())
                .await
                .unwrap_or(false);
                recorded && self.pending(source).await == Some(0)
            },
        )
        .await;
    }

    /// Waits until this service's durable consumer of `source`'s stream has nothing
    /// pending or unacknowledged.
    pub async fn wait_drained(&self, source: &str) {
        wait_until(
            &format!("{}'s consumer of {source} to drain", self.name),
            DEADLINE,
            || async move { self.pending(source).await == Some(0) },
        )
        .await;
    }

    /// Messages of `source`'s stream this service's durable consumer has not yet taken
    /// in or acknowledged (`None` while the consumer does not exist).
    pub async fn pending(&self, source: &str) -> Option<u64> {
        consumer_pending(&self.context.bus, self.name, source).await
    }

    /// Waits for `probe` to yield (see [`eventually`]), with the standard deadline.
    pub async fn eventually<T, F, Fut>(&self, what: &str, probe: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<T>>,
    {
        eventually(what, DEADLINE, probe).await
    }

    /// Stops the service, then removes its database and streams.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(running) = self.running.take() {
            running.stopped().await.expect("clean stop");
        }
        self.context.pool.close().await;
        if let Some(leftovers) = self.leftovers.take() {
            leftovers.clean().await;
        }
    }
}

impl Drop for TestService {
    fn drop(&mut self) {
        // A test that panicked before `stop`: the service stops in the background while
        // `leftovers` removes what it used.
        self.shutdown.cancel();
    }
}

/// What `consumer`'s durable consumer of `source`'s stream has not yet taken in or
/// acknowledged (`num_pending + num_ack_pending`); `None` while it does not exist.
pub async fn consumer_pending(bus: &crate::bus::Bus, consumer: &str, source: &str) -> Option<u64> {
    let stream = bus
        .jetstream()
        .get_stream(bus.stream_name(source))
        .await
        .ok()?;
    let info = stream
        .consumer_info(bus.durable_name(consumer))
        .await
        .ok()?;
    Some(info.num_pending + info.num_ack_pending as u64)
}

/// Whether the services of `contexts` (sharing one subject prefix) have nothing left to
/// do with events: every durable consumer has taken in and acknowledged every message,
/// every outbox is published, and no stream grew while that was checked. An event in
/// flight shows up in one of the three, so a test that waits for this has seen every
/// consequence of what it did (background jobs aside).
pub async fn settled(contexts: &[ServiceContext]) -> bool {
    let Some(first) = contexts.first() else {
        return true;
    };
    let before = last_sequences(&first.bus).await;
    for context in contexts {
        for source in crate::config::SERVICE_NAMES {
            if consumer_pending(&context.bus, context.name, source)
                .await
                .is_some_and(|pending| pending > 0)
            {
                return false;
            }
        }
    }
    for context in contexts {
        if !crate::bus::outbox::backlog(&context.pool)
            .await
            .is_ok_and(|backlog| backlog == 0)
        {
            return false;
        }
    }
    before.is_some() && before == last_sequences(&first.bus).await
}

/// Waits until [`settled`] holds (see [`DEADLINE`]).
pub async fn wait_settled(contexts: &[ServiceContext]) {
    wait_until("the services to settle", DEADLINE, || settled(contexts)).await;
}

/// The last sequence of every service's stream (0 for one not created yet); `None` if NATS
/// does not answer.
async fn last_sequences(bus: &crate::bus::Bus) -> Option<Vec<u64>> {
    let mut sequences = Vec::new();
    for service in crate::config::SERVICE_NAMES {
        let sequence = match bus.jetstream().get_stream(bus.stream_name(service)).await {
            Ok(stream) => stream.cached_info().state.last_sequence,
            Err(error) => {
                use async_nats::jetstream::ErrorCode;
                use async_nats::jetstream::context::GetStreamErrorKind;
                match error.kind() {
                    GetStreamErrorKind::JetStream(error)
                        if error.error_code() == ErrorCode::STREAM_NOT_FOUND =>
                    {
                        0
                    }
                    _ => return None,
                }
            }
        };
        sequences.push(sequence);
    }
    Some(sequences)
}
