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
//! - [`config`]: the sweep interval.
//! - [`domain`]: contactability, learning event invitees, learning themes.
//! - [`store`]: the only SQL; one transaction per command with its event and audit.
//! - [`grpc`]: the handlers of `cspr.practitioners.v1.PractitionerEngagement`.
//! - [`events`]: projections of the registry and suggestions from submissions.
//! - [`jobs`]: deferrals past their review date are flagged once.
//! - `migrations/`: the practitioners database (versions from 1000).

pub mod config;
pub mod domain;
pub mod error;
pub mod events;
pub mod grpc;
pub mod jobs;
pub mod store;

use cspr_platform::server::{RunningService, ServiceBuilder, ServiceContext, StartError};
use cspr_platform::store::StoreParts;
use cspr_proto::practitioners::v1::practitioner_engagement_server::PractitionerEngagementServer;
use tonic::server::NamedService;

pub use crate::config::PractitionersConfig;
use crate::events::EventHandler;
use crate::grpc::PractitionersApi;
use crate::jobs::DeferralSweep;
use crate::store::Store;

/// The service name (database `cspr_practitioners`, stream `<PREFIX>_PRACTITIONERS`).
pub const SERVICE_NAME: &str = "practitioners";
/// The gRPC service health reports on.
pub const GRPC_NAME: &str = <PractitionerEngagementServer<PractitionersApi> as NamedService>::NAME;

/// Starts the service: gRPC, the outbox relay, its consumers and the deferral sweep.
pub async fn start(
    context: ServiceContext,
    config: PractitionersConfig,
) -> Result<RunningService, StartError> {
    let store = Store::new(StoreParts::new(&context));
    let api = PractitionersApi::new(store.clone());
    let sweep = DeferralSweep::new(store.clone(), config.sweep_interval);
    ServiceBuilder::new(context, PractitionerEngagementServer::new(api), || {
        sqlx::migrate!("./migrations")
    })
    .consumes_keeping_reviews(&["registry", "submissions"], EventHandler(store))
    .job("deferral review sweep", move |shutdown| sweep.run(shutdown))
    .start()
    .await
}
