//! Action monitoring over gRPC against real PostgreSQL and NATS: plan headings from the
//! approval, unknown refs refused, agencies limited to their own actions, verification only
//! with evidence, reminders once across replicas, the plan's activation and completion, and
//! summary figures.

mod common;

use std::time::Duration;

use common::{ActionsTest, Refusal, Reply, TestActions, assert_says, authed, date, swept_together};
use cspr_actions::jobs::ActionReminders;
use cspr_proto::actions::v1 as pb;
use tonic::Code;

fn progress(
    action_id: &str,
    status: pb::ActionStatus,
    evidence: &str,
) -> pb::UpdateActionProgressRequest {
    pb::UpdateActionProgressRequest {
        action_id: action_id.into(),
        status: status as i32,
        cancel_reason: String::new(),
        note: "Progress".into(),
        evidence_of_impact: evidence.into(),
        based_on_version: None,
    }
}

#[tokio::test]
async fn actions_attach_to_approved_recommendations_only() {
    let service = TestActions::start().await;
    let review_id = service.approved_review().await;
    let created = service
        .create(&review_id, "R1", "csc", date(2026, 9, 30))
        .await
        .expect("created");
    assert_eq!(created.status, pb::ActionStatus::NotStarted as i32);
    assert_eq!(created.review_reference, "SOUTHVALE-2026-001");
    service
        .create(&review_id, "R9", "csc", date(2026, 9, 30))
        .await
        .invalid(&["recommendation_ref"], "unknown ref");
    service
        .create(&review_id, "R1", "csc", date(2026, 6, 1))
        .await
        .invalid(&["due_date"], "due in the past");
    let events = service.published(1).await;
    let Some(cspr_proto::events::v1::event::Body::ActionAssigned(assigned)) = &events[0].1.body
    else {
        panic!("action_assigned");
    };
    assert_eq!(assigned.owner_email, "lead@csc.southvale.example.org");
    service.stop().await;
}

#[tokio::test]
async fn agencies_update_their_own_and_only_the_partnership_verifies_with_evidence() {
    let service = TestActions::start().await;
    let review_id = service.approved_review().await;
    let csc = service
        .create(&review_id, "R1", "csc", date(2026, 9, 30))
        .await
        .expect("csc action");
    let police = service
        .create(&review_id, "R2", "police", date(2026, 9, 30))
        .await
        .expect("police action");
    let mut client = service.client.clone();

    let updated = client
        .update_action_progress(authed(
            progress(&csc.id, pb::ActionStatus::InProgress, ""),
            &service.agency_token("csc"),
        ))
        .await
        .reply("own action");
    assert_eq!(updated.status, pb::ActionStatus::InProgress as i32);
    client
        .update_action_progress(authed(
            progress(&police.id, pb::ActionStatus::InProgress, ""),
            &service.agency_token("csc"),
        ))
        .await
        .refused(Code::NotFound, "another agency's action, hidden from it");
    let listed = client
        .list_actions(authed(
            pb::ListActionsRequest {
                review_id: review_id.clone(),
                ..Default::default()
            },
            &service.agency_token("csc"),
        ))
        .await
        .reply("list");
    assert_eq!(listed.actions.len(), 1, "an agency sees its own actions");

    // Completed without evidence: cannot be verified.
    client
        .update_action_progress(authed(
            progress(&csc.id, pb::ActionStatus::Completed, ""),
            &service.agency_token("csc"),
        ))
        .await
        .expect("completed");
    let refused = client
        .verify_action(authed(
            pb::VerifyActionRequest {
                action_id: csc.id.clone(),
                note: String::new(),
                based_on_version: None,
            },
            &service.role_token("partnership_admin"),
        ))
        .await
        .refused(Code::FailedPrecondition, "no evidence");
    assert_says(&refused, "evidence");
    client
        .verify_action(authed(
            pb::VerifyActionRequest {
                action_id: csc.id.clone(),
                note: String::new(),
                based_on_version: None,
            },
            &service.agency_token("csc"),
        ))
        .await
        .refused(Code::PermissionDenied, "agencies do not verify");
    client
        .update_action_progress(authed(
            progress(&csc.id, pb::ActionStatus::Verified, ""),
            &service.agency_token("csc"),
        ))
        .await
        .refused(Code::InvalidArgument, "verification has its own RPC");
    client
        .update_action_progress(authed(
            progress(
                &csc.id,
                pb::ActionStatus::Completed,
                "Audit of 40 cases: concerns shared within 24 hours in 38.",
            ),
            &service.agency_token("csc"),
        ))
        .await
        .expect("evidence");

    // The review is published: the plan is active. Verify one, cancel the other: complete.
    service.publish_review(&review_id).await;
    let verified = client
        .verify_action(authed(
            pb::VerifyActionRequest {
                action_id: csc.id.clone(),
                note: "Audit checked".into(),
                based_on_version: None,
            },
            &service.role_token("partnership_admin"),
        ))
        .await
        .reply("verified");
    assert_eq!(verified.status, pb::ActionStatus::Verified as i32);
    let mut cancel = progress(&police.id, pb::ActionStatus::Cancelled, "");
    client
        .update_action_progress(authed(
            cancel.clone(),
            &service.role_token("partnership_admin"),
        ))
        .await
        .invalid(&["cancel_reason"], "a reason is required");
    cancel.cancel_reason = "Superseded by the regional protocol".into();
    client
        .update_action_progress(authed(cancel, &service.role_token("partnership_admin")))
        .await
        .expect("cancelled");

    let types = service.published_types(9).await;
    assert_eq!(
        types
            .iter()
            .filter(|kind| *kind == "action_plan_activated")
            .count(),
        1
    );
    assert_eq!(
        types.last().map(String::as_str),
        Some("action_plan_completed"),
        "{types:?}"
    );
    let summary = client
        .get_action_plan_summary(authed(
            pb::GetActionPlanSummaryRequest {
                review_id: review_id.clone(),
            },
            &service.role_token("partnership_admin"),
        ))
        .await
        .reply("summary");
    assert!(summary.plan_complete);
    service.stop().await;
}

#[tokio::test]
async fn reminders_are_raised_once_across_replicas_and_summaries_add_up() {
    let service = TestActions::start().await;
    let review_id = service.approved_review().await;
    let due = service
        .create(&review_id, "R1", "csc", date(2026, 7, 10))
        .await
        .expect("due soon");
    let later = service
        .create(&review_id, "R2", "police", date(2026, 12, 31))
        .await
        .expect("later");
    let mut client = service.client.clone();
    client
        .update_action_progress(authed(
            progress(&later.id, pb::ActionStatus::Completed, "Evidence"),
            &service.role_token("partnership_admin"),
        ))
        .await
        .expect("completed");
    let first = cspr_actions::jobs::ActionSweep::new(
        ActionReminders {
            store: service.store.clone(),
            due_soon_days: 14,
            escalate_after_days: 30,
        },
        Duration::from_secs(3600),
    );
    // A second replica's sweep: the same job on the same database.
    let second = first.clone();

    // The service's own sweep first runs one interval (an hour) after start, so the two
    // manual sweeps are the only ones: between them each reminder is raised exactly once,
    // and it is committed when they return; the stream, read at the end, shows none was
    // published twice.
    let alerts = |alert: &'static str| {
        let pool = service.store.pool().clone();
        let action = due.id.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM action_alerts WHERE action_id = $1::uuid AND alert = $2",
            )
            .bind(&action)
            .bind(alert)
            .fetch_one(&pool)
            .await
            .expect("alerts")
        }
    };
    let raised = swept_together(first.sweep_once(), second.sweep_once()).await;
    assert_eq!(raised, 1, "the two sweeps raised {raised}");
    assert_eq!(alerts("DUE_SOON").await, 1, "due soon, once");
    service
        .clock
        .set_date(cspr_platform::testing::date("2026-07-15"));
    let raised = swept_together(first.sweep_once(), second.sweep_once()).await;
    assert_eq!(raised, 1, "the two sweeps raised {raised}");
    assert_eq!(alerts("OVERDUE").await, 1, "overdue, once");
    assert_eq!(first.sweep_once().await.expect("sweep"), 0);
    service
        .clock
        .set_date(cspr_platform::testing::date("2026-08-20"));
    assert_eq!(first.sweep_once().await.expect("sweep"), 1, "escalated");
    assert_eq!(alerts("ESCALATED").await, 1, "escalated after 30 days");
    assert_eq!(second.sweep_once().await.expect("sweep"), 0);

    let overdue = client
        .list_actions(authed(
            pb::ListActionsRequest {
                overdue_only: true,
                ..Default::default()
            },
            &service.role_token("partnership_admin"),
        ))
        .await
        .reply("overdue");
    assert_eq!(overdue.actions.len(), 1);
    assert_eq!(overdue.actions[0].id, due.id);
    assert!(overdue.actions[0].overdue);
    let summary = client
        .get_action_plan_summary(authed(
            pb::GetActionPlanSummaryRequest::default(),
            &service.role_token("partnership_admin"),
        ))
        .await
        .reply("partnership summary");
    assert_eq!(summary.total, 2);
    assert_eq!(summary.overdue, 1);
    assert!((summary.completion_rate - 0.5).abs() < 1e-9);
    assert!((summary.verification_rate - 0.0).abs() < 1e-9);
    let completed = summary
        .by_status
        .iter()
        .find(|count| count.status == pb::ActionStatus::Completed as i32)
        .expect("completed count");
    assert_eq!(completed.count, 1);
    client
        .get_action_plan_summary(authed(
            pb::GetActionPlanSummaryRequest::default(),
            &service.agency_token("csc"),
        ))
        .await
        .refused(Code::PermissionDenied, "partnership figures");

    let reminders: Vec<String> = service
        .published_types(6)
        .await
        .into_iter()
        .filter(|kind| kind.starts_with("action_due") || kind.starts_with("action_overdue"))
        .collect();
    assert_eq!(
        reminders,
        [
            "action_due_soon",
            "action_overdue",
            "action_overdue_escalated"
        ]
    );
    service.stop().await;
}

/// Issue 13 item 7: a reviewer of the partnership listed every action and read the plan
/// summary of reviews they were not appointed to.
#[tokio::test]
async fn a_reviewer_reads_the_actions_of_the_reviews_they_are_appointed_to_only() {
    let service = TestActions::start().await;
    let appointed = service.approved_review().await;
    let other = service.approved_review().await;
    service
        .deliver_body(
            &appointed,
            cspr_proto::events::v1::event::Body::ReviewerAppointed(
                cspr_proto::events::v1::ReviewerAppointed {
                    subject: "isla".into(),
                    ..Default::default()
                },
            ),
        )
        .await;
    // `deliver_body` returns once the service consumed the event.
    let review = service.projected_review(&appointed).await;
    assert_eq!(review.reviewer_subject.as_deref(), Some("isla"));
    let own = service
        .create(&appointed, "R1", "csc", date(2026, 9, 30))
        .await
        .expect("action of the appointed review");
    service
        .create(&other, "R1", "csc", date(2026, 9, 30))
        .await
        .expect("action of another review");
    let isla = service.token_as(&["reviewer"], "isla");
    let mut client = service.client.clone();

    let listed = client
        .list_actions(authed(pb::ListActionsRequest::default(), &isla))
        .await
        .reply("list across reviews");
    client
        .list_actions(authed(
            pb::ListActionsRequest {
                review_id: other.clone(),
                ..Default::default()
            },
            &isla,
        ))
        .await
        .refused(Code::PermissionDenied, "another review's actions");
    let summary = client
        .get_action_plan_summary(authed(
            pb::GetActionPlanSummaryRequest {
                review_id: appointed.clone(),
            },
            &isla,
        ))
        .await
        .reply("own review's summary");
    client
        .get_action_plan_summary(authed(
            pb::GetActionPlanSummaryRequest {
                review_id: other.clone(),
            },
            &isla,
        ))
        .await
        .refused(Code::PermissionDenied, "another review's summary");
    client
        .get_action_plan_summary(authed(pb::GetActionPlanSummaryRequest::default(), &isla))
        .await
        .refused(Code::PermissionDenied, "the partnership's summary");

    let listed_ids: Vec<&str> = listed.actions.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(listed_ids, [own.id.as_str()]);
    assert_eq!(summary.total, 1);
    service.stop().await;
}

/// Two people update the same action from the same version: the second is told the first
/// got there (ABORTED, naming the current version) instead of overwriting it; an update
/// without a version is not checked.
#[tokio::test]
async fn an_update_made_from_a_version_since_changed_is_aborted() {
    let service = TestActions::start().await;
    let review_id = service.approved_review().await;
    let action = service
        .create(&review_id, "R1", "csc", date(2026, 9, 30))
        .await
        .expect("created");
    assert_eq!(action.version, 1);
    let mut client = service.client.clone();
    let from = |version: i32, status: pb::ActionStatus, evidence: &str| {
        let mut request = progress(&action.id, status, evidence);
        request.based_on_version = Some(version);
        request
    };
    let first = client
        .update_action_progress(authed(
            from(1, pb::ActionStatus::InProgress, ""),
            &service.agency_token("csc"),
        ))
        .await
        .reply("the first update");
    assert_eq!(first.version, 2);
    let refused = client
        .update_action_progress(authed(
            from(1, pb::ActionStatus::Completed, "Audit shows it"),
            &service.role_token("partnership_admin"),
        ))
        .await
        .refused(Code::Aborted, "made from version 1");
    assert_says(
        &refused,
        "this action was changed since version 1, which this was made from: the current version is 2",
    );
    let completed = client
        .update_action_progress(authed(
            from(2, pb::ActionStatus::Completed, "Audit shows it"),
            &service.role_token("partnership_admin"),
        ))
        .await
        .reply("made from the current version");
    assert_eq!(completed.version, 3);
    let unchecked = client
        .update_action_progress(authed(
            progress(&action.id, pb::ActionStatus::Completed, ""),
            &service.agency_token("csc"),
        ))
        .await
        .reply("no version given: not checked");
    assert_eq!(unchecked.version, 4);
    let stale = client
        .verify_action(authed(
            pb::VerifyActionRequest {
                action_id: action.id.clone(),
                note: "Checked".into(),
                based_on_version: Some(3),
            },
            &service.role_token("partnership_admin"),
        ))
        .await
        .refused(Code::Aborted, "verified from an old version");
    assert_says(&stale, "the current version is 4");
    let verified = client
        .verify_action(authed(
            pb::VerifyActionRequest {
                action_id: action.id.clone(),
                note: "Checked".into(),
                based_on_version: Some(4),
            },
            &service.role_token("partnership_admin"),
        ))
        .await
        .reply("verified");
    assert_eq!(
        (verified.status, verified.version),
        (pb::ActionStatus::Verified as i32, 5)
    );
    service.stop().await;
}
