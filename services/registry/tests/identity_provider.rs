//! The registry behind a real OpenID provider (oidc-provider, run by the test) that
//! rotates its keys: tokens from the client_credentials grant, with cspr's claims under
//! the provider's names, keep working across rotations without restarting cspr; a token of
//! a key no longer published, or never published, is UNAUTHENTICATED; with the provider
//! down, the keys in hand still verify.

mod common;

use std::time::Duration;

use common::{PARTNERSHIP, Refusal, RegistryTest, Reply, TestRegistry, authed, pdate};
use cspr_platform::config::{ClaimMapping, JwksSource};
use cspr_platform::testing::{self, DEADLINE, OidcClient, OidcProvider, SigningKey};
use cspr_proto::registry::v1 as pb;
use cspr_proto::registry::v1::review_registry_client::ReviewRegistryClient;
use serde_json::json;
use tonic::Code;
use tonic::transport::Channel;

const RESOURCE: &str = "urn:cspr:registry-test";

fn clients() -> Vec<OidcClient> {
    let client = |id: &str, role: &str| OidcClient {
        id: id.into(),
        secret: format!("{id}-client-secret-0123456789abcdef"),
        claims: json!({
            "groups": [format!("cspr:{role}"), "staff"],
            "tenant": {"partnership": PARTNERSHIP},
        }),
        redirect_uris: Vec::new(),
    };
    vec![
        client("case-system", "partnership_admin"),
        client("audit-office", "auditor"),
    ]
}

fn create_request(alias: &str) -> pb::CreateReviewRequest {
    pb::CreateReviewRequest {
        request_id: uuid::Uuid::new_v4().to_string(),
        child_alias: alias.into(),
        local_authority: "Southvale Council".into(),
        incident_date: pdate("2026-03-09"),
        became_aware_on: pdate("2026-03-10"),
    }
}

async fn list(client: &ReviewRegistryClient<Channel>, token: &str) -> Result<usize, tonic::Status> {
    client
        .clone()
        .list_reviews(authed(pb::ListReviewsRequest::default(), token))
        .await
        .map(|reply| reply.into_inner().reviews.len())
}

/// Calls with `token` until it is accepted, while cspr fetches the key set its kid asked
/// for (UNAVAILABLE, or UNAUTHENTICATED within the minimum interval of the last fetch);
/// the refusals seen on the way.
async fn accepted_after_refresh(client: &ReviewRegistryClient<Channel>, token: &str) -> Vec<Code> {
    let give_up = tokio::time::Instant::now() + DEADLINE;
    let mut refusals = Vec::new();
    loop {
        match list(client, token).await {
            Ok(_) => return refusals,
            Err(status)
                if matches!(status.code(), Code::Unavailable | Code::Unauthenticated)
                    && tokio::time::Instant::now() < give_up =>
            {
                refusals.push(status.code());
            }
            Err(status) => panic!(
                "a token of a published key: {status:?} after {} refusals",
                refusals.len()
            ),
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Calls with `token` until it is refused UNAUTHENTICATED (UNAVAILABLE on the way while
/// its kid makes cspr fetch the set again); it must never be accepted.
async fn refused_for_good(client: &ReviewRegistryClient<Channel>, token: &str, what: &str) {
    let give_up = tokio::time::Instant::now() + DEADLINE;
    loop {
        match list(client, token).await {
            Ok(_) => panic!("{what}: accepted"),
            Err(status) if status.code() == Code::Unauthenticated => return,
            Err(status)
                if status.code() == Code::Unavailable && tokio::time::Instant::now() < give_up => {}
            Err(status) => panic!("{what}: {status:?}"),
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn rotated_keys_keep_tokens_working_and_cached_keys_outlive_the_provider() {
    // Arrange: the provider signs with RS256; the registry knows it only by its JWKS URL,
    // and reads roles from `groups` (prefix `cspr:`), the partnership from `tenant`.
    let mut provider = OidcProvider::start(RESOURCE, "RS256", clients()).await;
    let mut platform = testing::platform_config(&testing::nats_url());
    platform.auth = provider.auth_config(
        JwksSource::Url(provider.jwks_url()),
        Duration::from_secs(3600),
        Duration::from_secs(1),
        ClaimMapping {
            partnership: "tenant.partnership".into(),
            roles: "groups".into(),
            org: "agency".into(),
            role_prefix: Some("cspr:".into()),
        },
    );
    let registry = TestRegistry::start_with_platform(platform, "2026-03-11").await;
    let client = registry.client.clone();
    let first_kid = provider.kids[0].clone();

    // The provider's tokens work, and their mapped roles decide what the caller may do.
    let rs256 = provider.token("case-system").await;
    client
        .clone()
        .create_review(authed(create_request("Child Q"), &rs256))
        .await
        .reply("a partnership admin by the provider's groups");
    let auditor = provider.token("audit-office").await;
    assert_eq!(list(&client, &auditor).await.expect("auditor lists"), 1);
    client
        .clone()
        .create_review(authed(create_request("Child R"), &auditor))
        .await
        .refused(Code::PermissionDenied, "an auditor creates no review");

    // Act 1: the provider rotates to a new ES256 key, keeping the old one published.
    provider.rotate("ES256").await;
    let es256 = provider.token("case-system").await;
    let refusals = accepted_after_refresh(&client, &es256).await;
    assert!(
        refusals.contains(&Code::Unavailable),
        "the unknown kid made cspr fetch the keys: {refusals:?}"
    );
    assert_eq!(
        list(&client, &rs256)
            .await
            .expect("the old key still published"),
        1
    );

    // Act 2: an EdDSA key, and the RS256 key retired.
    provider.rotate("EdDSA").await;
    provider.retire(&first_kid).await;
    let eddsa = provider.token("case-system").await;
    accepted_after_refresh(&client, &eddsa).await;
    // The set in hand (with the EdDSA key) no longer has the RS256 one.
    refused_for_good(&client, &rs256, "a token of the retired key").await;

    // Tokens signed by a key the provider never published, with all the right claims.
    let claims = json!({
        "sub": "mallory", "iss": provider.issuer, "aud": RESOURCE,
        "exp": 4_102_444_800_u64, "iat": 1_767_225_600_u64,
        "groups": ["cspr:partnership_admin"], "tenant": {"partnership": PARTNERSHIP},
    });
    let current_kid = provider.kids[0].clone();
    let forged = provider
        .sign(claims.clone(), SigningKey::Stranger, Some(&current_kid))
        .await;
    list(&client, &forged).await.refused(
        Code::Unauthenticated,
        "another key under the provider's kid",
    );
    let stranger = provider
        .sign(claims.clone(), SigningKey::Stranger, Some("a-key-of-mine"))
        .await;
    refused_for_good(&client, &stranger, "a token of a key never published").await;

    // Act 3: the provider goes away. A kid the set lacks makes cspr try to fetch it again.
    let authenticator = registry.service.context.authenticator.clone();
    let failed_before = authenticator.key_status().expect("status").failed_fetches;
    let unknown = provider
        .sign(claims, SigningKey::Stranger, Some("yet-another-kid"))
        .await;
    provider.stop().await;
    let give_up = tokio::time::Instant::now() + DEADLINE;
    while authenticator.key_status().expect("status").failed_fetches == failed_before {
        assert!(tokio::time::Instant::now() < give_up, "no fetch tried");
        let status = list(&client, &unknown).await.expect_err("an unknown kid");
        assert!(
            matches!(status.code(), Code::Unavailable | Code::Unauthenticated),
            "{status:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }

    // Assert: the keys in hand still verify the provider's tokens.
    let status = authenticator.key_status().expect("status");
    assert!(status.last_error.is_some(), "{status:?}");
    assert_eq!(status.kids.len(), 2, "{status:?}");
    client
        .clone()
        .create_review(authed(create_request("Child S"), &eddsa))
        .await
        .reply("the EdDSA token with the provider down");
    assert_eq!(
        list(&client, &es256)
            .await
            .expect("ES256 with the provider down"),
        2
    );

    registry.service.stop().await;
}
