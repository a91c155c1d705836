//! Events the practitioners service consumes: the registry's reviews, terms of reference
//! (scope period and key lines of enquiry: the methodology is agreed) and reviewer, and the
//! practitioners named in agencies' submitted chronologies (suggestions).

use cspr_platform::bus::consumer::{EventHandler, HandlerError, review_id};
use cspr_platform::convert::date_from_proto;
use cspr_proto::events::v1::{Event, event::Body};
use sqlx::PgConnection;

use crate::domain::ScopePeriod;
use crate::store::Store;

/// The producers it listens to.
pub const SOURCES: [&str; 2] = ["registry", "submissions"];

#[derive(Debug, Clone)]
pub struct ProjectionHandler {
    store: Store,
}

impl ProjectionHandler {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

impl EventHandler for ProjectionHandler {
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
            Body::TermsOfReferenceSet(terms) => {
                let bad = |field: &str| {
                    HandlerError::message(format!("event {}: {field} is not a date", event.id))
                };
                let scope = ScopePeriod {
                    start: date_from_proto(terms.scope_start.as_ref())
                        .map_err(|_| bad("scope_start"))?,
                    end: date_from_proto(terms.scope_end.as_ref()).map_err(|_| bad("scope_end"))?,
                };
                Store::record_terms(
                    connection,
                    review_id(event)?,
                    partnership,
                    scope,
                    &terms.key_lines_of_enquiry,
                    &terms.review_reference,
                )
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
                            partnership,
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
