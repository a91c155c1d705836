//! The deadline sweep against the real database and bus: statuses follow the clock, each
//! alert is raised once however many sweeps and replicas run, and list filters see them.

mod common;

use std::time::Duration;

use common::{RegistryTest, Reply, TestRegistry, authed, pdate, swept_together};
use cspr_proto::events::v1::event::Body;
use cspr_proto::registry::v1 as pb;

#[tokio::test]
async fn alerts_are_raised_once_across_replicas() {
    // Arrange: aware Tuesday 2026-03-10, notification due Tuesday 2026-03-17.
    let registry = TestRegistry::start("2026-03-11").await;
    let mut client = registry.client.clone();
    let admin = registry.role_token("partnership_admin");
    let review = common::created(&mut client, &admin, "sweep", "Child Q").await;
    let second_replica = registry.store.clone();
    let sweep =
        cspr_registry::jobs::DeadlineSweep::new(registry.store.clone(), Duration::from_secs(3600));
    let replica_sweep =
        cspr_registry::jobs::DeadlineSweep::new(second_replica, Duration::from_secs(3600));

    // Act: nothing is due yet.
    assert_eq!(sweep.sweep_once().await.expect("sweep"), 0);

    // Two working days before: at risk, raised once by two replicas sweeping together.
    registry.clock.set_date(common::date("2026-03-13"));
    assert_eq!(
        swept_together(sweep.sweep_once(), replica_sweep.sweep_once()).await,
        1,
        "one at-risk alert"
    );
    assert_eq!(
        sweep.sweep_once().await.expect("sweep"),
        0,
        "not raised again"
    );
    let at_risk = client
        .list_reviews(authed(
            pb::ListReviewsRequest {
                at_risk_only: true,
                ..Default::default()
            },
            &admin,
        ))
        .await
        .reply("list");
    assert_eq!(at_risk.reviews.len(), 1);

    // Past due without a notification: missed, once.
    registry.clock.set_date(common::date("2026-03-18"));
    assert_eq!(
        swept_together(sweep.sweep_once(), replica_sweep.sweep_once()).await,
        1,
        "one missed alert"
    );
    assert_eq!(sweep.sweep_once().await.expect("sweep"), 0);
    let overdue = client
        .list_reviews(authed(
            pb::ListReviewsRequest {
                overdue_only: true,
                ..Default::default()
            },
            &admin,
        ))
        .await
        .reply("list");
    assert_eq!(overdue.reviews.len(), 1);
    assert_eq!(overdue.reviews[0].id, review.id);
    let timeline = client
        .get_timeline(authed(
            pb::GetTimelineRequest {
                review_id: review.id.clone(),
            },
            &admin,
        ))
        .await
        .reply("timeline");
    assert_eq!(
        timeline.deadlines[0].status,
        pb::DeadlineStatus::Missed as i32
    );

    // Assert: the bus saw each alert exactly once.
    let events = registry.published(3).await;
    let types: Vec<&str> = events
        .iter()
        .map(|(_, event)| event.r#type.as_str())
        .collect();
    assert_eq!(
        types,
        ["review_created", "deadline_at_risk", "deadline_missed"]
    );
    let Some(Body::DeadlineMissed(missed)) = &events[2].1.body else {
        panic!("missed body");
    };
    assert_eq!(missed.kind, pb::DeadlineKind::Notification as i32);
    assert_eq!(missed.due_on, pdate("2026-03-17"));
    assert_eq!(missed.review_reference, review.reference);
    assert_eq!(
        events[2]
            .1
            .actor
            .as_ref()
            .map(|actor| actor.subject.as_str()),
        Some("system:deadline-sweep")
    );
    registry.stop().await;
}

#[tokio::test]
async fn a_command_that_puts_a_deadline_at_risk_alerts_at_once() {
    // Aware Tuesday 2026-03-10, notification due Tuesday 2026-03-17; recorded on Monday
    // 2026-03-16, one working day before: at risk from the moment it is recorded.
    let registry = TestRegistry::start("2026-03-16").await;
    let mut client = registry.client.clone();
    let admin = registry.role_token("partnership_admin");
    client
        .create_review(authed(
            pb::CreateReviewRequest {
                request_id: "late".into(),
                child_alias: "Child Q".into(),
                local_authority: "Southvale Council".into(),
                incident_date: pdate("2026-03-09"),
                became_aware_on: pdate("2026-03-10"),
            },
            &admin,
        ))
        .await
        .reply("create");
    // No sweep has run: the command raised it.
    let events = registry.published(2).await;
    let types: Vec<&str> = events
        .iter()
        .map(|(_, event)| event.r#type.as_str())
        .collect();
    assert_eq!(types, ["review_created", "deadline_at_risk"]);
    assert_eq!(
        events[1]
            .1
            .actor
            .as_ref()
            .map(|actor| actor.subject.as_str()),
        Some("system:deadline-alerts")
    );
    // The sweep does not raise it a second time.
    let sweep =
        cspr_registry::jobs::DeadlineSweep::new(registry.store.clone(), Duration::from_secs(3600));
    assert_eq!(sweep.sweep_once().await.expect("sweep"), 0);
    registry.stop().await;
}
