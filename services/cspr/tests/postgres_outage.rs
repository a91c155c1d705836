//! `cspr serve registry` when its PostgreSQL goes away, on a server of the test's own: a call
//! in flight when the server stops (its session ended with `57P01`) or crashes (the
//! connection cut in the middle of a reply, here under the audit writer) is UNAVAILABLE,
//! as is every call while it is down, and the same process answers again once PostgreSQL
//! is back, without a restart.

use std::process::{Command, Stdio};
use std::time::Duration;

use cspr_platform::testing::{self, DEADLINE, PgCluster, authed};
use cspr_proto::google::r#type::Date;
use cspr_proto::registry::v1 as pb;
use cspr_proto::registry::v1::review_registry_client::ReviewRegistryClient;
use sqlx::Connection;
use tonic::Code;
use tonic::transport::Channel;

const SECRET: &str = "postgres-outage-test-secret-0123456789";

/// How PostgreSQL goes away under a call.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// A fast shutdown: the call's session is ended with `57P01 admin_shutdown`.
    Stop,
    /// An immediate shutdown, as a crash: the connection is cut in the middle of a reply.
    Crash,
}

fn admin_token() -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_cspr"))
        .env_clear()
        .args(["token", "create", "--partnership", "southvale"])
        .args(["--role", "partnership_admin", "--sub", "alice"])
        .env("CSPR_AUTH_HS256_SECRET", SECRET)
        .output()
        .expect("token");
    assert!(output.status.success(), "token create");
    String::from_utf8(output.stdout)
        .expect("utf8")
        .trim()
        .to_string()
}

async fn get_review(
    client: &ReviewRegistryClient<Channel>,
    token: &str,
    id: &str,
) -> Result<pb::Review, tonic::Status> {
    client
        .clone()
        .get_review(authed(
            pb::GetReviewRequest {
                review_id: id.to_string(),
            },
            token,
        ))
        .await
        .map(tonic::Response::into_inner)
}

/// Starts `GetReview` while `table` is locked, so the call waits inside PostgreSQL; returns
/// the call once its session is seen waiting on the lock, and the connection holding it.
async fn call_stuck_on(
    database_url: &str,
    table: &str,
    client: &ReviewRegistryClient<Channel>,
    token: &str,
    id: &str,
) -> (
    tokio::task::JoinHandle<Result<pb::Review, tonic::Status>>,
    sqlx::PgConnection,
) {
    let mut holder = sqlx::PgConnection::connect(database_url)
        .await
        .expect("the lock holder connects");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "BEGIN; LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"
    )))
    .execute(&mut holder)
    .await
    .expect("table locked");
    let call = {
        let (client, token, id) = (client.clone(), token.to_string(), id.to_string());
        tokio::spawn(async move { get_review(&client, &token, &id).await })
    };
    let watcher = sqlx::PgPool::connect(database_url)
        .await
        .expect("the watcher connects");
    testing::wait_until(
        &format!("GetReview waiting on the lock of {table}"),
        DEADLINE,
        || async {
            sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM pg_stat_activity
                 WHERE datname = current_database() AND wait_event_type = 'Lock'",
            )
            .fetch_one(&watcher)
            .await
            .is_ok_and(|waiting| waiting > 0)
        },
    )
    .await;
    watcher.close().await;
    (call, holder)
}

/// Calls made while PostgreSQL is down are UNAVAILABLE; once it is back, they succeed.
async fn unavailable_until_back(
    cluster: &mut PgCluster,
    client: &ReviewRegistryClient<Channel>,
    token: &str,
    id: &str,
) {
    let status = get_review(client, token, id)
        .await
        .expect_err("no database, no review");
    assert_eq!(status.code(), Code::Unavailable, "while down: {status:?}");
    cluster.start_again().await;
    let review = testing::eventually("GetReview to answer again", DEADLINE, || async {
        get_review(client, token, id).await.ok()
    })
    .await;
    assert_eq!(review.id, id);
}

#[tokio::test]
async fn calls_are_unavailable_while_postgresql_is_gone_and_answered_once_it_is_back() {
    testing::init();
    let mut cluster = PgCluster::start().await;
    let database_url = cluster.database_url("cspr_registry");
    let addr = format!("127.0.0.1:{}", testing::free_port());
    let prefix = testing::unique("pgout");
    // Killed when dropped, so a failed test leaves no server behind.
    let mut server = tokio::process::Command::new(env!("CARGO_BIN_EXE_cspr"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .args(["serve", "registry"])
        .env("CSPR_AUTH_HS256_SECRET", SECRET)
        .env("CSPR_NATS_URL", testing::nats_url())
        .env("CSPR_SUBJECT_PREFIX", &prefix)
        .env("CSPR_REGISTRY_ADDR", &addr)
        .env("CSPR_REGISTRY_DATABASE_URL", &database_url)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("serve starts");
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .expect("endpoint")
        .connect_timeout(Duration::from_secs(5))
        .connect_lazy();
    testing::wait_serving(channel.clone(), cspr_registry::GRPC_NAME).await;
    let client = ReviewRegistryClient::new(channel);
    let token = admin_token();
    let day = |year, month, day| Some(Date { year, month, day });
    let id = client
        .clone()
        .create_review(authed(
            pb::CreateReviewRequest {
                request_id: "outage".into(),
                child_alias: "Child Q".into(),
                local_authority: "Southvale Council".into(),
                incident_date: day(2026, 3, 9),
                became_aware_on: day(2026, 3, 10),
            },
            &token,
        ))
        .await
        .expect("review created")
        .into_inner()
        .id;

    // A stop ends the session reading the review; a crash cuts the connection the read's
    // audit record is being written on (the audit writer's callers learn it was lost).
    for (fault, table) in [(Fault::Stop, "reviews"), (Fault::Crash, "audit_records")] {
        let (call, holder) = call_stuck_on(&database_url, table, &client, &token, &id).await;
        match fault {
            Fault::Stop => cluster.stop().await,
            Fault::Crash => cluster.crash().await,
        }
        drop(holder);
        let status = call
            .await
            .expect("the call ends")
            .expect_err("its database went away");
        assert_eq!(
            status.code(),
            Code::Unavailable,
            "in flight at a {fault:?} (waiting on {table}): {status:?}"
        );
        unavailable_until_back(&mut cluster, &client, &token, &id).await;
    }

    assert!(
        matches!(server.try_wait(), Ok(None)),
        "the same process answered throughout, without a restart"
    );
    drop(server);
    testing::delete_streams(&testing::nats_url(), &prefix).await;
}
