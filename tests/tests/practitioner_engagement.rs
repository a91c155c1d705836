//! Practitioner engagement across services: an agency's chronology names practitioners →
//! they are suggested → the reviewer confirms them → a conversation invitation carrying the
//! advance information and a learning event invitation reach exactly the eligible
//! practitioners by email (real SMTP) → the registry keeps an involved practitioner off the
//! panel.

use std::time::Duration;

use chrono::NaiveDate;
use cspr_platform::testing::{SmtpSink, authed};
use cspr_proto::google::r#type::Date;
use cspr_proto::practitioners::v1 as practitioners;
use cspr_proto::practitioners::v1::practitioner_engagement_client::PractitionerEngagementClient;
use cspr_proto::registry::v1 as registry;
use cspr_proto::registry::v1::review_registry_client::ReviewRegistryClient;
use cspr_proto::submissions::v1 as submissions;
use cspr_proto::submissions::v1::agency_submissions_client::AgencySubmissionsClient;
use tonic::Code;

fn date(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

fn entry(day: i32, practitioner: &str, role: &str) -> submissions::SubmitAgencyReportRequest {
    submissions::SubmitAgencyReportRequest {
        item: Some(submissions::submit_agency_report_request::Item::Entry(
            submissions::ChronologyEntry {
                occurred_on: date(2025, 6, day),
                service: "Home visit".into(),
                practitioner_name: practitioner.into(),
                practitioner_role: role.into(),
                description: "Visited the family.".into(),
                ..Default::default()
            },
        )),
    }
}

#[tokio::test]
async fn chronology_names_become_invitations_for_the_eligible() {
    let mut smtp = SmtpSink::start().await;
    let stack = cspr_tests::spawn_stack(
        NaiveDate::from_ymd_opt(2026, 3, 26).expect("date"),
        cspr_notifications::config::MailTarget::Smtp { url: smtp.url() },
    )
    .await;
    let admin = stack.token(
        "southvale",
        &["partnership_admin", "panel_chair"],
        None,
        "alice",
    );
    let reviewer = stack.token("southvale", &["reviewer"], None, "isla");
    let agency = stack.token(
        "southvale",
        &["agency"],
        Some("health-visiting"),
        "hv-system",
    );
    let mut registry_client =
        ReviewRegistryClient::connect(format!("http://{}", stack.registry.addr))
            .await
            .expect("registry");
    let mut submissions_client =
        AgencySubmissionsClient::connect(format!("http://{}", stack.submissions.addr))
            .await
            .expect("submissions");
    let mut practitioners_client =
        PractitionerEngagementClient::connect(format!("http://{}", stack.practitioners.addr))
            .await
            .expect("practitioners");

    // A review with its reviewer and terms of reference.
    let id = stack.decided_review("sin").await;
    registry_client
        .appoint_reviewer(authed(
            registry::AppointReviewerRequest {
                review_id: id.clone(),
                name: "Isla Oakes".into(),
                email: "isla@reviewers.example.org".into(),
                subject: "isla".into(),
                appointed_on: date(2026, 3, 26),
            },
            &admin,
        ))
        .await
        .expect("reviewer");
    registry_client
        .set_terms_of_reference(authed(
            registry::SetTermsOfReferenceRequest {
                review_id: id.clone(),
                scope_start: date(2024, 9, 15),
                scope_end: date(2026, 3, 9),
                key_lines_of_enquiry: vec!["How was neglect recognised?".into()],
                methodology: "Systems approach".into(),
                agencies_in_scope: vec![registry::Agency {
                    id: "health-visiting".into(),
                    name: "Southvale Community Health Trust".into(),
                    contact_email: "lead@hv.southvale.example.org".into(),
                }],
                report_due_date: date(2026, 5, 1),
                based_on_version: None,
            },
            &admin,
        ))
        .await
        .expect("terms");

    // The agency's chronology names three practitioners.
    let messages = vec![
        submissions::SubmitAgencyReportRequest {
            item: Some(submissions::submit_agency_report_request::Item::Header(
                submissions::SubmissionHeader {
                    request_id: "hv-1".into(),
                    review_id: id.clone(),
                    agency_id: "health-visiting".into(),
                    author_name: "Sam Lead".into(),
                    author_role: "Safeguarding lead".into(),
                    narrative: Some(submissions::Narrative {
                        summary: "S".into(),
                        analysis_of_involvement: "A".into(),
                        learning: "L".into(),
                        ..Default::default()
                    }),
                    entry_count: 3,
                },
            )),
        },
        entry(1, "Alex Smith", "Health visitor"),
        entry(2, "Bea Witness", "Health visitor"),
        entry(3, "Cal Early", "Nursery nurse"),
    ];
    // The request reaches submissions over the bus.
    stack.settle().await;
    let submitted = submissions_client
        .submit_agency_report(authed(tokio_stream::iter(messages.clone()), &agency))
        .await
        .expect("submitted once the request exists")
        .into_inner();
    assert_eq!(submitted.entry_count, 3);

    // They arrive as suggestions; the reviewer confirms them.
    stack.settle().await;
    let suggestions = practitioners_client
        .list_practitioners(authed(
            practitioners::ListPractitionersRequest {
                review_id: id.clone(),
                include_suggested: true,
                ..Default::default()
            },
            &reviewer,
        ))
        .await
        .map(|response| response.into_inner().practitioners)
        .expect("practitioners listed");
    assert_eq!(
        suggestions.len(),
        3,
        "one suggestion per practitioner named"
    );
    let mut ids = std::collections::HashMap::new();
    for (suggestion, email, involvement) in [
        (
            "Alex Smith",
            "alex@hv.southvale.example.org",
            (date(2025, 1, 1), date(2025, 12, 31)),
        ),
        (
            "Bea Witness",
            "bea@hv.southvale.example.org",
            (date(2025, 1, 1), date(2025, 12, 31)),
        ),
        (
            "Cal Early",
            "cal@hv.southvale.example.org",
            (date(2023, 1, 1), date(2023, 12, 31)),
        ),
    ] {
        let found = suggestions
            .iter()
            .find(|practitioner| practitioner.name == suggestion)
            .expect("suggested");
        let confirmed = practitioners_client
            .register_practitioner(authed(
                practitioners::RegisterPractitionerRequest {
                    request_id: format!("confirm-{email}"),
                    review_id: id.clone(),
                    practitioner_id: found.id.clone(),
                    name: found.name.clone(),
                    role: found.role.clone(),
                    agency_id: "health-visiting".into(),
                    agency_name: "Southvale Community Health Trust".into(),
                    email: email.into(),
                    involvement_start: involvement.0,
                    involvement_end: involvement.1,
                },
                &reviewer,
            ))
            .await
            .expect("confirmed")
            .into_inner();
        ids.insert(suggestion, confirmed.id);
    }
    practitioners_client
        .defer_contact(authed(
            practitioners::DeferContactRequest {
                review_id: id.clone(),
                practitioner_id: ids["Bea Witness"].clone(),
                reason: practitioners::DeferralReason::PoliceInvestigationWitness as i32,
                detail: String::new(),
                authorised_by: "Senior investigating officer".into(),
                review_date: date(2026, 6, 1),
            },
            &reviewer,
        ))
        .await
        .expect("deferred");

    // A conversation with Alex, and the learning event.
    let in_two_weeks = prost_types::Timestamp {
        seconds: 1_775_815_200,
        nanos: 0,
    };
    practitioners_client
        .schedule_conversation(authed(
            practitioners::ScheduleConversationRequest {
                request_id: "alex-conversation".into(),
                review_id: id.clone(),
                practitioner_id: ids["Alex Smith"].clone(),
                scheduled_at: Some(in_two_weeks),
                location: "Southvale House, room 2".into(),
                advance_information: "Please bring your records of the June 2025 visits.".into(),
            },
            &reviewer,
        ))
        .await
        .expect("conversation");
    let learning_event = practitioners_client
        .schedule_learning_event(authed(
            practitioners::ScheduleLearningEventRequest {
                request_id: "learning-event".into(),
                review_id: id.clone(),
                scheduled_at: Some(prost_types::Timestamp {
                    seconds: in_two_weeks.seconds + 7 * 86_400,
                    nanos: 0,
                }),
                location: "Online".into(),
                agenda: "What happened; what helped; what to change.".into(),
                add_practitioner_ids: vec![],
                remove_practitioner_ids: vec![],
            },
            &reviewer,
        ))
        .await
        .expect("learning event")
        .into_inner();
    assert_eq!(
        learning_event.invitee_ids,
        [ids["Alex Smith"].clone()],
        "only the eligible practitioner"
    );

    // Emails: the report request, the reviewer's appointment, Alex's two invitations.
    let emails = smtp.wait_for(4, Duration::from_secs(30)).await;
    let to_alex: Vec<&String> = emails
        .iter()
        .filter(|(recipient, _)| recipient == "alex@hv.southvale.example.org")
        .map(|(_, raw)| raw)
        .collect();
    assert_eq!(
        to_alex.len(),
        2,
        "conversation and learning event invitations"
    );
    assert!(
        to_alex
            .iter()
            .any(|raw| raw.contains("June 2025 visits") && raw.contains("not about blame"))
    );
    assert!(
        emails
            .iter()
            .all(|(recipient, _)| recipient != "bea@hv.southvale.example.org"
                && recipient != "cal@hv.southvale.example.org")
    );
    assert_eq!(
        emails.len(),
        4,
        "{:?}",
        emails
            .iter()
            .map(|(recipient, _)| recipient)
            .collect::<Vec<_>>()
    );

    // The registry refuses Alex on the panel once it has heard of them.
    stack.settle().await;
    // Each of the three twice: named by the agency's chronology, and registered.
    let heard: (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE practitioner_id LIKE 'chronology:%'),
                count(*) FILTER (WHERE practitioner_id NOT LIKE 'chronology:%')
         FROM involved_practitioners",
    )
    .fetch_one(stack.pool("registry"))
    .await
    .expect("count");
    assert_eq!(
        heard,
        (3, 3),
        "the registry heard of the three practitioners from the chronology and their registrations"
    );
    let refused = registry_client
        .appoint_panel_member(authed(
            registry::AppointPanelMemberRequest {
                review_id: id.clone(),
                request_id: "panel-alex".into(),
                name: "Alex Smith".into(),
                email: "alex@hv.southvale.example.org".into(),
                organisation: "Southvale Community Health Trust".into(),
                role: registry::PanelRole::Member as i32,
                declares_no_involvement: true,
                independence_statement: String::new(),
            },
            &admin,
        ))
        .await
        .expect_err("an involved practitioner cannot sit on the panel");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    stack.stop().await;
    smtp.stop().await;
}
