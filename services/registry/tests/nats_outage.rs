//! NATS stopped while commands run: the registry keeps answering (events wait in the
//! outbox), and once NATS is back every event arrives, none twice.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::{RegistryTest, TestRegistry, authed, pdate};
use cspr_platform::testing::OwnNatsServer;
use cspr_proto::registry::v1 as pb;

fn create(request_id: String) -> pb::CreateReviewRequest {
    pb::CreateReviewRequest {
        request_id,
        child_alias: "Child Q".into(),
        local_authority: "Southvale Council".into(),
        incident_date: pdate("2026-03-09"),
        became_aware_on: pdate("2026-03-10"),
    }
}

#[tokio::test]
async fn commands_succeed_while_nats_is_down_and_events_follow() {
    // Arrange: the registry on a NATS server of the test's own.
    let mut nats = OwnNatsServer::start().await;
    let registry = TestRegistry::start_with_nats(&nats.url(), "2026-03-11").await;
    let mut client = registry.client.clone();
    let admin = registry.role_token("partnership_admin");
    client
        .create_review(authed(create("before".into()), &admin))
        .await
        .expect("before the outage");

    // Act: stop NATS and keep working.
    nats.stop().await;
    for index in 0..10 {
        client
            .create_review(authed(create(format!("during-{index}")), &admin))
            .await
            .expect("commands succeed while NATS is down");
    }
    // The fault's duration: NATS stays down 2 s longer, so the relay's attempts fail.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let waiting = cspr_platform::bus::outbox::backlog(registry.store.pool())
        .await
        .expect("backlog");
    assert!(
        waiting >= 10,
        "events wait in the outbox while NATS is down ({waiting})"
    );
    nats.restart().await;
    client
        .create_review(authed(create("after".into()), &admin))
        .await
        .expect("after the outage");

    // Assert: all twelve events, each once.
    let events = registry.published_within(12, Duration::from_secs(60)).await;
    let ids: HashSet<&str> = events.iter().map(|(_, event)| event.id.as_str()).collect();
    assert_eq!(events.len(), 12, "every event delivered: {}", events.len());
    assert_eq!(ids.len(), 12, "no event twice");
    assert!(
        events
            .iter()
            .all(|(_, event)| event.r#type == "review_created")
    );
    registry.stop().await;
}
