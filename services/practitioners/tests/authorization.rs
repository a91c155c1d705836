//! The authorization matrix of the practitioners service: every RPC × every shape of caller
//! on a seeded review, each answer as `access::rules` predicts.

mod common;

use common::{PractitionersTest, TestPractitioners, authed};
use cspr_platform::access::rules;
use cspr_platform::testing::matrix::Matrix;
use cspr_proto::practitioners::v1 as pb;
use tonic::Status;

#[tokio::test]
async fn every_rpc_answers_every_caller_as_the_table_says() {
    let service = TestPractitioners::start().await;
    let review_id = service.review(true).await;
    let matrix = Matrix::of(rules::PRACTITIONERS);
    let cases = matrix
        .run(&service, |method, token| {
            let mut client = service.client.clone();
            let review_id = review_id.clone();
            async move {
                // Minimal bodies: authorization is decided before the body is validated.
                match method {
                    "RegisterPractitioner" => client
                        .register_practitioner(authed(
                            pb::RegisterPractitionerRequest {
                                review_id,
                                ..Default::default()
                            },
                            &token,
                        ))
                        .await
                        .map(drop),
                    "ListPractitioners" => client
                        .list_practitioners(authed(
                            pb::ListPractitionersRequest {
                                review_id,
                                ..Default::default()
                            },
                            &token,
                        ))
                        .await
                        .map(drop),
                    "DeferContact" => client
                        .defer_contact(authed(
                            pb::DeferContactRequest {
                                review_id,
                                ..Default::default()
                            },
                            &token,
                        ))
                        .await
                        .map(drop),
                    "ReleaseContact" => client
                        .release_contact(authed(
                            pb::ReleaseContactRequest {
                                review_id,
                                ..Default::default()
                            },
                            &token,
                        ))
                        .await
                        .map(drop),
                    "ScheduleConversation" => client
                        .schedule_conversation(authed(
                            pb::ScheduleConversationRequest {
                                review_id,
                                ..Default::default()
                            },
                            &token,
                        ))
                        .await
                        .map(drop),
                    "ScheduleLearningEvent" => client
                        .schedule_learning_event(authed(
                            pb::ScheduleLearningEventRequest {
                                review_id,
                                ..Default::default()
                            },
                            &token,
                        ))
                        .await
                        .map(drop),
                    "RecordAttendance" => client
                        .record_attendance(authed(
                            pb::RecordAttendanceRequest {
                                review_id,
                                ..Default::default()
                            },
                            &token,
                        ))
                        .await
                        .map(drop),
                    "RecordLearning" => client
                        .record_learning(authed(
                            pb::RecordLearningRequest {
                                review_id,
                                ..Default::default()
                            },
                            &token,
                        ))
                        .await
                        .map(drop),
                    "ListAuditRecords" => client
                        .list_audit_records(authed(
                            cspr_proto::registry::v1::ListAuditRecordsRequest {
                                review_id,
                                ..Default::default()
                            },
                            &token,
                        ))
                        .await
                        .map(drop),
                    other => Err(Status::unimplemented(format!("no call for {other}"))),
                }
            }
        })
        .await;
    assert_eq!(cases, 9 * 22, "every RPC × every caller");
    service.stop().await;
}
