//! Events in, deliveries out: every event of the services that produce emails is planned
//! (which template to whom), rendered (with a panel meeting's calendar entry), and written
//! as deliveries in the consumer's transaction — the unique (event, recipient, template) key
//! makes redelivery harmless.

use std::collections::BTreeMap;
use std::sync::Arc;

use cspr_platform::bus::consumer::{self, Consumed, HandlerError};
use cspr_platform::bus::trace;
use cspr_platform::clock::Clock;
use cspr_platform::projection::reviews;
use cspr_proto::events::v1::event::Body;
use cspr_proto::registry::v1::PanelRole;
use uuid::Uuid;

use crate::calendar::{self, Organizer};
use crate::domain::{self, Chair, Known, Templates};
use crate::store::{self, NewDelivery};

/// The producers whose events cause emails.
pub const SOURCES: [&str; 5] = [
    "registry",
    "submissions",
    "practitioners",
    "family",
    "actions",
];

/// Handles the events the service consumes: plans their deliveries.
pub struct EventHandler {
    /// The emails' subjects and bodies.
    templates: Arc<Templates>,
    /// Stamps the deliveries.
    clock: Arc<dyn Clock>,
    /// Each partnership's business unit mailbox.
    business_units: Arc<BTreeMap<String, String>>,
    /// The ORGANIZER of the calendar entries: the From mailbox.
    organizer: Arc<Organizer>,
}

impl EventHandler {
    pub fn new(
        templates: Arc<Templates>,
        clock: Arc<dyn Clock>,
        business_units: BTreeMap<String, String>,
        organizer: Organizer,
    ) -> Self {
        Self {
            templates,
            clock,
            business_units: Arc::new(business_units),
            organizer: Arc::new(organizer),
        }
    }
}

impl consumer::EventHandler for EventHandler {
    async fn handle(&self, consumed: Consumed<'_>) -> Result<(), HandlerError> {
        let review_id = consumed.event.review_id.parse::<Uuid>().ok();
        // Events about no review (or a malformed one) are still planned, without its facts.
        if let Some(review_id) = review_id {
            reviews::apply(consumed.connection, consumed.event).await?;
            if let Body::PanelMemberAppointed(member) = consumed.body
                && member.role == PanelRole::Chair as i32
            {
                let chair = Chair {
                    name: member.name.clone(),
                    email: member.email.clone(),
                };
                store::record_chair(
                    consumed.connection,
                    review_id,
                    &consumed.event.partnership_id,
                    &chair,
                )
                .await?;
            }
        }
        let (reference, chair) = match review_id {
            Some(review_id) => store::review_facts(consumed.connection, review_id).await?,
            None => (String::new(), None),
        };
        let known = Known {
            chair: chair.as_ref(),
            business_unit: self
                .business_units
                .get(&consumed.event.partnership_id)
                .map(String::as_str),
        };
        let planned = domain::plan(consumed.event, &reference, &known);
        if planned.is_empty() {
            return Ok(());
        }
        let event_id = consumed.event.id.parse::<Uuid>().map_err(|_| {
            HandlerError::message(format!("event id {:?} is not a UUID", consumed.event.id))
        })?;
        let trace_headers = trace::current_headers();
        // The entry's DTSTAMP: when the change happened.
        let stamp = consumed
            .event
            .occurred_at
            .as_ref()
            .and_then(|at| chrono::DateTime::from_timestamp(at.seconds, 0))
            .unwrap_or_else(|| self.clock.now());
        for email in planned {
            let rendered = self
                .templates
                .render(email.template, &email.facts)
                .map_err(|error| HandlerError(Box::new(error)))?;
            let review_reference = email.facts["review_reference"]
                .as_str()
                .unwrap_or(&reference)
                .to_string();
            let calendar = email.calendar.as_ref().map(|meeting| {
                (
                    meeting.method,
                    calendar::entry(meeting, &self.organizer, stamp),
                )
            });
            let inserted = store::insert_delivery(
                consumed.connection,
                &NewDelivery {
                    event_id,
                    event_type: consumed.event.r#type.clone(),
                    template: email.template.name(),
                    recipient: email.recipient,
                    partnership_id: consumed.event.partnership_id.clone(),
                    review_id,
                    review_reference,
                    subject: rendered.subject,
                    body_text: rendered.text,
                    body_html: rendered.html,
                    calendar,
                    trace_headers: trace_headers.clone(),
                    now: self.clock.now(),
                },
            )
            .await?;
            if !inserted {
                tracing::debug!(event_id = %event_id, template = email.template.name(), "delivery already planned");
            }
        }
        Ok(())
    }
}
