//! Action monitoring: when a review completes, organisations agree actions to change how
//! they support children and families, and the partnership monitors them. Completion and
//! evidence of impact are separate: only the partnership verifies, and only with evidence.
//!
//! The approved overview report's recommendations (registry events) are the plan's headings;
//! publication activates the plan (the registry then moves to ACTION_MONITORING); when every
//! action is verified or cancelled the plan completes (the registry may close the review).
//!
//! # Layout
//! - [`config`]: reminder timing.
//! - [`domain`]: statuses, verification, overdue, the summary's arithmetic.
//! - [`store`]: the only SQL; plan activation and completion.
//! - [`grpc`]: the handlers of `cspr.actions.v1.ActionMonitoring`.
//! - [`events`]: the registry projection.
//! - [`jobs`]: due soon, overdue and escalation reminders, once each.
//! - `migrations/`: the actions database (versions from 1000).

pub mod config;
pub mod domain;
pub mod error;
pub mod events;
pub mod grpc;
pub mod jobs;
pub mod store;

use cspr_platform::metrics::{self, GaugeSet};
use cspr_platform::server::{RunningService, ServiceBuilder, ServiceContext, StartError};
use cspr_platform::store::StoreParts;
use cspr_proto::actions::v1::action_monitoring_server::ActionMonitoringServer;
use tonic::server::NamedService;

pub use crate::config::ActionsConfig;
use crate::events::EventHandler;
use crate::grpc::ActionsApi;
use crate::jobs::{ActionReminders, ActionSweep};
use crate::store::Store;

/// The service name (database `cspr_actions`, stream `<PREFIX>_ACTIONS`).
pub const SERVICE_NAME: &str = "actions";
/// The gRPC service health reports on.
pub const GRPC_NAME: &str = <ActionMonitoringServer<ActionsApi> as NamedService>::NAME;

/// Starts the service: gRPC, the outbox relay, the registry consumer, the overdue and
/// completion gauges and the reminders.
pub async fn start(
    context: ServiceContext,
    config: ActionsConfig,
) -> Result<RunningService, StartError> {
    let store = Store::new(StoreParts::new(&context));
    let api = ActionsApi::new(store.clone());
    let gauge_store = store.clone();
    let reminders = ActionReminders {
        store: store.clone(),
        due_soon_days: config.due_soon_days,
        escalate_after_days: config.escalate_after_days,
    };
    let sweep = ActionSweep::new(reminders, config.sweep_interval);
    ServiceBuilder::new(context, ActionMonitoringServer::new(api), || {
        sqlx::migrate!("./migrations")
    })
    .consumes_keeping_reviews(&["registry"], EventHandler(store))
    .gauges(
        "actions gauges",
        vec![
            GaugeSet::new(&metrics::ACTIONS_OVERDUE),
            GaugeSet::new(&metrics::ACTION_PLANS_COMPLETION),
        ],
        move || {
            let store = gauge_store.clone();
            async move {
                let (overdue, completion) = store.action_gauges().await?;
                Ok::<_, sqlx::Error>(vec![overdue, completion])
            }
        },
    )
    .job("action reminders", move |shutdown| sweep.run(shutdown))
    .start()
    .await
}
