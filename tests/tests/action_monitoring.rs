//! From recommendations to verified change, across every service: a review is walked to
//! publication in the registry (agency report waived in submissions), its approved
//! recommendations become the action plan, publication activates it (the registry moves to
//! ACTION_MONITORING), the overdue reminder reaches the owner by email once (real SMTP), and
//! once the action is verified with evidence the registry may close the review.

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use cspr_platform::testing::{SmtpSink, authed};
use cspr_proto::actions::v1 as actions;
use cspr_proto::actions::v1::action_monitoring_client::ActionMonitoringClient;
use cspr_proto::google::r#type::Date;
use cspr_proto::registry::v1 as registry;
use cspr_proto::registry::v1::review_registry_client::ReviewRegistryClient;
use cspr_proto::submissions::v1 as submissions;
use cspr_proto::submissions::v1::agency_submissions_client::AgencySubmissionsClient;
use tonic::transport::Channel;

fn date(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

fn day(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).expect("date")
}

async fn stage_of(client: &mut ReviewRegistryClient<Channel>, token: &str, id: &str) -> i32 {
    client
        .get_review(authed(
            registry::GetReviewRequest {
                review_id: id.into(),
            },
            token,
        ))
        .await
        .expect("get")
        .into_inner()
        .stage
}

#[tokio::test]
async fn an_overdue_action_is_chased_once_and_its_verification_lets_the_review_close() {
    let mut smtp = SmtpSink::start().await;
    let stack = cspr_tests::spawn_stack(
        day(2026, 3, 26),
        cspr_notifications::config::MailTarget::Smtp { url: smtp.url() },
    )
    .await;
    let admin = stack.token("southvale", &["partnership_admin"], None, "alice");
    let chair = stack.token("southvale", &["panel_chair"], None, "tess");
    let reviewer = stack.token("southvale", &["reviewer"], None, "isla");
    let agency = stack.token("southvale", &["agency"], Some("csc"), "csc-system");
    let mut registry_client =
        ReviewRegistryClient::connect(format!("http://{}", stack.registry.addr))
            .await
            .expect("registry");
    let mut submissions_client =
        AgencySubmissionsClient::connect(format!("http://{}", stack.submissions.addr))
            .await
            .expect("submissions");
    let mut actions_client =
        ActionMonitoringClient::connect(format!("http://{}", stack.actions.addr))
            .await
            .expect("actions");

    // The registry's lifecycle up to publication.
    let id = stack.decided_review("sin").await;
    registry_client
        .appoint_panel_member(authed(
            registry::AppointPanelMemberRequest {
                review_id: id.clone(),
                request_id: "chair".into(),
                name: "Tess Holroyd".into(),
                email: "tess@panel.southvale.example.org".into(),
                organisation: "Southvale Police".into(),
                role: registry::PanelRole::Chair as i32,
                declares_no_involvement: true,
                independence_statement: String::new(),
            },
            &admin,
        ))
        .await
        .expect("chair");
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
    stack
        .set_terms(
            &id,
            vec![registry::Agency {
                id: "police".into(),
                name: "Southvale Police".into(),
                contact_email: "lead@police.southvale.example.org".into(),
            }],
        )
        .await;
    for stage in [
        registry::Stage::InformationGathering,
        registry::Stage::Engagement,
    ] {
        registry_client
            .advance_stage(authed(
                registry::AdvanceStageRequest {
                    review_id: id.clone(),
                    to_stage: stage as i32,
                },
                &admin,
            ))
            .await
            .expect("advance");
    }
    // The police report request arrives over the bus.
    stack.settle().await;
    submissions_client
        .waive_agency_report(authed(
            submissions::WaiveAgencyReportRequest {
                review_id: id.clone(),
                agency_id: "police".into(),
                reason: "No involvement".into(),
            },
            &chair,
        ))
        .await
        .expect("the police report request arrived and was waived");
    stack.settle().await;
    registry_client
        .advance_stage(authed(
            registry::AdvanceStageRequest {
                review_id: id.clone(),
                to_stage: registry::Stage::OverviewDrafting as i32,
            },
            &admin,
        ))
        .await
        .expect("drafting once the waiver is known");
    registry_client
        .submit_overview_report(authed(
            registry::SubmitOverviewReportRequest {
                review_id: id.clone(),
                request_id: "overview".into(),
                findings: "Concerns about neglect were not shared.".into(),
                recommendations: vec![registry::Recommendation {
                    r#ref: "R1".into(),
                    text: "Agree an information-sharing protocol.".into(),
                    addressed_to: vec!["partnership".into()],
                }],
                // The terms' one line of enquiry (cspr_tests' set_terms), and every section.
                enquiry_findings: vec![registry::EnquiryFindings {
                    line_of_enquiry: "Information sharing".into(),
                    findings: "Concerns about neglect were not shared.".into(),
                }],
                standards_met: "Not in health visiting.".into(),
                policies_followed: "The neglect strategy was not followed.".into(),
                working_together: "Concerns stayed within each agency.".into(),
                good_practice: "The school acted the same day.".into(),
                learning: "Neglect needs a shared picture over time.".into(),
                answers: vec![],
                based_on_version: None,
            },
            &reviewer,
        ))
        .await
        .expect("overview");
    registry_client
        .approve_overview_report(authed(
            registry::ApproveOverviewReportRequest {
                review_id: id.clone(),
                version: 1,
            },
            &chair,
        ))
        .await
        .expect("approved");
    stack.clock.set_date(day(2026, 6, 1));
    registry_client
        .schedule_publication(authed(
            registry::SchedulePublicationRequest {
                review_id: id.clone(),
                planned_on: date(2026, 6, 15),
            },
            &admin,
        ))
        .await
        .expect("scheduled");
    registry_client
        .record_pre_publication_notice(authed(
            registry::RecordPrePublicationNoticeRequest {
                review_id: id.clone(),
                sent_on: date(2026, 6, 1),
            },
            &admin,
        ))
        .await
        .expect("notice");

    // The recommendation becomes a heading; an action is agreed before publication.
    stack.settle().await;
    let action = actions_client
        .create_action(authed(
            actions::CreateActionRequest {
                request_id: "action-r1".into(),
                review_id: id.clone(),
                recommendation_ref: "R1".into(),
                description: "Agree and launch a neglect information-sharing protocol.".into(),
                owner_agency: "csc".into(),
                owner_email: "lead@csc.southvale.example.org".into(),
                due_date: date(2026, 7, 1),
                measure_of_success: "Audit shows concerns shared within 24 hours.".into(),
            },
            &admin,
        ))
        .await
        .expect("the action attaches once the approval is known")
        .into_inner();

    stack.clock.set_date(day(2026, 6, 15));
    registry_client
        .record_publication(authed(
            registry::RecordPublicationRequest {
                review_id: id.clone(),
                published: true,
                published_on: date(2026, 6, 15),
                location: "https://southvale.example.org/cspr/child-q".into(),
                not_published_justification: String::new(),
            },
            &admin,
        ))
        .await
        .expect("published");
    stack.settle().await;
    let stage = stage_of(&mut registry_client, &admin, &id).await;
    assert_eq!(
        stage,
        registry::Stage::ActionMonitoring as i32,
        "publication activated the plan"
    );

    // The action goes overdue: two replicas sweep, the owner is chased once.
    stack.clock.set_date(day(2026, 7, 6));
    let pool = sqlx::PgPool::connect(stack.database_url("actions").expect("actions database"))
        .await
        .expect("pool");
    let clock: Arc<dyn cspr_platform::clock::Clock> = Arc::new(stack.clock.clone());
    let outbox = cspr_platform::bus::outbox::Outbox::new(
        stack.platform.subject_prefix.clone(),
        Arc::clone(&clock),
    );
    let audit = cspr_platform::audit::AuditLog::start(pool.clone(), Arc::clone(&clock));
    let replica = cspr_actions::store::Store::new(cspr_platform::store::StoreParts {
        pool: pool.clone(),
        outbox,
        clock,
        audit,
    });
    let reminders = cspr_actions::jobs::ActionReminders {
        store: replica,
        due_soon_days: 14,
        escalate_after_days: 30,
    };
    let sweeps = [
        cspr_actions::jobs::ActionSweep::new(reminders.clone(), Duration::from_secs(3600)),
        cspr_actions::jobs::ActionSweep::new(reminders, Duration::from_secs(3600)),
    ];
    let (one, two) = tokio::join!(sweeps[0].sweep_once(), sweeps[1].sweep_once());
    assert_eq!(one.expect("sweep") + two.expect("sweep"), 1);
    // The replica's outbox rows are published by the service's own relay (same database).
    cspr_platform::testing::wait_until(
        "the overdue email",
        cspr_platform::testing::DEADLINE,
        || async {
            smtp.messages()
                .iter()
                .any(|(_, raw)| raw.contains("Subject: Overdue: an action"))
        },
    )
    .await;
    // Two more sweeps raise nothing new.
    assert_eq!(sweeps[0].sweep_once().await.expect("sweep"), 0);
    assert_eq!(sweeps[1].sweep_once().await.expect("sweep"), 0);
    let all = smtp.wait_for(1, Duration::from_secs(5)).await;
    let chased = all
        .iter()
        .filter(|(recipient, raw)| {
            recipient == "lead@csc.southvale.example.org"
                && raw.contains("Subject: Overdue: an action")
        })
        .count();
    assert_eq!(chased, 1, "the overdue reminder reaches the owner once");
    assert!(all.iter().any(
        |(recipient, raw)| recipient == "lead@csc.southvale.example.org"
            && raw.contains("Subject: Action assigned")
    ));

    // Completion with evidence, verification: the plan completes and the review may close.
    actions_client
        .update_action_progress(authed(
            actions::UpdateActionProgressRequest {
                action_id: action.id.clone(),
                status: actions::ActionStatus::Completed as i32,
                cancel_reason: String::new(),
                note: "Protocol launched".into(),
                evidence_of_impact: "Audit of 40 cases: concerns shared within 24 hours in 38."
                    .into(),
                based_on_version: None,
            },
            &agency,
        ))
        .await
        .expect("completed by the owner");
    let refused = registry_client
        .advance_stage(authed(
            registry::AdvanceStageRequest {
                review_id: id.clone(),
                to_stage: registry::Stage::Closed as i32,
            },
            &admin,
        ))
        .await
        .expect_err("not verified yet");
    assert!(
        refused.message().contains("action plan is not complete"),
        "{}",
        refused.message()
    );
    actions_client
        .verify_action(authed(
            actions::VerifyActionRequest {
                action_id: action.id.clone(),
                note: "Audit checked".into(),
                based_on_version: None,
            },
            &admin,
        ))
        .await
        .expect("verified");
    stack.settle().await;
    registry_client
        .advance_stage(authed(
            registry::AdvanceStageRequest {
                review_id: id.clone(),
                to_stage: registry::Stage::Closed as i32,
            },
            &admin,
        ))
        .await
        .expect("the registry closes the review once the plan is complete");
    pool.close().await;
    stack.stop().await;
    smtp.stop().await;
}
