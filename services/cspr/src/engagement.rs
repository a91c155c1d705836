//! `cspr practitioner list`, `cspr learning-event schedule`: practitioner engagement from a
//! terminal.

use std::process::ExitCode;

use cspr_proto::practitioners::v1 as pb;
use cspr_proto::practitioners::v1::practitioner_engagement_client::PractitionerEngagementClient;
use serde_json::{Value, json};

use crate::cli::{Client, LearningEventCommand, PractitionerCommand};
use crate::client::{Target, connect, explain};
use crate::output::{Row, date_text, enum_name, print_list, print_record};

impl Row for pb::Practitioner {
    const COLUMNS: &'static [&'static str] = &[
        "NAME", "ROLE", "AGENCY", "STATUS", "FROM", "TO", "CONTACT", "ID",
    ];

    fn cells(&self) -> Vec<String> {
        let contact = match &self.deferral {
            Some(deferral) => format!("deferred (review {})", date_text(&deferral.review_date)),
            None => "open".to_string(),
        };
        vec![
            self.name.clone(),
            self.role.clone(),
            self.agency_id.clone(),
            enum_name::<pb::PractitionerStatus>(self.status),
            date_text(&self.involvement_start),
            date_text(&self.involvement_end),
            contact,
            self.id.clone(),
        ]
    }

    fn json(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "agency_id": self.agency_id,
            "email": self.email,
            "status": enum_name::<pb::PractitionerStatus>(self.status),
            "involvement_start": date_text(&self.involvement_start),
            "involvement_end": date_text(&self.involvement_end),
            "deferred_until_review": self.deferral.as_ref().map(|deferral| date_text(&deferral.review_date)),
        })
    }
}

/// A timestamp in RFC 3339 (UTC); empty when absent.
fn timestamp_text(timestamp: &Option<prost_types::Timestamp>) -> String {
    timestamp
        .as_ref()
        .and_then(|timestamp| {
            chrono::DateTime::from_timestamp(timestamp.seconds, timestamp.nanos.max(0) as u32)
        })
        .map(|time| time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_default()
}

impl Row for pb::LearningEvent {
    const COLUMNS: &'static [&'static str] =
        &["ID", "REVIEW", "AT", "LOCATION", "INVITED", "INVITEES"];

    fn cells(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            self.review_id.clone(),
            timestamp_text(&self.scheduled_at),
            self.location.clone(),
            self.invitee_ids.len().to_string(),
            self.invitee_ids.join(" "),
        ]
    }

    fn json(&self) -> Value {
        json!({
            "id": self.id,
            "review_id": self.review_id,
            "scheduled_at": timestamp_text(&self.scheduled_at),
            "location": self.location,
            "agenda": self.agenda,
            "invitee_ids": self.invitee_ids,
        })
    }
}

pub(crate) async fn practitioner(args: Client<PractitionerCommand>) -> anyhow::Result<ExitCode> {
    let PractitionerCommand::List { review, suggested } = args.command;
    let mut client =
        PractitionerEngagementClient::new(connect(&args.client, Target::Practitioners).await?);
    let mut all = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_practitioners(pb::ListPractitionersRequest {
                review_id: review.id.clone(),
                include_suggested: suggested,
                page_size: 500,
                page_token,
            })
            .await
            .map_err(explain)?
            .into_inner();
        all.extend(page.practitioners);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    print_list(args.client.output, &all)?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn learning_event(args: Client<LearningEventCommand>) -> anyhow::Result<ExitCode> {
    let LearningEventCommand::Schedule {
        review,
        at,
        location,
        agenda,
        add,
        remove,
        request_id,
    } = args.command;
    let mut client =
        PractitionerEngagementClient::new(connect(&args.client, Target::Practitioners).await?);
    let event = client
        .schedule_learning_event(pb::ScheduleLearningEventRequest {
            request_id: request_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            review_id: review.id,
            scheduled_at: Some(prost_types::Timestamp {
                seconds: at.timestamp(),
                nanos: 0,
            }),
            location,
            agenda,
            add_practitioner_ids: add,
            remove_practitioner_ids: remove,
        })
        .await
        .map_err(explain)?
        .into_inner();
    print_record(args.client.output, &event)?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_print_in_rfc_3339() {
        let at = Some(prost_types::Timestamp {
            seconds: 4_081_312_800,
            nanos: 0,
        });
        assert_eq!(timestamp_text(&at), "2099-05-01T10:00:00Z");
        assert_eq!(timestamp_text(&None), "");
    }
}
