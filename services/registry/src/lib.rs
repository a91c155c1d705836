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

pub mod config;
pub mod convert;
pub mod domain;
pub mod error;
pub mod events;
pub mod grpc;
pub mod jobs;
pub mod store;

use std::sync::Arc;

use cspr_platform::calendar::WorkingDayCalendar;
use cspr_platform::metrics::{self, GaugeSet};
use cspr_platform::server::{RunningService, ServiceBuilder, ServiceContext, StartError};
use cspr_platform::store::StoreParts;
use cspr_proto::registry::v1::review_registry_server::ReviewRegistryServer;
use tonic::server::NamedService;

use crate::config::RegistryConfig;
use crate::events::EventHandler;
use crate::grpc::RegistryApi;
use crate::jobs::DeadlineSweep;
use crate::store::Store;

/// The service name (database `cspr_registry`, stream `<PREFIX>_REGISTRY`).
pub const SERVICE_NAME: &str = "registry";
/// The gRPC service health reports on.
pub const GRPC_NAME: &str = <ReviewRegistryServer<RegistryApi> as NamedService>::NAME;
/// The producers whose events the registry consumes.
pub const CONSUMES_FROM: [&str; 3] = ["submissions", "practitioners", "actions"];

/// Starts the registry: gRPC on its address, the outbox relay, its consumers, the
/// business gauges and the deadline sweep.
pub async fn start(
    context: ServiceContext,
    config: RegistryConfig,
) -> Result<RunningService, StartError> {
    let store = Store::new(StoreParts::new(&context), config.rules.clone());
    let api = RegistryApi::new(
        store.clone(),
        Arc::new(config.rules.clone()),
        Arc::new(WorkingDayCalendar::england_and_wales()),
        Arc::clone(&context.clock),
    );
    let gauge_store = store.clone();
    let sweep = DeadlineSweep::new(store.clone(), config.sweep_interval);
    ServiceBuilder::new(context, ReviewRegistryServer::new(api), || {
        sqlx::migrate!("./migrations")
    })
    .consumes(&CONSUMES_FROM, EventHandler(store))
    // Reviews by stage, deadlines at risk and missed, and published reviews by whether
    // within the six-month target, each by partnership.
    .gauges(
        "registry gauges",
        vec![
            GaugeSet::new(&metrics::REVIEWS),
            GaugeSet::new(&metrics::DEADLINES_AT_RISK),
            GaugeSet::new(&metrics::DEADLINES_MISSED),
            GaugeSet::new(&metrics::REVIEWS_COMPLETED),
        ],
        move || {
            let store = gauge_store.clone();
            async move {
                let gauges = store.business_gauges().await?;
                Ok::<_, sqlx::Error>(vec![
                    gauges.reviews,
                    gauges.at_risk,
                    gauges.missed,
                    gauges.completed,
                ])
            }
        },
    )
    .job("deadline sweep", move |shutdown| sweep.run(shutdown))
    .start()
    .await
}
