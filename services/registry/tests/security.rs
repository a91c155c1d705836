//! Who may do what: tokens, roles, partnerships; bad input refused with field violations and
//! nothing stored; request ids honoured.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::{PARTNERSHIP, Refusal, RegistryTest, Reply, TestRegistry, authed, pdate};
use cspr_platform::auth::Claims;
use cspr_proto::registry::v1 as pb;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use tonic::{Code, Request};

fn create_request(request_id: &str, alias: &str) -> pb::CreateReviewRequest {
    pb::CreateReviewRequest {
        request_id: request_id.into(),
        child_alias: alias.into(),
        local_authority: "Southvale Council".into(),
        incident_date: pdate("2026-03-09"),
        became_aware_on: pdate("2026-03-10"),
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("time")
        .as_secs()
}

fn signed(claims: &Claims, secret: &[u8]) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .expect("sign")
}

fn claims(exp: u64, audience: &str, issuer: &str) -> Claims {
    Claims {
        sub: "mallory".into(),
        partnership: PARTNERSHIP.into(),
        roles: vec!["partnership_admin".into()],
        org: None,
        exp,
        iat: now(),
        nbf: None,
        iss: issuer.into(),
        aud: audience.into(),
    }
}

#[tokio::test]
async fn bad_tokens_are_unauthenticated() {
    let registry = TestRegistry::start("2026-03-11").await;
    let mut client = registry.client.clone();
    let secret = cspr_platform::testing::TEST_SECRET;

    client
        .list_reviews(Request::new(pb::ListReviewsRequest::default()))
        .await
        .refused(Code::Unauthenticated, "no token");

    // {"alg":"none"} with plausible claims and no signature.
    let unsigned = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJhIiwicGFydG5lcnNoaXAiOiJzb3V0aHZhbGUiLCJyb2xlcyI6WyJwYXJ0bmVyc2hpcF9hZG1pbiJdLCJleHAiOjQxMDI0NDQ4MDAsImlzcyI6ImNzcHItdGVzdCIsImF1ZCI6ImNzcHIifQ.";
    let forged = [
        (
            "expired",
            signed(&claims(now() - 3600, "cspr", "cspr-test"), secret),
        ),
        (
            "wrong audience",
            signed(&claims(now() + 600, "someone-else", "cspr-test"), secret),
        ),
        (
            "wrong issuer",
            signed(&claims(now() + 600, "cspr", "evil"), secret),
        ),
        (
            "wrong signature",
            signed(
                &claims(now() + 600, "cspr", "cspr-test"),
                b"not-the-secret-at-all",
            ),
        ),
        ("alg none", unsigned.to_string()),
        ("garbage", "not-a-token".to_string()),
    ];
    for (case, token) in forged {
        client
            .create_review(authed(create_request(case, "Child Q"), &token))
            .await
            .refused(Code::Unauthenticated, case);
    }
    let listed = client
        .list_reviews(authed(
            pb::ListReviewsRequest::default(),
            &registry.role_token("partnership_admin"),
        ))
        .await
        .reply("list");
    assert!(
        listed.reviews.is_empty(),
        "nothing was created by a forged token"
    );
    registry.stop().await;
}

#[tokio::test]
async fn roles_and_partnerships_are_enforced() {
    let registry = TestRegistry::start("2026-03-11").await;
    let mut client = registry.client.clone();
    let review = client
        .create_review(authed(
            create_request("r1", "Child Q"),
            &registry.role_token("partnership_admin"),
        ))
        .await
        .reply("create");

    for role in [
        "panel_member",
        "reviewer",
        "auditor",
        "operations",
        "family_liaison",
        "panel_chair",
    ] {
        let token = registry.token_as(&[role], "someone");
        client
            .create_review(authed(create_request(role, "Child R"), &token))
            .await
            .refused(
                Code::PermissionDenied,
                &format!("{role} may not create reviews"),
            );
    }
    let agency = registry.agency_token("police");
    client
        .get_review(authed(
            pb::GetReviewRequest {
                review_id: review.id.clone(),
            },
            &agency,
        ))
        .await
        .refused(Code::PermissionDenied, "agency");
    let operations = registry.role_token("operations");
    client
        .get_review(authed(
            pb::GetReviewRequest {
                review_id: review.id.clone(),
            },
            &operations,
        ))
        .await
        .refused(Code::PermissionDenied, "operations see no case content");
    let unappointed = registry.token_as(&["reviewer"], "not-appointed");
    client
        .get_review(authed(
            pb::GetReviewRequest {
                review_id: review.id.clone(),
            },
            &unappointed,
        ))
        .await
        .refused(Code::PermissionDenied, "reviewer not appointed");
    let listed = client
        .list_reviews(authed(pb::ListReviewsRequest::default(), &unappointed))
        .await
        .reply("a reviewer lists only their reviews");
    assert!(listed.reviews.is_empty());

    let member = registry.role_token("panel_member");
    let read = client
        .get_review(authed(
            pb::GetReviewRequest {
                review_id: review.id.clone(),
            },
            &member,
        ))
        .await
        .reply("panel members read reviews");
    assert_eq!(read.id, review.id);

    let elsewhere = registry.token_elsewhere("partnership_admin", None);
    client
        .get_review(authed(
            pb::GetReviewRequest {
                review_id: review.id.clone(),
            },
            &elsewhere,
        ))
        .await
        .refused(Code::NotFound, "another partnership's review");
    client
        .record_notification_sent(authed(
            pb::RecordNotificationSentRequest {
                review_id: review.id.clone(),
                sent_on: pdate("2026-03-11"),
                national_panel_reference: String::new(),
            },
            &elsewhere,
        ))
        .await
        .refused(Code::NotFound, "another partnership cannot change it");
    let listed = client
        .list_reviews(authed(pb::ListReviewsRequest::default(), &elsewhere))
        .await
        .reply("list");
    assert!(
        listed.reviews.is_empty(),
        "lists are scoped to the token's partnership"
    );

    let auditor = registry.role_token("auditor");
    let trail = client
        .list_audit_records(authed(
            pb::ListAuditRecordsRequest {
                review_id: review.id.clone(),
                page_size: 0,
                page_token: String::new(),
            },
            &auditor,
        ))
        .await
        .reply("audit");
    let refusals = trail
        .records
        .iter()
        .filter(|record| record.outcome == "PERMISSION_DENIED")
        .count();
    assert!(refusals >= 3, "refused reads are audited ({refusals})");
    assert!(
        trail
            .records
            .iter()
            .any(|record| record.action == "GetReview"
                && record.outcome == "ok"
                && record.actor == "wren")
    );
    registry.stop().await;
}

#[tokio::test]
async fn bad_input_is_refused_with_field_violations_and_nothing_stored() {
    let registry = TestRegistry::start("2026-03-11").await;
    let mut client = registry.client.clone();
    let admin = registry.role_token("partnership_admin");

    client
        .create_review(authed(pb::CreateReviewRequest::default(), &admin))
        .await
        .invalid(
            &[
                "request_id",
                "child_alias",
                "local_authority",
                "incident_date",
                "became_aware_on",
            ],
            "empty request",
        );

    let mut future = create_request("future", "Child Q");
    future.incident_date = pdate("2026-04-01");
    future.became_aware_on = Some(cspr_proto::google::r#type::Date {
        year: 2026,
        month: 2,
        day: 30,
    });
    client
        .create_review(authed(future, &admin))
        .await
        .invalid(&["incident_date", "became_aware_on"], "bad dates");

    let mut reversed = create_request("reversed", "Child Q");
    reversed.became_aware_on = pdate("2026-03-01");
    client
        .create_review(authed(reversed, &admin))
        .await
        .invalid(&["became_aware_on"], "aware before incident");

    client
        .get_review(authed(
            pb::GetReviewRequest {
                review_id: "not-a-uuid".into(),
            },
            &admin,
        ))
        .await
        .refused(Code::InvalidArgument, "malformed id");
    client
        .get_review(authed(
            pb::GetReviewRequest {
                review_id: uuid::Uuid::new_v4().to_string(),
            },
            &admin,
        ))
        .await
        .refused(Code::NotFound, "unknown id");
    client
        .list_reviews(authed(
            pb::ListReviewsRequest {
                page_token: "zz".into(),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .invalid(&["page_token"], "bad page token");

    let review = client
        .create_review(authed(create_request("ok", "Child Q"), &admin))
        .await
        .reply("create");
    client
        .set_terms_of_reference(authed(
            pb::SetTermsOfReferenceRequest {
                review_id: review.id.clone(),
                scope_start: pdate("2026-03-01"),
                scope_end: pdate("2025-01-01"),
                agencies_in_scope: vec![pb::Agency {
                    id: "Police".into(),
                    name: String::new(),
                    contact_email: "nope".into(),
                }],
                ..Default::default()
            },
            &admin,
        ))
        .await
        .invalid(
            &[
                "scope_end",
                "key_lines_of_enquiry",
                "methodology",
                "agencies_in_scope[0].id",
                "agencies_in_scope[0].name",
                "agencies_in_scope[0].contact_email",
                "report_due_date",
            ],
            "bad terms",
        );
    client
        .record_decision(authed(
            pb::RecordDecisionRequest {
                review_id: review.id.clone(),
                decision: pb::Decision::LocalCspr as i32,
                decided_on: pdate("2026-03-11"),
                rationale: String::new(),
            },
            &admin,
        ))
        .await
        .refused(Code::FailedPrecondition, "wrong stage");

    // Only the one valid review exists, and only its creation reached the bus.
    let listed = client
        .list_reviews(authed(pb::ListReviewsRequest::default(), &admin))
        .await
        .reply("list");
    assert_eq!(listed.reviews.len(), 1);
    assert_eq!(registry.published_types(1).await, ["review_created"]);
    registry.stop().await;
}

#[tokio::test]
async fn request_ids_make_creation_safe_to_retry() {
    let registry = TestRegistry::start("2026-03-11").await;
    let mut client = registry.client.clone();
    let admin = registry.role_token("partnership_admin");

    let first = client
        .create_review(authed(create_request("same-id", "Child Q"), &admin))
        .await
        .reply("first");
    let retry = client
        .create_review(authed(create_request("same-id", "Child Q"), &admin))
        .await
        .reply("retry");
    assert_eq!(first.id, retry.id);
    assert_eq!(first.reference, retry.reference);
    client
        .create_review(authed(create_request("same-id", "Child R"), &admin))
        .await
        .refused(Code::AlreadyExists, "same id, other content");

    // Concurrent retries of one request create one review.
    let mut handles = Vec::new();
    for _ in 0..8 {
        let mut client = client.clone();
        let admin = admin.clone();
        handles.push(tokio::spawn(async move {
            client
                .create_review(authed(create_request("burst", "Child S"), &admin))
                .await
                .map(|response| response.into_inner().id)
        }));
    }
    let mut ids = std::collections::BTreeSet::new();
    for handle in handles {
        ids.insert(handle.await.expect("task").expect("created"));
    }
    assert_eq!(ids.len(), 1, "one review for one request id");

    // Pagination walks every review once.
    for index in 0..5 {
        client
            .create_review(authed(
                create_request(&format!("page-{index}"), "Child P"),
                &admin,
            ))
            .await
            .expect("create");
    }
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_reviews(authed(
                pb::ListReviewsRequest {
                    page_size: 3,
                    page_token: token.clone(),
                    ..Default::default()
                },
                &admin,
            ))
            .await
            .reply("page");
        assert!(page.reviews.len() <= 3);
        seen.extend(page.reviews.into_iter().map(|review| review.id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let unique: std::collections::BTreeSet<_> = seen.iter().collect();
    assert_eq!(seen.len(), 7);
    assert_eq!(unique.len(), 7);

    let events = registry.published(7).await;
    assert_eq!(events.len(), 7, "one review_created per review");
    registry.stop().await;
}
