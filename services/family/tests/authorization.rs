//! The authorization matrix of the family service: every RPC × every shape of caller on a
//! seeded review, each answer as `access::rules` predicts.

mod common;

use common::{FamilyTest, TestFamily};
use cspr_platform::access::rules;
use cspr_platform::minimal_call as minimal;
use cspr_platform::testing::matrix::Matrix;
use cspr_proto::family::v1 as pb;
use tonic::Status;

#[tokio::test]
async fn every_rpc_answers_every_caller_as_the_table_says() {
    let service = TestFamily::start().await;
    let review_id = service.review_with_reviewer().await;
    let matrix = Matrix::of(rules::FAMILY);
    let cases = matrix
        .run(&service, |method, token| {
            let mut client = service.client.clone();
            let id = review_id.clone();
            async move {
                match method {
                    "AddFamilyMember" => {
                        minimal!(
                            client,
                            add_family_member,
                            pb::AddFamilyMemberRequest,
                            id,
                            token
                        )
                    }
                    "ListFamilyMembers" => minimal!(
                        client,
                        list_family_members,
                        pb::ListFamilyMembersRequest,
                        id,
                        token
                    ),
                    "GetFamilyMember" => {
                        minimal!(
                            client,
                            get_family_member,
                            pb::GetFamilyMemberRequest,
                            id,
                            token
                        )
                    }
                    "RestrictContact" => {
                        minimal!(
                            client,
                            restrict_contact,
                            pb::RestrictContactRequest,
                            id,
                            token
                        )
                    }
                    "LiftRestriction" => {
                        minimal!(
                            client,
                            lift_restriction,
                            pb::LiftRestrictionRequest,
                            id,
                            token
                        )
                    }
                    "RecordContact" => {
                        minimal!(client, record_contact, pb::RecordContactRequest, id, token)
                    }
                    "RecordContribution" => minimal!(
                        client,
                        record_contribution,
                        pb::RecordContributionRequest,
                        id,
                        token
                    ),
                    "ConsultOnPublication" => minimal!(
                        client,
                        consult_on_publication,
                        pb::ConsultOnPublicationRequest,
                        id,
                        token
                    ),
                    "RecordPublicationResponse" => minimal!(
                        client,
                        record_publication_response,
                        pb::RecordPublicationResponseRequest,
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
