//! `cspr serve` does not run on half-dead: when a task of a service dies, the process turns
//! that service NOT_SERVING, logs the task and its cause, and exits non-zero so that an
//! orchestrator restarts it.
//!
//! No real fault ends a task (every loop retries its own: a deleted stream or consumer is
//! re-created, NATS and PostgreSQL outages are waited out), so the fault is injected: a
//! test-support build (this test's) makes the task named by `CSPR_TEST_FAIL_TASK` panic on
//! `SIGUSR1`.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Server, cspr};
use cspr_platform::testing;
use tokio_stream::StreamExt;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

#[tokio::test]
async fn a_dead_consumer_turns_the_service_not_serving_and_serve_exits_non_zero() {
    // Arrange: `cspr serve actions`, its registry consumer marked for the fault.
    let addr = format!("127.0.0.1:{}", testing::free_port());
    let database_url = testing::service_config("actions").database_url;
    let prefix = testing::unique("sup");
    let mut server = Server::spawn(
        cspr()
            .args(["serve", "actions"])
            .env(
                "CSPR_AUTH_HS256_SECRET",
                "supervision-test-secret-0123456789",
            )
            .env("CSPR_NATS_URL", testing::nats_url())
            .env("CSPR_SUBJECT_PREFIX", &prefix)
            .env("CSPR_ACTIONS_ADDR", &addr)
            .env("CSPR_ACTIONS_DATABASE_URL", &database_url)
            .env("CSPR_TEST_FAIL_TASK", "actions/consumer of registry")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let pid = server.pid();
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .expect("endpoint")
        .connect_lazy();
    testing::wait_serving(channel.clone(), cspr_actions::GRPC_NAME).await;
    let mut health = HealthClient::new(channel);
    let mut statuses = health
        .watch(HealthCheckRequest {
            service: cspr_actions::GRPC_NAME.to_string(),
        })
        .await
        .expect("health watch")
        .into_inner();
    let first = statuses.next().await.expect("a first status").expect("ok");
    assert_eq!(first.status, ServingStatus::Serving as i32);

    // Act: the consumer task dies.
    let signalled = Command::new("kill")
        .args(["-USR1", &pid])
        .status()
        .expect("kill");
    assert!(signalled.success());

    // Assert: the process reports NOT_SERVING, then exits with code 1 (not killed by the
    // signal: that would have no code), having logged the task and the cause.
    let next = tokio::time::timeout(Duration::from_secs(10), statuses.next())
        .await
        .expect("a status change")
        .expect("the stream goes on")
        .expect("ok");
    assert_eq!(next.status, ServingStatus::NotServing as i32);
    drop(statuses);
    drop(health);
    let child = server.take();
    let output = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::task::spawn_blocking(move || child.wait_with_output()),
    )
    .await
    .expect("serve exits")
    .expect("joined")
    .expect("output");
    let logs = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(1), "{logs}");
    let failure_logged = logs.lines().any(|line| {
        line.contains("ERROR") && line.contains("consumer of registry") && line.contains("panicked")
    });
    assert!(failure_logged, "the task and its cause are logged: {logs}");

    testing::delete_streams(&testing::nats_url(), &prefix).await;
    testing::drop_database(&database_url).await;
}
