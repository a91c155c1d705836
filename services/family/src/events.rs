//! Events the family service consumes from the registry: reviews, the appointed reviewer
//! (who may see family data) and parallel processes (shown beside members).

use cspr_platform::bus::consumer::{EventHandler, HandlerError, review_id};
use cspr_proto::events::v1::{Event, event::Body};
use cspr_proto::registry::v1::ParallelProcessKind;
use sqlx::PgConnection;

use crate::store::Store;

/// The producers it listens to.
pub const SOURCES: [&str; 1] = ["registry"];

#[derive(Debug, Default)]
pub struct RegistryProjection;

impl EventHandler for RegistryProjection {
    async fn handle(
        &self,
        connection: &mut PgConnection,
        event: &Event,
    ) -> Result<(), HandlerError> {
        let Some(body) = &event.body else {
            return Ok(());
        };
        let partnership = &event.partnership_id;
        match body {
            Body::ReviewCreated(created) => {
                Store::record_review(
                    connection,
                    review_id(event)?,
                    partnership,
                    &created.reference,
                )
                .await?;
            }
            Body::ReviewerAppointed(appointed) => {
                Store::record_reviewer(
                    connection,
                    review_id(event)?,
                    partnership,
                    &appointed.subject,
                )
                .await?;
            }
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
