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
//! - [`config`]: the data keys and the sweep interval.
//! - [`crypto`]: sealing and opening personal fields, key rotation.
//! - [`domain`]: relationships, restrictions, who sees what.
//! - [`store`]: the only SQL.
//! - [`grpc`]: the handlers of `cspr.family.v1.FamilyEngagement`.
//! - [`events`]: the registry projection (reviews, reviewer, parallel processes).
//! - [`jobs`]: restrictions past their review date are flagged once.
//! - `migrations/`: the family database (versions from 1000).

pub mod config;
pub mod crypto;
pub mod domain;
pub mod error;
pub mod events;
pub mod grpc;
pub mod jobs;
pub mod store;

use std::sync::Arc;

use cspr_platform::server::{RunningService, ServiceBuilder, ServiceContext, StartError};
use cspr_platform::store::StoreParts;
use cspr_proto::family::v1::family_engagement_server::FamilyEngagementServer;
use tonic::server::NamedService;

pub use crate::config::FamilyConfig;
use crate::events::EventHandler;
use crate::grpc::FamilyApi;
use crate::jobs::RestrictionSweep;
use crate::store::Store;

/// The service name (database `cspr_family`, stream `<PREFIX>_FAMILY`).
pub const SERVICE_NAME: &str = "family";
/// The gRPC service health reports on.
pub const GRPC_NAME: &str = <FamilyEngagementServer<FamilyApi> as NamedService>::NAME;

/// Starts the service: gRPC, the outbox relay, the registry consumer and the sweep.
pub async fn start(
    context: ServiceContext,
    config: FamilyConfig,
) -> Result<RunningService, StartError> {
    let store = Store::new(StoreParts::new(&context));
    let api = FamilyApi::new(store.clone(), Arc::new(config.cipher));
    let sweep = RestrictionSweep::new(store.clone(), config.sweep_interval);
    ServiceBuilder::new(context, FamilyEngagementServer::new(api), || {
        sqlx::migrate!("./migrations")
    })
    .consumes_keeping_reviews(&["registry", "practitioners"], EventHandler(store))
    .job("restriction review sweep", move |shutdown| {
        sweep.run(shutdown)
    })
    .start()
    .await
}
