//! Events the family service consumes: from the registry, reviews and the appointed reviewer
//! (who may see family data), kept by the platform's review projection, and parallel
//! processes (shown beside members); from the practitioners service, who the practitioners
//! are and whether their own contact is deferred, so that a family's requests are not routed
//! through a professional whose contact is held (and go once it is released).

use cspr_platform::bus::consumer::{self, Consumed, HandlerError, review_id};
use cspr_proto::events::v1::event::Body;
use cspr_proto::registry::v1::ParallelProcessKind;

use crate::store::Store;

/// Handles the events the service consumes, with the store that publishes released requests.
#[derive(Debug, Clone)]
pub struct EventHandler(pub Store);

fn practitioner_id(raw: &str) -> Result<uuid::Uuid, HandlerError> {
    raw.parse()
        .map_err(|_| HandlerError::message(format!("practitioner_id {raw:?} is not a UUID")))
}

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
            Body::PractitionerRegistered(registered) => {
                Store::record_practitioner(
                    consumed.connection,
                    review_id(consumed.event)?,
                    practitioner_id(&registered.practitioner_id)?,
                    &registered.email,
                    &registered.name,
                )
                .await?;
            }
            Body::ContactDeferred(deferred) => {
                Store::defer_practitioner(
                    consumed.connection,
                    review_id(consumed.event)?,
                    practitioner_id(&deferred.practitioner_id)?,
                )
                .await?;
            }
            Body::ContactReleased(released) => {
                let review_id = review_id(consumed.event)?;
                let held = Store::release_practitioner(
                    consumed.connection,
                    review_id,
                    practitioner_id(&released.practitioner_id)?,
                )
                .await?;
                for (partnership, body) in held {
                    self.0
                        .publish_released(consumed.connection, review_id, &partnership, body)
                        .await?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}
