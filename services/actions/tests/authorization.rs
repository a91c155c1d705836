//! The authorization matrix of the actions service: every RPC × every shape of caller on a
//! review with its reviewer appointed and an action owned by one agency, each answer as
//! `access::rules` predicts.

mod common;

use common::{ActionsTest, TestActions, authed};
use cspr_platform::access::rules;
use cspr_platform::testing::matrix::Matrix;
use cspr_platform::testing::proto_date;
use cspr_proto::actions::v1 as pb;
use tonic::Status;

#[tokio::test]
async fn every_rpc_answers_every_caller_as_the_table_says() {
    let service = TestActions::start().await;
    let review_id = service.approved_review().await;
    service.appoint_reviewer(&review_id).await;
    let action = service
        .create(&review_id, "R1", "police", proto_date(2026, 12, 1))
        .await
        .expect("the seeded action");
    let matrix = Matrix::of(rules::ACTIONS).owning(&["UpdateActionProgress"]);
    let cases = matrix
        .run(&service, |method, token| {
            let mut client = service.client.clone();
            let review_id = review_id.clone();
            let action_id = action.id.clone();
            async move {
                match method {
                    // Minimal, so refused as invalid once allowed (nothing is created).
                    "CreateAction" => client
                        .create_action(authed(
                            pb::CreateActionRequest {
                                review_id,
                                ..Default::default()
                            },
                            &token,
                        ))
                        .await
                        .map(drop),
                    // A valid body: the action is found (or not) after the body is read.
                    "UpdateActionProgress" => client
                        .update_action_progress(authed(
                            pb::UpdateActionProgressRequest {
                                action_id,
                                status: pb::ActionStatus::InProgress as i32,
                                ..Default::default()
                            },
                            &token,
                        ))
                        .await
                        .map(drop),
                    // Not completed: FAILED_PRECONDITION once allowed.
                    "VerifyAction" => client
                        .verify_action(authed(
                            pb::VerifyActionRequest {
                                action_id,
                                ..Default::default()
                            },
                            &token,
                        ))
                        .await
                        .map(drop),
                    "ListActions" => client
                        .list_actions(authed(
                            pb::ListActionsRequest {
                                review_id,
                                ..Default::default()
                            },
                            &token,
                        ))
                        .await
                        .map(drop),
                    "GetActionPlanSummary" => client
                        .get_action_plan_summary(authed(
                            pb::GetActionPlanSummaryRequest { review_id },
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
    assert_eq!(cases, 6 * 22, "every RPC × every caller");
    service.stop().await;
}
