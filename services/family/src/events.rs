//! Events the family service consumes from the registry: reviews and the appointed reviewer
//! (who may see family data), kept by the platform's review projection, and parallel
//! processes (shown beside members).

use cspr_platform::bus::consumer::{self, HandlerError, review_id};
use cspr_proto::events::v1::{Event, event::Body};
use cspr_proto::registry::v1::ParallelProcessKind;
use sqlx::PgConnection;

use crate::store::Store;

/// The producers it listens to.
pub const SOURCES: [&str; 1] = ["registry"];

/// Handles the events the service consumes.
#[derive(Debug, Default)]
pub struct EventHandler;

impl consumer::EventHandler for EventHandler {
    async fn handle(
        &self,
        connection: &mut PgConnection,
        event: &Event,
        body: &Body,
    ) -> Result<(), HandlerError> {
        let partnership = &event.partnership_id;
        match body {
            Body::ParallelProcessStarted(started) => {
                let kind = ParallelProcessKind::try_from(started.kind)
                    .map(|kind| {
                        kind.as_str_name()
                            .trim_start_matches("PARALLEL_PROCESS_KIND_")
                    })
                    .unwrap_or("OTHER");
                Store::record_parallel_process(
                    connection,
                    review_id(event)?,
                    partnership,
                    &started.parallel_process_id,
                    Some(kind),
                )
                .await?;
            }
            Body::ParallelProcessEnded(ended) => {
                Store::record_parallel_process(
                    connection,
                    review_id(event)?,
                    partnership,
                    &ended.parallel_process_id,
                    None,
                )
                .await?;
            }
            _ => {}
        }
        Ok(())
    }
}
