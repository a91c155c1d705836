//! The panel's meetings over gRPC, against real PostgreSQL and NATS JetStream: scheduled,
//! changed, cancelled and recorded, each change an event for the invitees' calendar entry
//! exactly once, and the decisions of a held meeting linked to the commands that carried
//! them out.

mod common;

use std::time::Duration;

use common::{Refusal, RegistryTest, Reply, TestRegistry, assert_says, authed, pdate};
use cspr_proto::events::v1::{AgencyReportAccepted, AgencyReportRequested, event::Body};
use cspr_proto::registry::v1 as pb;
use prost_types::Timestamp;
use tonic::Code;

/// `YYYY-MM-DD HH:MM` (UTC) as a protobuf timestamp.
fn at(text: &str) -> Option<Timestamp> {
    let naive = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").expect("time");
    Some(Timestamp {
        seconds: naive.and_utc().timestamp(),
        nanos: 0,
    })
}

#[tokio::test]
async fn panel_meetings_are_scheduled_changed_cancelled_and_recorded_with_their_decisions_linked() {
    let registry = TestRegistry::start("2026-03-11").await;
    let admin = registry.role_token("partnership_admin");
    let chair = registry.role_token("panel_chair");
    let member = registry.role_token("panel_member");
    let agency = registry.agency_token("police");
    let mut client = registry.client.clone();
    let review = common::created(&mut client, &admin, "sin-child-m", "Child M").await;
    let id = review.id.clone();
    common::decided_local(&mut client, (&admin, &chair), &id).await;
    for (request_id, name, email, role) in [
        (
            "panel-tess",
            "Tess Holroyd",
            "tess.holroyd@panel.southvale.example.org",
            pb::PanelRole::Chair,
        ),
        (
            "panel-wren",
            "Wren Ali",
            "wren.ali@panel.southvale.example.org",
            pb::PanelRole::Member,
        ),
    ] {
        client
            .appoint_panel_member(authed(
                pb::AppointPanelMemberRequest {
                    review_id: id.clone(),
                    request_id: request_id.into(),
                    name: name.into(),
                    email: email.into(),
                    organisation: "Southvale".into(),
                    role: role as i32,
                    declares_no_involvement: true,
                    independence_statement: "No involvement with the family.".into(),
                },
                &admin,
            ))
            .await
            .reply("panel member");
    }
    common::isla_appointed(&mut client, &admin, &id).await;

    let schedule = |request_id: &str, meeting_id: &str, start: &str, end: &str, place: &str| {
        pb::SchedulePanelMeetingRequest {
            review_id: id.clone(),
            request_id: request_id.into(),
            meeting_id: meeting_id.into(),
            start_time: at(start),
            end_time: at(end),
            location: place.into(),
            agenda: vec![
                "Agree the terms of reference".into(),
                "Confidential: the police investigation".into(),
            ],
        }
    };

    // What is asked is checked, every field at once.
    let mut bad = schedule("m-bad", "", "2026-03-18 10:00", "2026-03-18 09:00", " ");
    bad.agenda = vec![];
    bad.start_time = None;
    let refused = client
        .schedule_panel_meeting(authed(bad, &admin))
        .await
        .refused(Code::InvalidArgument, "bad meeting");
    assert_eq!(
        common::violated_fields(&refused),
        vec!["start_time", "location", "agenda"],
        "{refused:?}"
    );
    let refused = client
        .schedule_panel_meeting(authed(
            schedule(
                "m-bad",
                "",
                "2026-03-18 10:00",
                "2026-03-18 09:00",
                "Room 2",
            ),
            &admin,
        ))
        .await
        .refused(Code::InvalidArgument, "ends before it starts");
    assert_says(&refused, "must be after the start");
    let refused = client
        .schedule_panel_meeting(authed(
            schedule(
                "m-bad",
                "",
                "2026-03-10 10:00",
                "2026-03-10 12:00",
                "Room 2",
            ),
            &admin,
        ))
        .await
        .refused(Code::InvalidArgument, "in the past");
    assert_says(&refused, "a new meeting must not start in the past");
    client
        .schedule_panel_meeting(authed(
            schedule("m-1", "", "2026-03-18 10:00", "2026-03-18 12:00", "Room 2"),
            &member,
        ))
        .await
        .refused(Code::PermissionDenied, "a member does not schedule");

    let first = client
        .schedule_panel_meeting(authed(
            schedule(
                "m-1",
                "",
                "2026-03-18 10:00",
                "2026-03-18 12:00",
                "Civic Centre, Room 2; Southvale",
            ),
            &admin,
        ))
        .await
        .reply("scheduled");
    assert_eq!(first.status(), pb::PanelMeetingStatus::Scheduled);
    assert_eq!(first.sequence, 0);
    assert_eq!(first.scheduled_by, "alice-admin");
    assert_eq!(first.agenda.len(), 2);
    let retried = client
        .schedule_panel_meeting(authed(
            schedule(
                "m-1",
                "",
                "2026-03-18 10:00",
                "2026-03-18 12:00",
                "Civic Centre, Room 2; Southvale",
            ),
            &admin,
        ))
        .await
        .reply("retry");
    assert_eq!(retried, first, "a retry answers the first meeting");

    // A change updates the same meeting; the same change again changes nothing.
    let moved = schedule(
        "",
        &first.id,
        "2026-03-19 14:00",
        "2026-03-19 16:00",
        "https://meet.example.org/southvale-panel",
    );
    let changed = client
        .schedule_panel_meeting(authed(moved.clone(), &chair))
        .await
        .reply("changed");
    assert_eq!(changed.id, first.id);
    assert_eq!(changed.sequence, 1);
    assert_eq!(changed.start_time, at("2026-03-19 14:00"));
    let again = client
        .schedule_panel_meeting(authed(moved, &chair))
        .await
        .reply("the same change");
    assert_eq!(again.sequence, 1, "nothing changed, no update sent");
    let refused = client
        .schedule_panel_meeting(authed(
            schedule(
                "",
                &uuid::Uuid::now_v7().to_string(),
                "2026-03-19 14:00",
                "2026-03-19 16:00",
                "Room 2",
            ),
            &chair,
        ))
        .await
        .refused(Code::NotFound, "no such meeting");
    assert_says(&refused, "panel meeting");

    // A second meeting, cancelled: once, and then it cannot be changed.
    let second = client
        .schedule_panel_meeting(authed(
            schedule("m-2", "", "2026-04-02 10:00", "2026-04-02 11:30", "Room 4"),
            &admin,
        ))
        .await
        .reply("second");
    let cancel = |reason: &str| pb::CancelPanelMeetingRequest {
        review_id: id.clone(),
        meeting_id: second.id.clone(),
        reason: reason.into(),
    };
    let cancelled = client
        .cancel_panel_meeting(authed(cancel("The reports are not in yet."), &chair))
        .await
        .reply("cancelled");
    assert_eq!(cancelled.status(), pb::PanelMeetingStatus::Cancelled);
    assert_eq!(cancelled.sequence, 1);
    assert_eq!(cancelled.cancel_reason, "The reports are not in yet.");
    let refused = client
        .cancel_panel_meeting(authed(cancel("Again."), &chair))
        .await
        .refused(Code::FailedPrecondition, "cancelled once");
    assert_says(&refused, "this meeting was cancelled");
    client
        .schedule_panel_meeting(authed(
            schedule(
                "",
                &second.id,
                "2026-04-03 10:00",
                "2026-04-03 11:00",
                "Room 4",
            ),
            &chair,
        ))
        .await
        .refused(
            Code::FailedPrecondition,
            "a cancelled meeting is not changed",
        );

    // The terms are set before the meeting is minuted; the report is approved never (yet).
    client
        .set_terms_of_reference(authed(
            pb::SetTermsOfReferenceRequest {
                review_id: id.clone(),
                scope_start: pdate("2024-09-15"),
                scope_end: pdate("2026-03-09"),
                key_lines_of_enquiry: vec!["How well did agencies share information?".into()],
                methodology: "Systems approach".into(),
                agencies_in_scope: vec![pb::Agency {
                    id: "police".into(),
                    name: "Southvale Police".into(),
                    contact_email: "safeguarding.lead@police.southvale.example.org".into(),
                }],
                report_due_date: pdate("2026-05-01"),
                based_on_version: None,
            },
            &chair,
        ))
        .await
        .reply("terms");

    let record = |meeting_id: &str| pb::RecordPanelMeetingRequest {
        review_id: id.clone(),
        meeting_id: meeting_id.into(),
        attendance: vec!["Tess Holroyd (chair)".into(), "Wren Ali".into()],
        apologies: vec!["Isla Oakes".into()],
        minutes: "The panel discussed the secret minutes of the police liaison.".into(),
        decisions: vec![
            pb::PanelMeetingDecision {
                kind: pb::PanelDecisionKind::TermsAgreed as i32,
                text: "The terms of reference are agreed.".into(),
                carried_out_by: vec![],
            },
            pb::PanelMeetingDecision {
                kind: pb::PanelDecisionKind::ReportsAccepted as i32,
                text: "The police report will be accepted once in.".into(),
                carried_out_by: vec![],
            },
            pb::PanelMeetingDecision {
                kind: pb::PanelDecisionKind::ReportApproved as i32,
                text: "The overview report will come to the next meeting.".into(),
                carried_out_by: vec![],
            },
            pb::PanelMeetingDecision {
                kind: pb::PanelDecisionKind::Other as i32,
                text: "Invite the school.".into(),
                carried_out_by: vec![],
            },
        ],
        action_points: vec![pb::ActionPoint {
            text: "Write to the school".into(),
            owner: "Business unit".into(),
            due_on: pdate("2026-03-27"),
        }],
    };
    // Not before it starts.
    let refused = client
        .record_panel_meeting(authed(record(&first.id), &admin))
        .await
        .refused(Code::FailedPrecondition, "not held yet");
    assert_says(&refused, "it can be recorded once it has started");
    let mut bad = record(&first.id);
    bad.attendance = vec![];
    bad.decisions[1].kind = 0;
    bad.action_points[0].due_on = None;
    let refused = client
        .record_panel_meeting(authed(bad, &admin))
        .await
        .refused(Code::InvalidArgument, "bad record");
    assert_eq!(
        common::violated_fields(&refused),
        vec!["attendance", "decisions[1].kind", "action_points[0].due_on"],
        "{refused:?}"
    );
    registry.clock.set_date(common::date("2026-03-20"));
    let held = client
        .record_panel_meeting(authed(record(&first.id), &admin))
        .await
        .reply("recorded");
    assert_eq!(held.status(), pb::PanelMeetingStatus::Held);
    let minuted = held.record.clone().expect("the record");
    assert_eq!(minuted.recorded_by, "alice-admin");
    assert_eq!(minuted.action_points[0].owner, "Business unit");
    let links =
        |decisions: &[pb::PanelMeetingDecision]| -> Vec<Vec<(String, String, String, String)>> {
            decisions
                .iter()
                .map(|decision| {
                    decision
                        .carried_out_by
                        .iter()
                        .map(|link| {
                            (
                                link.service.clone(),
                                link.action.clone(),
                                link.actor.clone(),
                                link.detail.clone(),
                            )
                        })
                        .collect()
                })
                .collect()
        };
    let terms_link = (
        "registry".to_string(),
        "SetTermsOfReference".to_string(),
        "tess-chair".to_string(),
        String::new(),
    );
    assert_eq!(
        links(&minuted.decisions),
        vec![vec![terms_link.clone()], vec![], vec![], vec![]],
        "the terms were set before the record; nothing else is carried out yet"
    );
    client
        .record_panel_meeting(authed(record(&first.id), &admin))
        .await
        .refused(Code::FailedPrecondition, "recorded once");

    // The police report is accepted in the submissions service afterwards: the decision
    // links to it when it is read.
    registry
        .deliver_body(
            &id,
            Body::AgencyReportRequested(AgencyReportRequested {
                agency_id: "police".into(),
                ..Default::default()
            }),
        )
        .await;
    let mut accepted = registry.event(
        &id,
        Body::AgencyReportAccepted(AgencyReportAccepted {
            agency_id: "police".into(),
            version: 1,
        }),
    );
    accepted.actor = Some(cspr_proto::events::v1::Actor {
        subject: "tess-chair".into(),
        roles: vec!["panel_chair".into()],
    });
    registry.deliver(&accepted).await;

    // Listed by any reader of the review, earliest first, a page at a time.
    let list = |page_size: i32, page_token: &str| pb::ListPanelMeetingsRequest {
        review_id: id.clone(),
        page_size,
        page_token: page_token.into(),
    };
    let page = client
        .list_panel_meetings(authed(list(1, ""), &member))
        .await
        .reply("first page");
    assert_eq!(page.meetings.len(), 1);
    assert_eq!(page.meetings[0].id, first.id);
    assert_eq!(
        links(&page.meetings[0].record.as_ref().expect("record").decisions),
        vec![
            vec![terms_link],
            vec![(
                "submissions".to_string(),
                "AcceptAgencyReport".to_string(),
                "tess-chair".to_string(),
                "police".to_string()
            )],
            vec![],
            vec![]
        ]
    );
    let rest = client
        .list_panel_meetings(authed(list(1, &page.next_page_token), &member))
        .await
        .reply("second page");
    assert_eq!(
        rest.meetings
            .iter()
            .map(|meeting| meeting.id.as_str())
            .collect::<Vec<_>>(),
        vec![second.id.as_str()]
    );
    client
        .list_panel_meetings(authed(list(0, ""), &agency))
        .await
        .refused(
            Code::PermissionDenied,
            "an agency does not read the panel's meetings",
        );

    // One event per change, to the panel and the reviewer; no agenda, reason or minutes on
    // the bus.
    let events = registry.published_within(12, Duration::from_secs(20)).await;
    let scheduled: Vec<_> = events
        .iter()
        .filter_map(|(_, event)| match &event.body {
            Some(Body::PanelMeetingScheduled(scheduled)) => Some(scheduled.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        scheduled
            .iter()
            .map(|scheduled| (scheduled.meeting_id.as_str(), scheduled.sequence))
            .collect::<Vec<_>>(),
        vec![
            (first.id.as_str(), 0),
            (first.id.as_str(), 1),
            (second.id.as_str(), 0)
        ],
        "the retry and the change that changed nothing raised none"
    );
    assert_eq!(
        scheduled[1]
            .invitees
            .iter()
            .map(|invitee| invitee.email.as_str())
            .collect::<Vec<_>>(),
        vec![
            "tess.holroyd@panel.southvale.example.org",
            "wren.ali@panel.southvale.example.org",
            "isla.oakes@reviewers.example.org"
        ]
    );
    assert_eq!(
        scheduled[1].location,
        "https://meet.example.org/southvale-panel"
    );
    assert_eq!(scheduled[1].start_time, at("2026-03-19 14:00"));
    let cancellations: Vec<_> = events
        .iter()
        .filter_map(|(_, event)| match &event.body {
            Some(Body::PanelMeetingCancelled(cancelled)) => Some(cancelled.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(cancellations.len(), 1);
    assert_eq!(
        (
            cancellations[0].meeting_id.as_str(),
            cancellations[0].sequence
        ),
        (second.id.as_str(), 1)
    );
    let recorded: Vec<_> = events
        .iter()
        .filter_map(|(_, event)| match &event.body {
            Some(Body::PanelMeetingRecorded(recorded)) => Some(recorded.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].decisions.len(), 4);
    assert_eq!(recorded[0].action_points, 1);
    for (_, event) in &events {
        let bytes = prost::Message::encode_to_vec(event);
        let text = String::from_utf8_lossy(&bytes);
        for secret in [
            "Confidential",
            "not in yet",
            "secret minutes",
            "Write to the school",
        ] {
            assert!(
                !text.contains(secret),
                "{secret:?} is on the bus in {}",
                event.r#type
            );
        }
    }
    registry.stop().await;
}
