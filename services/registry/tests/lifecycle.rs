//! The whole life of one review over gRPC, against real PostgreSQL and NATS JetStream:
//! every RPC, every guard on the way, and every event on the stream exactly once.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::{Refusal, RegistryTest, Reply, TestRegistry, assert_says, authed, pdate};
use cspr_proto::events::v1::{
    ActionPlanActivated, ActionPlanCompleted, AgencyReportAccepted, AgencyReportWaived,
    PractitionerRegistered, event::Body,
};
use cspr_proto::registry::v1 as pb;
use tonic::Code;

fn stage(review: &pb::Review) -> pb::Stage {
    pb::Stage::try_from(review.stage).expect("known stage")
}

fn deadline(deadlines: &[pb::Deadline], kind: pb::DeadlineKind) -> pb::Deadline {
    deadlines
        .iter()
        .find(|deadline| deadline.kind == kind as i32)
        .cloned()
        .unwrap_or_else(|| panic!("no {kind:?} deadline"))
}

#[tokio::test]
async fn a_review_runs_from_notification_to_closure() {
    // Arrange
    let registry = TestRegistry::start("2026-03-11").await;
    let admin = registry.role_token("partnership_admin");
    let chair = registry.role_token("panel_chair");
    let reviewer = registry.role_token("reviewer");
    let other_reviewer = registry.token_as(&["reviewer"], "someone-else");
    let auditor = registry.role_token("auditor");
    let mut client = registry.client.clone();

    // Act & Assert: notification
    let review = client
        .create_review(authed(
            pb::CreateReviewRequest {
                request_id: "sin-child-q".into(),
                child_alias: "Child Q".into(),
                local_authority: "Southvale Council".into(),
                incident_date: pdate("2026-03-09"),
                became_aware_on: pdate("2026-03-10"),
            },
            &admin,
        ))
        .await
        .reply("create");
    assert_eq!(stage(&review), pb::Stage::Notified);
    assert_eq!(review.reference, "SOUTHVALE-2026-001");
    let notification = deadline(&review.deadlines, pb::DeadlineKind::Notification);
    assert_eq!(
        notification.due_on,
        pdate("2026-03-17"),
        "5 working days from becoming aware"
    );
    assert_eq!(notification.status, pb::DeadlineStatus::Pending as i32);
    let id = review.id.clone();

    let review = client
        .record_notification_sent(authed(
            pb::RecordNotificationSentRequest {
                review_id: id.clone(),
                sent_on: pdate("2026-03-11"),
                national_panel_reference: "NP-2026-0042".into(),
            },
            &admin,
        ))
        .await
        .reply("notification");
    assert_eq!(stage(&review), pb::Stage::RapidReview);
    assert_eq!(
        review.next_stages().collect::<Vec<_>>(),
        [pb::Stage::Scoping, pb::Stage::NotProceeding],
        "what the lifecycle allows next, for the web's advance form"
    );
    assert_eq!(
        deadline(&review.deadlines, pb::DeadlineKind::RapidReview).due_on,
        pdate("2026-04-01"),
        "15 working days from the notification"
    );

    // Rapid review decision
    registry.clock.set_date(common::date("2026-03-26"));
    let review = client
        .record_decision(authed(
            pb::RecordDecisionRequest {
                review_id: id.clone(),
                decision: pb::Decision::LocalCspr as i32,
                decided_on: pdate("2026-03-26"),
                rationale: "Criteria met".into(),
            },
            &chair,
        ))
        .await
        .reply("decision");
    assert_eq!(stage(&review), pb::Stage::Scoping);
    assert_eq!(
        deadline(&review.deadlines, pb::DeadlineKind::Completion).due_on,
        pdate("2026-09-26")
    );

    // Scoping: the guard names everything missing
    let refused = client
        .advance_stage(authed(
            pb::AdvanceStageRequest {
                review_id: id.clone(),
                to_stage: pb::Stage::InformationGathering as i32,
            },
            &admin,
        ))
        .await
        .refused(Code::FailedPrecondition, "guarded");
    assert_says(&refused, "terms of reference not set");
    assert_says(&refused, "no independent reviewer");

    // Panel: a practitioner involved in the case cannot sit on it
    registry
        .deliver_body(
            &id,
            Body::PractitionerRegistered(PractitionerRegistered {
                practitioner_id: "p-1".into(),
                agency_id: "health-visiting".into(),
                email: "ben.oakes@hv.southvale.example.org".into(),
                name: "Ben Oakes".into(),
                role: "Health visitor".into(),
                agency_name: "Southvale Community Health Trust".into(),
            }),
        )
        .await;
    let appoint = |request_id: &str, name: &str, email: &str, role: pb::PanelRole| {
        pb::AppointPanelMemberRequest {
            review_id: id.clone(),
            request_id: request_id.into(),
            name: name.into(),
            email: email.into(),
            organisation: "Southvale".into(),
            role: role as i32,
            declares_no_involvement: true,
            independence_statement: "I had no involvement with the family.".into(),
        }
    };
    let projected: i64 = sqlx::query_scalar("SELECT count(*) FROM involved_practitioners")
        .fetch_one(registry.store.pool())
        .await
        .expect("count");
    assert_eq!(projected, 1, "practitioner event consumed");
    let refused = client
        .appoint_panel_member(authed(
            appoint(
                "panel-ben",
                "Ben Oakes",
                "Ben.Oakes@hv.southvale.example.org",
                pb::PanelRole::Member,
            ),
            &admin,
        ))
        .await
        .refused(
            Code::FailedPrecondition,
            "a practitioner involved in the case cannot sit on the panel",
        );
    assert_says(&refused, "practitioner involved");
    // Another address, but the same name and organisation.
    let mut same_person = appoint(
        "panel-ben-2",
        "ben oakes",
        "b.oakes@home.example.org",
        pb::PanelRole::Member,
    );
    same_person.organisation = "Southvale Community Health Trust".into();
    client
        .appoint_panel_member(authed(same_person, &admin))
        .await
        .refused(Code::FailedPrecondition, "matched on name and organisation");
    let review = client
        .appoint_panel_member(authed(
            appoint(
                "panel-tess",
                "Tess Holroyd",
                "tess.holroyd@panel.southvale.example.org",
                pb::PanelRole::Chair,
            ),
            &admin,
        ))
        .await
        .reply("chair appointed");
    assert_eq!(review.panel.len(), 1);
    let retried = client
        .appoint_panel_member(authed(
            appoint(
                "panel-tess",
                "Tess Holroyd",
                "tess.holroyd@panel.southvale.example.org",
                pb::PanelRole::Chair,
            ),
            &admin,
        ))
        .await
        .reply("retry returns the first result");
    assert_eq!(retried.panel.len(), 1);

    client
        .appoint_reviewer(authed(
            pb::AppointReviewerRequest {
                review_id: id.clone(),
                name: "Isla Oakes".into(),
                email: "isla.oakes@reviewers.example.org".into(),
                subject: "isla-reviewer".into(),
                appointed_on: pdate("2026-03-26"),
            },
            &admin,
        ))
        .await
        .expect("reviewer");

    let review = client
        .set_terms_of_reference(authed(
            pb::SetTermsOfReferenceRequest {
                review_id: id.clone(),
                scope_start: pdate("2024-09-15"),
                scope_end: pdate("2026-03-09"),
                key_lines_of_enquiry: vec![
                    "How well did agencies share information about neglect?".into(),
                ],
                methodology: "Systems approach with a practitioner learning event".into(),
                agencies_in_scope: vec![
                    pb::Agency {
                        id: "police".into(),
                        name: "Southvale Police".into(),
                        contact_email: "safeguarding.lead@police.southvale.example.org".into(),
                    },
                    pb::Agency {
                        id: "gp".into(),
                        name: "Southvale Primary Care".into(),
                        contact_email: "safeguarding.lead@gp.southvale.example.org".into(),
                    },
                ],
                report_due_date: pdate("2026-05-01"),
                based_on_version: None,
            },
            &chair,
        ))
        .await
        .reply("terms of reference");
    assert_eq!(
        review.outstanding_agency_reports,
        vec!["police".to_string(), "gp".to_string()]
    );

    // A person the police chronology names (never registered as a practitioner) cannot join
    // the panel either: matched on name and organisation, the agency's name or its id.
    registry
        .deliver_body(
            &id,
            Body::AgencyReportSubmitted(cspr_proto::events::v1::AgencyReportSubmitted {
                agency_id: "police".into(),
                version: 1,
                entry_count: 3,
                content_hash: "hash".into(),
                practitioners: vec![cspr_proto::events::v1::NamedPractitioner {
                    name: "Casey Named".into(),
                    role: "Police constable".into(),
                    agency_id: "police".into(),
                }],
            }),
        )
        .await;
    for organisation in ["Southvale Police", "police"] {
        let mut named = appoint(
            &format!("panel-casey-{organisation}"),
            "casey named",
            "casey@elsewhere.example.org",
            pb::PanelRole::Member,
        );
        named.organisation = organisation.into();
        let refused = client
            .appoint_panel_member(authed(named, &admin))
            .await
            .refused(Code::FailedPrecondition, "named in a chronology");
        assert_says(&refused, "practitioner involved");
    }

    let advance = |to: pb::Stage| {
        authed(
            pb::AdvanceStageRequest {
                review_id: id.clone(),
                to_stage: to as i32,
            },
            &admin,
        )
    };
    client
        .advance_stage(advance(pb::Stage::InformationGathering))
        .await
        .expect("gathering");
    client
        .advance_stage(advance(pb::Stage::Engagement))
        .await
        .expect("engagement");
    // A retry of the same advance is harmless.
    client
        .advance_stage(advance(pb::Stage::Engagement))
        .await
        .expect("idempotent advance");
    let refused = client
        .advance_stage(advance(pb::Stage::OverviewDrafting))
        .await
        .refused(Code::FailedPrecondition, "reports outstanding");
    assert_says(&refused, "police, gp");
    // The overview report waits for the reports, and says so in words the reviewer acts on.
    const LINES: [&str; 1] = ["How well did agencies share information about neglect?"];
    let early = |request_id: &str| common::overview_report(&id, request_id, &LINES);
    let refused = client
        .submit_overview_report(authed(early("ov-early"), &reviewer))
        .await
        .refused(Code::FailedPrecondition, "reports outstanding");
    assert_says(
        &refused,
        "the overview report can be submitted once every agency report is accepted or waived; still outstanding: police, gp",
    );

    // The submissions service's decisions arrive as events.
    registry
        .deliver_body(
            &id,
            Body::AgencyReportAccepted(AgencyReportAccepted {
                agency_id: "police".into(),
                version: 1,
            }),
        )
        .await;
    registry
        .deliver_body(
            &id,
            Body::AgencyReportWaived(AgencyReportWaived {
                agency_id: "gp".into(),
                reason: "No involvement in the scope period".into(),
            }),
        )
        .await;
    let outstanding = client
        .get_review(authed(
            pb::GetReviewRequest {
                review_id: id.clone(),
            },
            &admin,
        ))
        .await
        .reply("get")
        .outstanding_agency_reports;
    assert!(
        outstanding.is_empty(),
        "decisions not projected: {outstanding:?}"
    );
    let refused = client
        .submit_overview_report(authed(early("ov-early-2"), &reviewer))
        .await
        .refused(Code::FailedPrecondition, "still at engagement");
    assert_says(
        &refused,
        "the overview report can be submitted once the review has moved on to overview drafting (it is at engagement)",
    );
    client
        .advance_stage(advance(pb::Stage::OverviewDrafting))
        .await
        .expect("drafting");

    // A parallel process during the six months.
    let review = client
        .record_parallel_process(authed(
            pb::RecordParallelProcessRequest {
                review_id: id.clone(),
                request_id: "pp-1".into(),
                kind: pb::ParallelProcessKind::CriminalInvestigation as i32,
                description: "Police investigation".into(),
                started_on: pdate("2026-03-20"),
            },
            &admin,
        ))
        .await
        .reply("parallel process");
    let process_id = review.parallel_processes[0].id.clone();
    client
        .end_parallel_process(authed(
            pb::EndParallelProcessRequest {
                review_id: id.clone(),
                parallel_process_id: process_id,
                ended_on: pdate("2026-03-26"),
            },
            &admin,
        ))
        .await
        .expect("ended");

    // Overview report: only the appointed reviewer.
    let report = |request_id: &str| pb::SubmitOverviewReportRequest {
        findings:
            "Information about neglect was not shared between health and children's social care."
                .into(),
        recommendations: vec![
            pb::Recommendation {
                r#ref: "R1".into(),
                text: "Agree a neglect information-sharing protocol.".into(),
                addressed_to: vec!["police".into(), "gp".into()],
            },
            pb::Recommendation {
                r#ref: "R2".into(),
                text: "Audit use of the neglect toolkit.".into(),
                addressed_to: vec![],
            },
        ],
        ..common::overview_report(&id, request_id, &LINES)
    };
    let version = |version: i32| pb::GetOverviewReportRequest {
        review_id: id.clone(),
        version,
    };
    client
        .get_overview_report(authed(version(0), &chair))
        .await
        .refused(Code::FailedPrecondition, "nothing submitted yet");
    client
        .submit_overview_report(authed(report("ov-x"), &other_reviewer))
        .await
        .refused(Code::PermissionDenied, "not the appointed reviewer");
    let review = client
        .submit_overview_report(authed(report("ov-1"), &reviewer))
        .await
        .reply("overview");
    assert_eq!(stage(&review), pb::Stage::PanelApproval);
    // Issue 13 item 8: a replay is authorized like the first request.
    client
        .submit_overview_report(authed(report("ov-1"), &other_reviewer))
        .await
        .refused(
            Code::PermissionDenied,
            "a replay by a reviewer not appointed",
        );
    // A second version; every version stays readable, for the chair to compare.
    let mut revised = report("ov-2");
    revised.findings = "Information about neglect was not shared between health, \
        education and children's social care."
        .into();
    let review = client
        .submit_overview_report(authed(revised, &reviewer))
        .await
        .reply("second version");
    assert_eq!(review.overview_report.as_ref().map(|r| r.version), Some(2));
    let first = client
        .get_overview_report(authed(version(1), &chair))
        .await
        .reply("version 1");
    assert_eq!(first.version, 1);
    assert!(first.findings.contains("between health and children's"));
    assert_eq!(first.recommendations.len(), 2);
    assert!(first.submit_time.is_some() && first.approve_time.is_none());
    let latest = client
        .get_overview_report(authed(version(0), &reviewer))
        .await
        .reply("the latest, for the appointed reviewer too");
    assert_eq!(latest.version, 2);
    assert!(latest.findings.contains("education"));
    client
        .get_overview_report(authed(version(3), &chair))
        .await
        .refused(Code::InvalidArgument, "no version 3");
    client
        .get_overview_report(authed(version(1), &other_reviewer))
        .await
        .refused(Code::PermissionDenied, "not the appointed reviewer");
    let review = client
        .approve_overview_report(authed(
            pb::ApproveOverviewReportRequest {
                review_id: id.clone(),
                version: 2,
            },
            &chair,
        ))
        .await
        .reply("approved");
    assert_eq!(stage(&review), pb::Stage::PrePublication);

    // Publication: the notice must be possible ≥ 7 working days before.
    registry.clock.set_date(common::date("2026-06-01"));
    client
        .schedule_publication(authed(
            pb::SchedulePublicationRequest {
                review_id: id.clone(),
                planned_on: pdate("2026-06-05"),
            },
            &admin,
        ))
        .await
        .refused(Code::FailedPrecondition, "too soon");
    let review = client
        .schedule_publication(authed(
            pb::SchedulePublicationRequest {
                review_id: id.clone(),
                planned_on: pdate("2026-06-15"),
            },
            &admin,
        ))
        .await
        .reply("scheduled");
    assert_eq!(
        review
            .publication
            .as_ref()
            .and_then(|publication| publication.notice_due_by),
        pdate("2026-06-04")
    );
    client
        .record_pre_publication_notice(authed(
            pb::RecordPrePublicationNoticeRequest {
                review_id: id.clone(),
                sent_on: pdate("2026-06-01"),
            },
            &admin,
        ))
        .await
        .expect("notice");
    registry.clock.set_date(common::date("2026-06-15"));
    let review = client
        .record_publication(authed(
            pb::RecordPublicationRequest {
                review_id: id.clone(),
                published: true,
                published_on: pdate("2026-06-15"),
                location: "https://southvale.example.org/cspr/child-q".into(),
                not_published_justification: String::new(),
            },
            &admin,
        ))
        .await
        .reply("published");
    assert_eq!(stage(&review), pb::Stage::Published);
    // The actions service activates the plan: ACTION_MONITORING follows by itself.
    registry
        .deliver_body(
            &id,
            Body::ActionPlanActivated(ActionPlanActivated { action_count: 2 }),
        )
        .await;
    let stage_now = stage(
        &client
            .get_review(authed(
                pb::GetReviewRequest {
                    review_id: id.clone(),
                },
                &admin,
            ))
            .await
            .reply("get"),
    );
    assert_eq!(stage_now, pb::Stage::ActionMonitoring);
    let refused = client
        .advance_stage(advance(pb::Stage::Closed))
        .await
        .expect_err("actions still open");
    assert_says(&refused, "action plan is not complete");
    registry
        .deliver_body(
            &id,
            Body::ActionPlanCompleted(ActionPlanCompleted {
                verified: 2,
                cancelled: 0,
            }),
        )
        .await;
    client
        .advance_stage(advance(pb::Stage::Closed))
        .await
        .expect("closed once the plan is complete");
    let review = client
        .get_review(authed(
            pb::GetReviewRequest {
                review_id: id.clone(),
            },
            &admin,
        ))
        .await
        .reply("get");
    assert_eq!(stage(&review), pb::Stage::Closed);
    assert!(review.next_stages.is_empty(), "nothing follows CLOSED");

    // The timeline: every deadline met.
    let timeline = client
        .get_timeline(authed(
            pb::GetTimelineRequest {
                review_id: id.clone(),
            },
            &auditor,
        ))
        .await
        .reply("timeline");
    for kind in [
        pb::DeadlineKind::Notification,
        pb::DeadlineKind::RapidReview,
        pb::DeadlineKind::Completion,
        pb::DeadlineKind::PrePublicationNotice,
    ] {
        assert_eq!(
            deadline(&timeline.deadlines, kind).status,
            pb::DeadlineStatus::Met as i32,
            "{kind:?}"
        );
    }
    assert_eq!(
        deadline(&timeline.deadlines, pb::DeadlineKind::KeepPublic).due_on,
        pdate("2027-06-15")
    );
    assert_eq!(
        timeline.parallel_process_days, 1,
        "only 26 March falls inside the six months"
    );

    // The audit trail has every command.
    let audit = client
        .list_audit_records(authed(
            pb::ListAuditRecordsRequest {
                review_id: id.clone(),
                page_size: 500,
                page_token: String::new(),
            },
            &auditor,
        ))
        .await
        .reply("audit");
    let actions: HashSet<String> = audit
        .records
        .iter()
        .map(|record| record.action.clone())
        .collect();
    for action in [
        "CreateReview",
        "RecordNotificationSent",
        "RecordDecision",
        "AppointPanelMember",
        "AppointReviewer",
        "SetTermsOfReference",
        "AdvanceStage",
        "RecordParallelProcess",
        "EndParallelProcess",
        "SubmitOverviewReport",
        "ApproveOverviewReport",
        "SchedulePublication",
        "RecordPrePublicationNotice",
        "RecordPublication",
        "GetReview",
        "GetTimeline",
    ] {
        assert!(actions.contains(action), "no audit record for {action}");
    }
    assert!(
        audit
            .records
            .iter()
            .any(|record| record.outcome == "PERMISSION_DENIED"),
        "refusals are audited"
    );

    // Every event on the stream, exactly once, in order.
    let expected = [
        "review_created",
        "notification_sent",
        "stage_changed",
        "decision_recorded",
        "stage_changed",
        "panel_member_appointed",
        "reviewer_appointed",
        "terms_of_reference_set",
        "stage_changed",
        "stage_changed",
        "stage_changed",
        "parallel_process_started",
        // The process pushes the projected completion past the six months: the completion
        // deadline is at risk from that command, alerted at once (not at the next sweep).
        "deadline_at_risk",
        "parallel_process_ended",
        "overview_report_submitted",
        "stage_changed",
        "overview_report_submitted",
        "overview_report_approved",
        "stage_changed",
        "publication_scheduled",
        "pre_publication_notice_recorded",
        "review_published",
        "stage_changed",
        "stage_changed",
        "stage_changed",
        "review_closed",
    ];
    let events = registry
        .published_within(expected.len(), Duration::from_secs(20))
        .await;
    let types: Vec<&str> = events
        .iter()
        .map(|(_, event)| event.r#type.as_str())
        .collect();
    assert_eq!(types, expected);
    let ids: HashSet<&str> = events.iter().map(|(_, event)| event.id.as_str()).collect();
    assert_eq!(ids.len(), events.len(), "no event twice");
    for (subject, event) in &events {
        assert_eq!(
            subject,
            &format!(
                "{}.registry.{}",
                registry.platform.subject_prefix, event.r#type
            )
        );
        assert_eq!(event.review_id, id);
        assert_eq!(event.partnership_id, common::PARTNERSHIP);
    }
    let Some(Body::TermsOfReferenceSet(terms)) = events
        .iter()
        .find(|(_, event)| event.r#type == "terms_of_reference_set")
        .and_then(|(_, event)| event.body.clone())
    else {
        panic!("terms_of_reference_set has its body");
    };
    assert_eq!(
        terms.agencies_in_scope[0].contact_email,
        "safeguarding.lead@police.southvale.example.org"
    );
    let Some(Body::OverviewReportApproved(approved)) = events
        .iter()
        .find(|(_, event)| event.r#type == "overview_report_approved")
        .and_then(|(_, event)| event.body.clone())
    else {
        panic!("overview_report_approved has its body");
    };
    assert_eq!(approved.recommendations.len(), 2);

    registry.stop().await;
}

/// The partnership's requests to the reviewer for information: in writing, to the
/// appointed reviewer only, answered once, timestamped both ways, with their status on the
/// review and an event each (the question and answer stay off the bus).
#[tokio::test]
async fn the_partnership_asks_the_reviewer_in_writing_and_the_answer_is_on_record() {
    let registry = TestRegistry::start("2026-03-11").await;
    let admin = registry.role_token("partnership_admin");
    let chair = registry.role_token("panel_chair");
    let reviewer = registry.token_as(&["reviewer"], "isla-reviewer");
    let other_reviewer = registry.token_as(&["reviewer"], "someone-else");
    let mut client = registry.client.clone();
    let review = common::created(&mut client, &admin, "sin-child-r", "Child R").await;
    let id = review.id.clone();
    let ask = |request_id: &str, question: &str, respond_by: &str| {
        pb::RequestInformationFromReviewerRequest {
            review_id: id.clone(),
            request_id: request_id.into(),
            question: question.into(),
            respond_by: pdate(respond_by),
            reply_to_email: "business.unit@southvale.example.org".into(),
        }
    };

    // No reviewer yet: nobody to ask.
    let refused = client
        .request_information_from_reviewer(authed(
            ask("info-0", "When can you start?", "2026-03-20"),
            &admin,
        ))
        .await
        .refused(Code::FailedPrecondition, "no reviewer yet");
    assert_says(&refused, "no reviewer is appointed to this review yet");

    common::decided_local(&mut client, (&admin, &chair), &id).await;
    common::isla_appointed(&mut client, &admin, &id).await;

    // What is asked is checked: a question, a day not past, an email if one is given.
    let mut bad = ask("info-bad", " ", "2026-03-10");
    bad.reply_to_email = "not an email".into();
    let refused = client
        .request_information_from_reviewer(authed(bad, &admin))
        .await
        .refused(Code::InvalidArgument, "bad request");
    assert_eq!(
        common::violated_fields(&refused),
        vec!["question", "reply_to_email"],
        "{refused:?}"
    );
    let refused = client
        .request_information_from_reviewer(authed(
            ask("info-past", "Where is the draft?", "2026-03-10"),
            &admin,
        ))
        .await
        .refused(Code::InvalidArgument, "a day already past");
    assert_says(&refused, "must not be before today");
    // The reviewer does not ask themselves.
    client
        .request_information_from_reviewer(authed(
            ask("info-own", "Anything?", "2026-03-20"),
            &reviewer,
        ))
        .await
        .refused(Code::PermissionDenied, "a reviewer cannot ask");

    let asked = client
        .request_information_from_reviewer(authed(
            ask(
                "info-1",
                "When will the chronology analysis be ready?",
                "2026-03-20",
            ),
            &admin,
        ))
        .await
        .reply("asked");
    assert_eq!(asked.information_requests.len(), 1);
    let first = asked.information_requests[0].clone();
    assert_eq!(
        first.question,
        "When will the chronology analysis be ready?"
    );
    assert_eq!(first.requested_by, "alice-admin");
    assert_eq!(first.respond_by, pdate("2026-03-20"));
    assert_eq!(first.reply_to_email, "business.unit@southvale.example.org");
    assert_eq!(first.status(), pb::InformationRequestStatus::Open);
    assert!(first.answer.is_empty() && first.answer_time.is_none());
    assert!(first.request_time.is_some());
    // A retry with the same request id is the first request, not a second.
    let retried = client
        .request_information_from_reviewer(authed(
            ask(
                "info-1",
                "When will the chronology analysis be ready?",
                "2026-03-20",
            ),
            &admin,
        ))
        .await
        .reply("retried");
    assert_eq!(retried.information_requests.len(), 1);
    let second = client
        .request_information_from_reviewer(authed(
            pb::RequestInformationFromReviewerRequest {
                reply_to_email: String::new(),
                ..ask("info-2", "Have you met the family yet?", "2026-03-13")
            },
            &chair,
        ))
        .await
        .reply("the chair asks too")
        .information_requests[1]
        .clone();
    assert_eq!(second.requested_by, "tess-chair");

    // Only the appointed reviewer answers, with an answer, to a request of this review.
    let answer =
        |request: &pb::InformationRequest, text: &str| pb::AnswerInformationRequestRequest {
            review_id: id.clone(),
            information_request_id: request.id.clone(),
            answer: text.into(),
        };
    client
        .answer_information_request(authed(answer(&first, "Next week."), &other_reviewer))
        .await
        .refused(Code::PermissionDenied, "another reviewer");
    client
        .answer_information_request(authed(answer(&first, "Next week."), &admin))
        .await
        .refused(Code::PermissionDenied, "the business unit does not answer");
    let refused = client
        .answer_information_request(authed(answer(&first, "  "), &reviewer))
        .await
        .refused(Code::InvalidArgument, "no answer");
    assert_eq!(common::violated_fields(&refused), vec!["answer"]);
    let mut unknown = answer(&first, "Next week.");
    unknown.information_request_id = "0190a0a0-0000-7000-8000-000000000000".into();
    let refused = client
        .answer_information_request(authed(unknown, &reviewer))
        .await
        .refused(Code::InvalidArgument, "no such request");
    assert_says(&refused, "no such information request on this review");

    // Answered on time; the second one late (after the day asked for), then overdue shows.
    registry
        .clock
        .set_date(chrono::NaiveDate::from_ymd_opt(2026, 3, 16).expect("date"));
    let review = client
        .get_review(authed(
            pb::GetReviewRequest {
                review_id: id.clone(),
            },
            &chair,
        ))
        .await
        .reply("read");
    assert_eq!(
        review.information_requests[1].status(),
        pb::InformationRequestStatus::Overdue
    );
    let answered = client
        .answer_information_request(authed(
            answer(&first, "The analysis will be ready on 19 March."),
            &reviewer,
        ))
        .await
        .reply("answered");
    let first = &answered.information_requests[0];
    assert_eq!(first.answer, "The analysis will be ready on 19 March.");
    assert_eq!(first.answered_by, "isla-reviewer");
    assert_eq!(
        first.answer_time.as_ref().map(|time| time.seconds),
        Some(
            chrono::NaiveDate::from_ymd_opt(2026, 3, 16)
                .and_then(|day| day.and_hms_opt(12, 0, 0))
                .expect("noon")
                .and_utc()
                .timestamp()
        )
    );
    assert_eq!(first.status(), pb::InformationRequestStatus::Answered);
    let refused = client
        .answer_information_request(authed(answer(first, "Again."), &reviewer))
        .await
        .refused(Code::FailedPrecondition, "answered once");
    assert_says(
        &refused,
        "this request was already answered on 16 March 2026 at 12:00 UTC",
    );
    // The second is overdue: its reminder was raised with the command that found it so (the
    // first one's answer), and the sweep raises it no second time.
    let sweep =
        cspr_registry::jobs::DeadlineSweep::new(registry.store.clone(), Duration::from_secs(3600));
    sweep.sweep_once().await.expect("sweep");
    sweep.sweep_once().await.expect("sweep again");
    let answered = client
        .answer_information_request(authed(answer(&second, "Yes, on 12 March."), &reviewer))
        .await
        .reply("answered late");
    assert_eq!(
        answered.information_requests[1].status(),
        pb::InformationRequestStatus::AnsweredLate
    );

    // An event each, with neither the question nor the answer on the bus.
    let events = registry.published_within(10, Duration::from_secs(20)).await;
    let of = |kind: &str| -> Vec<Body> {
        events
            .iter()
            .filter(|(_, event)| event.r#type == kind)
            .filter_map(|(_, event)| event.body.clone())
            .collect()
    };
    let asked = of("information_requested_from_reviewer");
    assert_eq!(asked.len(), 2, "one event per request, the retry none");
    let Body::InformationRequestedFromReviewer(asked) = &asked[0] else {
        panic!("information_requested_from_reviewer has its body");
    };
    assert_eq!(asked.reviewer_email, "isla.oakes@reviewers.example.org");
    assert_eq!(asked.respond_by, pdate("2026-03-20"));
    assert_eq!(asked.review_reference, review.reference);
    let overdue: Vec<Body> = of("information_request_overdue");
    assert_eq!(
        overdue.len(),
        1,
        "one reminder, for the second request only"
    );
    let Body::InformationRequestOverdue(overdue) = &overdue[0] else {
        panic!("information_request_overdue has its body");
    };
    assert_eq!(
        (
            overdue.information_request_id.as_str(),
            overdue.reviewer_email.as_str()
        ),
        (second.id.as_str(), "isla.oakes@reviewers.example.org")
    );
    let answered = of("information_request_answered");
    assert_eq!(answered.len(), 2);
    let lates: Vec<(String, bool)> = answered
        .iter()
        .filter_map(|body| match body {
            Body::InformationRequestAnswered(answered) => {
                Some((answered.reply_to_email.clone(), answered.late))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        lates,
        vec![
            ("business.unit@southvale.example.org".to_string(), false),
            (String::new(), true)
        ]
    );
    for (_, event) in &events {
        let bytes = prost::Message::encode_to_vec(event);
        let text = String::from_utf8_lossy(&bytes);
        for secret in ["chronology analysis", "ready on 19 March", "met the family"] {
            assert!(
                !text.contains(secret),
                "{secret:?} is on the bus in {}",
                event.r#type
            );
        }
    }
    registry.stop().await;
}

/// Panel independence after appointment: a member later named in an agency's chronology
/// (by name and agency), or registered as a practitioner (by email), is flagged on the
/// review once, with an event for the business unit's email.
#[tokio::test]
async fn a_panel_member_found_involved_later_is_flagged_once() {
    let registry = TestRegistry::start("2026-03-11").await;
    let admin = registry.role_token("partnership_admin");
    let chair = registry.role_token("panel_chair");
    let mut client = registry.client.clone();
    let review = common::created(&mut client, &admin, "sin-child-s", "Child S").await;
    let id = review.id.clone();
    for (request_id, name, email, organisation, role) in [
        (
            "panel-pat",
            "Pat Constable",
            "pat.constable@panel.southvale.example.org",
            "police",
            pb::PanelRole::Member,
        ),
        (
            "panel-dee",
            "Dee Harper",
            "dee.harper@health.southvale.example.org",
            "Southvale Community Health Trust",
            pb::PanelRole::Chair,
        ),
        (
            "panel-sam",
            "Sam Clear",
            "sam.clear@council.southvale.example.org",
            "Southvale Council",
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
                    organisation: organisation.into(),
                    role: role as i32,
                    independence_statement: "I was not involved in the case.".into(),
                    declares_no_involvement: true,
                },
                &admin,
            ))
            .await
            .reply(request_id);
    }

    // Police's chronology names Pat Constable, twice over two versions: one flag.
    for version in [1, 2] {
        registry
            .deliver_body(
                &id,
                Body::AgencyReportSubmitted(cspr_proto::events::v1::AgencyReportSubmitted {
                    agency_id: "police".into(),
                    version,
                    entry_count: 2,
                    content_hash: format!("hash-{version}"),
                    practitioners: vec![cspr_proto::events::v1::NamedPractitioner {
                        name: "pat constable".into(),
                        role: "Police constable".into(),
                        agency_id: "police".into(),
                    }],
                }),
            )
            .await;
    }
    // Dee Harper registers as a practitioner of the health trust, by her work email.
    registry
        .deliver_body(
            &id,
            Body::PractitionerRegistered(PractitionerRegistered {
                practitioner_id: "p-dee".into(),
                agency_id: "health".into(),
                email: "Dee.Harper@health.southvale.example.org".into(),
                name: "D. Harper".into(),
                role: "Named nurse".into(),
                agency_name: "Southvale Community Health Trust".into(),
            }),
        )
        .await;

    let review = client
        .get_review(authed(
            pb::GetReviewRequest {
                review_id: id.clone(),
            },
            &chair,
        ))
        .await
        .reply("read");
    let found: Vec<(&str, &str)> = review
        .panel
        .iter()
        .map(|member| (member.name.as_str(), member.found_involved.as_str()))
        .collect();
    assert_eq!(
        found,
        vec![
            ("Pat Constable", "named in police's chronology"),
            (
                "Dee Harper",
                "registered as a practitioner involved in the case (Southvale Community Health Trust)"
            ),
            ("Sam Clear", ""),
        ]
    );

    // Created, three appointed, two flagged.
    let events = registry.published_within(6, Duration::from_secs(20)).await;
    let flagged: Vec<(String, String)> = events
        .iter()
        .filter_map(|(_, event)| match &event.body {
            Some(Body::PanelMemberFoundInvolved(found)) => {
                Some((found.name.clone(), found.found.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        flagged,
        vec![
            (
                "Pat Constable".to_string(),
                "named in police's chronology".to_string()
            ),
            (
                "Dee Harper".to_string(),
                "registered as a practitioner involved in the case (Southvale Community Health Trust)"
                    .to_string()
            ),
        ],
        "each member flagged once"
    );
    registry.stop().await;
}

/// The rapid review as a record and the national Panel's response, on three reviews of
/// the partnership, summed up: how many rapid reviews became local reviews.
#[tokio::test]
async fn rapid_reviews_are_recorded_and_summed_up() {
    let registry = TestRegistry::start("2026-04-20").await;
    let admin = registry.role_token("partnership_admin");
    let chair = registry.role_token("panel_chair");
    let auditor = registry.role_token("auditor");
    let member = registry.role_token("panel_member");
    let mut client = registry.client.clone();
    let mut ids = Vec::new();
    for (alias, notified, decision) in [
        ("Child T", "2026-03-12", Some(pb::Decision::LocalCspr)),
        ("Child U", "2026-03-13", Some(pb::Decision::NoLocalCspr)),
        ("Child V", "2026-04-14", None),
    ] {
        let review = common::created(&mut client, &admin, &format!("sin-{alias}"), alias).await;
        let id = review.id.clone();
        // Nothing to record before the notification.
        let early = client
            .record_rapid_review(authed(
                pb::RecordRapidReviewRequest {
                    review_id: id.clone(),
                    meeting_on: pdate("2026-03-20"),
                    contributing_agencies: vec!["Southvale Police".into()],
                    learning: "Early.".into(),
                    sent_to_panel_on: None,
                },
                &admin,
            ))
            .await
            .refused(Code::FailedPrecondition, "before the notification");
        assert_says(&early, "not possible while the review is at notified");
        client
            .record_notification_sent(authed(
                pb::RecordNotificationSentRequest {
                    review_id: id.clone(),
                    sent_on: pdate(notified),
                    national_panel_reference: String::new(),
                },
                &admin,
            ))
            .await
            .reply("notified");
        ids.push((id, decision));
    }
    let (local, _) = &ids[0];
    let (not_local, _) = &ids[1];

    // What is recorded is checked: agencies, learning, dates in order.
    let refused = client
        .record_rapid_review(authed(
            pb::RecordRapidReviewRequest {
                review_id: local.clone(),
                meeting_on: pdate("2026-03-20"),
                contributing_agencies: vec![],
                learning: " ".into(),
                sent_to_panel_on: pdate("2026-03-19"),
            },
            &chair,
        ))
        .await
        .refused(Code::InvalidArgument, "bad record");
    assert_eq!(
        common::violated_fields(&refused),
        vec!["learning", "contributing_agencies"]
    );
    let refused = client
        .record_rapid_review(authed(
            pb::RecordRapidReviewRequest {
                review_id: local.clone(),
                meeting_on: pdate("2026-03-20"),
                contributing_agencies: vec!["Southvale Police".into()],
                learning: "Neglect was not recognised.".into(),
                sent_to_panel_on: pdate("2026-03-19"),
            },
            &chair,
        ))
        .await
        .refused(Code::InvalidArgument, "sent before the meeting");
    assert_says(&refused, "must not be before the rapid review meeting");
    client
        .record_rapid_review(authed(
            pb::RecordRapidReviewRequest {
                review_id: local.clone(),
                meeting_on: pdate("2026-03-20"),
                contributing_agencies: vec!["Southvale Police".into()],
                learning: "Neglect was not recognised.".into(),
                sent_to_panel_on: pdate("2026-03-19"),
            },
            &member,
        ))
        .await
        .refused(Code::PermissionDenied, "a panel member does not record it");
    // No response before the rapid review is sent.
    let refused = client
        .record_panel_response(authed(
            pb::RecordPanelResponseRequest {
                review_id: local.clone(),
                kind: pb::PanelResponseKind::Agrees as i32,
                received_on: pdate("2026-04-01"),
                note: String::new(),
            },
            &admin,
        ))
        .await
        .refused(Code::FailedPrecondition, "not sent yet");
    assert_says(&refused, "not recorded as sent to the national Panel");

    // Both decided reviews: recorded, decided, sent; the Panel agrees with one and asks
    // more of the other. The third awaits its decision with no record.
    for ((id, decision), response) in ids.iter().take(2).zip([
        pb::PanelResponseKind::Agrees,
        pb::PanelResponseKind::AsksForMore,
    ]) {
        client
            .record_rapid_review(authed(
                pb::RecordRapidReviewRequest {
                    review_id: id.clone(),
                    meeting_on: pdate("2026-03-24"),
                    contributing_agencies: vec![
                        "Southvale Police".into(),
                        "Southvale Health".into(),
                    ],
                    learning: "Neglect was not recognised early enough.".into(),
                    sent_to_panel_on: None,
                },
                &chair,
            ))
            .await
            .reply("recorded");
        client
            .record_decision(authed(
                pb::RecordDecisionRequest {
                    review_id: id.clone(),
                    decision: decision.expect("decided") as i32,
                    decided_on: pdate("2026-03-26"),
                    rationale: "Criteria considered.".into(),
                },
                &chair,
            ))
            .await
            .reply("decided");
        // Sent with the decision, after it (NOT_PROCEEDING too: the Panel still answers).
        let sent = client
            .record_rapid_review(authed(
                pb::RecordRapidReviewRequest {
                    review_id: id.clone(),
                    meeting_on: pdate("2026-03-24"),
                    contributing_agencies: vec![
                        "Southvale Police".into(),
                        "Southvale Health".into(),
                    ],
                    learning: "Neglect was not recognised early enough.".into(),
                    sent_to_panel_on: pdate("2026-03-27"),
                },
                &admin,
            ))
            .await
            .reply("sent");
        assert_eq!(
            sent.rapid_review.as_ref().and_then(|r| r.sent_to_panel_on),
            pdate("2026-03-27")
        );
        let answered = client
            .record_panel_response(authed(
                pb::RecordPanelResponseRequest {
                    review_id: id.clone(),
                    kind: response as i32,
                    received_on: pdate("2026-04-10"),
                    note: "Letter from the Panel.".into(),
                },
                &admin,
            ))
            .await
            .reply("the Panel answered");
        let record = answered.rapid_review.expect("the record");
        assert_eq!(record.contributing_agencies.len(), 2);
        assert_eq!(
            record.panel_response.map(|response| response.kind()),
            Some(response)
        );
    }
    assert_eq!(
        client
            .get_review(authed(
                pb::GetReviewRequest {
                    review_id: not_local.clone()
                },
                &chair
            ))
            .await
            .reply("read")
            .stage(),
        pb::Stage::NotProceeding
    );

    let summary = |from: Option<&str>, to: Option<&str>| pb::SummarizeRapidReviewsRequest {
        from: from.and_then(pdate),
        to: to.and_then(pdate),
    };
    let all = client
        .summarize_rapid_reviews(authed(summary(None, None), &auditor))
        .await
        .reply("summary");
    assert_eq!(
        all,
        pb::RapidReviewSummary {
            notified: 3,
            rapid_reviews_recorded: 2,
            became_local_reviews: 1,
            not_proceeding: 1,
            awaiting_decision: 1,
            sent_to_panel: 2,
            panel_agrees: 1,
            panel_asks_for_more: 1,
            panel_national_review: 0,
            awaiting_panel_response: 0,
        }
    );
    let march = client
        .summarize_rapid_reviews(authed(
            summary(Some("2026-03-13"), Some("2026-03-31")),
            &admin,
        ))
        .await
        .reply("March from the 13th");
    assert_eq!(
        (
            march.notified,
            march.became_local_reviews,
            march.not_proceeding
        ),
        (1, 0, 1)
    );
    let refused = client
        .summarize_rapid_reviews(authed(
            summary(Some("2026-04-01"), Some("2026-03-01")),
            &admin,
        ))
        .await
        .refused(Code::InvalidArgument, "a period backwards");
    assert_eq!(common::violated_fields(&refused), vec!["to"]);
    client
        .summarize_rapid_reviews(authed(summary(None, None), &member))
        .await
        .refused(Code::PermissionDenied, "a panel member");

    // The outbox relays the last events a moment after the commands: read until the two
    // responses are there, then count.
    let count = |events: &[(String, cspr_proto::events::v1::Event)], kind: &str| {
        events
            .iter()
            .filter(|(_, event)| event.r#type == kind)
            .count()
    };
    let events = cspr_platform::testing::eventually(
        "the rapid review events",
        cspr_platform::testing::DEADLINE,
        || async {
            let events = registry.published_within(1, Duration::from_secs(1)).await;
            (count(&events, "panel_response_recorded") >= 2).then_some(events)
        },
    )
    .await;
    assert_eq!(count(&events, "rapid_review_recorded"), 4);
    assert_eq!(count(&events, "panel_response_recorded"), 2);
    for (_, event) in &events {
        let bytes = prost::Message::encode_to_vec(event);
        assert!(
            !String::from_utf8_lossy(&bytes).contains("not recognised"),
            "the learning is not on the bus: {}",
            event.r#type
        );
    }
    registry.stop().await;
}
