//! A service started with the platform's builder notices when one of its tasks dies: a
//! panicking background job turns health NOT_SERVING, [`RunningService::ended`] names the
//! task and its cause, and [`RunningService::stopped`] returns the failure.

use std::time::Duration;

use chrono::NaiveDate;
use cspr_platform::server::{Ending, ServiceBuilder, StartError};
use cspr_platform::testing::{self, EchoApi, TestSetup};
use cspr_proto::bench::v1::echo_server::EchoServer;
use tonic::server::NamedService;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

const GRPC_NAME: &str = <EchoServer<EchoApi> as NamedService>::NAME;

/// A context for the echo service with its own database and subject prefix, both removed
/// when the setup is dropped (after a failed assertion too).
async fn setup() -> TestSetup {
    TestSetup::new(
        "registry",
        NaiveDate::from_ymd_opt(2026, 4, 20).expect("date"),
    )
    .await
}

async fn health_of(health: &mut HealthClient<tonic::transport::Channel>, service: &str) -> i32 {
    health
        .check(HealthCheckRequest {
            service: service.to_string(),
        })
        .await
        .map(|response| response.into_inner().status)
        .unwrap_or(ServingStatus::Unknown as i32)
}

#[tokio::test]
async fn a_panicking_background_task_turns_health_not_serving() {
    // Arrange: a service whose job panics when the test says so.
    let setup = setup().await;
    let shutdown = setup.shutdown.clone();
    let (fail, failed) = tokio::sync::oneshot::channel::<()>();
    let running = ServiceBuilder::new(setup.context.clone(), EchoServer::new(EchoApi), || {
        sqlx::migrate!("./migrations")
    })
    .job("doomed job", move |shutdown| async move {
        tokio::select! {
            _ = shutdown.cancelled() => {}
            _ = failed => panic!("the test asked for it"),
        }
    })
    .start()
    .await
    .expect("starts");
    assert!(running.wait_ready().await, "SERVING first");
    let mut health = HealthClient::new(testing::channel(running.addr).await);
    assert_eq!(
        health_of(&mut health, GRPC_NAME).await,
        ServingStatus::Serving as i32
    );

    // Act: the job panics.
    fail.send(()).expect("the job waits");
    let ending = tokio::time::timeout(Duration::from_secs(10), running.ended())
        .await
        .expect("the failure is noticed");

    // Assert: the task and its cause are named, health is NOT_SERVING for the service and
    // the server as a whole, and stopping reports the failure.
    let Ending::Failed(failure) = ending else {
        panic!("ended without a failure: {ending:?}");
    };
    assert_eq!(failure.task, "doomed job");
    assert!(
        failure.cause.contains("the test asked for it"),
        "{failure:?}"
    );
    assert_eq!(
        health_of(&mut health, GRPC_NAME).await,
        ServingStatus::NotServing as i32
    );
    assert_eq!(
        health_of(&mut health, "").await,
        ServingStatus::NotServing as i32
    );
    shutdown.cancel();
    let stopped = running.stopped().await;
    assert!(
        matches!(&stopped, Err(StartError::Failed(stopped_failure)) if *stopped_failure == failure),
        "{stopped:?}"
    );
}

#[tokio::test]
async fn tasks_ending_on_shutdown_are_no_failure() {
    let setup = setup().await;
    let shutdown = setup.shutdown.clone();
    let running = ServiceBuilder::new(setup.context.clone(), EchoServer::new(EchoApi), || {
        sqlx::migrate!("./migrations")
    })
    .job("patient job", |shutdown| async move {
        shutdown.cancelled().await
    })
    .start()
    .await
    .expect("starts");
    assert!(running.wait_ready().await);

    shutdown.cancel();

    assert_eq!(running.ended().await, Ending::Shutdown);
    running.stopped().await.expect("a clean stop");
}

#[tokio::test]
async fn a_job_that_returns_while_the_service_runs_is_a_failure() {
    let setup = setup().await;
    let shutdown = setup.shutdown.clone();
    let running = ServiceBuilder::new(setup.context.clone(), EchoServer::new(EchoApi), || {
        sqlx::migrate!("./migrations")
    })
    .job("quitter", |_shutdown| async {})
    .start()
    .await
    .expect("starts");

    let ending = tokio::time::timeout(Duration::from_secs(30), running.ended())
        .await
        .expect("the failure is noticed");

    assert_eq!(
        ending,
        Ending::Failed(cspr_platform::server::TaskFailure {
            task: "quitter".into(),
            cause: "ended before shutdown".into(),
        })
    );
    shutdown.cancel();
    assert!(running.stopped().await.is_err());
}
