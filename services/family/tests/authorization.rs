//! The authorization matrix of the family service: every RPC × every shape of caller on a
//! seeded review, each answer as `access::rules` predicts.

mod common;

use common::{FamilyTest, TestFamily, authed};
use cspr_platform::access::rules;
use cspr_platform::testing::matrix::Matrix;
use cspr_proto::family::v1 as pb;
use tonic::Status;

/// A call of `method` with a minimal body naming the review (authorization is decided
/// before the body is validated), its answer without the reply.
macro_rules! minimal {
    ($client:expr, $method:ident, $request:ident, $review_id:expr, $token:expr) => {
        $client
            .$method(authed(
                pb::$request {
                    review_id: $review_id,
                    ..Default::default()
                },
                &$token,
            ))
            .await
            .map(drop)
    };
}

#[tokio::test]
async fn every_rpc_answers_every_caller_as_the_table_says() {
    let service = TestFamily::start().await;
    let review_id = service.review_with_reviewer().await;
    let matrix = Matrix {
        service: rules::FAMILY,
        own_agency: "police",
        other_agency: "health",
        owned_by_agency: &[],
    };
    let cases = matrix
        .run(&service, |method, token| {
            let mut client = service.client.clone();
            let id = review_id.clone();
            async move {
                match method {
                    "AddFamilyMember" => {
                        minimal!(client, add_family_member, AddFamilyMemberRequest, id, token)
                    }
                    "ListFamilyMembers" => minimal!(
                        client,
                        list_family_members,
                        ListFamilyMembersRequest,
                        id,
                        token
                    ),
                    "GetFamilyMember" => {
                        minimal!(client, get_family_member, GetFamilyMemberRequest, id, token)
                    }
                    "RestrictContact" => {
                        minimal!(client, restrict_contact, RestrictContactRequest, id, token)
                    }
                    "LiftRestriction" => {
                        minimal!(client, lift_restriction, LiftRestrictionRequest, id, token)
                    }
                    "RecordContact" => {
                        minimal!(client, record_contact, RecordContactRequest, id, token)
                    }
                    "RecordContribution" => minimal!(
                        client,
                        record_contribution,
                        RecordContributionRequest,
                        id,
                        token
                    ),
                    "ConsultOnPublication" => minimal!(
                        client,
                        consult_on_publication,
                        ConsultOnPublicationRequest,
                        id,
                        token
                    ),
                    "RecordPublicationResponse" => minimal!(
                        client,
                        record_publication_response,
                        RecordPublicationResponseRequest,
                        id,
                        token
                    ),
                    other => Err(Status::unimplemented(format!("no call for {other}"))),
                }
            }
        })
        .await;
    assert_eq!(cases, 9 * 22, "every RPC × every caller");
    service.stop().await;
}
