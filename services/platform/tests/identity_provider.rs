//! Tokens from a real OpenID provider (oidc-provider, run by the test): its keys found by
//! OpenID Connect discovery, a rotation picked up by the periodic refresh before any token
//! of the new key arrives, tokens without a kid, and tokens with made-up kids, which must
//! not make cspr fetch the provider's keys more than once per minimum interval.

use std::time::Duration;

use cspr_platform::auth::{Authenticator, Role};
use cspr_platform::config::{ClaimMapping, JwksSource};
use cspr_platform::error::ServiceError;
use cspr_platform::testing::{
    self, DEADLINE, OidcClient, OidcProvider, SigningKey, eventually, wait_until,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use tokio_util::sync::CancellationToken;

const RESOURCE: &str = "urn:cspr:platform-test";

/// cspr's claims where this provider puts them: roles among the client's `groups` with a
/// prefix, the partnership nested under `tenant`, the agency as `agency`.
fn mapping() -> ClaimMapping {
    ClaimMapping {
        partnership: "tenant.partnership".into(),
        roles: "groups".into(),
        org: "agency".into(),
        role_prefix: Some("cspr:".into()),
    }
}

fn auditor() -> OidcClient {
    OidcClient {
        id: "audit-office".into(),
        secret: "audit-office-client-secret-0123456789".into(),
        claims: json!({
            "groups": ["cspr:auditor", "finance", "reviewer"],
            "tenant": {"partnership": "southvale"},
        }),
        redirect_uris: Vec::new(),
    }
}

/// An authenticator for `provider`'s tokens with its refresh running until `shutdown`.
async fn authenticator(
    provider: &OidcProvider,
    source: JwksSource,
    refresh_interval: Duration,
    min_refresh_interval: Duration,
    shutdown: &CancellationToken,
) -> Authenticator {
    let config = provider.auth_config(source, refresh_interval, min_refresh_interval, mapping());
    let authenticator = Authenticator::new(&config).expect("authenticator");
    tokio::spawn(
        authenticator
            .key_refresh(shutdown.clone())
            .expect("a key set to refresh"),
    );
    assert!(
        tokio::time::timeout(DEADLINE, authenticator.keys_ready(shutdown))
            .await
            .expect("keys within the deadline"),
        "keys loaded"
    );
    authenticator
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

#[tokio::test]
async fn discovered_keys_follow_a_rotation_on_schedule_and_tokens_without_kid_verify() {
    testing::init();
    let mut provider = OidcProvider::start(RESOURCE, "RS256", vec![auditor()]).await;
    let shutdown = CancellationToken::new();
    let authenticator = authenticator(
        &provider,
        JwksSource::Discovery,
        Duration::from_millis(500),
        Duration::from_millis(500),
        &shutdown,
    )
    .await;

    // The key set was found through the discovery document, and the mapped claims read.
    let status = authenticator.key_status().expect("a provider's key set");
    assert_eq!(
        status.jwks_url.as_deref(),
        Some(provider.jwks_url().as_str())
    );
    assert!(provider.stats().await.discovery >= 1);
    let principal = authenticator
        .verify(&provider.token("audit-office").await)
        .expect("the provider's token verifies");
    assert_eq!(principal.partnership, "southvale");
    assert_eq!(principal.subject, "audit-office");
    // `reviewer` without the prefix is one of the provider's groups, not a cspr role.
    assert_eq!(principal.roles, vec![Role::Auditor]);

    // Rotation: the new key is known from the periodic refresh before its first token.
    let new_kid = provider.rotate("ES256").await;
    wait_until("the periodic refresh to see the new key", DEADLINE, || {
        let known = authenticator
            .key_status()
            .is_some_and(|status| status.kids.contains(&Some(new_kid.clone())));
        async move { known }
    })
    .await;
    let token = provider.token("audit-office").await;
    authenticator
        .verify(&token)
        .expect("a token of the new key verifies at its first call");

    // No kid: the one key of the token's algorithm is used.
    let claims = json!({
        "sub": "audit-office", "iss": provider.issuer, "aud": RESOURCE,
        "exp": now() + 300, "iat": now(),
        "groups": ["cspr:auditor"], "tenant": {"partnership": "southvale"},
    });
    let without_kid = provider
        .sign(claims.clone(), SigningKey::Current, None)
        .await;
    authenticator
        .verify(&without_kid)
        .expect("a token without kid verifies with the one ES256 key");
    let forged_without_kid = provider.sign(claims, SigningKey::Stranger, None).await;
    assert!(matches!(
        authenticator.verify(&forged_without_kid),
        Err(ServiceError::Unauthenticated(_))
    ));
    shutdown.cancel();
}

#[tokio::test]
async fn made_up_kids_fetch_the_keys_at_most_once_per_minimum_interval() {
    testing::init();
    let mut provider = OidcProvider::start(RESOURCE, "EdDSA", vec![auditor()]).await;
    let shutdown = CancellationToken::new();
    let minimum = Duration::from_secs(1);
    let authenticator = authenticator(
        &provider,
        JwksSource::Url(provider.jwks_url()),
        Duration::from_secs(3600),
        minimum,
        &shutdown,
    )
    .await;

    // A rotation the refresh did not see yet: the first token of the new key asks for a
    // fetch (UNAVAILABLE, retry), and verifies once the fetch is in.
    provider.rotate("RS256").await;
    let token = provider.token("audit-office").await;
    let mut refusals = Vec::new();
    eventually("a token of the new key to verify", DEADLINE, || {
        let outcome = authenticator.verify(&token);
        if let Err(error) = &outcome {
            refusals.push(format!("{error:?}"));
        }
        async move { outcome.ok() }
    })
    .await;
    assert!(
        refusals
            .iter()
            .all(|refusal| refusal.starts_with("Unavailable")
                || refusal.starts_with("Unauthenticated")),
        "{refusals:?}"
    );
    assert!(
        refusals
            .iter()
            .any(|refusal| refusal.starts_with("Unavailable")),
        "the unknown kid asked for a fetch: {refusals:?}"
    );

    // An attacker's tokens, each with another kid (no valid signature needed to name one),
    // for 3 s: at most one fetch per second, where each token would otherwise cost one.
    let before = provider.stats().await.jwks;
    let flood = Duration::from_secs(3);
    let started = tokio::time::Instant::now();
    let mut pace = tokio::time::interval(Duration::from_millis(5));
    let mut sent = 0_u64;
    let mut unavailable = 0_u64;
    while started.elapsed() < flood {
        pace.tick().await;
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(uuid::Uuid::new_v4().to_string());
        let forged = jsonwebtoken::encode(
            &header,
            &json!({"sub": "mallory", "exp": now() + 60}),
            &EncodingKey::from_secret(b"anything"),
        )
        .expect("encode");
        match authenticator.verify(&forged) {
            Err(ServiceError::Unavailable(_)) => unavailable += 1,
            Err(ServiceError::Unauthenticated(_)) => {}
            other => panic!("a made-up kid: {other:?}"),
        }
        sent += 1;
    }
    let fetched = eventually("the last fetch to be counted", DEADLINE, || async {
        let status = authenticator.key_status().expect("status");
        let stats = provider.stats().await;
        // No fetch under way (its count would still change).
        (status.fetches == stats.jwks).then_some(stats.jwks - before)
    })
    .await;
    let allowed = flood.as_secs() / minimum.as_secs() + 1;
    assert!(sent > 100, "{sent} forged tokens sent");
    assert!(
        (1..=allowed).contains(&fetched),
        "{sent} tokens with made-up kids made {fetched} fetches (at most {allowed}); {unavailable} were UNAVAILABLE"
    );
    // The keys in hand still verify the provider's tokens.
    authenticator
        .verify(&provider.token("audit-office").await)
        .expect("a real token still verifies");
    shutdown.cancel();
}
