//! Starting and stopping a service the same way every time.
//!
//! [`ServiceContext::new`] gives a service what it builds its handlers with (a lazily
//! connecting pool, the bus, the outbox, the authenticator, the clock, the shutdown token).
//! [`launch`] then binds the listener and serves at once, with `grpc.health.v1` answering
//! `NOT_SERVING` while the database is created and migrated, NATS is reached and the
//! service's stream is ensured; then it starts the outbox relay and the service's own
//! background work (consumers, jobs) and turns `SERVING`.
//!
//! Shutdown (SIGTERM, ctrl-c, or the token in tests): health turns `NOT_SERVING` first, the
//! server stops accepting and drains in-flight RPCs, background loops finish the item in
//! hand, and [`RunningService::stopped`] returns.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic::service::Routes;
use tonic::transport::server::TcpIncoming;
use tonic_health::ServingStatus;

use crate::audit::AuditLog;
use crate::auth::{Authenticator, KeyError};
use crate::bus::outbox::{Outbox, OutboxRelay};
use crate::bus::{Bus, BusError};
use crate::clock::Clock;
use crate::config::{PlatformConfig, ServiceConfig};

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
    #[error("gRPC server failed: {0}")]
    Serve(#[source] tonic::transport::Error),
    #[error("server task ended abnormally: {0}")]
    Task(String),
    #[error("cannot set up the service: {0}")]
    Setup(String),
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
            outbox: Outbox::new(platform.subject_prefix.clone()),
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

/// What [`launch`] needs from a service.
pub struct Launch<F> {
    /// The service's gRPC services (each wrapped with the authenticator).
    pub routes: Routes,
    /// The fully qualified gRPC name health reports on, e.g. "cspr.registry.v1.ReviewRegistry".
    pub grpc_name: &'static str,
    /// The service's migrations: `|| sqlx::migrate!()` (a fresh migrator per attempt, as
    /// preparation is retried while PostgreSQL is unreachable).
    pub migrations: fn() -> Migrator,
    /// Starts consumers and jobs once ready, on the given tracker.
    pub background: F,
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
    /// The server task; ends after shutdown and draining.
    server: tokio::task::JoinHandle<Result<(), StartError>>,
    /// Relay, consumers, jobs.
    tasks: TaskTracker,
    /// How long background work may take to finish after shutdown.
    grace: Duration,
}

impl RunningService {
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Waits until the service reports SERVING (or is stopped first: returns false).
    pub async fn wait_ready(&self) -> bool {
        let mut ready = self.ready.clone();
        ready.wait_for(|ready| *ready).await.is_ok()
    }

    /// Waits for the server to drain and background work to stop (after the shutdown
    /// token was cancelled).
    pub async fn stopped(self) -> Result<(), StartError> {
        let served = self
            .server
            .await
            .unwrap_or_else(|error| Err(StartError::Task(error.to_string())));
        self.tasks.close();
        if tokio::time::timeout(self.grace, self.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                service = self.name,
                "background work did not stop within the grace period"
            );
        }
        served
    }
}

/// Binds, serves, prepares, and turns SERVING; see the module docs.
pub async fn launch<F, Fut>(
    context: ServiceContext,
    launch: Launch<F>,
) -> Result<RunningService, StartError>
where
    F: FnOnce(ServiceContext, TaskTracker) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let addr = context.service.addr;
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
        .set_service_status(launch.grpc_name, ServingStatus::NotServing)
        .await;
    // Reflection describes every cspr message but advertises only what this port serves.
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(cspr_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .with_service_name(launch.grpc_name)
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

    let shutdown = context.shutdown.clone();
    let reporter_for_shutdown = health_reporter.clone();
    let grpc_name = launch.grpc_name;
    let service_name = context.name;
    let stop_accepting = async move {
        shutdown.cancelled().await;
        reporter_for_shutdown
            .set_service_status(grpc_name, ServingStatus::NotServing)
            .await;
        reporter_for_shutdown
            .set_service_status("", ServingStatus::NotServing)
            .await;
        tracing::info!(
            service = service_name,
            "shutting down: health NOT_SERVING, draining in-flight calls"
        );
    };
    let max_message_bytes = context.platform.max_message_bytes;
    let grace = context.platform.shutdown_grace;
    let mut routes = launch.routes;
    routes = routes
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha);
    let server = tokio::spawn(async move {
        tonic::transport::Server::builder()
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
            .trace_fn(rpc_span)
            .layer(crate::rpc_metrics::RpcMetricsLayer)
            .add_routes(routes)
            .serve_with_incoming_shutdown(
                TcpIncoming::from(listener).with_nodelay(Some(true)),
                stop_accepting,
            )
            .await
            .map_err(StartError::Serve)
    });
    tracing::info!(service = context.name, addr = %local_addr, max_message_bytes, "listening (NOT_SERVING until ready)");

    let (ready_sender, ready) = watch::channel(false);
    let tasks = TaskTracker::new();
    let preparing_tasks = tasks.clone();
    tasks.spawn(async move {
        if !prepare(&context, launch.migrations).await {
            return;
        }
        let relay = OutboxRelay::new(
            context.pool.clone(),
            context.bus.clone(),
            context.platform.outbox_poll_interval,
        );
        preparing_tasks.spawn(relay.run(context.shutdown.clone()));
        (launch.background)(context.clone(), preparing_tasks.clone()).await;
        if context.shutdown.is_cancelled() {
            return;
        }
        health_reporter
            .set_service_status(launch.grpc_name, ServingStatus::Serving)
            .await;
        health_reporter
            .set_service_status("", ServingStatus::Serving)
            .await;
        let _ = ready_sender.send(true);
        tracing::info!(service = context.name, grpc = launch.grpc_name, "SERVING");
        preparing_tasks.spawn(platform_gauges(context.clone()));
        let pool = context.pool.clone();
        preparing_tasks.spawn(crate::jobs::run_every(
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
        ));
    });

    Ok(RunningService {
        name: service_name,
        addr: local_addr,
        ready,
        server,
        tasks,
        grace,
    })
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

/// Database and bus readiness, retried with backoff until it works or shutdown.
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
