//! Emails against a real SMTP server (the platform's, run by the test): one per recipient for each
//! kind of event with the right facts, none twice on redelivery, every one after an SMTP
//! outage (with a second sender racing as a replica would), a refused address failing
//! alone, `.eml` files when no SMTP server is configured, and a panel meeting's calendar
//! entry (iMIP) to each invitee once per change, read with independent MIME and iCalendar
//! parsers.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{
    NotificationsTest, Refusal, Reply, SmtpSink, TestNotifications, authed, date, files_in, header,
    plain_text,
};
use cspr_notifications::config::MailTarget;
use cspr_proto::events::v1::{
    AgencyReportRequested, AgencyReportReturned, DeadlineAtRisk, DeadlineMissed,
    InformationRequestAnswered, InformationRequestOverdue, InformationRequestedFromReviewer,
    PanelMemberAppointed, PanelMemberFoundInvolved, ReportDueSoon, ReportOverdue,
    ReviewerAppointed, event::Body,
};
use cspr_proto::notifications::v1 as pb;
use cspr_proto::registry::v1::{DeadlineKind, PanelRole};
use tonic::Code;

fn requested(agency_id: &str, email: &str) -> Body {
    Body::AgencyReportRequested(AgencyReportRequested {
        agency_id: agency_id.into(),
        agency_name: format!("Southvale {agency_id}"),
        contact_email: email.into(),
        due_date: date(2026, 5, 1),
        review_reference: "SOUTHVALE-2026-001".into(),
        scope_start: date(2024, 9, 15),
        scope_end: date(2026, 3, 9),
    })
}

#[tokio::test]
async fn each_kind_of_event_emails_each_recipient_once() {
    let mut smtp = SmtpSink::start().await;
    let service = TestNotifications::start(MailTarget::Smtp { url: smtp.url() }).await;
    let review = service.create_review().await;
    let reference = common::REVIEW_REFERENCE.to_string();
    service
        .deliver_body(
            &review,
            Body::PanelMemberAppointed(PanelMemberAppointed {
                panel_member_id: "m1".into(),
                name: "Tess Holroyd".into(),
                email: "tess@panel.southvale.example.org".into(),
                organisation: "Southvale Police".into(),
                role: PanelRole::Chair as i32,
                review_reference: reference.clone(),
            }),
        )
        .await;
    service
        .deliver_body(
            &review,
            Body::ReviewerAppointed(ReviewerAppointed {
                name: "Isla Oakes".into(),
                email: "isla@reviewers.example.org".into(),
                subject: "isla".into(),
                review_reference: reference.clone(),
            }),
        )
        .await;
    service
        .deliver_body(
            &review,
            requested("police", "lead@police.southvale.example.org"),
        )
        .await;
    service
        .deliver_body(&review, requested("gp", "lead@gp.southvale.example.org"))
        .await;
    service
        .deliver_body(
            &review,
            Body::ReportDueSoon(ReportDueSoon {
                agency_id: "gp".into(),
                contact_email: "lead@gp.southvale.example.org".into(),
                due_date: date(2026, 5, 1),
                review_reference: reference.clone(),
            }),
        )
        .await;
    service
        .deliver_body(
            &review,
            Body::ReportOverdue(ReportOverdue {
                agency_id: "gp".into(),
                contact_email: "lead@gp.southvale.example.org".into(),
                due_date: date(2026, 5, 1),
                review_reference: reference.clone(),
            }),
        )
        .await;
    service
        .deliver_body(
            &review,
            Body::AgencyReportReturned(AgencyReportReturned {
                agency_id: "police".into(),
                version: 1,
                missing: "Entries for 2025 are missing.".into(),
                contact_email: "lead@police.southvale.example.org".into(),
                due_date: date(2026, 5, 8),
                review_reference: reference.clone(),
            }),
        )
        .await;
    service
        .deliver_body(
            &review,
            Body::DeadlineAtRisk(DeadlineAtRisk {
                kind: DeadlineKind::RapidReview as i32,
                due_on: date(2026, 4, 1),
                working_days_left: 2,
                review_reference: reference.clone(),
            }),
        )
        .await;
    service
        .deliver_body(
            &review,
            Body::DeadlineMissed(DeadlineMissed {
                kind: DeadlineKind::RapidReview as i32,
                due_on: date(2026, 4, 1),
                review_reference: reference.clone(),
            }),
        )
        .await;
    // The partnership asks the reviewer for information; the answer is announced to the
    // request's reply address (late), and to nobody when it has none.
    service
        .deliver_body(
            &review,
            Body::InformationRequestedFromReviewer(InformationRequestedFromReviewer {
                information_request_id: "i1".into(),
                respond_by: date(2026, 6, 12),
                reviewer_name: "Isla Oakes".into(),
                reviewer_email: "isla@reviewers.example.org".into(),
                review_reference: reference.clone(),
            }),
        )
        .await;
    service
        .deliver_body(
            &review,
            Body::InformationRequestOverdue(InformationRequestOverdue {
                information_request_id: "i1".into(),
                respond_by: date(2026, 6, 12),
                reviewer_name: "Isla Oakes".into(),
                reviewer_email: "isla@reviewers.example.org".into(),
                review_reference: reference.clone(),
            }),
        )
        .await;
    for (id, reply_to) in [("i1", "business.unit@southvale.example.org"), ("i2", "")] {
        service
            .deliver_body(
                &review,
                Body::InformationRequestAnswered(InformationRequestAnswered {
                    information_request_id: id.into(),
                    respond_by: date(2026, 6, 12),
                    answer_time: Some(prost_types::Timestamp {
                        seconds: 1_781_690_400, // 2026-06-17 10:00 UTC
                        nanos: 0,
                    }),
                    reply_to_email: reply_to.into(),
                    review_reference: reference.clone(),
                    late: true,
                }),
            )
            .await;
    }

    // A panel member found involved in the case: the business unit is told.
    service
        .deliver_body(
            &review,
            Body::PanelMemberFoundInvolved(PanelMemberFoundInvolved {
                panel_member_id: "m1".into(),
                name: "Tess Holroyd".into(),
                organisation: "Southvale Police".into(),
                found: "named in Southvale Police's chronology".into(),
                review_reference: reference.clone(),
            }),
        )
        .await;

    let messages = smtp.wait_for(13, Duration::from_secs(30)).await;
    let subjects: BTreeMap<String, Vec<String>> =
        messages
            .iter()
            .fold(BTreeMap::new(), |mut by_recipient, (recipient, raw)| {
                by_recipient
                    .entry(recipient.clone())
                    .or_default()
                    .push(header(raw, "Subject").unwrap_or_default());
                by_recipient
            });
    assert_eq!(messages.len(), 13, "{subjects:#?}");
    let police: Vec<_> = messages
        .iter()
        .filter(|(recipient, _)| recipient == "lead@police.southvale.example.org")
        .collect();
    assert_eq!(police.len(), 2, "requested and returned");
    let request = police
        .iter()
        .find(|(_, raw)| {
            header(raw, "Subject").is_some_and(|subject| subject.starts_with("Report requested"))
        })
        .expect("the request email");
    assert_eq!(
        header(&request.1, "Subject").as_deref(),
        Some("Report requested for review SOUTHVALE-2026-001: due Friday 1 May 2026")
    );
    assert!(
        header(&request.1, "To").is_some_and(|to| to.contains("lead@police.southvale.example.org"))
    );
    let text = plain_text(&request.1);
    assert!(
        text.contains("Sunday 15 September 2024 to Monday 9 March 2026"),
        "{text}"
    );
    assert!(text.contains(&review), "the review id to quote");
    assert!(
        request.1.contains("Content-Type: text/html"),
        "an HTML alternative"
    );
    assert_eq!(
        subjects["lead@gp.southvale.example.org"].len(),
        3,
        "requested, due soon, overdue"
    );
    let mut to_reviewer = subjects["isla@reviewers.example.org"].clone();
    to_reviewer.sort();
    assert_eq!(
        to_reviewer,
        vec![
            "Reminder: the partnership's request for information on review SOUTHVALE-2026-001 was wanted by Friday 12 June 2026".to_string(),
            "The partnership asks you for information on review SOUTHVALE-2026-001: please answer by Friday 12 June 2026".to_string(),
            "You have been appointed independent reviewer of review SOUTHVALE-2026-001".to_string(),
        ],
        "reminded, asked, appointed"
    );
    let to_unit = |subject: &str| {
        messages
            .iter()
            .find(|(recipient, raw)| {
                recipient == common::BUSINESS_UNIT
                    && header(raw, "Subject").is_some_and(|value| value.starts_with(subject))
            })
            .unwrap_or_else(|| panic!("{subject:?} to the business unit: {subjects:#?}"))
    };
    let found = to_unit("Panel independence");
    assert_eq!(
        header(&found.1, "Subject").as_deref(),
        Some(
            "Panel independence on review SOUTHVALE-2026-001: Tess Holroyd was found involved in the case"
        )
    );
    assert!(plain_text(&found.1).contains("named in Southvale Police's chronology"));
    let answered = to_unit("The reviewer answered");
    assert_eq!(
        header(&answered.1, "Subject").as_deref(),
        Some(
            "The reviewer answered your request for information on review SOUTHVALE-2026-001 (after Friday 12 June 2026)"
        )
    );
    assert!(
        plain_text(&answered.1).contains("after the day asked for"),
        "{}",
        plain_text(&answered.1)
    );
    assert_eq!(
        subjects["tess@panel.southvale.example.org"].len(),
        3,
        "appointed, at risk, missed"
    );
    let returned = police
        .iter()
        .find(|(_, raw)| {
            header(raw, "Subject").is_some_and(|subject| subject.starts_with("Report returned"))
        })
        .expect("the returned email");
    assert!(plain_text(&returned.1).contains("Entries for 2025 are missing."));

    assert_eq!(service.deliveries(pb::DeliveryStatus::Sent).await.len(), 13);
    smtp.stop().await;
    service.stop().await;
}

#[tokio::test]
async fn a_redelivered_event_sends_one_email() {
    let mut smtp = SmtpSink::start().await;
    let service = TestNotifications::start(MailTarget::Smtp { url: smtp.url() }).await;
    let review = uuid::Uuid::now_v7().to_string();
    let event = service
        .deliver_body(
            &review,
            requested("police", "lead@police.southvale.example.org"),
        )
        .await;
    // The same event twice again, past JetStream's duplicate window (another message id),
    // each copy taken in (handled or found in the inbox) and acknowledged.
    service.redeliver(&event).await;
    service.redeliver(&event).await;
    assert_eq!(service.delivery_count().await, 1, "one delivery planned");
    service.wait_for_status(pb::DeliveryStatus::Sent, 1).await;
    let messages = smtp.messages();
    assert_eq!(messages.len(), 1, "{messages:?}");
    smtp.stop().await;
    service.stop().await;
}

#[tokio::test]
async fn every_email_arrives_once_after_an_smtp_outage() {
    let mut smtp = SmtpSink::start().await;
    let service = TestNotifications::start(MailTarget::Smtp { url: smtp.url() }).await;
    smtp.stop().await;
    let review = uuid::Uuid::now_v7().to_string();
    for index in 0..40 {
        service
            .deliver_body(
                &review,
                requested(
                    &format!("agency-{index}"),
                    &format!("lead{index}@agency.example.org"),
                ),
            )
            .await;
    }
    assert_eq!(service.delivery_count().await, 40);
    // Every first attempt fails while the server is down.
    service
        .wait_for_status(pb::DeliveryStatus::Retrying, 40)
        .await;
    assert!(smtp.messages().is_empty());

    // The server returns; a second sender (another replica) races the service's own.
    smtp.restart().await;
    let replica = cspr_notifications::sender::Sender::new(
        service.pool().clone(),
        cspr_notifications::mailer::Mailer::new(&MailTarget::Smtp { url: smtp.url() }, 8)
            .expect("mailer"),
        "CSPR reviews <no-reply@cspr.test>".parse().expect("from"),
        cspr_notifications::sender::SenderSettings {
            batch: 8,
            poll: Duration::from_millis(50),
            ..Default::default()
        },
        std::sync::Arc::new(service.clock.clone()),
    );
    let stop_replica = tokio_util::sync::CancellationToken::new();
    let replica_task = tokio::spawn(replica.run(stop_replica.clone()));
    service
        .clock
        .set_date(cspr_platform::testing::date("2026-04-21"));

    let messages = smtp.wait_for(40, Duration::from_secs(60)).await;
    stop_replica.cancel();
    replica_task.await.expect("replica stops");
    let recipients: std::collections::BTreeSet<_> = messages
        .iter()
        .map(|(recipient, _)| recipient.clone())
        .collect();
    assert_eq!(messages.len(), 40, "every email, none twice");
    assert_eq!(recipients.len(), 40);
    assert_eq!(service.deliveries(pb::DeliveryStatus::Sent).await.len(), 40);
    smtp.stop().await;
    service.stop().await;
}

#[tokio::test]
async fn a_refused_address_fails_alone_and_can_be_retried() {
    let mut smtp = SmtpSink::start().await;
    let service = TestNotifications::start(MailTarget::Smtp { url: smtp.url() }).await;
    let review = uuid::Uuid::now_v7().to_string();
    service
        .deliver_body(
            &review,
            requested("police", "lead@police.southvale.example.org"),
        )
        .await;
    service
        .deliver_body(&review, requested("ghost", "nobody@rejected.invalid"))
        .await;
    service
        .deliver_body(&review, requested("gp", "lead@gp.southvale.example.org"))
        .await;

    let messages = smtp.wait_for(2, Duration::from_secs(20)).await;
    assert_eq!(messages.len(), 2);
    let failed = service.wait_for_status(pb::DeliveryStatus::Failed, 1).await;
    assert_eq!(failed[0].recipient, "nobody@rejected.invalid");
    assert_eq!(failed[0].attempts, 1, "a permanent refusal is not retried");
    assert!(
        failed[0].last_error.contains("550"),
        "{}",
        failed[0].last_error
    );

    let mut client = service.client.clone();
    let operations = service.role_token("operations");
    let retried = client
        .retry_delivery(authed(
            pb::RetryDeliveryRequest {
                delivery_id: failed[0].id.clone(),
            },
            &operations,
        ))
        .await
        .reply("re-queued");
    assert_eq!(retried.status, pb::DeliveryStatus::Pending as i32);
    let (actor, outcome, resource): (String, String, String) = sqlx::query_as(
        "SELECT actor, outcome, resource FROM audit_records WHERE action = 'RetryDelivery'",
    )
    .fetch_one(service.pool())
    .await
    .expect("the retry's audit record");
    assert_eq!(outcome, "ok");
    assert_eq!(resource, format!("deliveries/{}", failed[0].id));
    assert!(!actor.is_empty());
    let sent = service.deliveries(pb::DeliveryStatus::Sent).await;
    client
        .retry_delivery(authed(
            pb::RetryDeliveryRequest {
                delivery_id: sent[0].id.clone(),
            },
            &operations,
        ))
        .await
        .refused(Code::FailedPrecondition, "only failed deliveries");
    let refusal_outcomes: Vec<String> = sqlx::query_scalar(
        "SELECT outcome FROM audit_records WHERE action = 'RetryDelivery' ORDER BY at, id",
    )
    .fetch_all(service.pool())
    .await
    .expect("audit records");
    assert_eq!(refusal_outcomes, ["ok", "FAILED_PRECONDITION"]);
    let member = service.role_token("panel_member");
    client
        .list_deliveries(authed(pb::ListDeliveriesRequest::default(), &member))
        .await
        .refused(Code::PermissionDenied, "operators only");
    // A filter PostgreSQL could not even compare (a NUL byte) is the caller's error.
    client
        .list_deliveries(authed(
            pb::ListDeliveriesRequest {
                recipient: "lead@agency.example\0".into(),
                ..Default::default()
            },
            &operations,
        ))
        .await
        .invalid(&["recipient"], "NUL in the recipient filter");
    let elsewhere = service.token_elsewhere("operations", None);
    client
        .get_delivery(authed(
            pb::GetDeliveryRequest {
                delivery_id: sent[0].id.clone(),
            },
            &elsewhere,
        ))
        .await
        .refused(Code::NotFound, "another partnership");
    smtp.stop().await;
    service.stop().await;
}

#[tokio::test]
async fn without_smtp_emails_are_written_as_eml_files() {
    let directory = std::env::temp_dir().join(cspr_platform::testing::unique("cspr-mail-"));
    let service = TestNotifications::start(MailTarget::Files {
        directory: directory.clone(),
    })
    .await;
    let review = uuid::Uuid::now_v7().to_string();
    service
        .deliver_body(
            &review,
            requested("police", "lead@police.southvale.example.org"),
        )
        .await;

    service.wait_for_status(pb::DeliveryStatus::Sent, 1).await;
    let files = files_in(&directory);
    assert_eq!(files.len(), 1);
    assert_eq!(
        files[0]
            .extension()
            .and_then(|extension| extension.to_str()),
        Some("eml")
    );
    let raw = std::fs::read_to_string(&files[0]).expect("readable");
    assert!(header(&raw, "To").is_some_and(|to| to.contains("lead@police.southvale.example.org")));
    assert!(header(&raw, "From").is_some_and(|from| from.contains("no-reply@cspr.test")));
    assert!(header(&raw, "Subject").is_some_and(|subject| subject.contains("SOUTHVALE-2026-001")));
    assert!(header(&raw, "Message-ID").is_some_and(|id| id.ends_with("@cspr>")));
    assert!(
        raw.contains("multipart/alternative")
            && raw.contains("Content-Type: text/plain")
            && raw.contains("Content-Type: text/html")
    );
    assert!(plain_text(&raw).contains("Friday 1 May 2026"));
    service.stop().await;
    let _ = std::fs::remove_dir_all(&directory);
}

#[tokio::test]
async fn practitioners_families_and_action_owners_are_emailed_too() {
    use cspr_proto::events::v1::{
        ActionAssigned, ConversationScheduled, FamilyContactRequested, Invitee,
        LearningEventScheduled,
    };

    let mut smtp = SmtpSink::start().await;
    let service = TestNotifications::start(MailTarget::Smtp { url: smtp.url() }).await;
    let review = uuid::Uuid::now_v7().to_string();
    service
        .deliver_body(
            &review,
            Body::ConversationScheduled(ConversationScheduled {
                conversation_id: "c1".into(),
                practitioner_id: "p1".into(),
                practitioner_name: "Alex Smith".into(),
                practitioner_email: "alex@hv.southvale.example.org".into(),
                scheduled_at: Some(prost_types::Timestamp {
                    seconds: 1_778_580_000,
                    nanos: 0,
                }),
                location: "Southvale House, room 2".into(),
                advance_information: "Bring your case notes from 2025.".into(),
                key_lines_of_enquiry: vec!["How was neglect recognised?".into()],
                review_reference: "SOUTHVALE-2026-001".into(),
            }),
        )
        .await;
    service
        .deliver_body(
            &review,
            Body::LearningEventScheduled(LearningEventScheduled {
                learning_event_id: "l1".into(),
                scheduled_at: Some(prost_types::Timestamp {
                    seconds: 1_779_000_000,
                    nanos: 0,
                }),
                location: "Online".into(),
                agenda: "What happened; what helped; what to change.".into(),
                invitees: vec![
                    Invitee {
                        practitioner_id: "p1".into(),
                        name: "Alex Smith".into(),
                        email: "alex@hv.southvale.example.org".into(),
                    },
                    Invitee {
                        practitioner_id: "p2".into(),
                        name: "Sam Jones".into(),
                        email: "sam@school.southvale.example.org".into(),
                    },
                ],
                review_reference: "SOUTHVALE-2026-001".into(),
            }),
        )
        .await;
    service
        .deliver_body(
            &review,
            Body::FamilyContactRequested(FamilyContactRequested {
                family_member_id: "fm-1".into(),
                relationship: "grandparent".into(),
                professional_name: "Dana Reed".into(),
                professional_email: "dana@hv.southvale.example.org".into(),
                professional_agency: "health-visiting".into(),
                purpose: "To hear their view of the support the family received.".into(),
                review_reference: "SOUTHVALE-2026-001".into(),
            }),
        )
        .await;
    service
        .deliver_body(
            &review,
            Body::ActionAssigned(ActionAssigned {
                action_id: "a1".into(),
                recommendation_ref: "R1".into(),
                description: "Agree a neglect information-sharing protocol.".into(),
                owner_agency: "csc".into(),
                owner_email: "owner@csc.southvale.example.org".into(),
                due_date: date(2026, 9, 30),
                measure_of_success: "Audit shows concerns shared within 24 hours.".into(),
                review_reference: "SOUTHVALE-2026-001".into(),
            }),
        )
        .await;

    let messages = smtp.wait_for(5, Duration::from_secs(30)).await;
    assert_eq!(messages.len(), 5);
    let alex: Vec<_> = messages
        .iter()
        .filter(|(recipient, _)| recipient == "alex@hv.southvale.example.org")
        .collect();
    assert_eq!(alex.len(), 2, "the conversation and the learning event");
    let conversation = alex
        .iter()
        .find(|(_, raw)| {
            header(raw, "Subject").is_some_and(|subject| subject.contains("conversation"))
        })
        .expect("the conversation invitation");
    let text = plain_text(&conversation.1);
    assert!(
        text.contains("Bring your case notes from 2025.") && text.contains("not about blame"),
        "{text}"
    );
    let family = messages
        .iter()
        .find(|(recipient, _)| recipient == "dana@hv.southvale.example.org")
        .expect("the known professional is asked, not the family");
    assert!(plain_text(&family.1).contains("(grandparent)"));
    assert!(messages.iter().any(
        |(recipient, raw)| recipient == "owner@csc.southvale.example.org"
            && plain_text(raw).contains("Wednesday 30 September 2026")
    ));
    smtp.stop().await;
    service.stop().await;
}

/// A received panel meeting email, read with parsers of the test's own: its MIME parts
/// (mail-parser) and the calendar entry in its `text/calendar` part (ical).
struct MeetingEmail {
    subject: String,
    text: String,
    html: String,
    /// The calendar part's `method=` parameter.
    part_method: String,
    /// The calendar part as received.
    entry: String,
    calendar: ical::parser::ical::component::IcalCalendar,
}

impl MeetingEmail {
    fn read(raw: &str) -> Self {
        use mail_parser::{MimeHeaders, PartType};
        let message = mail_parser::MessageParser::default()
            .parse(raw.as_bytes())
            .expect("a MIME message");
        let root = message.content_type().expect("a Content-Type");
        assert_eq!(
            (root.ctype(), root.subtype()),
            ("multipart", Some("alternative")),
            "{raw}"
        );
        // The leaves in order: plain text, HTML, then the calendar (RFC 6047 §2.4).
        let leaves: Vec<_> = message
            .parts
            .iter()
            .filter(|part| !matches!(part.body, PartType::Multipart(_)))
            .collect();
        let kinds: Vec<_> = leaves
            .iter()
            .map(|part| {
                let content_type = part.content_type().expect("a part's Content-Type");
                format!(
                    "{}/{}",
                    content_type.ctype(),
                    content_type.subtype().unwrap_or_default()
                )
            })
            .collect();
        assert_eq!(kinds, ["text/plain", "text/html", "text/calendar"], "{raw}");
        let content = |index: usize| {
            leaves[index]
                .text_contents()
                .expect("a text part")
                .to_string()
        };
        let calendar_type = leaves[2].content_type().expect("the calendar's type");
        assert!(
            calendar_type
                .attribute("charset")
                .is_some_and(|charset| charset.eq_ignore_ascii_case("utf-8")),
            "{raw}"
        );
        let entry = content(2);
        let mut calendars: Vec<_> =
            ical::IcalParser::new(std::io::BufReader::new(entry.as_bytes()))
                .collect::<Result<_, _>>()
                .unwrap_or_else(|error| panic!("{error}: {entry}"));
        assert_eq!(calendars.len(), 1, "one VCALENDAR: {entry}");
        let calendar = calendars.remove(0);
        assert_eq!(calendar.events.len(), 1, "one VEVENT: {entry}");
        Self {
            subject: message.subject().unwrap_or_default().to_string(),
            text: content(0),
            html: content(1),
            part_method: calendar_type
                .attribute("method")
                .unwrap_or_default()
                .to_string(),
            entry,
            calendar,
        }
    }

    /// The values of the VCALENDAR's properties `name`.
    fn calendar_values(&self, name: &str) -> Vec<String> {
        values(&self.calendar.properties, name)
    }

    /// The values of the VEVENT's properties `name`.
    fn event_values(&self, name: &str) -> Vec<String> {
        values(&self.calendar.events[0].properties, name)
    }

    /// The VEVENT's only property `name`, as text (RFC 5545 §3.3.11 escapes undone).
    fn event_text(&self, name: &str) -> String {
        let values = self.event_values(name);
        assert_eq!(values.len(), 1, "one {name}: {}", self.entry);
        unescape(&values[0])
    }

    fn event_properties(&self, name: &str) -> Vec<&ical::property::Property> {
        self.calendar.events[0]
            .properties
            .iter()
            .filter(|property| property.name == name)
            .collect()
    }
}

fn values(properties: &[ical::property::Property], name: &str) -> Vec<String> {
    properties
        .iter()
        .filter(|property| property.name == name)
        .map(|property| property.value.clone().unwrap_or_default())
        .collect()
}

fn unescape(text: &str) -> String {
    let mut unescaped = String::new();
    let mut characters = text.chars();
    while let Some(character) = characters.next() {
        match (character, character == '\\') {
            (_, true) => match characters.next() {
                Some('n' | 'N') => unescaped.push('\n'),
                Some(other) => unescaped.push(other),
                None => {}
            },
            (character, false) => unescaped.push(character),
        }
    }
    unescaped
}

fn parameter<'a>(property: &'a ical::property::Property, name: &str) -> Option<&'a str> {
    property
        .params
        .as_ref()?
        .iter()
        .find(|(key, _)| key == name)
        .and_then(|(_, values)| values.first())
        .map(String::as_str)
}

#[tokio::test]
async fn a_panel_meeting_sends_each_invitee_one_calendar_entry_per_change() {
    use chrono::{DateTime, Utc};
    use cspr_proto::events::v1::{MeetingInvitee, PanelMeetingCancelled, PanelMeetingScheduled};

    // The SMTP server is away at first: every email is sent on its retry, from what the
    // delivery stored.
    let mut smtp = SmtpSink::start().await;
    let service = TestNotifications::start(MailTarget::Smtp { url: smtp.url() }).await;
    smtp.stop().await;
    let review = service.create_review().await;
    let meeting_id = uuid::Uuid::now_v7().to_string();
    let at = |text: &str| {
        DateTime::parse_from_rfc3339(text)
            .expect("a time")
            .with_timezone(&Utc)
    };
    let timestamp = |instant: DateTime<Utc>| {
        Some(prost_types::Timestamp {
            seconds: instant.timestamp(),
            nanos: 0,
        })
    };
    let invitees = vec![
        MeetingInvitee {
            name: "Tess Holroyd".into(),
            email: "tess@panel.southvale.example.org".into(),
        },
        MeetingInvitee {
            name: "Isla Oakes".into(),
            email: "isla@reviewers.example.org".into(),
        },
    ];
    let (first_start, first_end) = (at("2026-05-12T10:00:00Z"), at("2026-05-12T12:00:00Z"));
    let (moved_start, moved_end) = (at("2026-05-19T13:00:00Z"), at("2026-05-19T15:30:00Z"));
    let first_place = "Southvale House, room 2; ground floor";
    let moved_place = "Online: https://meet.example.org/southvale-panel";
    let occurred = [
        at("2026-04-20T09:00:00Z"),
        at("2026-04-20T10:00:00Z"),
        at("2026-04-20T11:00:00Z"),
    ];
    let with_time = |body: Body, occurred_at: DateTime<Utc>| {
        let mut event = service.event(&review, body);
        event.occurred_at = timestamp(occurred_at);
        event
    };
    let scheduled = |sequence, start, end, location: &str| {
        Body::PanelMeetingScheduled(PanelMeetingScheduled {
            meeting_id: meeting_id.clone(),
            review_reference: "SOUTHVALE-2026-001".into(),
            start_time: timestamp(start),
            end_time: timestamp(end),
            location: location.into(),
            sequence,
            invitees: invitees.clone(),
        })
    };
    let events = [
        with_time(
            scheduled(0, first_start, first_end, first_place),
            occurred[0],
        ),
        with_time(
            scheduled(1, moved_start, moved_end, moved_place),
            occurred[1],
        ),
        with_time(
            Body::PanelMeetingCancelled(PanelMeetingCancelled {
                meeting_id: meeting_id.clone(),
                review_reference: "SOUTHVALE-2026-001".into(),
                start_time: timestamp(moved_start),
                end_time: timestamp(moved_end),
                location: moved_place.into(),
                sequence: 2,
                invitees: invitees.clone(),
            }),
            occurred[2],
        ),
    ];
    for event in &events {
        service.deliver(event).await;
    }
    // The change and the cancellation again, with the same event ids (past JetStream's
    // duplicate window), as a redelivery or a republish from the outbox would bring them.
    service.redeliver(&events[1]).await;
    service.redeliver(&events[2]).await;
    assert_eq!(
        service.delivery_count().await,
        6,
        "one per invitee and change"
    );
    service
        .wait_for_status(pb::DeliveryStatus::Retrying, 6)
        .await;
    assert!(smtp.messages().is_empty());
    smtp.restart().await;
    service
        .clock
        .set_date(cspr_platform::testing::date("2026-04-21"));

    let messages = smtp.wait_for(6, Duration::from_secs(60)).await;
    assert_eq!(messages.len(), 6, "none twice");
    service.wait_for_status(pb::DeliveryStatus::Sent, 6).await;
    let stored: BTreeMap<(String, String), String> = sqlx::query_as::<_, (String, String, String)>(
        "SELECT recipient, calendar_method, calendar FROM deliveries WHERE calendar IS NOT NULL",
    )
    .fetch_all(service.pool())
    .await
    .expect("the stored entries")
    .into_iter()
    .map(|(recipient, method, entry)| {
        let sequence = entry
            .lines()
            .find_map(|line| line.strip_prefix("SEQUENCE:"))
            .unwrap_or_default()
            .trim()
            .to_string();
        ((recipient, format!("{method} {sequence}")), entry)
    })
    .collect();
    assert_eq!(stored.len(), 6);

    let utc = |instant: DateTime<Utc>| instant.format("%Y%m%dT%H%M%SZ").to_string();
    let mut uids = std::collections::BTreeSet::new();
    for invitee in &invitees {
        let mut received: Vec<MeetingEmail> = messages
            .iter()
            .filter(|(recipient, _)| recipient == &invitee.email)
            .map(|(_, raw)| MeetingEmail::read(raw))
            .collect();
        assert_eq!(
            received.len(),
            3,
            "{}: invited, changed, cancelled",
            invitee.email
        );
        received.sort_by_key(|email| email.event_values("SEQUENCE"));
        for (index, email) in received.iter().enumerate() {
            let method = if index == 2 { "CANCEL" } else { "REQUEST" };
            let (start, end, place) = if index == 0 {
                (first_start, first_end, first_place)
            } else {
                (moved_start, moved_end, moved_place)
            };
            assert_eq!(email.event_values("SEQUENCE"), [index.to_string()]);
            assert_eq!(email.calendar_values("METHOD"), [method]);
            assert_eq!(email.part_method, method, "the part's method= parameter");
            assert_eq!(email.calendar_values("VERSION"), ["2.0"]);
            assert_eq!(
                email.calendar_values("PRODID"),
                ["-//cspr//panel meetings//EN"]
            );
            uids.extend(email.event_values("UID"));
            assert_eq!(email.event_values("DTSTAMP"), [utc(occurred[index])]);
            assert_eq!(email.event_values("DTSTART"), [utc(start)]);
            assert_eq!(email.event_values("DTEND"), [utc(end)]);
            assert_eq!(email.event_text("LOCATION"), place);
            assert_eq!(
                email.event_text("SUMMARY"),
                "Panel meeting: SOUTHVALE-2026-001"
            );
            assert_eq!(
                email.event_values("STATUS"),
                [if index == 2 { "CANCELLED" } else { "CONFIRMED" }]
            );
            let organizer = email.event_properties("ORGANIZER");
            assert_eq!(organizer.len(), 1);
            assert_eq!(
                organizer[0].value.as_deref(),
                Some("mailto:no-reply@cspr.test")
            );
            assert_eq!(parameter(organizer[0], "CN"), Some("CSPR reviews"));
            // Both invitees in every copy, each asked to respond.
            let attendees: Vec<_> = email
                .event_properties("ATTENDEE")
                .into_iter()
                .map(|attendee| {
                    assert_eq!(parameter(attendee, "ROLE"), Some("REQ-PARTICIPANT"));
                    assert_eq!(parameter(attendee, "PARTSTAT"), Some("NEEDS-ACTION"));
                    assert_eq!(parameter(attendee, "RSVP"), Some("TRUE"));
                    (
                        parameter(attendee, "CN").unwrap_or_default().to_string(),
                        attendee.value.clone().unwrap_or_default(),
                    )
                })
                .collect();
            assert_eq!(
                attendees,
                invitees
                    .iter()
                    .map(|invitee| (invitee.name.clone(), format!("mailto:{}", invitee.email)))
                    .collect::<Vec<_>>()
            );
            // The email: UK time, the place, the pointer to the papers — and no agenda in
            // any part (the registry keeps it; only the pointer to it is sent).
            assert!(
                email.text.contains(&format!("Where: {place}")),
                "{}",
                email.text
            );
            assert!(email.text.contains("The agenda and papers are in cspr."));
            assert!(email.html.contains("The agenda and papers are in cspr."));
            let calendar_text: Vec<String> = email
                .calendar
                .properties
                .iter()
                .chain(&email.calendar.events[0].properties)
                .map(|property| unescape(property.value.as_deref().unwrap_or_default()))
                .collect();
            for part in [&email.text, &email.html, &calendar_text.join("\n")] {
                assert!(
                    !part
                        .replace("The agenda and papers are in cspr.", "")
                        .to_lowercase()
                        .contains("agenda"),
                    "{part}"
                );
            }
            assert_eq!(
                email
                    .event_text("DESCRIPTION")
                    .contains("The agenda and papers are in cspr."),
                index < 2
            );
            // What was sent is what the delivery stored (so a retry sends the same).
            let key = (invitee.email.clone(), format!("{method} {index}"));
            assert_eq!(
                email.entry.replace("\r\n", "\n").trim_end(),
                stored[&key].replace("\r\n", "\n").trim_end(),
            );
        }
        assert!(
            received[0].subject.starts_with("Invitation: panel meeting for review SOUTHVALE-2026-001, Tuesday 12 May 2026 at 11:00"),
            "{}",
            received[0].subject
        );
        assert!(
            received[0]
                .text
                .contains("When: Tuesday 12 May 2026 at 11:00 to 13:00 (UK time)")
        );
        assert_eq!(
            received[1].subject,
            "Changed: panel meeting for review SOUTHVALE-2026-001, now Tuesday 19 May 2026 at 14:00"
        );
        assert!(
            received[1].text.contains("has changed"),
            "{}",
            received[1].text
        );
        assert!(
            received[1]
                .text
                .contains("When: Tuesday 19 May 2026 at 14:00 to 16:30 (UK time)")
        );
        assert_eq!(
            received[2].subject,
            "Cancelled: panel meeting for review SOUTHVALE-2026-001, Tuesday 19 May 2026 at 14:00"
        );
        assert!(
            received[2]
                .text
                .contains(&format!("Dear {},", invitee.name))
        );
    }
    assert_eq!(
        uids.into_iter().collect::<Vec<_>>(),
        [format!("{meeting_id}@cspr")],
        "one calendar entry, updated"
    );
    smtp.stop().await;
    service.stop().await;
}
