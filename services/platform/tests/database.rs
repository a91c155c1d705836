//! What PostgreSQL refuses because of a request's content reaches the caller as the
//! caller's error, never INTERNAL: checked against a real server, with the errors it really
//! raises.

use cspr_platform::error::ServiceError;
use cspr_platform::testing;
use tonic::Code;

#[tokio::test]
async fn text_postgresql_cannot_store_is_invalid_argument_and_a_unique_clash_already_exists() {
    testing::init();
    let url = testing::service_config("databasetest").database_url;
    cspr_platform::db::create_database_if_missing(&url)
        .await
        .expect("create");
    let pool = cspr_platform::db::connect(&url, 2).await.expect("connect");
    sqlx::query("CREATE TABLE names (name TEXT PRIMARY KEY)")
        .execute(&pool)
        .await
        .expect("table");

    // A NUL byte in a bound parameter, whether stored or only compared.
    for statement in [
        "INSERT INTO names (name) VALUES ($1)",
        "SELECT name FROM names WHERE name = $1",
    ] {
        let error = sqlx::query(statement)
            .bind("before\0after")
            .execute(&pool)
            .await
            .expect_err("PostgreSQL refuses NUL in text");
        let status = tonic::Status::from(ServiceError::from(error));
        assert_eq!(
            status.code(),
            Code::InvalidArgument,
            "{statement}: {status:?}"
        );
        assert!(status.message().contains("NUL"), "{}", status.message());
    }

    sqlx::query("INSERT INTO names (name) VALUES ('one')")
        .execute(&pool)
        .await
        .expect("first");
    let error = sqlx::query("INSERT INTO names (name) VALUES ('one')")
        .execute(&pool)
        .await
        .expect_err("a unique clash");
    let status = tonic::Status::from(ServiceError::from(error));
    assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");

    // A fault of ours stays INTERNAL.
    let error = sqlx::query("SELECT missing_column FROM names")
        .execute(&pool)
        .await
        .expect_err("no such column");
    assert_eq!(
        tonic::Status::from(ServiceError::from(error)).code(),
        Code::Internal
    );

    pool.close().await;
    testing::drop_database(&url).await;
}
