//! Action monitoring: when a review completes, organisations agree actions to change how
//! they support children and families, and the partnership monitors them. Completion and
//! evidence of impact are separate: only the partnership verifies, and only with evidence.
//!
//! The approved overview report's recommendations (registry events) are the plan's headings;
//! publication activates the plan (the registry then moves to ACTION_MONITORING); when every
//! action is verified or cancelled the plan completes (the registry may close the review).
//!
//! # Layout
//! - [`domain`]: statuses, verification, overdue, the summary's arithmetic.
//! - [`store`]: the only SQL; plan activation and completion.
//! - [`grpc`]: the handlers of `cspr.actions.v1.ActionMonitoring`.
//! - [`events`]: the registry projection.
//! - [`jobs`]: due soon, overdue and escalation reminders, once each.
//! - `migrations/`: the actions database (versions from 1000).

#![forbid(unsafe_code)]

pub mod domain;
pub mod error;
pub mod events;
pub mod grpc;
pub mod jobs;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use cspr_platform::bus::consumer::{ConsumerRunner, ConsumerSpec};
use cspr_platform::config::{ConfigError, Env};
use cspr_platform::server::{Launch, RunningService, ServiceContext, StartError, launch};
use cspr_proto::actions::v1::action_monitoring_server::ActionMonitoringServer;
use tonic::service::Routes;
use tonic::service::interceptor::InterceptedService;

use crate::events::{RegistryProjection, SOURCES};
use crate::grpc::ActionsApi;
use crate::jobs::ActionSweep;
use crate::store::Store;

/// The service name (database `cspr_actions`, stream `<PREFIX>_ACTIONS`).
pub const SERVICE_NAME: &str = "actions";
/// The gRPC service health reports on.
pub const GRPC_NAME: &str = "cspr.actions.v1.ActionMonitoring";

/// The service's settings.
#[derive(Debug, Clone)]
pub struct ActionsConfig {
    /// An action turns "due soon" this many days before its due date.
    pub due_soon_days: u32,
    /// Overdue by this many days, an action is escalated to the partnership.
    pub escalate_after_days: u32,
    /// How often reminders are swept.
    pub sweep_interval: Duration,
}

impl ActionsConfig {
    /// Reads `CSPR_ACTIONS_DUE_SOON_DAYS`, `CSPR_ACTIONS_ESCALATE_AFTER_DAYS`,
    /// `CSPR_ACTIONS_SWEEP_INTERVAL`.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            due_soon_days: env.u32_or("CSPR_ACTIONS_DUE_SOON_DAYS", 14)?,
            escalate_after_days: env.u32_or("CSPR_ACTIONS_ESCALATE_AFTER_DAYS", 30)?,
            sweep_interval: env
                .duration_or("CSPR_ACTIONS_SWEEP_INTERVAL", Duration::from_secs(3600))?,
        })
    }
}

/// The store, built from a context (tests drive jobs with it).
pub fn store(context: &ServiceContext) -> Store {
    Store::new(
        context.pool.clone(),
        context.outbox.clone(),
        Arc::clone(&context.clock),
        context.audit.clone(),
    )
}

/// Starts the service: gRPC, the outbox relay, the registry consumer and the reminders.
pub async fn start(
    context: ServiceContext,
    config: ActionsConfig,
) -> Result<RunningService, StartError> {
    let store = store(&context);
    let api = ActionsApi::new(store.clone(), Arc::clone(&context.clock));
    let server = ActionMonitoringServer::new(api)
        .max_decoding_message_size(context.platform.max_message_bytes)
        .max_encoding_message_size(context.platform.max_message_bytes);
    let routes = Routes::new(InterceptedService::new(
        server,
        context.authenticator.clone(),
    ));
    launch(
        context,
        Launch {
            routes,
            grpc_name: GRPC_NAME,
            migrations: || sqlx::migrate!("./migrations"),
            background: move |context: ServiceContext, tasks: tokio_util::task::TaskTracker| async move {
                let handler = Arc::new(RegistryProjection::new(store.clone()));
                for source in SOURCES {
                    let runner = ConsumerRunner::new(
                        context.pool.clone(),
                        context.bus.clone(),
                        ConsumerSpec::new(SERVICE_NAME, source),
                        Arc::clone(&handler),
                    );
                    tasks.spawn(runner.run(context.shutdown.clone()));
                }
                tasks.spawn(business_gauges(store.clone(), context.platform.gauge_interval, context.shutdown.clone()));
                let sweep = ActionSweep::new(store, config.sweep_interval, config.due_soon_days, config.escalate_after_days);
                tasks.spawn(sweep.run(context.shutdown.clone()));
            },
        },
    )
    .await
}

/// Overdue actions and action plan completion by partnership, every `interval` (`CSPR_GAUGE_INTERVAL`).
async fn business_gauges(
    store: Store,
    interval: std::time::Duration,
    shutdown: tokio_util::sync::CancellationToken,
) {
    use cspr_platform::metrics::{self, GaugeSet};
    let sets = vec![
        GaugeSet::new(&metrics::ACTIONS_OVERDUE),
        GaugeSet::new(&metrics::ACTION_PLANS_COMPLETION),
    ];
    metrics::run_gauges("actions gauges", interval, shutdown, sets, || {
        let store = store.clone();
        async move {
            let (overdue, completion) = store.action_gauges().await?;
            Ok::<_, sqlx::Error>(vec![overdue, completion])
        }
    })
    .await;
}
