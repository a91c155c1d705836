//! Starting and stopping a service the same way every time.
//!
//! [`ServiceContext::new`] gives a service what it builds its handlers with (a lazily
//! connecting pool, the bus, the outbox, the authenticator, the clock, the shutdown token).
//! [`ServiceBuilder`] then names what the service runs (its gRPC server, the streams it
//! consumes, its jobs and gauges, its migrations) and starts it the same way for all six:
//! the same authenticator, message size limit, health, reflection and readiness, every
//! task supervised (see [`crate::supervision`]).
//!
//! Shutdown (SIGTERM, ctrl-c, or the token in tests) takes at most `CSPR_SHUTDOWN_GRACE`
//! from the signal. Health turns `NOT_SERVING` at once, but the server goes on serving for
//! `CSPR_SHUTDOWN_DRAIN`, so that load balancers and probes see it and stop sending before
//! the listener closes; background loops stop at the signal, finishing the item in hand.
//! After the drain the server stops accepting and lets in-flight calls finish; at the end of
//! the grace period it cuts off what is still open (a client's Watch stream, which never
//! ends by itself), logging each call by name, and [`RunningService::stopped`] returns. A
//! task that fails while the service runs turns health `NOT_SERVING` too, and
//! [`RunningService::ended`] reports it.
//!
//! Connections are bounded as well ([`crate::connections`]): the HTTP/2 preface must come
//! within a handshake timeout, a connection without calls is closed after an idle timeout, a
//! dead peer after an unanswered keepalive PING, and one connection may open only so many
//! streams at once.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic::server::NamedService;
use tonic::service::Routes;
use tonic::service::interceptor::InterceptedService;
use tonic_health::ServingStatus;

use crate::audit::AuditLog;
use crate::auth::{Authenticator, KeyError};
use crate::bus::consumer::{ConsumerRunner, ConsumerSpec, EventHandler};
use crate::bus::outbox::{Outbox, OutboxRelay};
use crate::bus::{Bus, BusError};
use crate::call_hook::CallHookLayer;
use crate::clock::Clock;
use crate::config::{PlatformConfig, ServiceConfig};
use crate::connections::Connections;
use crate::metrics::{GaugeSet, Readings};
use crate::size_limit::SizeLimitStatus;
pub use crate::supervision::{Ending, TaskFailure};
use crate::supervision::{Lifetime, Supervisor};

/// A service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot bind {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Database(#[from] crate::db::DatabaseError),
    #[error(transparent)]
    Bus(#[from] BusError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("invalid database URL: {0}")]
    DatabaseUrl(#[source] sqlx::Error),
    #[error("reflection: {0}")]
    Reflection(String),
    #[error("server task ended abnormally: {0}")]
    Task(String),
    #[error(transparent)]
    Failed(#[from] TaskFailure),
    #[error("cannot set up the service: {0}")]
    Setup(String),
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
}

/// What every service builds its handlers and background work from.
#[derive(Clone, Debug)]
pub struct ServiceContext {
    /// The service name, e.g. "registry".
    pub name: &'static str,
    /// Shared settings.
    pub platform: PlatformConfig,
    /// This service's address and database.
    pub service: ServiceConfig,
    /// The service's database; connects lazily, so it exists before migrations ran.
    pub pool: PgPool,
    /// The bus; connects in the background.
    pub bus: Bus,
    /// Writes events in the caller's transaction.
    pub outbox: Outbox,
    /// Verifies bearer tokens.
    pub authenticator: Authenticator,
    /// The time source (a manual clock in tests).
    pub clock: Arc<dyn Clock>,
    /// The service's one writer of read and refusal audits, group-committed.
    pub audit: AuditLog,
    /// Cancelled to stop everything.
    pub shutdown: CancellationToken,
}

impl ServiceContext {
    pub async fn new(
        name: &'static str,
        platform: PlatformConfig,
        service: ServiceConfig,
        clock: Arc<dyn Clock>,
        shutdown: CancellationToken,
    ) -> Result<Self, StartError> {
        let connect_options: PgConnectOptions = service
            .database_url
            .parse()
            .map_err(StartError::DatabaseUrl)?;
        let pool = PgPoolOptions::new()
            .max_connections(platform.database_max_connections)
            .acquire_timeout(Duration::from_secs(3))
            .connect_lazy_with(connect_options);
        let bus = Bus::connect(
            &platform.nats_url,
            &platform.subject_prefix,
            platform.nats_stream_replicas,
        )
        .await?;
        let authenticator = Authenticator::new(&platform.auth)?;
        let audit = AuditLog::start(pool.clone(), Arc::clone(&clock));
        Ok(Self {
            name,
            audit,
            outbox: Outbox::new(platform.subject_prefix.clone(), Arc::clone(&clock)),
            platform,
            service,
            pool,
            bus,
            authenticator,
            clock,
            shutdown,
        })
    }
}

/// A started service.
#[derive(Debug)]
pub struct RunningService {
    /// The service name.
    pub name: &'static str,
    /// Where it listens (the real port when 0 was asked for).
    pub addr: SocketAddr,
    /// Becomes true once SERVING.
    ready: watch::Receiver<bool>,
    /// The server task; ends after shutdown and draining (or when it fails).
    server: tokio::task::JoinHandle<()>,
    /// Runs the relay, consumers and jobs, and knows whether one of them failed.
    supervisor: Supervisor,
    /// When shutdown was asked, and so when it must be over.
    stopping: Stopping,
}

impl RunningService {
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Waits until the service reports SERVING; false if it stopped or failed first.
    pub async fn wait_ready(&self) -> bool {
        let mut ready = self.ready.clone();
        tokio::select! {
            biased;
            ready = ready.wait_for(|ready| *ready) => ready.is_ok(),
            _ = self.supervisor.ended() => false,
        }
    }

    /// Resolves when the service stops serving: shutdown was asked, or one of its tasks
    /// (server, relay, consumer, job) ended or panicked, which has turned health
    /// NOT_SERVING. `cspr serve` selects on this to exit non-zero instead of running on
    /// half-dead.
    pub async fn ended(&self) -> Ending {
        self.supervisor.ended().await
    }

    /// Waits for the server to drain and background work to stop (after the shutdown
    /// token was cancelled), at most until the grace period is over; an error if a task
    /// failed while the service ran.
    pub async fn stopped(self) -> Result<(), StartError> {
        if let Err(error) = self.server.await {
            return Err(StartError::Task(error.to_string()));
        }
        let tasks = self.supervisor.tasks();
        tasks.close();
        if tokio::time::timeout_at(self.stopping.deadline(), tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                service = self.name,
                "background work did not stop within the grace period"
            );
        }
        match self.supervisor.failure() {
            Some(failure) => Err(StartError::Failed(failure)),
            None => Ok(()),
        }
    }
}

/// When shutdown was asked, which times the drain and the grace period; cheap to clone.
#[derive(Debug, Clone)]
struct Stopping {
    shutdown: CancellationToken,
    /// The first look at the cancelled token.
    asked: Arc<OnceLock<Instant>>,
    /// `CSPR_SHUTDOWN_DRAIN`: NOT_SERVING while still serving.
    drain: Duration,
    /// `CSPR_SHUTDOWN_GRACE`: the whole shutdown, the drain included.
    grace: Duration,
}

impl Stopping {
    fn new(context: &ServiceContext) -> Self {
        Self {
            shutdown: context.shutdown.clone(),
            asked: Arc::new(OnceLock::new()),
            drain: context.platform.shutdown_drain,
            grace: context.platform.shutdown_grace,
        }
    }

    /// Waits for shutdown to be asked, and says when it was.
    async fn asked(&self) -> Instant {
        self.shutdown.cancelled().await;
        *self.asked.get_or_init(Instant::now)
    }

    /// When everything must have stopped (the end of the grace period), once shutdown was
    /// asked; counted from now if nothing has looked yet.
    fn deadline(&self) -> Instant {
        *self.asked.get_or_init(Instant::now) + self.grace
    }

    /// Resolves once shutdown was asked and the drain is over, health having turned
    /// NOT_SERVING at the start of it: the server's signal to stop accepting.
    async fn drained(self, supervisor: Supervisor, connections: Connections) {
        let asked = self.asked().await;
        supervisor.set_not_serving().await;
        tracing::info!(
            service = supervisor.service(),
            drain = ?self.drain,
            "shutting down: health NOT_SERVING, still serving until the drain is over"
        );
        tokio::time::sleep_until(asked + self.drain).await;
        tracing::info!(
            service = supervisor.service(),
            calls = connections.calls_in_flight(),
            until = ?self.deadline().saturating_duration_since(Instant::now()),
            "shutting down: no longer accepting connections; letting calls in flight finish"
        );
    }

    /// Resolves once shutdown was asked and the grace period is over.
    async fn over(self) {
        self.asked().await;
        tokio::time::sleep_until(self.deadline()).await;
    }
}

/// Background work started once the service is prepared.
type Background = Box<dyn FnOnce(&ServiceContext, &Supervisor) + Send>;

/// One service's start-up: its gRPC server, the streams it consumes, its jobs and gauges,
/// its migrations. [`ServiceBuilder::start`] binds and serves at once, with
/// `grpc.health.v1` answering `NOT_SERVING` while the database is created and migrated,
/// NATS is reached and the service's stream is ensured; then it starts the outbox relay and
/// the added background work under supervision and turns `SERVING`.
///
/// ```ignore
/// ServiceBuilder::new(context, ActionMonitoringServer::new(api), || sqlx::migrate!("./migrations"))
///     .consumes_keeping_reviews(&["registry"], EventHandler(store.clone()))
///     .gauges("actions gauges", sets, read)
///     .job("action reminders", move |shutdown| sweep.run(shutdown))
///     .start()
///     .await
/// ```
pub struct ServiceBuilder {
    context: ServiceContext,
    /// The service's gRPC service, wrapped in the authenticator.
    routes: Routes,
    /// The fully qualified gRPC name health reports on, from the generated server.
    grpc_name: &'static str,
    /// A fresh migrator per attempt, as preparation is retried while PostgreSQL is away.
    migrations: fn() -> Migrator,
    /// Consumers and jobs, in the order added.
    background: Vec<Background>,
}

impl ServiceBuilder {
    /// A service serving `server` (a generated `…Server::new(api)`), behind the
    /// authenticator and with the platform's message size limit, over a database migrated
    /// by `migrations` (`|| sqlx::migrate!("./migrations")`).
    pub fn new<S>(context: ServiceContext, server: S, migrations: fn() -> Migrator) -> Self
    where
        S: cspr_proto::MessageSizeLimit
            + NamedService
            + tower::Service<
                http::Request<tonic::body::Body>,
                Response = http::Response<tonic::body::Body>,
                Error = std::convert::Infallible,
            > + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        let server = server.limit_message_size(context.platform.max_message_bytes);
        // The authenticator runs first; the client certificate is then checked against the
        // principal it found.
        let server = InterceptedService::new(
            server,
            crate::tls::AgencyCertificates::new(context.platform.tls.as_ref()),
        );
        let routes = Routes::new(InterceptedService::new(
            server,
            context.authenticator.clone(),
        ));
        Self {
            context,
            routes,
            grpc_name: S::NAME,
            migrations,
            background: Vec::new(),
        }
    }

    /// Consumes the streams of `sources` (producing services) with `handler`: one durable
    /// consumer per source, each a supervised task "consumer of <source>".
    pub fn consumes<H: EventHandler>(self, sources: &[&'static str], handler: H) -> Self {
        self.consumer(sources, handler, false)
    }

    /// [`Self::consumes`] for a service that keeps the platform's review projection: every
    /// event is applied to it before `handler` sees it, in the same transaction.
    pub fn consumes_keeping_reviews<H: EventHandler>(
        self,
        sources: &[&'static str],
        handler: H,
    ) -> Self {
        self.consumer(sources, handler, true)
    }

    fn consumer<H: EventHandler>(
        mut self,
        sources: &[&'static str],
        handler: H,
        keeps_reviews: bool,
    ) -> Self {
        let sources = sources.to_vec();
        let handler = Arc::new(handler);
        self.background.push(Box::new(
            move |context: &ServiceContext, supervisor: &Supervisor| {
                for source in sources {
                    let runner = ConsumerRunner::new(
                        context.pool.clone(),
                        context.bus.clone(),
                        ConsumerSpec {
                            keeps_reviews,
                            ..ConsumerSpec::new(context.name, source)
                        },
                        Arc::clone(&handler),
                    );
                    let shutdown = context.shutdown.clone();
                    supervisor.spawn(
                        format!("consumer of {source}"),
                        Lifetime::UntilShutdown,
                        until_shutdown(runner.run(shutdown)),
                    );
                }
            },
        ));
        self
    }

    /// Runs `task(shutdown)` once the service is prepared, supervised as `name`: it should
    /// run until the token is cancelled (a sweep, the sender loop).
    pub fn job<F, Fut>(mut self, name: &'static str, task: F) -> Self
    where
        F: FnOnce(CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.background.push(Box::new(
            move |context: &ServiceContext, supervisor: &Supervisor| {
                supervisor.spawn(
                    name,
                    Lifetime::UntilShutdown,
                    until_shutdown(task(context.shutdown.clone())),
                );
            },
        ));
        self
    }

    /// The service's business gauges: `read` every `CSPR_GAUGE_INTERVAL`, its readings
    /// recorded in `sets` in order (see [`crate::metrics::run_gauges`]).
    pub fn gauges<R, Fut, E>(self, job: &'static str, sets: Vec<GaugeSet>, read: R) -> Self
    where
        R: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = Result<Vec<Readings>, E>> + Send + 'static,
        E: std::fmt::Display + Send + 'static,
    {
        let interval = self.context.platform.gauge_interval;
        self.job(job, move |shutdown| {
            crate::metrics::run_gauges(job, interval, shutdown, sets, read)
        })
    }

    /// Binds, serves, prepares, and turns SERVING; see the type's docs.
    pub async fn start(self) -> Result<RunningService, StartError> {
        let Self {
            context,
            routes,
            grpc_name,
            migrations,
            background,
        } = self;
        let addr = context.service.addr;
        let tls = context
            .platform
            .tls
            .as_ref()
            .map(crate::tls::ServerTls::acceptor)
            .transpose()?;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Bind { addr, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| StartError::Bind { addr, source })?;

        let (health_reporter, health_service) = tonic_health::server::health_reporter();
        health_reporter
            .set_service_status("", ServingStatus::NotServing)
            .await;
        health_reporter
            .set_service_status(grpc_name, ServingStatus::NotServing)
            .await;
        // Reflection describes every cspr message but advertises only what this port serves.
        let reflection = || {
            tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(cspr_proto::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
                .with_service_name(grpc_name)
                .with_service_name("grpc.health.v1.Health")
                .with_service_name("grpc.reflection.v1.ServerReflection")
                .with_service_name("grpc.reflection.v1alpha.ServerReflection")
        };
        let reflection_v1 = reflection()
            .build_v1()
            .map_err(|error| StartError::Reflection(error.to_string()))?;
        let reflection_v1alpha = reflection()
            .build_v1alpha()
            .map_err(|error| StartError::Reflection(error.to_string()))?;

        let supervisor = Supervisor::new(
            context.name,
            grpc_name,
            health_reporter.clone(),
            context.shutdown.clone(),
            TaskTracker::new(),
        );
        // The identity provider's keys (a JWKS configuration) are fetched from now on, in
        // parallel with the database and the bus; SERVING waits for them.
        if let Some(refresh) = context.authenticator.key_refresh(context.shutdown.clone()) {
            supervisor.spawn(
                "token key refresh",
                Lifetime::UntilShutdown,
                until_shutdown(refresh),
            );
        }
        let service_name = context.name;
        let stopping = Stopping::new(&context);
        let connections = Connections::new(service_name, context.platform.connections.clone());
        let stop_accepting = stopping
            .clone()
            .drained(supervisor.clone(), connections.clone());
        let max_message_bytes = context.platform.max_message_bytes;
        let limits = &context.platform.connections;
        let routes = routes
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha);
        let serve = tonic::transport::Server::builder()
            .max_frame_size(Some(1 << 20))
            // HTTP/2 flow control sized for client streams of many small messages (an agency
            // system's chronology: a DATA frame per entry, as grpc-python sends them). h2
            // allows a connection's buffered small frames framing overhead up to half its
            // window, and answers more with GOAWAY (too_many_data_frames) when the service
            // lags behind a fast client, e.g. while it writes a batch: a stream may buffer
            // 256 KiB, a connection 16 MiB, so even 20-byte frames on a few streams at once
            // stay inside it.
            .initial_stream_window_size(Some(256 * 1024))
            .initial_connection_window_size(Some(16 * 1024 * 1024))
            .max_concurrent_streams(Some(limits.max_concurrent_streams))
            .http2_keepalive_interval(Some(limits.keepalive_interval))
            .http2_keepalive_timeout(Some(limits.keepalive_timeout))
            .trace_fn(rpc_span)
            .layer(CallHookLayer(connections.clone()))
            .layer(crate::rpc_metrics::RpcMetricsLayer)
            // Inside the metrics, so that they record the code the client gets.
            .layer(CallHookLayer(SizeLimitStatus))
            .add_routes(routes);
        let serve: Pin<Box<dyn Future<Output = Result<(), tonic::transport::Error>> + Send>> =
            match tls.clone() {
                Some(acceptor) => Box::pin(serve.serve_with_incoming_shutdown(
                    connections.tls_incoming(listener, acceptor),
                    stop_accepting,
                )),
                None => {
                    Box::pin(serve.serve_with_incoming_shutdown(
                        connections.incoming(listener),
                        stop_accepting,
                    ))
                }
            };
        let serve = {
            let over = stopping.clone().over();
            async move { connections.serve_until(over, serve).await }
        };
        let server = tokio::spawn(supervisor.clone().run(
            "grpc server".to_string(),
            Lifetime::UntilShutdown,
            serve,
        ));
        tracing::info!(service = context.name, addr = %local_addr, max_message_bytes, tls = tls.is_some(), mutual_tls = ?context.platform.tls.as_ref().and_then(|tls| tls.client_auth.as_ref()).map(|auth| if auth.required { "required" } else { "optional" }), "listening (NOT_SERVING until ready)");

        let (ready_sender, ready) = watch::channel(false);
        let starting = supervisor.clone();
        supervisor.spawn("start-up", Lifetime::Finishes, async move {
            start_background(context, migrations, background, &starting, ready_sender).await;
            Ok::<(), std::convert::Infallible>(())
        });

        Ok(RunningService {
            name: service_name,
            addr: local_addr,
            ready,
            server,
            supervisor,
            stopping,
        })
    }
}

/// Prepares the database and the bus, starts the relay and the service's background work,
/// turns SERVING, then starts the platform's own periodic work.
async fn start_background(
    context: ServiceContext,
    migrations: fn() -> Migrator,
    background: Vec<Background>,
    supervisor: &Supervisor,
    ready: watch::Sender<bool>,
) {
    if !prepare(&context, migrations).await {
        return;
    }
    let relay = OutboxRelay::new(
        context.pool.clone(),
        context.bus.clone(),
        context.platform.outbox_poll_interval,
    );
    supervisor.spawn(
        "outbox relay",
        Lifetime::UntilShutdown,
        until_shutdown(relay.run(context.shutdown.clone())),
    );
    for start in background {
        start(&context, supervisor);
    }
    if !supervisor.set_serving().await {
        return;
    }
    let _ = ready.send(true);
    tracing::info!(service = context.name, "SERVING");
    supervisor.spawn(
        "platform gauges",
        Lifetime::UntilShutdown,
        until_shutdown(platform_gauges(context.clone())),
    );
    let pool = context.pool.clone();
    supervisor.spawn(
        "outbox and inbox retention",
        Lifetime::UntilShutdown,
        until_shutdown(crate::jobs::run_every(
            "outbox and inbox retention",
            PRUNE_INTERVAL,
            context.shutdown.clone(),
            move || {
                let pool = pool.clone();
                async move {
                    crate::bus::outbox::prune(&pool)
                        .await
                        .map(|deleted| deleted as usize)
                }
            },
        )),
    );
}

/// A loop that returns nothing, as a supervised task: its returning is judged by its
/// [`Lifetime`], it has no error of its own.
async fn until_shutdown(task: impl Future<Output = ()>) -> Result<(), std::convert::Infallible> {
    task.await;
    Ok(())
}

/// How often published outbox rows and old inbox rows past their retention are deleted.
const PRUNE_INTERVAL: Duration = Duration::from_secs(3600);

/// Records the service's platform gauges every `gauge_interval` until shutdown, then
/// `cspr.service.serving` 0. Each carries `service` (several share one process with
/// `cspr serve all`).
async fn platform_gauges(context: ServiceContext) {
    use opentelemetry::KeyValue;
    let metrics = crate::metrics::platform();
    let service = KeyValue::new("service", context.name);
    let shutdown = context.shutdown.clone();
    crate::jobs::run_every(
        "platform gauges",
        context.platform.gauge_interval,
        shutdown,
        || async {
            metrics.serving.record(1.0, std::slice::from_ref(&service));
            let (backlog, oldest) = crate::bus::outbox::backlog_and_age(&context.pool).await?;
            metrics
                .outbox_backlog
                .record(backlog as f64, std::slice::from_ref(&service));
            metrics
                .outbox_oldest_age
                .record(oldest, std::slice::from_ref(&service));
            if let Ok(pending) = context.bus.pending_of(context.name).await {
                for (source, count) in pending {
                    metrics.consumer_pending.record(
                        count as f64,
                        &[
                            service.clone(),
                            KeyValue::new("consumer", context.name),
                            KeyValue::new("source", source),
                        ],
                    );
                }
            }
            Ok::<usize, sqlx::Error>(0)
        },
    )
    .await;
    metrics.serving.record(0.0, &[service]);
}

/// One server span per RPC, named by OpenTelemetry's `rpc.*` conventions and joined to the
/// caller's trace when it sent `traceparent`; events written during the call carry it on.
fn rpc_span(request: &http::Request<()>) -> tracing::Span {
    let path = request.uri().path().trim_start_matches('/');
    let (service, method) = path.split_once('/').unwrap_or((path, ""));
    let span = tracing::info_span!(
        "rpc",
        otel.name = %path,
        otel.kind = "server",
        rpc.system = "grpc",
        rpc.service = %service,
        rpc.method = %method,
    );
    let headers: std::collections::HashMap<String, String> = request
        .headers()
        .iter()
        .filter(|(name, _)| matches!(name.as_str(), "traceparent" | "tracestate"))
        .filter_map(|(name, value)| {
            value
                .to_str()
                .ok()
                .map(|value| (name.to_string(), value.to_string()))
        })
        .collect();
    crate::bus::trace::continue_trace(&span, &headers);
    span
}

/// Database, bus and token key readiness, retried with backoff until it works or shutdown.
async fn prepare(context: &ServiceContext, migrations: fn() -> Migrator) -> bool {
    let mut backoff = Duration::from_millis(200);
    loop {
        let attempt = async {
            crate::db::create_database_if_missing(&context.service.database_url).await?;
            crate::db::migrate(&context.pool, migrations()).await
        };
        match attempt.await {
            Ok(()) => break,
            Err(error) => {
                tracing::warn!(service = context.name, %error, retry_in = ?backoff, "database not ready");
                tokio::select! {
                    _ = context.shutdown.cancelled() => return false,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        }
    }
    if !context.bus.wait_connected(&context.shutdown).await {
        return false;
    }
    // Without keys every call would be UNAVAILABLE: not ready until the provider's are in
    // (the refresh task logs why a fetch fails).
    if !context.authenticator.keys_ready(&context.shutdown).await {
        return false;
    }
    let mut backoff = Duration::from_millis(200);
    loop {
        match context.bus.ensure_stream(context.name).await {
            Ok(_) => return true,
            Err(error) => {
                tracing::warn!(service = context.name, %error, retry_in = ?backoff, "stream not ready");
                tokio::select! {
                    _ = context.shutdown.cancelled() => return false,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        }
    }
}

/// Resolves on SIGTERM or ctrl-c.
pub async fn termination_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}
