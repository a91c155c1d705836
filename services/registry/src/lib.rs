//! The review registry: one record per Child Safeguarding Practice Review, from the serious
//! incident notification to closure — lifecycle stage, statutory deadlines, panel,
//! independent reviewer, terms of reference, parallel processes, overview report and
//! publication. Every change is published as an event (`cspr.registry.*`).
//!
//! It keeps two projections of other services' facts, fed by their events: the panel's
//! decisions on agency reports (the guard before OVERVIEW_DRAFTING) and the practitioners
//! involved in each case (panel members must be independent of it).
//!
//! # Layout
//! - [`config`]: the statutory rule set and sweep interval.
//! - [`domain`]: stage machine, review aggregate and commands, deadlines, input parsers.
//! - [`store`]: the only SQL; one transaction per command with its events and audit.
//! - [`grpc`]: the `cspr.registry.v1.ReviewRegistry` handlers.
//! - [`events`]: event bodies published, and the handler of consumed events.
//! - [`jobs`]: the deadline sweep.
//! - [`convert`]: domain ↔ protobuf.
//! - `migrations/`: the registry database (versions from 1000).

#![forbid(unsafe_code)]

pub mod config;
pub mod convert;
pub mod domain;
pub mod error;
pub mod events;
pub mod grpc;
pub mod jobs;
pub mod store;

use std::sync::Arc;

use cspr_platform::bus::consumer::{ConsumerRunner, ConsumerSpec};
use cspr_platform::calendar::WorkingDayCalendar;
use cspr_platform::server::{Launch, RunningService, ServiceContext, StartError, launch};
use cspr_proto::registry::v1::review_registry_server::ReviewRegistryServer;
use tonic::service::Routes;
use tonic::service::interceptor::InterceptedService;

use crate::config::RegistryConfig;
use crate::events::RegistryEventHandler;
use crate::grpc::RegistryApi;
use crate::jobs::DeadlineSweep;
use crate::store::Store;

/// The service name (database `cspr_registry`, stream `<PREFIX>_REGISTRY`).
pub const SERVICE_NAME: &str = "registry";
/// The gRPC service health reports on.
pub const GRPC_NAME: &str = "cspr.registry.v1.ReviewRegistry";
/// The producers whose events the registry consumes.
pub const CONSUMES_FROM: [&str; 3] = ["submissions", "practitioners", "actions"];

/// The registry's store, built from a context (tests use it to drive jobs directly).
pub fn store(context: &ServiceContext, config: &RegistryConfig) -> Store {
    Store::new(
        context.pool.clone(),
        context.outbox.clone(),
        Arc::new(config.rules.clone()),
        Arc::new(WorkingDayCalendar::england_and_wales()),
        Arc::clone(&context.clock),
        context.audit.clone(),
    )
}

/// Starts the registry: gRPC on its address, the outbox relay, its consumers and the
/// deadline sweep.
pub async fn start(
    context: ServiceContext,
    config: RegistryConfig,
) -> Result<RunningService, StartError> {
    let store = store(&context, &config);
    let api = RegistryApi::new(
        store.clone(),
        Arc::new(config.rules.clone()),
        Arc::new(WorkingDayCalendar::england_and_wales()),
        Arc::clone(&context.clock),
    );
    let server = ReviewRegistryServer::new(api)
        .max_decoding_message_size(context.platform.max_message_bytes)
        .max_encoding_message_size(context.platform.max_message_bytes);
    let routes = Routes::new(InterceptedService::new(
        server,
        context.authenticator.clone(),
    ));
    let sweep_interval = config.sweep_interval;
    launch(
        context,
        Launch {
            routes,
            grpc_name: GRPC_NAME,
            migrations: || sqlx::migrate!("./migrations"),
            background: move |context: ServiceContext, tasks: tokio_util::task::TaskTracker| async move {
                let handler = Arc::new(RegistryEventHandler::new(store.clone()));
                for source in CONSUMES_FROM {
                    let runner = ConsumerRunner::new(
                        context.pool.clone(),
                        context.bus.clone(),
                        ConsumerSpec::new(SERVICE_NAME, source),
                        Arc::clone(&handler),
                    );
                    tasks.spawn(runner.run(context.shutdown.clone()));
                }
                tasks.spawn(business_gauges(store.clone(), context.platform.gauge_interval, context.shutdown.clone()));
                tasks.spawn(DeadlineSweep::new(store, sweep_interval).run(context.shutdown.clone()));
            },
        },
    )
    .await
}

/// Reviews by stage, deadlines at risk and missed, and published reviews by whether within
/// the six-month target, each by partnership, every `interval` (`CSPR_GAUGE_INTERVAL`).
async fn business_gauges(
    store: Store,
    interval: std::time::Duration,
    shutdown: tokio_util::sync::CancellationToken,
) {
    use cspr_platform::metrics::{self, GaugeSet};
    let sets = vec![
        GaugeSet::new(&metrics::REVIEWS),
        GaugeSet::new(&metrics::DEADLINES_AT_RISK),
        GaugeSet::new(&metrics::DEADLINES_MISSED),
        GaugeSet::new(&metrics::REVIEWS_COMPLETED),
    ];
    metrics::run_gauges("registry gauges", interval, shutdown, sets, || {
        let store = store.clone();
        async move {
            let gauges = store.business_gauges().await?;
            Ok::<_, sqlx::Error>(vec![
                gauges.reviews,
                gauges.at_risk,
                gauges.missed,
                gauges.completed,
            ])
        }
    })
    .await;
}
