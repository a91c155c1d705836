//! Practitioner engagement over gRPC against real PostgreSQL and NATS: suggestions from
//! chronologies, methodology first, deferrals refusing contact and shaping invitations,
//! attendance and learning, deferral reviews, and who may do what.

mod common;

use std::time::Duration;

use common::{
    PractitionersTest, Refusal, Reply, TestPractitioners, assert_says, authed, date, in_days,
    swept_together,
};
use cspr_proto::events::v1::{AgencyReportSubmitted, NamedPractitioner, event::Body};
use cspr_proto::practitioners::v1 as pb;
use tonic::Code;

fn named(name: &str, role: &str) -> NamedPractitioner {
    NamedPractitioner {
        name: name.into(),
        role: role.into(),
        agency_id: "health-visiting".into(),
    }
}

async fn listed(
    service: &TestPractitioners,
    review_id: &str,
    include_suggested: bool,
) -> Vec<pb::Practitioner> {
    let mut client = service.client.clone();
    client
        .list_practitioners(authed(
            pb::ListPractitionersRequest {
                review_id: review_id.into(),
                include_suggested,
                ..Default::default()
            },
            &service.role_token("reviewer"),
        ))
        .await
        .reply("list")
        .practitioners
}

#[tokio::test]
async fn suggestions_come_from_chronologies_without_duplicates() {
    let service = TestPractitioners::start().await;
    let review_id = service.review(true).await;
    let submitted = |version: i32, practitioners: Vec<NamedPractitioner>| {
        Body::AgencyReportSubmitted(AgencyReportSubmitted {
            agency_id: "health-visiting".into(),
            version,
            entry_count: 10,
            content_hash: "x".into(),
            practitioners,
        })
    };
    service
        .deliver_body(
            &review_id,
            submitted(
                1,
                vec![
                    named("Alex Smith", "Health visitor"),
                    named("Sam Jones", "Nursery nurse"),
                ],
            ),
        )
        .await;
    // A resubmission names Alex again (other case) and someone new.
    service
        .deliver_body(
            &review_id,
            submitted(
                2,
                vec![
                    named("alex smith", "health visitor"),
                    named("Pat Lee", "Team manager"),
                ],
            ),
        )
        .await;

    let suggestions = listed(&service, &review_id, true).await;
    let names: Vec<&str> = suggestions
        .iter()
        .map(|practitioner| practitioner.name.as_str())
        .collect();
    assert_eq!(names, ["Alex Smith", "Pat Lee", "Sam Jones"]);
    assert!(
        suggestions
            .iter()
            .all(|practitioner| practitioner.status == pb::PractitionerStatus::Suggested as i32)
    );
    assert!(
        listed(&service, &review_id, false).await.is_empty(),
        "suggestions are not confirmed practitioners"
    );

    // The reviewer confirms Alex with contact details.
    let alex = suggestions
        .iter()
        .find(|practitioner| practitioner.name == "Alex Smith")
        .expect("alex");
    let mut client = service.client.clone();
    let confirmed = client
        .register_practitioner(authed(
            pb::RegisterPractitionerRequest {
                request_id: "confirm-alex".into(),
                review_id: review_id.clone(),
                practitioner_id: alex.id.clone(),
                name: "Alex Smith".into(),
                role: "Health visitor".into(),
                agency_id: "health-visiting".into(),
                agency_name: "Southvale Community Health Trust".into(),
                email: "alex.smith@hv.southvale.example.org".into(),
                involvement_start: date(2025, 1, 1),
                involvement_end: date(2025, 12, 31),
            },
            &service.role_token("reviewer"),
        ))
        .await
        .reply("confirmed");
    assert_eq!(confirmed.id, alex.id);
    assert_eq!(confirmed.status, pb::PractitionerStatus::Confirmed as i32);
    let events = service.published(1).await;
    let Some(Body::PractitionerRegistered(registered)) = &events[0].1.body else {
        panic!("practitioner_registered");
    };
    assert_eq!(registered.email, "alex.smith@hv.southvale.example.org");
    assert_eq!(registered.agency_name, "Southvale Community Health Trust");

    // Confirming Sam under Alex's identity would make one person two practitioners: refused
    // with the reason, and nothing changes.
    let sam = suggestions
        .iter()
        .find(|practitioner| practitioner.name == "Sam Jones")
        .expect("sam");
    let refused = client
        .register_practitioner(authed(
            pb::RegisterPractitionerRequest {
                request_id: "confirm-sam-as-alex".into(),
                review_id: review_id.clone(),
                practitioner_id: sam.id.clone(),
                name: "ALEX SMITH".into(),
                role: "health visitor".into(),
                agency_id: "health-visiting".into(),
                agency_name: "Southvale Community Health Trust".into(),
                email: "sam.jones@hv.southvale.example.org".into(),
                involvement_start: date(2025, 1, 1),
                involvement_end: date(2025, 12, 31),
            },
            &service.role_token("reviewer"),
        ))
        .await
        .refused(Code::AlreadyExists, "another practitioner's identity");
    assert!(
        refused.message().contains(&alex.id) && refused.message().contains("name, role and agency"),
        "{}",
        refused.message()
    );
    let names: Vec<String> = listed(&service, &review_id, true)
        .await
        .into_iter()
        .map(|practitioner| practitioner.name)
        .collect();
    assert_eq!(names, ["Alex Smith", "Pat Lee", "Sam Jones"]);
    service.stop().await;
}

#[tokio::test]
async fn nothing_is_scheduled_before_the_terms_of_reference() {
    let service = TestPractitioners::start().await;
    let review_id = service.review(false).await;
    let alex = service
        .register(
            &review_id,
            "Alex Smith",
            "alex@hv.example.org",
            (date(2025, 1, 1), date(2025, 6, 30)),
        )
        .await;
    let mut client = service.client.clone();
    let conversation = |request_id: &str| pb::ScheduleConversationRequest {
        request_id: request_id.into(),
        review_id: review_id.clone(),
        practitioner_id: alex.id.clone(),
        scheduled_at: in_days(14),
        location: "Southvale House".into(),
        advance_information: "Bring your notes.".into(),
    };
    let refused = client
        .schedule_conversation(authed(conversation("c1"), &service.role_token("reviewer")))
        .await
        .refused(Code::FailedPrecondition, "methodology first");
    assert_says(&refused, "terms of reference");

    service.terms(&review_id).await;
    service.assert_projected(&review_id, true).await;
    let scheduled = client
        .schedule_conversation(authed(conversation("c2"), &service.role_token("reviewer")))
        .await
        .reply("scheduled");
    assert_eq!(
        scheduled.key_lines_of_enquiry,
        ["How was neglect recognised?"]
    );
    let retried = client
        .schedule_conversation(authed(conversation("c2"), &service.role_token("reviewer")))
        .await
        .reply("a retry");
    assert_eq!(retried.id, scheduled.id);
    client
        .schedule_conversation(authed(
            pb::ScheduleConversationRequest {
                scheduled_at: in_days(-1),
                ..conversation("c3")
            },
            &service.role_token("reviewer"),
        ))
        .await
        .invalid(&["scheduled_at"], "in the past");

    let events = service.published(2).await;
    let scheduled_events: Vec<_> = events
        .iter()
        .filter_map(|(_, event)| match &event.body {
            Some(Body::ConversationScheduled(conversation)) => Some(conversation.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        scheduled_events.len(),
        1,
        "one invitation for one conversation"
    );
    assert_eq!(
        scheduled_events[0].practitioner_email,
        "alex@hv.example.org"
    );
    assert_eq!(scheduled_events[0].advance_information, "Bring your notes.");
    service.stop().await;
}

#[tokio::test]
async fn deferred_practitioners_are_refused_and_left_off_invitations_until_released() {
    let service = TestPractitioners::start().await;
    let review_id = service.review(true).await;
    let alex = service
        .register(
            &review_id,
            "Alex Smith",
            "alex@hv.example.org",
            (date(2025, 1, 1), date(2025, 6, 30)),
        )
        .await;
    let bea = service
        .register(
            &review_id,
            "Bea Witness",
            "bea@hv.example.org",
            (date(2025, 3, 1), date(2026, 1, 31)),
        )
        .await;
    let cal = service
        .register(
            &review_id,
            "Cal Early",
            "cal@hv.example.org",
            (date(2023, 1, 1), date(2023, 12, 31)),
        )
        .await;
    let mut client = service.client.clone();
    let reviewer = service.role_token("reviewer");

    let deferred = client
        .defer_contact(authed(
            pb::DeferContactRequest {
                review_id: review_id.clone(),
                practitioner_id: bea.id.clone(),
                reason: pb::DeferralReason::PoliceInvestigationWitness as i32,
                detail: "Witness in the criminal investigation".into(),
                authorised_by: "Senior investigating officer".into(),
                review_date: date(2026, 6, 1),
            },
            &reviewer,
        ))
        .await
        .reply("deferred");
    assert!(deferred.deferral.is_some());
    let refused = client
        .schedule_conversation(authed(
            pb::ScheduleConversationRequest {
                request_id: "bea".into(),
                review_id: review_id.clone(),
                practitioner_id: bea.id.clone(),
                scheduled_at: in_days(7),
                location: "Online".into(),
                advance_information: "Notes".into(),
            },
            &reviewer,
        ))
        .await
        .refused(Code::FailedPrecondition, "deferred contact");
    assert_says(&refused, "deferred");

    let learning_event = |request_id: &str, add: Vec<String>| pb::ScheduleLearningEventRequest {
        request_id: request_id.into(),
        review_id: review_id.clone(),
        scheduled_at: in_days(30),
        location: "Southvale House".into(),
        agenda: "What happened; what helped; what to change.".into(),
        add_practitioner_ids: add,
        remove_practitioner_ids: vec![],
    };
    let first = client
        .schedule_learning_event(authed(learning_event("le1", vec![]), &reviewer))
        .await
        .reply("scheduled");
    assert_eq!(
        first.invitee_ids,
        std::slice::from_ref(&alex.id),
        "Bea is deferred and Cal outside the scope period"
    );
    let with_cal = client
        .schedule_learning_event(authed(
            learning_event("le2", vec![cal.id.clone()]),
            &reviewer,
        ))
        .await
        .reply("explicit addition");
    let mut expected = vec![alex.id.clone(), cal.id.clone()];
    expected.sort();
    assert_eq!(with_cal.invitee_ids, expected);
    client
        .schedule_learning_event(authed(
            learning_event("le3", vec![bea.id.clone()]),
            &reviewer,
        ))
        .await
        .refused(
            Code::FailedPrecondition,
            "a deferred practitioner cannot be added",
        );

    client
        .release_contact(authed(
            pb::ReleaseContactRequest {
                review_id: review_id.clone(),
                practitioner_id: bea.id.clone(),
            },
            &reviewer,
        ))
        .await
        .expect("released");
    let after_release = client
        .schedule_learning_event(authed(learning_event("le4", vec![]), &reviewer))
        .await
        .reply("scheduled");
    let mut expected = vec![alex.id.clone(), bea.id.clone()];
    expected.sort();
    assert_eq!(after_release.invitee_ids, expected);

    // Attendance and learning.
    client
        .record_attendance(authed(
            pb::RecordAttendanceRequest {
                review_id: review_id.clone(),
                learning_event_id: after_release.id.clone(),
                attended_practitioner_ids: vec![cal.id.clone()],
            },
            &reviewer,
        ))
        .await
        .refused(Code::InvalidArgument, "Cal was not invited to this one");
    let attended = client
        .record_attendance(authed(
            pb::RecordAttendanceRequest {
                review_id: review_id.clone(),
                learning_event_id: after_release.id.clone(),
                attended_practitioner_ids: vec![alex.id.clone()],
            },
            &reviewer,
        ))
        .await
        .reply("attendance");
    assert_eq!(attended.attendee_ids, std::slice::from_ref(&alex.id));
    let learning = client
        .record_learning(authed(
            pb::RecordLearningRequest {
                request_id: "learning-1".into(),
                review_id: review_id.clone(),
                learning_event_id: after_release.id.clone(),
                conversation_id: String::new(),
                points: vec![
                    pb::LearningPoint {
                        theme: pb::LearningTheme::InformationSharing as i32,
                        description: "Concerns recorded by health were not shared with children's social care.".into(),
                    },
                    pb::LearningPoint {
                        theme: pb::LearningTheme::VoiceOfTheChild as i32,
                        description: "The child's daily experience was not asked about.".into(),
                    },
                ],
            },
            &reviewer,
        ))
        .await
        .reply("learning");
    assert_eq!(learning.points.len(), 2);
    client
        .record_learning(authed(
            pb::RecordLearningRequest {
                request_id: "learning-2".into(),
                review_id: review_id.clone(),
                points: vec![pb::LearningPoint::default()],
                ..Default::default()
            },
            &reviewer,
        ))
        .await
        .invalid(
            &[
                "learning_event_id",
                "points[0].theme",
                "points[0].description",
            ],
            "a source and a theme are required",
        );

    let events = service.published(10).await;
    let invitations: Vec<Vec<String>> = events
        .iter()
        .filter_map(|(_, event)| match &event.body {
            Some(Body::LearningEventScheduled(scheduled)) => {
                let mut emails: Vec<String> = scheduled
                    .invitees
                    .iter()
                    .map(|invitee| invitee.email.clone())
                    .collect();
                emails.sort();
                Some(emails)
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        invitations,
        [
            vec!["alex@hv.example.org".to_string()],
            vec![
                "alex@hv.example.org".to_string(),
                "cal@hv.example.org".to_string()
            ],
            vec![
                "alex@hv.example.org".to_string(),
                "bea@hv.example.org".to_string()
            ],
        ]
    );
    service.stop().await;
}

#[tokio::test]
async fn deferrals_past_their_review_date_are_flagged_once() {
    let service = TestPractitioners::start().await;
    let review_id = service.review(true).await;
    let bea = service
        .register(
            &review_id,
            "Bea Witness",
            "bea@hv.example.org",
            (date(2025, 3, 1), date(2026, 1, 31)),
        )
        .await;
    let mut client = service.client.clone();
    client
        .defer_contact(authed(
            pb::DeferContactRequest {
                review_id: review_id.clone(),
                practitioner_id: bea.id.clone(),
                reason: pb::DeferralReason::PoliceInvestigationWitness as i32,
                detail: String::new(),
                authorised_by: "SIO".into(),
                review_date: date(2026, 4, 22),
            },
            &service.role_token("reviewer"),
        ))
        .await
        .expect("deferred");
    let sweep = cspr_practitioners::jobs::DeferralSweep::new(
        service.store.clone(),
        Duration::from_secs(3600),
    );
    // A second replica's sweep: the same job on the same database.
    let replica = sweep.clone();
    assert_eq!(sweep.sweep_once().await.expect("sweep"), 0);
    service
        .clock
        .set_date(cspr_platform::testing::date("2026-04-23"));
    assert_eq!(
        swept_together(sweep.sweep_once(), replica.sweep_once()).await,
        1
    );
    assert_eq!(sweep.sweep_once().await.expect("sweep"), 0);
    service.stop().await;
}

#[tokio::test]
async fn roles_decide_who_reads_and_who_runs_engagement() {
    let service = TestPractitioners::start().await;
    let review_id = service.review(true).await;
    service
        .register(
            &review_id,
            "Alex Smith",
            "alex@hv.example.org",
            (date(2025, 1, 1), date(2025, 6, 30)),
        )
        .await;
    let mut client = service.client.clone();
    let list = |token: &str| {
        authed(
            pb::ListPractitionersRequest {
                review_id: review_id.clone(),
                ..Default::default()
            },
            token,
        )
    };
    for role in [
        "panel_member",
        "panel_chair",
        "auditor",
        "partnership_admin",
    ] {
        let token = service.token_as(&[role], "someone");
        let page = client
            .list_practitioners(list(&token))
            .await
            .unwrap_or_else(|status| panic!("{role}: {status}"));
        assert_eq!(page.into_inner().practitioners.len(), 1, "{role} reads");
    }
    for (roles, subject) in [
        (&["agency"][..], "police"),
        (&["reviewer"][..], "not-appointed"),
        (&["operations"][..], "ops"),
    ] {
        let token = service.token(common::PARTNERSHIP, roles, Some("police"), subject);
        client
            .list_practitioners(list(&token))
            .await
            .refused(Code::PermissionDenied, &format!("{roles:?}"));
    }
    let member = service.role_token("panel_member");
    client
        .register_practitioner(authed(
            pb::RegisterPractitionerRequest {
                request_id: "x".into(),
                review_id: review_id.clone(),
                name: "Someone".into(),
                role: "GP".into(),
                agency_id: "gp".into(),
                email: "gp@example.org".into(),
                involvement_start: date(2025, 1, 1),
                involvement_end: date(2025, 2, 1),
                ..Default::default()
            },
            &member,
        ))
        .await
        .refused(Code::PermissionDenied, "panel members read only");
    let elsewhere = service.token_elsewhere("partnership_admin", None);
    client
        .list_practitioners(list(&elsewhere))
        .await
        .refused(Code::NotFound, "another partnership");
    service.stop().await;
}

#[tokio::test]
async fn a_too_long_request_id_is_reported_as_too_long() {
    let service = TestPractitioners::start().await;
    let review_id = service.review(true).await;
    let mut client = service.client.clone();
    let register = |request_id: String| {
        authed(
            pb::RegisterPractitionerRequest {
                request_id,
                review_id: review_id.clone(),
                name: "Someone".into(),
                role: "GP".into(),
                agency_id: "gp".into(),
                email: "gp@example.org".into(),
                involvement_start: date(2025, 1, 1),
                involvement_end: date(2025, 2, 1),
                ..Default::default()
            },
            &service.role_token("reviewer"),
        )
    };

    let too_long = client
        .register_practitioner(register("r".repeat(101)))
        .await
        .invalid(&["request_id"], "101 characters");
    let missing = client
        .register_practitioner(register("  ".into()))
        .await
        .expect_err("blank");

    assert_says(&too_long, "request_id: at most 100 characters");
    assert_says(&missing, "request_id: required");
    service.stop().await;
}
