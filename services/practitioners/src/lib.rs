//! Practitioner engagement: the frontline professionals who worked with the family, the
//! independent reviewer's conversations with them (with advance information on what to
//! prepare), the practitioner learning event, and contact held back while a practitioner is
//! a witness in a police investigation. It is not about blame: learning is recorded as
//! system learning by theme, and no field rates or blames a person.
//!
//! Practitioners named in agencies' chronologies arrive as suggestions (from the
//! submissions service's events) for the reviewer to confirm. Nothing is scheduled before
//! the registry's terms of reference (the agreed methodology). Every change is published
//! (`cspr.practitioners.*`): the notifications service sends the invitations, the registry
//! keeps involved practitioners off the panel.
//!
//! # Layout
//! - [`domain`]: contactability, learning event invitees, learning themes.
//! - [`store`]: the only SQL; one transaction per command with its event and audit.
//! - [`grpc`]: the handlers of `cspr.practitioners.v1.PractitionerEngagement`.
//! - [`events`]: projections of the registry and suggestions from submissions.
//! - [`jobs`]: deferrals past their review date are flagged once.
//! - `migrations/`: the practitioners database (versions from 1000).

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
use cspr_platform::server::{Launch, RunningService, ServiceContext, StartError, launch};
use cspr_proto::practitioners::v1::practitioner_engagement_server::PractitionerEngagementServer;
use tonic::service::Routes;
use tonic::service::interceptor::InterceptedService;

use crate::events::{ProjectionHandler, SOURCES};
use crate::grpc::PractitionersApi;
use crate::jobs::DeferralSweep;
use crate::store::Store;

/// The service name (database `cspr_practitioners`, stream `<PREFIX>_PRACTITIONERS`).
pub const SERVICE_NAME: &str = "practitioners";
/// The gRPC service health reports on.
pub const GRPC_NAME: &str = "cspr.practitioners.v1.PractitionerEngagement";

/// The service's settings.
#[derive(Debug, Clone)]
pub struct PractitionersConfig {
    /// How often deferrals past their review date are looked for
    /// (`CSPR_PRACTITIONERS_SWEEP_INTERVAL`).
    pub sweep_interval: Duration,
}

impl PractitionersConfig {
    pub fn from_env(
        env: &cspr_platform::config::Env,
    ) -> Result<Self, cspr_platform::config::ConfigError> {
        Ok(Self {
            sweep_interval: env.duration_or(
                "CSPR_PRACTITIONERS_SWEEP_INTERVAL",
                Duration::from_secs(3600),
            )?,
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

/// Starts the service: gRPC, the outbox relay, its consumers and the deferral sweep.
pub async fn start(
    context: ServiceContext,
    config: PractitionersConfig,
) -> Result<RunningService, StartError> {
    let store = store(&context);
    let api = PractitionersApi::new(store.clone(), Arc::clone(&context.clock));
    let server = PractitionerEngagementServer::new(api)
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
                let handler = Arc::new(ProjectionHandler::new(store.clone()));
                for source in SOURCES {
                    let runner = ConsumerRunner::new(
                        context.pool.clone(),
                        context.bus.clone(),
                        ConsumerSpec::new(SERVICE_NAME, source),
                        Arc::clone(&handler),
                    );
                    tasks.spawn(runner.run(context.shutdown.clone()));
                }
                tasks.spawn(DeferralSweep::new(store, config.sweep_interval).run(context.shutdown.clone()));
            },
        },
    )
    .await
}
