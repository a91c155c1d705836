//! Events the actions service consumes from the registry: reviews and the reviewer (kept by
//! the platform's review projection), the approved overview report's recommendations (the
//! plan's headings) and publication (the plan becomes active).

use cspr_platform::bus::consumer::{self, HandlerError, review_id};
use cspr_proto::events::v1::{Event, event::Body};
use sqlx::PgConnection;

use crate::store::Store;

/// The producers it listens to.
pub const SOURCES: [&str; 1] = ["registry"];

/// Handles the events the service consumes.
#[derive(Debug, Clone)]
pub struct EventHandler {
    /// Activates plans, writing their events.
    store: Store,
}

impl EventHandler {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

impl consumer::EventHandler for EventHandler {
    async fn handle(
        &self,
        connection: &mut PgConnection,
        event: &Event,
        body: &Body,
    ) -> Result<(), HandlerError> {
        let partnership = &event.partnership_id;
        match body {
            Body::OverviewReportApproved(approved) => {
                let recommendations: Vec<(String, String)> = approved
                    .recommendations
                    .iter()
                    .map(|recommendation| {
                        (recommendation.r#ref.clone(), recommendation.text.clone())
                    })
                    .collect();
                Store::record_recommendations(
                    connection,
                    review_id(event)?,
                    partnership,
                    &recommendations,
                )
                .await?;
            }
            Body::ReviewPublished(_) => {
                self.store
                    .activate_plan(connection, review_id(event)?, partnership)
                    .await?
            }
            _ => {}
        }
        Ok(())
    }
}
