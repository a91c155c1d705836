//! Events the actions service consumes from the registry: reviews and the reviewer (kept by
//! the platform's review projection), the approved overview report's recommendations (the
//! plan's headings) and publication (the plan becomes active).

use cspr_platform::bus::consumer::{self, Consumed, HandlerError, review_id};
use cspr_proto::events::v1::event::Body;

use crate::store::Store;

/// Handles the events the service consumes, with the store that activates plans (writing
/// their events).
#[derive(Debug, Clone)]
pub struct EventHandler(pub Store);

impl consumer::EventHandler for EventHandler {
    async fn handle(&self, consumed: Consumed<'_>) -> Result<(), HandlerError> {
        let partnership = &consumed.event.partnership_id;
        match consumed.body {
            Body::OverviewReportApproved(approved) => {
                let recommendations: Vec<(String, String)> = approved
                    .recommendations
                    .iter()
                    .map(|recommendation| {
                        (recommendation.r#ref.clone(), recommendation.text.clone())
                    })
                    .collect();
                Store::record_recommendations(
                    consumed.connection,
                    review_id(consumed.event)?,
                    partnership,
                    &recommendations,
                )
                .await?;
            }
            Body::ReviewPublished(_) => {
                self.0
                    .activate_plan(consumed.connection, review_id(consumed.event)?, partnership)
                    .await?
            }
            _ => {}
        }
        Ok(())
    }
}
