//! The overview report as a structured, versioned document over gRPC, against real
//! PostgreSQL and NATS JetStream: findings on every key line of enquiry, the three questions,
//! recommendations addressed to agencies in scope, and the panel's comments on a section of
//! a version answered by the reviewer in the next.

mod common;

use std::time::Duration;

use common::{Refusal, RegistryTest, Reply, TestRegistry, assert_says, authed, pdate};
use cspr_proto::events::v1::{AgencyReportAccepted, event::Body};
use cspr_proto::registry::v1 as pb;
use tonic::Code;

const LINES: [&str; 2] = [
    "How well did agencies share information about neglect?",
    "Was the voice of the child heard?",
];

#[tokio::test]
async fn a_report_answers_every_line_of_enquiry_and_the_panels_comments_are_answered_in_the_next_version()
 {
    let registry = TestRegistry::start("2026-03-11").await;
    let admin = registry.role_token("partnership_admin");
    let chair = registry.role_token("panel_chair");
    let member = registry.role_token("panel_member");
    let reviewer = registry.token_as(&["reviewer"], "isla-reviewer");
    let mut client = registry.client.clone();
    let review = common::created(&mut client, &admin, "sin-child-o", "Child O").await;
    let id = review.id.clone();
    common::decided_local(&mut client, (&admin, &chair), &id).await;
    client
        .appoint_panel_member(authed(
            pb::AppointPanelMemberRequest {
                review_id: id.clone(),
                request_id: "panel-tess".into(),
                name: "Tess Holroyd".into(),
                email: "tess.holroyd@panel.southvale.example.org".into(),
                organisation: "Southvale".into(),
                role: pb::PanelRole::Chair as i32,
                declares_no_involvement: true,
                independence_statement: "No involvement with the family.".into(),
            },
            &admin,
        ))
        .await
        .reply("chair");
    common::isla_appointed(&mut client, &admin, &id).await;
    let agency = |id: &str, name: &str| pb::Agency {
        id: id.into(),
        name: name.into(),
        contact_email: format!("lead@{id}.southvale.example.org"),
    };
    let terms = |based_on_version: Option<i32>| pb::SetTermsOfReferenceRequest {
        review_id: id.clone(),
        scope_start: pdate("2024-09-15"),
        scope_end: pdate("2026-03-09"),
        key_lines_of_enquiry: LINES.iter().map(|line| (*line).into()).collect(),
        methodology: "Systems approach".into(),
        agencies_in_scope: vec![
            agency("police", "Southvale Police"),
            agency("csc", "Southvale Children's Services"),
        ],
        report_due_date: pdate("2026-05-01"),
        based_on_version,
    };
    client
        .set_terms_of_reference(authed(terms(Some(0)), &chair))
        .await
        .reply("terms");
    // Two people revise the terms from version 1: the second is told the first got there.
    let revised = client
        .set_terms_of_reference(authed(terms(Some(1)), &admin))
        .await
        .reply("revised");
    assert_eq!(
        revised.terms_of_reference.map(|terms| terms.version),
        Some(2)
    );
    let refused = client
        .set_terms_of_reference(authed(terms(Some(1)), &chair))
        .await
        .refused(Code::Aborted, "made from an old version");
    assert_says(
        &refused,
        "the terms of reference were changed since version 1, which this was made from: the current version is 2",
    );
    for agency_id in ["police", "csc"] {
        registry
            .deliver_body(
                &id,
                Body::AgencyReportAccepted(AgencyReportAccepted {
                    agency_id: agency_id.into(),
                    version: 1,
                }),
            )
            .await;
    }
    for stage in [
        pb::Stage::InformationGathering,
        pb::Stage::Engagement,
        pb::Stage::OverviewDrafting,
    ] {
        client
            .advance_stage(authed(
                pb::AdvanceStageRequest {
                    review_id: id.clone(),
                    to_stage: stage as i32,
                },
                &admin,
            ))
            .await
            .reply("advanced");
    }

    // Every section is required, and each line's findings.
    let mut empty = common::overview_report(&id, "ov-empty", &LINES);
    empty.standards_met = " ".into();
    empty.learning = String::new();
    empty.enquiry_findings[1].findings = String::new();
    let refused = client
        .submit_overview_report(authed(empty, &reviewer))
        .await
        .refused(Code::InvalidArgument, "sections missing");
    assert_eq!(
        common::violated_fields(&refused),
        vec!["standards_met", "learning", "enquiry_findings[1].findings"],
        "{refused:?}"
    );
    // A line of enquiry not answered is named; one the terms do not have is refused.
    let refused = client
        .submit_overview_report(authed(
            common::overview_report(&id, "ov-one-line", &LINES[..1]),
            &reviewer,
        ))
        .await
        .refused(Code::FailedPrecondition, "a line not answered");
    assert_says(
        &refused,
        "not answered: \u{201c}Was the voice of the child heard?\u{201d}",
    );
    let refused = client
        .submit_overview_report(authed(
            common::overview_report(
                &id,
                "ov-other-line",
                &[LINES[0], LINES[1], "Were the school's records kept?"],
            ),
            &reviewer,
        ))
        .await
        .refused(Code::InvalidArgument, "a line the terms do not have");
    assert_says(&refused, "is not a key line of enquiry");
    // A recommendation is addressed to agencies in scope (or the partnership).
    let mut misaddressed = common::overview_report(&id, "ov-misaddressed", &LINES);
    misaddressed.recommendations[0].addressed_to = vec!["police".into(), "fire".into()];
    let refused = client
        .submit_overview_report(authed(misaddressed, &reviewer))
        .await
        .refused(Code::InvalidArgument, "an agency not in scope");
    assert_says(
        &refused,
        "\"fire\" is neither an agency in the terms of reference (police, csc) nor \"partnership\"",
    );

    // The lines may come in any order and in other case; they are kept in the terms' order.
    let mut first = common::overview_report(&id, "ov-1", &[LINES[1], LINES[0]]);
    first.enquiry_findings[0].line_of_enquiry = "was the VOICE of the child heard?".into();
    first.recommendations[0].addressed_to = vec!["police".into(), "csc".into()];
    let review = client
        .submit_overview_report(authed(first, &reviewer))
        .await
        .reply("version 1");
    let report = review.overview_report.expect("the report");
    assert_eq!(report.version, 1);
    assert_eq!(
        report
            .enquiry_findings
            .iter()
            .map(|given| given.line_of_enquiry.as_str())
            .collect::<Vec<_>>(),
        LINES.to_vec()
    );
    assert_eq!(
        report.enquiry_findings[1].findings,
        format!("Findings on: {}", LINES[1])
    );
    assert_eq!(
        report.recommendations[0].addressed_to,
        vec!["police", "csc"]
    );
    assert_eq!(
        report.good_practice,
        "The school's designated lead acted quickly."
    );

    // The panel comments on a section of a version; the reviewer and others do not.
    let comment = |section: &str, text: &str| pb::CommentOnOverviewReportRequest {
        review_id: id.clone(),
        version: 1,
        section: section.into(),
        text: text.into(),
    };
    client
        .comment_on_overview_report(authed(comment("learning", "Mine."), &reviewer))
        .await
        .refused(Code::PermissionDenied, "the reviewer does not comment");
    let refused = client
        .comment_on_overview_report(authed(comment("enquiry:3", "Which?"), &member))
        .await
        .refused(Code::InvalidArgument, "no third line");
    assert_says(&refused, "version 1 has no section \"enquiry:3\"");
    let mut later = comment("learning", "Later?");
    later.version = 2;
    let refused = client
        .comment_on_overview_report(authed(later, &member))
        .await
        .refused(Code::InvalidArgument, "no version 2 yet");
    assert_says(&refused, "1 to 1, the latest");
    let commented = client
        .comment_on_overview_report(authed(
            comment(
                "enquiry:2",
                "Say what the child told the school nurse, without naming her.",
            ),
            &member,
        ))
        .await
        .reply("commented");
    client
        .comment_on_overview_report(authed(
            comment("good_practice", "Name the GP's practice too."),
            &chair,
        ))
        .await
        .reply("the chair comments");
    assert_eq!(commented.comments.len(), 1);
    let open = commented.comments[0].clone();
    assert_eq!(
        (open.version, open.section.as_str(), open.author.as_str()),
        (1, "enquiry:2", "wren")
    );
    assert_eq!(open.answered_in_version, 0);
    // The reviewer sees them on the report.
    let seen = client
        .get_overview_report(authed(
            pb::GetOverviewReportRequest {
                review_id: id.clone(),
                version: 0,
            },
            &reviewer,
        ))
        .await
        .reply("the reviewer reads");
    assert_eq!(seen.comments.len(), 2);

    // The next version answers one of them; an unknown comment is refused.
    let mut unknown = common::overview_report(&id, "ov-2-bad", &LINES);
    unknown.answers = vec![pb::CommentAnswer {
        comment_id: uuid::Uuid::now_v7().to_string(),
        answer: "Done.".into(),
    }];
    let refused = client
        .submit_overview_report(authed(unknown, &reviewer))
        .await
        .refused(Code::InvalidArgument, "no such comment");
    assert_says(&refused, "on this review's report");
    let mut second = common::overview_report(&id, "ov-2", &LINES);
    second.based_on_version = Some(1);
    second.answers = vec![pb::CommentAnswer {
        comment_id: open.id.clone(),
        answer: "Added what the child said to the school nurse.".into(),
    }];
    let review = client
        .submit_overview_report(authed(second, &reviewer))
        .await
        .reply("version 2");
    let report = review.overview_report.expect("the report");
    assert_eq!(report.version, 2);
    let answered = report
        .comments
        .iter()
        .find(|comment| comment.id == open.id)
        .expect("the answered comment");
    assert_eq!(
        (answered.answer.as_str(), answered.answered_in_version),
        ("Added what the child said to the school nurse.", 2)
    );
    // A draft made from version 1 in another session, submitted after version 2, is told so.
    let mut crossing = common::overview_report(&id, "ov-crossing", &LINES);
    crossing.based_on_version = Some(1);
    let refused = client
        .submit_overview_report(authed(crossing, &reviewer))
        .await
        .refused(Code::Aborted, "another version since");
    assert_says(
        &refused,
        "the overview report was changed since version 1, which this was made from: the current version is 2",
    );
    // The review's trail has the refusals with their codes, not only the commands done.
    let auditor = registry.role_token("auditor");
    let trail = client
        .list_audit_records(authed(
            pb::ListAuditRecordsRequest {
                review_id: id.clone(),
                page_size: 500,
                page_token: String::new(),
            },
            &auditor,
        ))
        .await
        .reply("the trail")
        .records;
    let submitted: Vec<&str> = trail
        .iter()
        .filter(|record| record.action == "SubmitOverviewReport")
        .map(|record| record.outcome.as_str())
        .collect();
    assert_eq!(
        submitted,
        vec![
            "FAILED_PRECONDITION",
            "INVALID_ARGUMENT",
            "INVALID_ARGUMENT",
            "ok",
            "INVALID_ARGUMENT",
            "ok",
            "ABORTED"
        ],
        "a line not answered, a line or an agency the terms do not have, version 1, an unknown comment, version 2, the crossing draft: {trail:?}"
    );
    // Answered once.
    let mut again = common::overview_report(&id, "ov-3", &LINES);
    again.answers = vec![pb::CommentAnswer {
        comment_id: open.id.clone(),
        answer: "Again.".into(),
    }];
    let refused = client
        .submit_overview_report(authed(again, &reviewer))
        .await
        .refused(Code::InvalidArgument, "answered once");
    assert_says(&refused, "was answered in version 2");

    // Version 1 is still there as it was, knowing it is not the latest.
    let first = client
        .get_overview_report(authed(
            pb::GetOverviewReportRequest {
                review_id: id.clone(),
                version: 1,
            },
            &chair,
        ))
        .await
        .reply("version 1");
    assert_eq!((first.version, first.latest_version), (1, 2));
    assert_eq!(first.recommendations[0].addressed_to, vec!["police", "csc"]);
    assert_eq!(
        first.enquiry_findings[1].findings,
        format!("Findings on: {}", LINES[1])
    );

    // The reviewer is told of each comment; the comment is not on the bus.
    let events = registry.published_within(14, Duration::from_secs(20)).await;
    let comments: Vec<_> = events
        .iter()
        .filter_map(|(_, event)| match &event.body {
            Some(Body::OverviewReportCommented(commented)) => Some(commented.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(comments.len(), 2);
    assert_eq!(
        (
            comments[0].comment_id.as_str(),
            comments[0].section.as_str(),
            comments[0].reviewer_email.as_str()
        ),
        (
            open.id.as_str(),
            "enquiry:2",
            "isla.oakes@reviewers.example.org"
        )
    );
    for (_, event) in &events {
        let text = String::from_utf8_lossy(&prost::Message::encode_to_vec(event)).to_string();
        assert!(
            !text.contains("school nurse"),
            "a comment is on the bus in {}",
            event.r#type
        );
    }

    // Once approved, the panel's comments are closed.
    client
        .approve_overview_report(authed(
            pb::ApproveOverviewReportRequest {
                review_id: id.clone(),
                version: 2,
            },
            &chair,
        ))
        .await
        .reply("approved");
    let mut closed = comment("learning", "Too late.");
    closed.version = 2;
    let refused = client
        .comment_on_overview_report(authed(closed, &member))
        .await
        .refused(Code::FailedPrecondition, "approved");
    assert_says(&refused, "commenting on the overview report");
    registry.stop().await;
}
