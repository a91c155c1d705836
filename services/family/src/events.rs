//! Events the family service consumes from the registry: reviews and the appointed reviewer
//! (who may see family data), kept by the platform's review projection, and parallel
//! processes (shown beside members).

use cspr_platform::bus::consumer::{self, Consumed, HandlerError, review_id};
use cspr_proto::events::v1::event::Body;
use cspr_proto::registry::v1::ParallelProcessKind;

use crate::store::Store;

/// Handles the events the service consumes.
#[derive(Debug, Default)]
pub struct EventHandler;

impl consumer::EventHandler for EventHandler {
    async fn handle(&self, consumed: Consumed<'_>) -> Result<(), HandlerError> {
        let partnership = &consumed.event.partnership_id;
        match consumed.body {
            Body::ParallelProcessStarted(started) => {
                let kind = ParallelProcessKind::try_from(started.kind)
                    .map(|kind| {
                        kind.as_str_name()
                            .trim_start_matches("PARALLEL_PROCESS_KIND_")
                    })
                    .unwrap_or("OTHER");
                Store::record_parallel_process(
                    consumed.connection,
                    review_id(consumed.event)?,
                    partnership,
                    &started.parallel_process_id,
                    Some(kind),
                )
                .await?;
            }
            Body::ParallelProcessEnded(ended) => {
                Store::record_parallel_process(
                    consumed.connection,
                    review_id(consumed.event)?,
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
