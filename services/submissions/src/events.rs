//! Events the submissions service consumes: the registry's reviews, reviewer appointments
//! and terms of reference (scope period), kept by the platform's review projection; the terms
//! also create one report request per agency in scope. What it publishes is written by the
//! store with each command.

use cspr_platform::bus::consumer::{self, Consumed, HandlerError, review_id};
use cspr_platform::bus::outbox;
use cspr_platform::convert::date_from_proto;
use cspr_proto::events::v1::{Event, event::Body};

use crate::store::{AgencyAsk, Store};

/// Creates requests from the terms of reference (after the review projection has kept them),
/// with the store that writes requests and their events.
#[derive(Debug, Clone)]
pub struct EventHandler(pub Store);

fn bad(event: &Event, what: &str) -> HandlerError {
    HandlerError::message(format!("event {} ({}): {what}", event.id, event.r#type))
}

impl consumer::EventHandler for EventHandler {
    async fn handle(&self, consumed: Consumed<'_>) -> Result<(), HandlerError> {
        let Body::TermsOfReferenceSet(terms) = consumed.body else {
            return Ok(());
        };
        let review_id = review_id(consumed.event)?;
        let due_date = date_from_proto(terms.report_due_date.as_ref())
            .map_err(|_| bad(consumed.event, "report_due_date"))?;
        let actor = consumed
            .event
            .actor
            .clone()
            .unwrap_or_else(|| outbox::system_actor("system:terms-of-reference"));
        for agency in &terms.agencies_in_scope {
            let ask = AgencyAsk {
                agency_id: agency.id.clone(),
                agency_name: agency.name.clone(),
                contact_email: agency.contact_email.clone(),
                due_date,
            };
            self.0
                .ask_agency(
                    consumed.connection,
                    review_id,
                    &consumed.event.partnership_id,
                    &ask,
                    actor.clone(),
                )
                .await?;
        }
        Ok(())
    }
}
