//! Family engagement: family members (parents, carers and extended family), the decision on
//! contacting each, contact through a professional already known to the family, restrictions
//! while a criminal investigation or trial runs, the contact log, contributions (their views
//! of the services and support) and publication consultation.
//!
//! This is the most sensitive data in the system: names, contact details, notes and
//! contributions are sealed at rest (XChaCha20-Poly1305, `CSPR_FAMILY_DATA_KEY`, rotatable),
//! returned in clear only to the appointed reviewer and family liaison, and never put in
//! events, logs or metrics — ids, relationships and statuses only. Emails go to the known
//! professional with the relationship, never the name.
//!
//! # Layout
//! - [`crypto`]: sealing and opening personal fields, key rotation.
//! - [`domain`]: relationships, restrictions, who sees what.
//! - [`store`]: the only SQL.
//! - [`grpc`]: the handlers of `cspr.family.v1.FamilyEngagement`.
//! - [`events`]: the registry projection (reviews, reviewer, parallel processes).
//! - [`jobs`]: restrictions past their review date are flagged once.
//! - `migrations/`: the family database (versions from 1000).

#![forbid(unsafe_code)]

pub mod crypto;
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
use cspr_proto::family::v1::family_engagement_server::FamilyEngagementServer;
use tonic::service::Routes;
use tonic::service::interceptor::InterceptedService;

use crate::crypto::FieldCipher;
use crate::events::{RegistryProjection, SOURCES};
use crate::grpc::FamilyApi;
use crate::jobs::RestrictionSweep;
use crate::store::Store;

/// The service name (database `cspr_family`, stream `<PREFIX>_FAMILY`).
pub const SERVICE_NAME: &str = "family";
/// The gRPC service health reports on.
pub const GRPC_NAME: &str = "cspr.family.v1.FamilyEngagement";

/// The service's settings.
#[derive(Debug, Clone)]
pub struct FamilyConfig {
    /// The keys personal fields are sealed with.
    pub cipher: FieldCipher,
    /// How often restrictions past their review date are looked for.
    pub sweep_interval: Duration,
}

impl FamilyConfig {
    /// Reads `CSPR_FAMILY_DATA_KEY`, `CSPR_FAMILY_DATA_OLD_KEYS`, `CSPR_FAMILY_SWEEP_INTERVAL`.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            cipher: FieldCipher::from_env(env)?,
            sweep_interval: env
                .duration_or("CSPR_FAMILY_SWEEP_INTERVAL", Duration::from_secs(3600))?,
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

/// Starts the service: gRPC, the outbox relay, the registry consumer and the sweep.
pub async fn start(
    context: ServiceContext,
    config: FamilyConfig,
) -> Result<RunningService, StartError> {
    let store = store(&context);
    let api = FamilyApi::new(
        store.clone(),
        Arc::new(config.cipher),
        Arc::clone(&context.clock),
    );
    let server = FamilyEngagementServer::new(api)
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
                let handler = Arc::new(RegistryProjection);
                for source in SOURCES {
                    let runner = ConsumerRunner::new(
                        context.pool.clone(),
                        context.bus.clone(),
                        ConsumerSpec::new(SERVICE_NAME, source),
                        Arc::clone(&handler),
                    );
                    tasks.spawn(runner.run(context.shutdown.clone()));
                }
                tasks.spawn(RestrictionSweep::new(store, sweep_interval).run(context.shutdown.clone()));
            },
        },
    )
    .await
}
