//! The group-committing audit log against real PostgreSQL: every record of many concurrent
//! callers is stored exactly once, with its roles, peer and time, before the caller hears
//! back; and the trail lists them per review.

use cspr_platform::audit::{self, AuditEntry, AuditLog};
use cspr_platform::auth::{Principal, Role};
use cspr_platform::testing;
use uuid::Uuid;

#[tokio::test]
async fn concurrent_reads_are_each_recorded_once_before_the_reply() {
    let url = testing::service_config("audittest").database_url;
    cspr_platform::db::create_database_if_missing(&url)
        .await
        .expect("create");
    let pool = cspr_platform::db::connect(&url, 5).await.expect("connect");
    cspr_platform::db::migrate_platform(&pool)
        .await
        .expect("migrate");
    // A clock far from the machine's: each record's time must be the service's clock.
    let clock = cspr_platform::clock::ManualClock::on(
        chrono::NaiveDate::from_ymd_opt(2031, 2, 3).expect("date"),
    );
    let log = AuditLog::start(pool.clone(), std::sync::Arc::new(clock.clone()));
    let review = Uuid::new_v4();

    // Act: 300 callers at once, some with two roles, some with none, some without a peer.
    let mut callers = Vec::new();
    for n in 0..300_usize {
        let log = log.clone();
        let pool = pool.clone();
        callers.push(tokio::spawn(async move {
            let principal = Principal {
                subject: format!("user{n}"),
                partnership: "southvale".into(),
                roles: match n % 3 {
                    0 => vec![Role::PanelMember, Role::Auditor],
                    1 => vec![Role::PartnershipAdmin],
                    _ => vec![],
                },
                org: None,
                peer: (n % 2 == 0).then(|| format!("10.0.0.{}:5000", n % 250)),
            };
            log.record(&AuditEntry {
                principal: &principal,
                action: "GetReview",
                review_id: Some(review),
                resource: format!("reviews/{review}"),
                outcome: if n % 5 == 0 {
                    "PERMISSION_DENIED"
                } else {
                    "ok"
                },
            })
            .await
            .expect("recorded");
            // Once answered, the record is already committed.
            let stored: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM audit_records WHERE actor = $1 AND review_id = $2",
            )
            .bind(format!("user{n}"))
            .bind(review)
            .fetch_one(&pool)
            .await
            .expect("count");
            assert_eq!(stored, 1, "user{n}'s record is stored once");
        }));
    }

    // Assert
    for caller in callers {
        caller.await.expect("caller");
    }
    let mut connection = pool.acquire().await.expect("connection");
    let trail = audit::list_for_review(&mut connection, "southvale", review, None, 1000)
        .await
        .expect("trail");
    assert_eq!(trail.len(), 300);
    let clock_now = cspr_platform::clock::Clock::now(&clock);
    assert!(
        trail.iter().all(|record| record.at == clock_now),
        "records are timed by the injected clock"
    );
    let user0 = trail.iter().find(|r| r.actor == "user0").expect("user0");
    assert_eq!(user0.actor_roles, vec!["panel_member", "auditor"]);
    assert_eq!(user0.outcome, "PERMISSION_DENIED");
    assert_eq!(user0.peer.as_deref(), Some("10.0.0.0:5000"));
    let user2 = trail.iter().find(|r| r.actor == "user2").expect("user2");
    assert!(user2.actor_roles.is_empty());
    let user1 = trail.iter().find(|r| r.actor == "user1").expect("user1");
    assert_eq!(user1.actor_roles, vec!["partnership_admin"]);
    assert_eq!(user1.peer, None);
    assert_eq!(user1.outcome, "ok");
    drop(connection);
    pool.close().await;
    testing::drop_database(&url).await;
}
