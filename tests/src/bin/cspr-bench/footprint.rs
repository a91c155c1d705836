//! footprint: each service's memory idle and under load, and start-up to SERVING, as a
//! deployment runs them: six `cspr serve <service>` processes of this build's binary.
//!
//! Start-up is timed twice: cold (databases created and migrated, streams and consumers
//! created) and warm (the same six restarted against what the first start left, as after a
//! deploy or a crash). Memory is each process's resident set (`VmRSS` in `/proc`): idle
//! three seconds after all are SERVING, and the most seen (sampled every 50 ms) while
//! reviews are read at concurrency 64, created (their events reach every other service) and
//! agencies stream chronologies to submissions.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use cspr_platform::testing::{self, authed};
use cspr_proto::registry::v1 as registry;
use cspr_proto::registry::v1::review_registry_client::ReviewRegistryClient;
use futures::StreamExt as _;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::common::{Services, Setup, channels, drive, seed_reviews, streams_of};
use crate::ingest::{entry_rows, review_with_requests, submit_report};
use crate::{CONCURRENCY, Row, Size, verdict};

/// The six services: name, and the gRPC service their health reports on.
const SERVICES: [(&str, &str); 6] = [
    ("registry", cspr_registry::GRPC_NAME),
    ("submissions", cspr_submissions::GRPC_NAME),
    ("practitioners", cspr_practitioners::GRPC_NAME),
    ("family", cspr_family::GRPC_NAME),
    ("actions", cspr_actions::GRPC_NAME),
    ("notifications", cspr_notifications::GRPC_NAME),
];

/// One running `cspr serve <service>`.
struct Process {
    service: &'static str,
    child: tokio::process::Child,
    pid: u32,
}

pub(crate) async fn footprint(size: Size) -> anyhow::Result<Vec<Row>> {
    let binary = build_cspr().await?;
    let platform = testing::platform_config(&testing::nats_url());
    let mail = tempfile::tempdir().context("a folder for the emails")?;
    let databases: Vec<(&str, String)> = SERVICES
        .iter()
        .map(|(service, _)| {
            (
                *service,
                cspr_platform::config::with_database_name(
                    &testing::server_url(),
                    &testing::unique(&format!("bench_{service}_")),
                ),
            )
        })
        .collect();
    let mut addrs = HashMap::new();
    for (service, _) in SERVICES {
        addrs.insert(service, free_addr()?);
    }
    let mut env: Vec<(String, String)> = vec![
        ("CSPR_DATABASE_URL".into(), testing::server_url()),
        ("CSPR_NATS_URL".into(), testing::nats_url()),
        (
            "CSPR_SUBJECT_PREFIX".into(),
            platform.subject_prefix.clone(),
        ),
        (
            "CSPR_AUTH_HS256_SECRET".into(),
            String::from_utf8_lossy(testing::TEST_SECRET).into_owned(),
        ),
        ("CSPR_AUTH_ISSUER".into(), "cspr-test".into()),
        ("CSPR_AUTH_AUDIENCE".into(), "cspr".into()),
        ("CSPR_MAIL_DIR".into(), mail.path().display().to_string()),
        ("RUST_LOG".into(), "warn".into()),
    ];
    for (service, url) in &databases {
        let upper = service.to_uppercase();
        env.push((format!("CSPR_{upper}_DATABASE_URL"), url.clone()));
        env.push((format!("CSPR_{upper}_ADDR"), addrs[service].to_string()));
    }

    let outcome = async {
        eprintln!("footprint: six `cspr serve <service>` processes, cold start…");
        let (processes, cold) = start_all(&binary, &env, &addrs).await?;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let idle = rss_of(&processes);
        eprintln!("footprint: under load…");
        let services = Services {
            registry: addrs["registry"],
            submissions: addrs["submissions"],
            platform: platform.clone(),
            today: chrono::Utc::now().date_naive(),
        };
        let loaded = under_load(&services, size, &processes).await;
        stop_all(processes).await;
        let peak = loaded?;
        eprintln!("footprint: warm start (the same databases and streams)…");
        let (processes, warm) = start_all(&binary, &env, &addrs).await?;
        stop_all(processes).await;
        anyhow::Ok((cold, warm, idle, peak))
    }
    .await;
    for (_, url) in &databases {
        testing::drop_database(url).await;
    }
    delete_streams(&platform.subject_prefix).await;
    let (cold, warm, idle, peak) = outcome?;

    let mut rows = Vec::new();
    let slowest = |times: &HashMap<&str, Duration>| {
        times
            .values()
            .max()
            .copied()
            .unwrap_or_default()
            .as_secs_f64()
    };
    let per_service = |times: &HashMap<&str, Duration>| {
        SERVICES
            .iter()
            .map(|(service, _)| format!("{service} {:.2}", times[service].as_secs_f64()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    rows.push(Row {
        scenario: "footprint",
        measure: "start-up to SERVING, all six (warm)".into(),
        unit: "s",
        rate: slowest(&warm),
        ceiling: None,
        latency: None,
        ceiling_latency: None,
        target: verdict("< 3 s", slowest(&warm) < 3.0),
        note: format!(
            "warm (restart on existing databases): {} s; cold (databases created and migrated, streams created): {:.2} s — {} s",
            per_service(&warm),
            slowest(&cold),
            per_service(&cold)
        ),
    });
    for (service, _) in SERVICES {
        let idle_mb = idle[service];
        rows.push(Row {
            scenario: "footprint",
            measure: format!("{service}: RSS idle"),
            unit: "MB",
            rate: idle_mb,
            ceiling: None,
            latency: None,
            ceiling_latency: None,
            target: verdict("≤ 50 MB idle", idle_mb <= 50.0),
            note: format!("{:.1} MB at most under load", peak[service]),
        });
    }
    Ok(rows)
}

/// Builds this profile's `cspr` binary (a no-op when up to date); returns its path, next to
/// this harness.
async fn build_cspr() -> anyhow::Result<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = tokio::process::Command::new(cargo);
    command.args(["build", "--quiet", "-p", "cspr"]);
    if !cfg!(debug_assertions) {
        command.arg("--release");
    }
    eprintln!("footprint: building the cspr binary…");
    let status = command.status().await.context("running cargo build")?;
    if !status.success() {
        bail!("cargo build -p cspr failed");
    }
    let binary = std::env::current_exe()?
        .parent()
        .context("the harness' folder")?
        .join("cspr");
    if !binary.exists() {
        bail!("{} not found after building", binary.display());
    }
    Ok(binary)
}

fn free_addr() -> anyhow::Result<SocketAddr> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

/// Starts the six at once; returns them and how long each took to report SERVING.
async fn start_all(
    binary: &Path,
    env: &[(String, String)],
    addrs: &HashMap<&'static str, SocketAddr>,
) -> anyhow::Result<(Vec<Process>, HashMap<&'static str, Duration>)> {
    let started = Instant::now();
    let mut processes = Vec::new();
    for (service, _) in SERVICES {
        let child = tokio::process::Command::new(binary)
            .args(["serve", service])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env.iter().map(|(key, value)| (key, value)))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {} serve {service}", binary.display()))?;
        let pid = child.id().context("a process id")?;
        processes.push(Process {
            service,
            child,
            pid,
        });
    }
    let waits = SERVICES.iter().map(|(service, grpc_name)| async move {
        let addr = addrs[service];
        let deadline = started + Duration::from_secs(60);
        loop {
            if serving(addr, grpc_name).await {
                return anyhow::Ok((*service, started.elapsed()));
            }
            if Instant::now() > deadline {
                bail!("{service} was not SERVING within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    let times = futures::future::try_join_all(waits).await;
    match times {
        Ok(times) => Ok((processes, times.into_iter().collect())),
        Err(error) => {
            stop_all(processes).await;
            Err(error)
        }
    }
}

async fn serving(addr: SocketAddr, grpc_name: &str) -> bool {
    let Ok(channel) = tonic::transport::Endpoint::from_shared(format!("http://{addr}")) else {
        return false;
    };
    let Ok(channel) = channel.connect().await else {
        return false;
    };
    HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: grpc_name.to_string(),
        })
        .await
        .is_ok_and(|response| {
            ServingStatus::try_from(response.into_inner().status) == Ok(ServingStatus::Serving)
        })
}

/// SIGTERM to each (the graceful path a deployment takes), then waits.
async fn stop_all(processes: Vec<Process>) {
    for process in &processes {
        let _ = tokio::process::Command::new("kill")
            .args(["-TERM", &process.pid.to_string()])
            .status()
            .await;
    }
    for mut process in processes {
        if tokio::time::timeout(Duration::from_secs(30), process.child.wait())
            .await
            .is_err()
        {
            eprintln!("{} did not stop in 30 s; killing it", process.service);
            let _ = process.child.kill().await;
        }
    }
}

/// Resident set of each process, MB.
fn rss_of(processes: &[Process]) -> HashMap<&'static str, f64> {
    processes
        .iter()
        .map(|process| (process.service, rss_mb(process.pid)))
        .collect()
}

fn rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmRSS:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Reads at concurrency 64, reviews created (events to every service) and chronologies
/// streamed in, all at once, while sampling memory; returns each process's peak MB.
async fn under_load(
    services: &Services,
    size: Size,
    processes: &[Process],
) -> anyhow::Result<HashMap<&'static str, f64>> {
    let setup = Arc::new(Setup::new(services).await?);
    let ids = Arc::new(seed_reviews(services, &setup.admin, "footprint", size.reviews).await?);
    let review_id =
        review_with_requests(services, &setup, "bench-footprint", size.agencies).await?;

    let done = Arc::new(AtomicBool::new(false));
    let pids: Vec<(&'static str, u32)> = processes.iter().map(|p| (p.service, p.pid)).collect();
    let sampler = {
        let done = done.clone();
        tokio::spawn(async move {
            let mut peak: HashMap<&'static str, f64> = HashMap::new();
            while !done.load(Ordering::Relaxed) {
                for (service, pid) in &pids {
                    let mb = rss_mb(*pid);
                    let entry = peak.entry(service).or_insert(0.0);
                    *entry = entry.max(mb);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            peak
        })
    };

    let registry_channels = channels(services.registry).await?;
    let token = setup.admin.clone();
    let reads = drive(&registry_channels, size, CONCURRENCY, move |channel, n| {
        let request = authed(
            registry::GetReviewRequest {
                review_id: ids[n % ids.len()].clone(),
            },
            &token,
        );
        async move {
            ReviewRegistryClient::new(channel)
                .get_review(request)
                .await?;
            Ok(())
        }
    });
    let creates = seed_reviews(services, &setup.admin, "footprint-load", size.reviews);
    let rows = Arc::new(entry_rows(size.entries, setup.dates.first_entry));
    let ingest = futures::stream::iter(0..size.agencies)
        .map(|index| submit_report(services, &review_id, index, rows.clone()))
        .buffer_unordered(size.agencies)
        .collect::<Vec<_>>();
    let (reads, creates, ingest) = tokio::join!(reads, creates, ingest);
    // The events of the last reviews reach every consumer before sampling stops.
    let quiet = crate::common::wait_for_quiet_bus(&services.platform.subject_prefix).await;
    done.store(true, Ordering::Relaxed);
    let peak = sampler.await?;
    quiet?;
    reads?;
    creates?;
    for submission in ingest {
        submission?;
    }
    Ok(peak)
}

/// The streams the processes created under their subject prefix.
async fn delete_streams(prefix: &str) {
    let Ok(client) = async_nats::connect(testing::nats_url()).await else {
        return;
    };
    let js = async_nats::jetstream::new(client);
    for name in streams_of(&js, prefix).await {
        let _ = js.delete_stream(&name).await;
    }
}
