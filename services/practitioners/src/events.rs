//! Events the practitioners service consumes: the registry's reviews, reviewer and terms of
//! reference (scope period: the methodology is agreed), kept by the platform's review
//! projection, the terms' key lines of enquiry, and the practitioners named in agencies'
//! submitted chronologies (suggestions).

use cspr_platform::bus::consumer::{self, Consumed, HandlerError, review_id};
use cspr_proto::events::v1::event::Body;

use crate::store::Store;

/// Handles the events the service consumes, with the store that writes suggested
/// practitioners.
#[derive(Debug, Clone)]
pub struct EventHandler(pub Store);

impl consumer::EventHandler for EventHandler {
    async fn handle(&self, consumed: Consumed<'_>) -> Result<(), HandlerError> {
        match consumed.body {
            Body::TermsOfReferenceSet(terms) => {
                Store::record_key_lines(
                    consumed.connection,
                    review_id(consumed.event)?,
                    &terms.key_lines_of_enquiry,
                )
                .await?;
            }
            Body::AgencyReportSubmitted(submitted) => {
                let review_id = review_id(consumed.event)?;
                for named in &submitted.practitioners {
                    if named.name.trim().is_empty() {
                        continue;
                    }
                    self.0
                        .suggest(
                            consumed.connection,
                            review_id,
                            &consumed.event.partnership_id,
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
