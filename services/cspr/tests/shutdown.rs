//! SIGTERM under load, with a health Watch stream open (docs/quality.md's fault matrix):
//! `cspr serve registry` answers NOT_SERVING for `CSPR_SHUTDOWN_DRAIN` while it still
//! serves, so that a load balancer stops sending first; then it stops accepting, lets the
//! calls in flight finish, and exits within `CSPR_SHUTDOWN_GRACE` of the signal even though
//! a client never hangs up its Watch stream, logging what it cut off. Every review it
//! acknowledged is stored once, and none it did not.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{Server, cspr};
use cspr_platform::testing;
use cspr_proto::google::r#type::Date;
use cspr_proto::registry::v1::CreateReviewRequest;
use cspr_proto::registry::v1::review_registry_client::ReviewRegistryClient;
use tokio_stream::StreamExt;
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

const DRAIN: Duration = Duration::from_secs(2);
const GRACE: Duration = Duration::from_secs(6);
/// Concurrent clients creating reviews, each on its own connection.
const CLIENTS: usize = 4;

fn endpoint(addr: &str) -> Endpoint {
    Endpoint::from_shared(format!("http://{addr}"))
        .expect("endpoint")
        .connect_timeout(Duration::from_secs(1))
}

/// What one client's calls came to: the aliases acknowledged, those refused (with their
/// code), and how many were acknowledged after SIGTERM.
#[derive(Default)]
struct Load {
    acknowledged: BTreeSet<String>,
    refused: BTreeMap<String, Refused>,
    acknowledged_after_signal: usize,
}

/// How a call was refused: by the server, or by the client's own transport.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Refused {
    Server(tonic::Code, String),
    Transport(tonic::Code, String),
}

/// Creates reviews one after another until a call is refused or `stop` is set.
async fn create_reviews(
    channel: Channel,
    client_index: usize,
    token: String,
    signalled: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    acknowledged: Arc<AtomicUsize>,
) -> Load {
    let mut client = ReviewRegistryClient::new(channel);
    let mut load = Load::default();
    let day = |day| {
        Some(Date {
            year: 2026,
            month: 3,
            day,
        })
    };
    for call in 0.. {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let alias = format!("Load {client_index}-{call}");
        let after_signal = signalled.load(Ordering::SeqCst);
        let created = client
            .create_review(testing::authed(
                CreateReviewRequest {
                    request_id: alias.clone(),
                    child_alias: alias.clone(),
                    local_authority: "Southvale Council".into(),
                    incident_date: day(9),
                    became_aware_on: day(10),
                },
                &token,
            ))
            .await;
        match created {
            Ok(_) => {
                acknowledged.fetch_add(1, Ordering::SeqCst);
                load.acknowledged_after_signal += usize::from(after_signal);
                load.acknowledged.insert(alias);
            }
            Err(status) => {
                // A status the client's transport made (the connection went before an
                // answer; it has the transport error as its source) says nothing of the
                // server: such a call counts as never sent, which the checks of what was
                // stored below hold it to. One the server sent has no source.
                let code = if std::error::Error::source(&status).is_some() {
                    Refused::Transport(status.code(), status.message().to_string())
                } else {
                    Refused::Server(status.code(), status.message().to_string())
                };
                load.refused.insert(alias, code);
                break;
            }
        }
    }
    load
}

/// What a probe on a fresh connection got (as kubelet's gRPC probe connects each time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Probe {
    Status(i32),
    /// The call failed on an open port.
    Failed,
    /// No connection: the listener is closed.
    Refused,
}

async fn probe(addr: &str) -> Probe {
    let Ok(channel) = endpoint(addr).connect().await else {
        return Probe::Refused;
    };
    match HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
    {
        Ok(response) => Probe::Status(response.into_inner().status),
        Err(_) => Probe::Failed,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_under_load_drains_not_serving_finishes_calls_and_exits_within_the_grace_period() {
    // Arrange: `cspr serve registry` with a short drain and grace period.
    testing::init();
    let addr = format!("127.0.0.1:{}", testing::free_port());
    let database_url = testing::service_config("registry").database_url;
    let platform = testing::platform_config(&testing::nats_url());
    let prefix = platform.subject_prefix.clone();
    let mut serving = Server::spawn(
        cspr()
            .args(["serve", "registry"])
            .env(
                "CSPR_AUTH_HS256_SECRET",
                std::str::from_utf8(testing::TEST_SECRET).expect("text"),
            )
            .env("CSPR_AUTH_ISSUER", "cspr-test")
            .env("CSPR_NATS_URL", &platform.nats_url)
            .env("CSPR_SUBJECT_PREFIX", &prefix)
            .env("CSPR_REGISTRY_ADDR", &addr)
            .env("CSPR_REGISTRY_DATABASE_URL", &database_url)
            .env(
                "CSPR_SHUTDOWN_DRAIN",
                humantime::format_duration(DRAIN).to_string(),
            )
            .env(
                "CSPR_SHUTDOWN_GRACE",
                humantime::format_duration(GRACE).to_string(),
            )
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let pid = serving.pid();
    testing::wait_serving(endpoint(&addr).connect_lazy(), cspr_registry::GRPC_NAME).await;
    let token = testing::token(
        &platform,
        "southvale",
        &["partnership_admin"],
        None,
        "alice",
    );

    // A client-side health checker's Watch stream, never hung up by the client.
    let mut watch = HealthClient::new(endpoint(&addr).connect().await.expect("connects"))
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("watch")
        .into_inner();
    let first = watch.next().await.expect("a first status").expect("ok");
    assert_eq!(first.status, ServingStatus::Serving as i32);
    let watcher = tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Some(item) = watch.next().await {
            let item = item.map(|response| response.status);
            let ended = item.is_err();
            seen.push((Instant::now(), item));
            if ended {
                break;
            }
        }
        (Instant::now(), seen)
    });

    // Load: clients creating reviews, and probes every 100 ms on fresh connections.
    let signalled = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for client_index in 0..CLIENTS {
        clients.push(tokio::spawn(create_reviews(
            endpoint(&addr).connect().await.expect("connects"),
            client_index,
            token.clone(),
            Arc::clone(&signalled),
            Arc::clone(&stop),
            Arc::clone(&acknowledged),
        )));
    }
    let prober = {
        let addr = addr.clone();
        tokio::spawn(async move {
            let mut probes = Vec::new();
            loop {
                let result = probe(&addr).await;
                probes.push((Instant::now(), result));
                if result == Probe::Refused {
                    return probes;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    testing::wait_until("the load to be served", testing::DEADLINE, || {
        let acknowledged = acknowledged.load(Ordering::SeqCst);
        async move { acknowledged >= 20 }
    })
    .await;

    // Act: SIGTERM.
    let signalled_at = Instant::now();
    signalled.store(true, Ordering::SeqCst);
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let child = serving.take();
    let exit = tokio::time::timeout(
        GRACE + Duration::from_secs(10),
        tokio::task::spawn_blocking(move || {
            let output = child.wait_with_output();
            (Instant::now(), output)
        }),
    )
    .await;
    stop.store(true, Ordering::SeqCst);

    // Assert: the process exited with code 0 within the grace period, no sooner than the
    // drain, and logged what it cut off (the Watch stream).
    let (exited_at, output) = exit
        .expect("the process exits after SIGTERM despite the open Watch stream")
        .expect("joined");
    let output = output.expect("output");
    let logs = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let took = exited_at - signalled_at;
    assert_eq!(output.status.code(), Some(0), "{logs}");
    assert!(
        took <= GRACE + Duration::from_secs(1),
        "exited {took:?} after SIGTERM, the grace period is {GRACE:?}: {logs}"
    );
    assert!(
        took >= DRAIN,
        "exited {took:?} after SIGTERM, before the drain"
    );
    let cut_off: Vec<&str> = logs
        .lines()
        .filter(|line| line.contains("calls in flight cut off"))
        .collect();
    assert!(
        matches!(cut_off.as_slice(), [line] if line.contains("grpc.health.v1.Health/Watch ×1")),
        "the Watch stream cut off is logged: {logs}"
    );
    assert!(
        !cut_off[0].contains("CreateReview"),
        "no call of the load was still in flight at the end: {logs}"
    );

    // Probes on fresh connections saw NOT_SERVING from SIGTERM until the listener closed,
    // which was not before the drain was over.
    let probes = prober.await.expect("prober");
    let after: Vec<_> = probes.iter().filter(|(at, _)| *at > signalled_at).collect();
    let not_serving = Probe::Status(ServingStatus::NotServing as i32);
    assert!(
        after.iter().any(|(_, result)| *result == not_serving),
        "a probe saw NOT_SERVING during the drain: {after:?}"
    );
    // From the first NOT_SERVING on: NOT_SERVING until the port closed. A probe whose
    // connection the server closed just after accepting it (the drain ended) may fail.
    let from_first: Vec<Probe> = after
        .iter()
        .map(|(_, result)| *result)
        .skip_while(|result| *result != not_serving)
        .collect();
    let answered = from_first
        .iter()
        .take_while(|result| **result == not_serving)
        .count();
    assert!(
        from_first[answered..]
            .iter()
            .all(|result| matches!(result, Probe::Failed | Probe::Refused)),
        "NOT_SERVING until the port closed, never SERVING again: {after:?}"
    );
    let (closed_at, _) = probes.last().expect("probes");
    assert!(
        *closed_at - signalled_at >= DRAIN - Duration::from_millis(150),
        "the listener closed {:?} after SIGTERM, before the drain of {DRAIN:?} was over",
        *closed_at - signalled_at
    );

    // The Watch stream heard NOT_SERVING, then was cut off (the client never hung up).
    let (_, watched) = watcher.await.expect("watcher");
    assert!(
        watched.iter().any(
            |(_, item)| matches!(item, Ok(status) if *status == ServingStatus::NotServing as i32)
        ),
        "the Watch stream heard NOT_SERVING: {watched:?}"
    );
    assert!(
        matches!(watched.last(), Some((_, Err(_)))),
        "the server ended the Watch stream: {watched:?}"
    );

    // Load: calls were served during the drain; every acknowledged review is stored once,
    // and no refused one is: a client's call after the listener closed is refused
    // (UNAVAILABLE), or CANCELLED by the client's own transport when it was still queued on
    // the connection the server closed (hyper's "connection closed": never sent).
    let mut acknowledged = BTreeSet::new();
    let mut refused = BTreeMap::new();
    let mut after_signal = 0;
    for client in clients {
        let load = client.await.expect("client");
        acknowledged.extend(load.acknowledged);
        refused.extend(load.refused);
        after_signal += load.acknowledged_after_signal;
    }
    assert!(
        after_signal > 0,
        "calls were served after SIGTERM, during the drain"
    );
    assert!(
        refused.values().all(|refusal| match refusal {
            Refused::Server(code, _) =>
                [tonic::Code::Unavailable, tonic::Code::Cancelled].contains(code),
            Refused::Transport(..) => true,
        }),
        "the server refused only as UNAVAILABLE or CANCELLED: {refused:?}"
    );
    let pool = sqlx::PgPool::connect(&database_url)
        .await
        .expect("database");
    let stored: Vec<String> = sqlx::query_scalar("SELECT child_alias FROM reviews")
        .fetch_all(&pool)
        .await
        .expect("reviews");
    pool.close().await;
    let stored_once: BTreeSet<String> = stored.iter().cloned().collect();
    let lost: Vec<_> = acknowledged.difference(&stored_once).collect();
    let unacknowledged: Vec<_> = stored_once.difference(&acknowledged).collect();
    // The figures, with TEST_LOG=info.
    tracing::info!(
        acknowledged = acknowledged.len(),
        after_signal,
        stored = stored.len(),
        refused = refused.len(),
        lost = lost.len(),
        doubled = stored.len() - stored_once.len(),
        ?took,
        "SIGTERM under load"
    );
    assert!(lost.is_empty(), "acknowledged but not stored: {lost:?}");
    assert_eq!(stored.len(), stored_once.len(), "a review stored twice");
    assert!(
        unacknowledged.is_empty(),
        "stored but the client was not told: {unacknowledged:?}"
    );

    testing::delete_streams(&platform.nats_url, &prefix).await;
    testing::drop_database(&database_url).await;
}
