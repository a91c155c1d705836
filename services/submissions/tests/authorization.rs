//! The authorization matrix of the submissions service: every RPC × every shape of caller
//! on a review with its reviewer appointed and a report of one agency, each answer as
//! `access::rules` predicts.

mod common;

use common::{SubmissionsTest, TestSubmissions, authed, header, submit};
use cspr_platform::access::rules;
use cspr_platform::minimal_call as minimal;
use cspr_platform::testing::matrix::Matrix;
use cspr_platform::testing::unique;
use cspr_proto::submissions::v1 as pb;
use tonic::Status;

/// The agency whose report the review has.
const POLICE: &str = "police";

#[tokio::test]
async fn every_rpc_answers_every_caller_as_the_table_says() {
    let service = TestSubmissions::start("2026-03-20").await;
    let review_id = service.review_with_agencies(&[POLICE]).await;
    service.appoint_reviewer(&review_id).await;
    let mut client = service.client.clone();
    submit(
        &mut client,
        &service.agency_token(POLICE),
        header("matrix-first", &review_id, POLICE, 0),
        Vec::new(),
    )
    .await
    .expect("the seeded report");
    let matrix = Matrix::of(rules::SUBMISSIONS).owning(&["SubmitAgencyReport", "GetAgencyReport"]);
    let cases = matrix
        .run(&service, |method, token| {
            let mut client = service.client.clone();
            let id = review_id.clone();
            async move {
                match method {
                    "RequestAgencyReport" => minimal!(
                        client,
                        request_agency_report,
                        pb::RequestAgencyReportRequest,
                        id,
                        token
                    ),
                    "ListReportRequests" => minimal!(
                        client,
                        list_report_requests,
                        pb::ListReportRequestsRequest,
                        id,
                        token
                    ),
                    // The review and agency are in the header: a valid one, for the police.
                    "SubmitAgencyReport" => submit(
                        &mut client,
                        &token,
                        header(&unique("matrix-"), &id, POLICE, 0),
                        Vec::new(),
                    )
                    .await
                    .map(drop),
                    "GetAgencyReport" => client
                        .get_agency_report(authed(
                            pb::GetAgencyReportRequest {
                                review_id: id,
                                agency_id: POLICE.into(),
                                version: 0,
                            },
                            &token,
                        ))
                        .await
                        .map(drop),
                    "ListAgencyReports" => minimal!(
                        client,
                        list_agency_reports,
                        pb::ListAgencyReportsRequest,
                        id,
                        token
                    ),
                    "AcceptAgencyReport" => minimal!(
                        client,
                        accept_agency_report,
                        pb::AcceptAgencyReportRequest,
                        id,
                        token
                    ),
                    "ReturnAgencyReport" => minimal!(
                        client,
                        return_agency_report,
                        pb::ReturnAgencyReportRequest,
                        id,
                        token
                    ),
                    "WaiveAgencyReport" => minimal!(
                        client,
                        waive_agency_report,
                        pb::WaiveAgencyReportRequest,
                        id,
                        token
                    ),
                    "StreamCombinedChronology" => minimal!(
                        client,
                        stream_combined_chronology,
                        pb::StreamCombinedChronologyRequest,
                        id,
                        token
                    ),
                    "ListAuditRecords" => minimal!(
                        client,
                        list_audit_records,
                        cspr_proto::registry::v1::ListAuditRecordsRequest,
                        id,
                        token
                    ),
                    other => Err(Status::unimplemented(format!("no call for {other}"))),
                }
            }
        })
        .await;
    assert_eq!(cases, 10 * 22, "every RPC × every caller");
    service.stop().await;
}
