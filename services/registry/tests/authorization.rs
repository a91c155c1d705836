//! The authorization matrix of the registry: every RPC × every shape of caller on a review
//! with its reviewer appointed, each answer as `access::rules` predicts.

mod common;

use common::{RegistryTest, Reply, TestRegistry, authed, pdate};
use cspr_platform::access::rules;
use cspr_platform::minimal_call as minimal;
use cspr_platform::testing::REVIEWER;
use cspr_platform::testing::matrix::Matrix;
use cspr_proto::registry::v1 as pb;
use tonic::Status;

#[tokio::test]
async fn every_rpc_answers_every_caller_as_the_table_says() {
    let registry = TestRegistry::start("2026-04-20").await;
    let admin = registry.role_token("partnership_admin");
    let mut client = registry.client.clone();
    let review = client
        .create_review(authed(
            pb::CreateReviewRequest {
                request_id: "matrix-review".into(),
                child_alias: "Child M".into(),
                local_authority: "Southvale Council".into(),
                incident_date: pdate("2026-03-09"),
                became_aware_on: pdate("2026-03-10"),
            },
            &admin,
        ))
        .await
        .reply("the seeded review");
    client
        .record_notification_sent(authed(
            pb::RecordNotificationSentRequest {
                review_id: review.id.clone(),
                sent_on: pdate("2026-03-11"),
                national_panel_reference: "NP-2026-0042".into(),
            },
            &admin,
        ))
        .await
        .reply("notification sent");
    client
        .record_decision(authed(
            pb::RecordDecisionRequest {
                review_id: review.id.clone(),
                decision: pb::Decision::LocalCspr as i32,
                decided_on: pdate("2026-03-26"),
                rationale: "Criteria met".into(),
            },
            &admin,
        ))
        .await
        .reply("a local review decided: scoping");
    let review = client
        .appoint_reviewer(authed(
            pb::AppointReviewerRequest {
                review_id: review.id.clone(),
                name: "Isla Oakes".into(),
                email: "isla.oakes@reviewers.example.org".into(),
                subject: REVIEWER.into(),
                appointed_on: pdate("2026-03-26"),
            },
            &admin,
        ))
        .await
        .reply("its reviewer appointed");
    let matrix = Matrix::of(rules::REGISTRY);
    let cases = matrix
        .run(&registry, |method, token| {
            let mut client = registry.client.clone();
            let id = review.id.clone();
            async move {
                match method {
                    "CreateReview" => client
                        .create_review(authed(pb::CreateReviewRequest::default(), &token))
                        .await
                        .map(drop),
                    "GetReview" => minimal!(client, get_review, pb::GetReviewRequest, id, token),
                    "ListReviews" => client
                        .list_reviews(authed(pb::ListReviewsRequest::default(), &token))
                        .await
                        .map(drop),
                    "RecordNotificationSent" => minimal!(
                        client,
                        record_notification_sent,
                        pb::RecordNotificationSentRequest,
                        id,
                        token
                    ),
                    "RecordDecision" => {
                        minimal!(
                            client,
                            record_decision,
                            pb::RecordDecisionRequest,
                            id,
                            token
                        )
                    }
                    "AppointPanelMember" => minimal!(
                        client,
                        appoint_panel_member,
                        pb::AppointPanelMemberRequest,
                        id,
                        token
                    ),
                    "AppointReviewer" => {
                        minimal!(
                            client,
                            appoint_reviewer,
                            pb::AppointReviewerRequest,
                            id,
                            token
                        )
                    }
                    "SetTermsOfReference" => minimal!(
                        client,
                        set_terms_of_reference,
                        pb::SetTermsOfReferenceRequest,
                        id,
                        token
                    ),
                    "AdvanceStage" => {
                        minimal!(client, advance_stage, pb::AdvanceStageRequest, id, token)
                    }
                    "RecordParallelProcess" => minimal!(
                        client,
                        record_parallel_process,
                        pb::RecordParallelProcessRequest,
                        id,
                        token
                    ),
                    "EndParallelProcess" => minimal!(
                        client,
                        end_parallel_process,
                        pb::EndParallelProcessRequest,
                        id,
                        token
                    ),
                    "SubmitOverviewReport" => minimal!(
                        client,
                        submit_overview_report,
                        pb::SubmitOverviewReportRequest,
                        id,
                        token
                    ),
                    "ApproveOverviewReport" => minimal!(
                        client,
                        approve_overview_report,
                        pb::ApproveOverviewReportRequest,
                        id,
                        token
                    ),
                    "GetOverviewReport" => minimal!(
                        client,
                        get_overview_report,
                        pb::GetOverviewReportRequest,
                        id,
                        token
                    ),
                    "SchedulePublication" => minimal!(
                        client,
                        schedule_publication,
                        pb::SchedulePublicationRequest,
                        id,
                        token
                    ),
                    "RecordPrePublicationNotice" => minimal!(
                        client,
                        record_pre_publication_notice,
                        pb::RecordPrePublicationNoticeRequest,
                        id,
                        token
                    ),
                    "RecordPublication" => minimal!(
                        client,
                        record_publication,
                        pb::RecordPublicationRequest,
                        id,
                        token
                    ),
                    "GetTimeline" => {
                        minimal!(client, get_timeline, pb::GetTimelineRequest, id, token)
                    }
                    "ListAuditRecords" => minimal!(
                        client,
                        list_audit_records,
                        pb::ListAuditRecordsRequest,
                        id,
                        token
                    ),
                    "RecordRapidReview" => minimal!(
                        client,
                        record_rapid_review,
                        pb::RecordRapidReviewRequest,
                        id,
                        token
                    ),
                    "RecordPanelResponse" => minimal!(
                        client,
                        record_panel_response,
                        pb::RecordPanelResponseRequest,
                        id,
                        token
                    ),
                    "SummarizeRapidReviews" => client
                        .summarize_rapid_reviews(authed(
                            pb::SummarizeRapidReviewsRequest::default(),
                            &token,
                        ))
                        .await
                        .map(drop),
                    "RequestInformationFromReviewer" => minimal!(
                        client,
                        request_information_from_reviewer,
                        pb::RequestInformationFromReviewerRequest,
                        id,
                        token
                    ),
                    "AnswerInformationRequest" => minimal!(
                        client,
                        answer_information_request,
                        pb::AnswerInformationRequestRequest,
                        id,
                        token
                    ),
                    "SchedulePanelMeeting" => minimal!(
                        client,
                        schedule_panel_meeting,
                        pb::SchedulePanelMeetingRequest,
                        id,
                        token
                    ),
                    "CancelPanelMeeting" => minimal!(
                        client,
                        cancel_panel_meeting,
                        pb::CancelPanelMeetingRequest,
                        id,
                        token
                    ),
                    "RecordPanelMeeting" => minimal!(
                        client,
                        record_panel_meeting,
                        pb::RecordPanelMeetingRequest,
                        id,
                        token
                    ),
                    "ListPanelMeetings" => minimal!(
                        client,
                        list_panel_meetings,
                        pb::ListPanelMeetingsRequest,
                        id,
                        token
                    ),
                    "CommentOnOverviewReport" => minimal!(
                        client,
                        comment_on_overview_report,
                        pb::CommentOnOverviewReportRequest,
                        id,
                        token
                    ),
                    other => Err(Status::unimplemented(format!("no call for {other}"))),
                }
            }
        })
        .await;
    assert_eq!(cases, 29 * 22, "every RPC × every caller");
    registry.stop().await;
}
