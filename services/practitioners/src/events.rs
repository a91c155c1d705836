//! Events the practitioners service consumes: the registry's reviews, reviewer and terms of
//! reference (scope period: the methodology is agreed), kept by the platform's review
//! projection, the terms' key lines of enquiry, and the practitioners named in agencies'
//! submitted chronologies (suggestions).

use cspr_platform::bus::consumer::{self, HandlerError, review_id};
use cspr_proto::events::v1::{Event, event::Body};
use sqlx::PgConnection;

use crate::store::Store;

/// The producers it listens to.
pub const SOURCES: [&str; 2] = ["registry", "submissions"];

/// Handles the events the service consumes.
#[derive(Debug, Clone)]
pub struct EventHandler {
    /// Writes suggested practitioners.
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
        match body {
            Body::TermsOfReferenceSet(terms) => {
                Store::record_key_lines(connection, review_id(event)?, &terms.key_lines_of_enquiry)
                    .await?;
            }
            Body::AgencyReportSubmitted(submitted) => {
                let review_id = review_id(event)?;
                for named in &submitted.practitioners {
                    if named.name.trim().is_empty() {
                        continue;
                    }
                    self.store
                        .suggest(
                            connection,
                            review_id,
                            &event.partnership_id,
                            &submitted.agency_id,
                            &named.name,
                            &named.role,
                        )
                        .await?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}
