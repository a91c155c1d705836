//! Agency submissions: the independent report each organisation involved in a review
//! produces — a narrative and a chronology of when and what services it gave the family —
//! pushed by agencies' own case systems over gRPC, the panel's decision on each (accept,
//! return, waive), and the combined chronology across agencies that the reviewer works from.
//!
//! Report requests come from the registry's `terms_of_reference_set` events (one per agency
//! in scope) or by hand. Every change is published (`cspr.submissions.*`); the registry
//! consumes the decisions to guard its move into overview drafting.
//!
//! # Layout
//! - [`config`]: submission limits, streams per agency, stage clean-up, reminder timing.
//! - [`admission`]: the count of each agency's open submission streams.
//! - [`domain`]: report statuses and decisions, entry and narrative rules, content hash.
//! - [`store`]: the only SQL; a submission's entries are staged in batches, each its own
//!   short transaction, and moved into the report by one transaction at the end.
//! - [`grpc`]: the `cspr.submissions.v1.AgencySubmissions` handlers (client- and
//!   server-streaming).
//! - [`events`]: the handler of the registry's events.
//! - [`jobs`]: the due-soon / overdue reminder sweep, the sweep of abandoned stages.
//! - [`report_file`]: the agency report file (JSON) that `cspr report submit` reads.
//! - `migrations/`: the submissions database (versions from 1000).

pub mod admission;
pub mod config;
pub mod domain;
pub mod error;
pub mod events;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod grpc;
pub mod jobs;
pub mod report_file;
pub mod store;

use cspr_platform::metrics::{self, GaugeSet};
use cspr_platform::server::{RunningService, ServiceBuilder, ServiceContext, StartError};
use cspr_platform::store::StoreParts;
use cspr_proto::submissions::v1::agency_submissions_server::AgencySubmissionsServer;
use tonic::server::NamedService;

use crate::config::SubmissionsConfig;
use crate::events::EventHandler;
use crate::grpc::SubmissionsApi;
use crate::jobs::{AbandonedStages, ReminderSweep, ReportReminders, StageSweep};
use crate::store::Store;

/// The service name (database `cspr_submissions`, stream `<PREFIX>_SUBMISSIONS`).
pub const SERVICE_NAME: &str = "submissions";
/// The gRPC service health reports on.
pub const GRPC_NAME: &str = <AgencySubmissionsServer<SubmissionsApi> as NamedService>::NAME;

/// Starts the service: gRPC, the outbox relay, the registry consumer, the overdue gauge,
/// the reminders and the stage sweep.
pub async fn start(
    context: ServiceContext,
    config: SubmissionsConfig,
) -> Result<RunningService, StartError> {
    let store = Store::new(StoreParts::new(&context));
    let api = SubmissionsApi::new(
        store.clone(),
        config.limits.clone(),
        config.max_streams_per_agency,
    );
    let gauge_store = store.clone();
    let reminders = ReportReminders {
        store: store.clone(),
        due_soon_days: config.due_soon_days,
    };
    let sweep = ReminderSweep::new(reminders, config.sweep_interval);
    let stage_sweep = StageSweep::new(
        AbandonedStages {
            store: store.clone(),
            max_age: config.stage_max_age,
        },
        config.sweep_interval,
    );
    ServiceBuilder::new(context, AgencySubmissionsServer::new(api), || {
        sqlx::migrate!("./migrations")
    })
    .consumes_keeping_reviews(&["registry"], EventHandler(store))
    .gauges(
        "submissions gauges",
        vec![GaugeSet::new(&metrics::AGENCY_REPORTS_OVERDUE)],
        move || {
            let store = gauge_store.clone();
            async move { Ok::<_, sqlx::Error>(vec![store.overdue_reports().await?]) }
        },
    )
    .job("report reminders", move |shutdown| sweep.run(shutdown))
    .job("abandoned submission stages", move |shutdown| {
        stage_sweep.run(shutdown)
    })
    .start()
    .await
}
