//! Events the submissions service consumes: the registry's reviews, terms of reference
//! (which create one report request per agency in scope) and reviewer appointments. What it
//! publishes is written by the store with each command.

use cspr_platform::bus::consumer::{EventHandler, HandlerError, review_id};
use cspr_platform::convert::date_from_proto;
use cspr_proto::events::v1::{Actor, Event, event::Body};
use sqlx::PgConnection;

use crate::domain::ScopePeriod;
use crate::store::{AgencyAsk, Store};

/// Keeps the review projection and creates requests from the terms of reference.
#[derive(Debug, Clone)]
pub struct RegistryEventHandler {
    /// Writes requests and their events.
    store: Store,
}

impl RegistryEventHandler {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

fn bad(event: &Event, what: &str) -> HandlerError {
    HandlerError::message(format!("event {} ({}): {what}", event.id, event.r#type))
}

impl EventHandler for RegistryEventHandler {
    async fn handle(
        &self,
        connection: &mut PgConnection,
        event: &Event,
    ) -> Result<(), HandlerError> {
        let Some(body) = &event.body else {
            return Ok(());
        };
        match body {
            Body::ReviewCreated(created) => {
                Store::record_review(
                    connection,
                    review_id(event)?,
                    &event.partnership_id,
                    &created.reference,
                )
                .await?;
            }
            Body::ReviewerAppointed(appointed) => {
                Store::record_reviewer(
                    connection,
                    review_id(event)?,
                    &event.partnership_id,
                    &appointed.subject,
                )
                .await?;
            }
            Body::TermsOfReferenceSet(terms) => {
                let review_id = review_id(event)?;
                let scope = ScopePeriod {
                    start: date_from_proto(terms.scope_start.as_ref())
                        .map_err(|_| bad(event, "scope_start"))?,
                    end: date_from_proto(terms.scope_end.as_ref())
                        .map_err(|_| bad(event, "scope_end"))?,
                };
                let due_date = date_from_proto(terms.report_due_date.as_ref())
                    .map_err(|_| bad(event, "report_due_date"))?;
                Store::record_scope(
                    connection,
                    review_id,
                    &event.partnership_id,
                    &terms.review_reference,
                    scope,
                )
                .await?;
                let actor = event.actor.clone().unwrap_or_else(|| Actor {
                    subject: "system:terms-of-reference".into(),
                    roles: vec![],
                });
                for agency in &terms.agencies_in_scope {
                    let ask = AgencyAsk {
                        agency_id: agency.id.clone(),
                        agency_name: agency.name.clone(),
                        contact_email: agency.contact_email.clone(),
                        due_date,
                    };
                    self.store
                        .ask_agency(
                            connection,
                            review_id,
                            &event.partnership_id,
                            &ask,
                            actor.clone(),
                        )
                        .await?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}
