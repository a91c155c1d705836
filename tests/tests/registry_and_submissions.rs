//! The registry and the submissions service together: the terms of reference create report
//! requests, agencies submit, the panel decides, and the registry's move into overview
//! drafting waits until every requested report is accepted or waived — naming the agencies
//! still outstanding meanwhile.

use std::time::Duration;

use chrono::NaiveDate;
use cspr_platform::testing::authed;
use cspr_proto::google::r#type::Date;
use cspr_proto::registry::v1 as registry;
use cspr_proto::registry::v1::review_registry_client::ReviewRegistryClient;
use cspr_proto::submissions::v1 as submissions;
use cspr_proto::submissions::v1::agency_submissions_client::AgencySubmissionsClient;
use tonic::Code;

fn date(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

fn agency(id: &str) -> registry::Agency {
    registry::Agency {
        id: id.into(),
        name: format!("Southvale {id}"),
        contact_email: format!("safeguarding.lead@{id}.southvale.example.org"),
    }
}

fn header(
    review_id: &str,
    agency_id: &str,
    entry_count: i64,
) -> submissions::SubmitAgencyReportRequest {
    submissions::SubmitAgencyReportRequest {
        item: Some(submissions::submit_agency_report_request::Item::Header(
            submissions::SubmissionHeader {
                request_id: format!("{agency_id}-1"),
                review_id: review_id.into(),
                agency_id: agency_id.into(),
                author_name: "Sam Lead".into(),
                author_role: "Named safeguarding lead".into(),
                narrative: Some(submissions::Narrative {
                    summary: "Summary".into(),
                    analysis_of_involvement: "Analysis".into(),
                    learning: "Learning".into(),
                    ..Default::default()
                }),
                entry_count,
            },
        )),
    }
}

fn entry(day: i32) -> submissions::SubmitAgencyReportRequest {
    submissions::SubmitAgencyReportRequest {
        item: Some(submissions::submit_agency_report_request::Item::Entry(
            submissions::ChronologyEntry {
                occurred_on: date(2025, 6, day),
                service: "Home visit".into(),
                description: "Visited the family.".into(),
                ..Default::default()
            },
        )),
    }
}

/// Once the stack has settled (every decision consumed), the registry's outstanding list
/// is `expected`.
async fn assert_outstanding(
    stack: &cspr_tests::Stack,
    client: &mut ReviewRegistryClient<tonic::transport::Channel>,
    token: &str,
    review_id: &str,
    expected: &[&str],
) {
    stack.settle().await;
    let outstanding = client
        .get_review(authed(
            registry::GetReviewRequest {
                review_id: review_id.into(),
            },
            token,
        ))
        .await
        .expect("get")
        .into_inner()
        .outstanding_agency_reports;
    assert_eq!(outstanding, expected);
}

#[tokio::test]
async fn overview_drafting_waits_for_every_requested_report() {
    // Arrange: a review in scoping with its panel and reviewer.
    let mut smtp = cspr_platform::testing::SmtpSink::start().await;
    let stack = cspr_tests::spawn_stack(
        NaiveDate::from_ymd_opt(2026, 3, 26).expect("date"),
        cspr_notifications::config::MailTarget::Smtp { url: smtp.url() },
    )
    .await;
    let admin = stack.token("southvale", &["partnership_admin"], None, "alice");
    let chair = stack.token("southvale", &["panel_chair"], None, "tess");
    let mut registry_client =
        ReviewRegistryClient::connect(format!("http://{}", stack.registry.addr))
            .await
            .expect("registry");
    let mut submissions_client =
        AgencySubmissionsClient::connect(format!("http://{}", stack.submissions.addr))
            .await
            .expect("submissions");
    let review = registry_client
        .create_review(authed(
            registry::CreateReviewRequest {
                request_id: "sin".into(),
                child_alias: "Child Q".into(),
                local_authority: "Southvale Council".into(),
                incident_date: date(2026, 3, 9),
                became_aware_on: date(2026, 3, 10),
            },
            &admin,
        ))
        .await
        .expect("review")
        .into_inner();
    let id = review.id.clone();
    registry_client
        .record_notification_sent(authed(
            registry::RecordNotificationSentRequest {
                review_id: id.clone(),
                sent_on: date(2026, 3, 11),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .expect("notified");
    registry_client
        .record_decision(authed(
            registry::RecordDecisionRequest {
                review_id: id.clone(),
                decision: registry::Decision::LocalCspr as i32,
                decided_on: date(2026, 3, 26),
                rationale: String::new(),
            },
            &chair,
        ))
        .await
        .expect("decided");
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

    // Act: the terms of reference ask three agencies; a fourth is asked by hand.
    stack
        .set_terms(&id, vec![agency("police"), agency("gp"), agency("school")])
        .await;
    stack.settle().await;
    let requests = submissions_client
        .list_report_requests(authed(
            submissions::ListReportRequestsRequest {
                review_id: id.clone(),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .expect("requests")
        .into_inner()
        .report_requests;
    assert_eq!(requests.len(), 3, "one request per agency in scope");
    assert!(
        requests
            .iter()
            .all(|request| request.due_date == date(2026, 5, 1)
                && request.review_reference == review.reference)
    );
    submissions_client
        .request_agency_report(authed(
            submissions::RequestAgencyReportRequest {
                review_id: id.clone(),
                agency_id: "hospital".into(),
                agency_name: "Southvale Hospital".into(),
                contact_email: "safeguarding@hospital.southvale.example.org".into(),
                due_date: date(2026, 5, 8),
            },
            &admin,
        ))
        .await
        .expect("asked by hand");
    // Each agency's safeguarding lead gets exactly one "report requested" email.
    let emails = smtp.wait_for(6, Duration::from_secs(30)).await;
    let mut received: Vec<String> = emails
        .iter()
        .filter(|(_, raw)| raw.contains("Subject: Report requested"))
        .map(|(recipient, _)| recipient.clone())
        .collect();
    received.sort();
    let mut expected: Vec<String> = ["gp", "police", "school"]
        .iter()
        .map(|id| format!("safeguarding.lead@{id}.southvale.example.org"))
        .chain(["safeguarding@hospital.southvale.example.org".to_string()])
        .collect();
    expected.sort();
    assert_eq!(received, expected, "one report request email per agency");
    assert_eq!(
        emails.len(),
        6,
        "and the chair's and the reviewer's appointment emails"
    );

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

    // Police submits and is accepted; the GP is waived; the school submits.
    for (agency_id, entries) in [("police", 3), ("school", 2)] {
        let token = stack.token("southvale", &["agency"], Some(agency_id), agency_id);
        let messages: Vec<_> = std::iter::once(header(&id, agency_id, entries))
            .chain((1..=entries as i32).map(entry))
            .collect();
        submissions_client
            .submit_agency_report(authed(tokio_stream::iter(messages), &token))
            .await
            .expect("submitted");
    }
    submissions_client
        .accept_agency_report(authed(
            submissions::AcceptAgencyReportRequest {
                review_id: id.clone(),
                agency_id: "police".into(),
                version: 1,
            },
            &chair,
        ))
        .await
        .expect("accepted");
    submissions_client
        .waive_agency_report(authed(
            submissions::WaiveAgencyReportRequest {
                review_id: id.clone(),
                agency_id: "gp".into(),
                reason: "No involvement".into(),
            },
            &chair,
        ))
        .await
        .expect("waived");

    // Assert: the registry names what is outstanding and refuses to move on.
    assert_outstanding(
        &stack,
        &mut registry_client,
        &admin,
        &id,
        &["school", "hospital"],
    )
    .await;
    let refused = registry_client
        .advance_stage(authed(
            registry::AdvanceStageRequest {
                review_id: id.clone(),
                to_stage: registry::Stage::OverviewDrafting as i32,
            },
            &admin,
        ))
        .await
        .expect_err("reports outstanding");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(
        refused.message().contains("school, hospital"),
        "{}",
        refused.message()
    );

    // Once the last two are settled, it may.
    submissions_client
        .accept_agency_report(authed(
            submissions::AcceptAgencyReportRequest {
                review_id: id.clone(),
                agency_id: "school".into(),
                version: 1,
            },
            &chair,
        ))
        .await
        .expect("accepted");
    submissions_client
        .waive_agency_report(authed(
            submissions::WaiveAgencyReportRequest {
                review_id: id.clone(),
                agency_id: "hospital".into(),
                reason: "Not involved".into(),
            },
            &admin,
        ))
        .await
        .expect("waived");
    assert_outstanding(&stack, &mut registry_client, &admin, &id, &[]).await;
    let review = registry_client
        .advance_stage(authed(
            registry::AdvanceStageRequest {
                review_id: id.clone(),
                to_stage: registry::Stage::OverviewDrafting as i32,
            },
            &admin,
        ))
        .await
        .expect("drafting")
        .into_inner();
    assert_eq!(review.stage, registry::Stage::OverviewDrafting as i32);
    stack.stop().await;
    smtp.stop().await;
}
