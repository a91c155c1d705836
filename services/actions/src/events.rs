//! Events the actions service consumes from the registry: reviews, the reviewer, the
//! approved overview report's recommendations (the plan's headings) and publication (the
//! plan becomes active).

use cspr_platform::bus::consumer::{EventHandler, HandlerError, review_id};
use cspr_proto::events::v1::{Event, event::Body};
use sqlx::PgConnection;

use crate::store::Store;

pub const SOURCES: [&str; 1] = ["registry"];

#[derive(Debug, Clone)]
pub struct RegistryProjection {
    store: Store,
}

impl RegistryProjection {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

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
                .await?
            }
            Body::ReviewerAppointed(appointed) => {
                Store::record_reviewer(
                    connection,
                    review_id(event)?,
                    partnership,
                    &appointed.subject,
                )
                .await?
            }
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
