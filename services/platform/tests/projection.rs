//! The review projection against a real database: registry events in any order, a
//! service's extra columns, and reviews of another partnership kept hidden.

use cspr_platform::projection::reviews::{
    self, ExtraColumns, LoadError, Review, ReviewWith, ScopePeriod,
};
use cspr_platform::testing;
use cspr_proto::events::v1::{
    AgencyReportWaived, Event, ReviewCreated, ReviewerAppointed, TermsOfReferenceSet, event::Body,
};
use cspr_proto::google::r#type::Date;
use sqlx::PgPool;
use uuid::Uuid;

/// A database with a `reviews` table as a consuming service has it: the common columns and
/// one of its own.
async fn database() -> (PgPool, String) {
    let url = testing::service_config("projectiontest").database_url;
    cspr_platform::db::create_database_if_missing(&url)
        .await
        .expect("create");
    let pool = cspr_platform::db::connect(&url, 2).await.expect("connect");
    sqlx::query(
        "CREATE TABLE reviews (
             review_id        UUID PRIMARY KEY,
             partnership_id   TEXT NOT NULL,
             reference        TEXT NOT NULL DEFAULT '',
             reviewer_subject TEXT,
             scope_start      DATE,
             scope_end        DATE,
             plan_active      BOOLEAN NOT NULL DEFAULT false
         )",
    )
    .execute(&pool)
    .await
    .expect("reviews table");
    (pool, url)
}

fn event(review_id: Uuid, body: Body) -> Event {
    Event {
        id: Uuid::now_v7().to_string(),
        r#type: body.type_name().to_string(),
        partnership_id: "southvale".into(),
        review_id: review_id.to_string(),
        body: Some(body),
        ..Default::default()
    }
}

fn date(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

fn terms(reference: &str) -> Body {
    Body::TermsOfReferenceSet(TermsOfReferenceSet {
        scope_start: date(2025, 1, 6),
        scope_end: date(2025, 12, 19),
        review_reference: reference.into(),
        ..Default::default()
    })
}

async fn apply(pool: &PgPool, event: &Event) -> bool {
    let mut connection = pool.acquire().await.expect("connection");
    reviews::apply(&mut connection, event).await.expect("apply")
}

/// A service's own column.
#[derive(Debug, sqlx::FromRow)]
struct Plan {
    plan_active: bool,
}

impl ExtraColumns for Plan {
    const COLUMNS: &'static str = ", plan_active";
}

type WithPlan = ReviewWith<Plan>;

#[tokio::test]
async fn registry_events_build_the_review_in_any_order() {
    testing::init();
    let (pool, url) = database().await;
    let review_id = Uuid::now_v7();

    // The reviewer's appointment overtakes the review's creation.
    let appointed = Body::ReviewerAppointed(ReviewerAppointed {
        subject: "reviewer-7".into(),
        ..Default::default()
    });
    assert!(apply(&pool, &event(review_id, appointed)).await);
    let early: Review = reviews::load(&pool, "southvale", review_id)
        .await
        .expect("created by the appointment");
    assert_eq!(early.reference, "");
    assert_eq!(early.reviewer_subject.as_deref(), Some("reviewer-7"));

    let created = Body::ReviewCreated(ReviewCreated {
        reference: "CSPR-2026-001".into(),
        ..Default::default()
    });
    assert!(apply(&pool, &event(review_id, created)).await);
    // Terms without a reference keep the one the creation gave.
    assert!(apply(&pool, &event(review_id, terms(""))).await);

    let review: Review = reviews::load(&pool, "southvale", review_id)
        .await
        .expect("load");
    assert_eq!(
        review,
        Review {
            review_id,
            partnership_id: "southvale".into(),
            reference: "CSPR-2026-001".into(),
            reviewer_subject: Some("reviewer-7".into()),
            scope_start: chrono::NaiveDate::from_ymd_opt(2025, 1, 6),
            scope_end: chrono::NaiveDate::from_ymd_opt(2025, 12, 19),
        }
    );

    // Terms with a reference replace it.
    assert!(apply(&pool, &event(review_id, terms("CSPR-2026-001A"))).await);
    let renamed: Review = reviews::load(&pool, "southvale", review_id)
        .await
        .expect("load");
    assert_eq!(renamed.reference, "CSPR-2026-001A");
    assert_eq!(
        renamed.scope(),
        Some(ScopePeriod {
            start: chrono::NaiveDate::from_ymd_opt(2025, 1, 6).expect("date"),
            end: chrono::NaiveDate::from_ymd_opt(2025, 12, 19).expect("date"),
        })
    );

    pool.close().await;
    testing::drop_database(&url).await;
}

#[tokio::test]
async fn other_events_are_not_projected_and_bad_terms_are_refused() {
    testing::init();
    let (pool, url) = database().await;
    let review_id = Uuid::now_v7();

    let waived = Body::AgencyReportWaived(AgencyReportWaived {
        agency_id: "police".into(),
        reason: "none".into(),
    });
    assert!(!apply(&pool, &event(review_id, waived)).await);
    let no_body = Event {
        body: None,
        ..event(review_id, terms(""))
    };
    assert!(!apply(&pool, &no_body).await);
    let nothing: Option<Review> = reviews::get(&pool, "southvale", review_id)
        .await
        .expect("get");
    assert_eq!(
        nothing, None,
        "no row for events the projection does not keep"
    );

    let undated = Body::TermsOfReferenceSet(TermsOfReferenceSet {
        scope_start: None,
        scope_end: date(2025, 12, 19),
        ..Default::default()
    });
    let mut connection = pool.acquire().await.expect("connection");
    let error = reviews::apply(&mut connection, &event(review_id, undated))
        .await
        .expect_err("terms without a scope start are malformed");
    assert!(error.to_string().contains("scope_start"), "{error}");
    let mut without_review = event(review_id, terms(""));
    without_review.review_id = "not-a-uuid".into();
    reviews::apply(&mut connection, &without_review)
        .await
        .expect_err("an event without a review id is malformed");
    drop(connection);

    pool.close().await;
    testing::drop_database(&url).await;
}

#[tokio::test]
async fn another_partnerships_review_is_not_found_and_extra_columns_load() {
    testing::init();
    let (pool, url) = database().await;
    let review_id = Uuid::now_v7();
    let mut connection = pool.acquire().await.expect("connection");
    reviews::ensure(&mut connection, review_id, "southvale")
        .await
        .expect("ensure");
    // Ensuring again changes nothing.
    reviews::ensure(&mut connection, review_id, "northvale")
        .await
        .expect("ensure again");
    drop(connection);
    sqlx::query("UPDATE reviews SET plan_active = true WHERE review_id = $1")
        .bind(review_id)
        .execute(&pool)
        .await
        .expect("service's own column");

    let own: WithPlan = reviews::load(&pool, "southvale", review_id)
        .await
        .expect("own partnership");
    assert!(own.extra.plan_active);
    assert_eq!(own.partnership_id, "southvale");
    assert_eq!(own.reviewer_subject, None);
    assert_eq!(own.scope(), None, "no terms of reference yet");

    let other = reviews::load::<WithPlan>(&pool, "northvale", review_id).await;
    assert!(
        matches!(other, Err(LoadError::NotFound(id)) if id == review_id),
        "{other:?}"
    );
    let unknown = reviews::load::<Review>(&pool, "southvale", Uuid::now_v7()).await;
    assert!(
        matches!(unknown, Err(LoadError::NotFound(_))),
        "{unknown:?}"
    );

    pool.close().await;
    testing::drop_database(&url).await;
}
