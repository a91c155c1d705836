//! `cspr-bench`: how fast cspr is, beside what the engines underneath can do on the same
//! machine in the same run (see `BENCHMARKS.md` and `shared/docs/quality.md`).
//!
//! ```text
//! cargo run --release -p cspr-tests --bin cspr-bench -- all          # every scenario
//! cargo run --release -p cspr-tests --bin cspr-bench -- read --quick # a smoke run
//! ```
//!
//! It starts every service in-process (the same `start` functions `cspr serve all` uses)
//! against the local PostgreSQL and NATS, loads data through the public gRPC APIs, drives
//! load from many tasks, records latencies in HDR histograms, measures the ceiling, prints a
//! table and writes JSON (`--json`, default `target/cspr-bench.json`). `--quick` makes every
//! scenario small and short: CI runs it so the harness keeps working; it asserts nothing
//! about speed.

#![forbid(unsafe_code)]
// The table is the output; progress goes to stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use chrono::NaiveDate;
use cspr_notifications::config::MailTarget;
use cspr_platform::testing::{self, authed};
use cspr_proto::bench::v1 as bench;
use cspr_proto::bench::v1::echo_client::EchoClient;
use cspr_proto::bench::v1::echo_server::{Echo, EchoServer};
use cspr_proto::google::r#type::Date;
use cspr_proto::registry::v1 as registry;
use cspr_proto::registry::v1::review_registry_client::ReviewRegistryClient;
use cspr_proto::submissions::v1 as submissions;
use cspr_proto::submissions::v1::agency_submissions_client::AgencySubmissionsClient;
use cspr_tests::Stack;
use hdrhistogram::Histogram;
use prost::Message as _;
use serde_json::{Value, json};
use tonic::transport::Channel;

/// Concurrent callers in the read scenario (quality.md).
const CONCURRENCY: usize = 64;
/// Connections they share (HTTP/2 multiplexes the rest).
const CHANNELS: usize = 4;
/// Rows per UNNEST insert in the ingest ceiling: the submissions service's batch size.
const INSERT_BATCH: usize = 2_000;

const USAGE: &str = "usage: cspr-bench <read|ingest|all> [--quick] [--json PATH]

Scenarios:
  read    GetReview and a ListReviews page at concurrency 64, beside a bare tonic echo
          service answering the same payload sizes.
  ingest  agencies streaming SubmitAgencyReport at once, beside a raw UNNEST insert of the
          same rows into the same table shape.
  all     every scenario above.

Needs PostgreSQL and NATS (CSPR_TEST_DATABASE_URL, CSPR_TEST_NATS_URL; defaults are the
local servers). Build with --release: debug figures mean little.";

/// How big and how long.
#[derive(Debug, Clone, Copy)]
struct Size {
    warmup: Duration,
    measure: Duration,
    reviews: usize,
    agencies: usize,
    entries: usize,
}

impl Size {
    fn new(quick: bool) -> Self {
        if quick {
            Self {
                warmup: Duration::from_millis(200),
                measure: Duration::from_millis(500),
                reviews: 10,
                agencies: 2,
                entries: 1_000,
            }
        } else {
            Self {
                warmup: Duration::from_secs(2),
                measure: Duration::from_secs(10),
                reviews: 200,
                agencies: 8,
                entries: 5_000,
            }
        }
    }
}

/// One line of the results table.
struct Row {
    scenario: &'static str,
    measure: String,
    unit: &'static str,
    rate: f64,
    ceiling: f64,
    latency: Option<Latency>,
    ceiling_latency: Option<Latency>,
    note: String,
}

#[derive(Debug, Clone, Copy)]
struct Latency {
    p50: f64,
    p99: f64,
    p999: f64,
}

impl Latency {
    /// Percentiles in milliseconds of a microsecond histogram.
    fn of(histogram: &Histogram<u64>) -> Self {
        let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
        Self {
            p50: ms(0.50),
            p99: ms(0.99),
            p999: ms(0.999),
        }
    }

    fn json(&self) -> Value {
        json!({ "p50_ms": self.p50, "p99_ms": self.p99, "p999_ms": self.p999 })
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut scenario = None;
    let mut quick = false;
    let mut json_path = std::path::PathBuf::from("target/cspr-bench.json");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--json" => json_path = args.next().context("--json needs a path")?.into(),
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            "read" | "ingest" | "all" if scenario.is_none() => scenario = Some(arg),
            other => bail!("unexpected argument {other:?}\n\n{USAGE}"),
        }
    }
    let Some(scenario) = scenario else {
        bail!("which scenario?\n\n{USAGE}");
    };
    let size = Size::new(quick);
    if cfg!(debug_assertions) && !quick {
        eprintln!("warning: a debug build; use --release for figures worth recording");
    }

    testing::init();
    let machine = machine().await?;
    eprintln!("machine: {machine}");
    let mail = tempfile::tempdir().context("a folder for the emails")?;
    let mut platform = testing::platform_config(&testing::nats_url());
    platform.database_max_connections = 16;
    let settings = json!({
        "quick": quick,
        "concurrency": CONCURRENCY,
        "channels": CHANNELS,
        "database_max_connections": platform.database_max_connections,
        "warmup_s": size.warmup.as_secs_f64(),
        "measure_s": size.measure.as_secs_f64(),
        "reviews": size.reviews,
        "agencies": size.agencies,
        "entries_per_agency": size.entries,
    });
    eprintln!("settings: {settings}");
    eprintln!("starting the six services in-process…");
    let started = Instant::now();
    let stack = cspr_tests::spawn_stack_with(
        platform,
        NaiveDate::from_ymd_opt(2026, 3, 26).context("date")?,
        MailTarget::Files {
            directory: mail.path().to_path_buf(),
        },
    )
    .await;
    eprintln!("all SERVING in {:.2} s", started.elapsed().as_secs_f64());

    let mut rows = Vec::new();
    let outcome = async {
        if scenario == "read" || scenario == "all" {
            rows.extend(read(&stack, size).await?);
        }
        if scenario == "ingest" || scenario == "all" {
            rows.push(ingest(&stack, size).await?);
        }
        anyhow::Ok(())
    }
    .await;
    stack.stop().await;
    outcome?;

    print_table(&rows);
    let report = json!({
        "machine": machine,
        "settings": settings,
        "results": rows.iter().map(|row| json!({
            "scenario": row.scenario,
            "measure": row.measure,
            "unit": row.unit,
            "rate": row.rate,
            "ceiling": row.ceiling,
            "ratio": row.rate / row.ceiling,
            "latency": row.latency.map(|l| l.json()),
            "ceiling_latency": row.ceiling_latency.map(|l| l.json()),
            "note": row.note,
        })).collect::<Vec<_>>(),
    });
    if let Some(parent) = json_path.parent() {
        std::fs::create_dir_all(parent).ok();
    }
    std::fs::write(&json_path, serde_json::to_string_pretty(&report)?)
        .with_context(|| format!("writing {}", json_path.display()))?;
    eprintln!("wrote {}", json_path.display());
    Ok(())
}

/// Cores, memory, and the engines' versions.
async fn machine() -> anyhow::Result<String> {
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("MemTotal:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or_else(
            || "unknown memory".to_string(),
            |kb| format!("{:.1} GiB", kb / 1024.0 / 1024.0),
        );
    let pool = sqlx::PgPool::connect(&testing::server_url())
        .await
        .context("PostgreSQL (CSPR_TEST_DATABASE_URL)")?;
    let postgres: String = sqlx::query_scalar("SHOW server_version")
        .fetch_one(&pool)
        .await?;
    pool.close().await;
    Ok(format!(
        "{cores} cores, {memory}, PostgreSQL {postgres}, tonic 0.14, sqlx 0.9, {} build",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    ))
}

fn print_table(rows: &[Row]) {
    println!();
    println!(
        "| scenario | measure | rate | ceiling | ratio | p50 ms | p99 ms | p999 ms | ceiling p50/p99 ms |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for row in rows {
        let latency = row.latency.map_or_else(
            || "| – | – | –".to_string(),
            |l| format!("| {:.2} | {:.2} | {:.2}", l.p50, l.p99, l.p999),
        );
        let ceiling_latency = row.ceiling_latency.map_or_else(
            || "–".to_string(),
            |l| format!("{:.2} / {:.2}", l.p50, l.p99),
        );
        println!(
            "| {} | {} | {:.0} {unit} | {:.0} {unit} | {:.2} {latency} | {ceiling_latency} |",
            row.scenario,
            row.measure,
            row.rate,
            row.ceiling,
            row.rate / row.ceiling,
            unit = row.unit,
        );
    }
    for row in rows.iter().filter(|row| !row.note.is_empty()) {
        println!("- {} / {}: {}", row.scenario, row.measure, row.note);
    }
}

fn date(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

fn agency(index: usize) -> registry::Agency {
    registry::Agency {
        id: format!("agency{index}"),
        name: format!("Southvale agency {index}"),
        contact_email: format!("lead@agency{index}.southvale.example.org"),
    }
}

async fn channels(addr: SocketAddr) -> anyhow::Result<Vec<Channel>> {
    let mut channels = Vec::with_capacity(CHANNELS);
    for _ in 0..CHANNELS {
        channels.push(
            Channel::from_shared(format!("http://{addr}"))?
                .connect()
                .await
                .with_context(|| format!("connecting to {addr}"))?,
        );
    }
    Ok(channels)
}

/// Runs `call` from [`CONCURRENCY`] tasks over `channels`: a warm-up, then `size.measure`
/// of recorded calls. Returns calls per second and the latency histogram (µs).
async fn drive<F, Fut>(
    channels: &[Channel],
    size: Size,
    call: F,
) -> anyhow::Result<(f64, Histogram<u64>)>
where
    F: Fn(Channel, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), tonic::Status>> + Send,
{
    let call = Arc::new(call);
    let started = Instant::now();
    let record_from = started + size.warmup;
    let stop_at = record_from + size.measure;
    let mut tasks = Vec::with_capacity(CONCURRENCY);
    for task in 0..CONCURRENCY {
        let channel = channels[task % channels.len()].clone();
        let call = call.clone();
        tasks.push(tokio::spawn(async move {
            let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
            let mut calls = 0_usize;
            loop {
                let sent = Instant::now();
                if sent >= stop_at {
                    break;
                }
                call(channel.clone(), task + calls * CONCURRENCY).await?;
                if sent >= record_from {
                    histogram.saturating_record(sent.elapsed().as_micros() as u64);
                }
                calls += 1;
            }
            anyhow::Ok(histogram)
        }));
    }
    let mut merged = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    for task in tasks {
        merged.add(task.await??)?;
    }
    let rate = merged.len() as f64 / size.measure.as_secs_f64();
    Ok((rate, merged))
}

/// The ceiling: answers `reply_bytes` of zeros, nothing else.
struct BareEcho;

#[tonic::async_trait]
impl Echo for BareEcho {
    async fn echo(
        &self,
        request: tonic::Request<bench::EchoRequest>,
    ) -> Result<tonic::Response<bench::EchoReply>, tonic::Status> {
        Ok(tonic::Response::new(bench::EchoReply {
            payload: vec![0; request.into_inner().reply_bytes as usize],
        }))
    }
}

async fn spawn_echo() -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move {
        let _ = tonic::transport::Server::builder()
            .add_service(EchoServer::new(BareEcho))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
            .await;
    });
    Ok((addr, server))
}

/// Echo at the given sizes, as the ceiling of a real RPC.
async fn echo_ceiling(
    channels: &[Channel],
    size: Size,
    request_bytes: usize,
    reply_bytes: usize,
) -> anyhow::Result<(f64, Histogram<u64>)> {
    let padding = vec![7_u8; request_bytes];
    drive(channels, size, move |channel, _| {
        let request = bench::EchoRequest {
            padding: padding.clone(),
            reply_bytes: reply_bytes as u32,
        };
        async move {
            EchoClient::new(channel).echo(request).await?;
            Ok(())
        }
    })
    .await
}

/// Creates `count` reviews through the API; returns their ids.
async fn seed_reviews(stack: &Stack, admin: &str, count: usize) -> anyhow::Result<Vec<String>> {
    let mut client = ReviewRegistryClient::connect(format!("http://{}", stack.registry.addr))
        .await
        .context("registry")?;
    let mut ids = Vec::with_capacity(count);
    for index in 0..count {
        let review = client
            .create_review(authed(
                registry::CreateReviewRequest {
                    request_id: format!("bench-{index}"),
                    child_alias: format!("Child {index}"),
                    local_authority: "Southvale Council".into(),
                    incident_date: date(2026, 3, 9),
                    became_aware_on: date(2026, 3, 10),
                },
                admin,
            ))
            .await
            .context("creating a review")?
            .into_inner();
        ids.push(review.id);
    }
    Ok(ids)
}

/// GetReview and a ListReviews page at concurrency 64, each beside the echo ceiling.
async fn read(stack: &Stack, size: Size) -> anyhow::Result<Vec<Row>> {
    let admin = stack.token("southvale", &["partnership_admin"], None, "bench");
    eprintln!("read: seeding {} reviews…", size.reviews);
    let ids = Arc::new(seed_reviews(stack, &admin, size.reviews).await?);
    let registry_channels = channels(stack.registry.addr).await?;
    let (echo_addr, echo_server) = spawn_echo().await?;
    let echo_channels = channels(echo_addr).await?;

    // The payload sizes the echo must match.
    let mut client = ReviewRegistryClient::new(registry_channels[0].clone());
    let sample_get = registry::GetReviewRequest {
        review_id: ids[0].clone(),
    };
    let sample_review = client
        .get_review(authed(sample_get.clone(), &admin))
        .await?
        .into_inner();
    let sample_list = registry::ListReviewsRequest {
        page_size: 50,
        ..Default::default()
    };
    let sample_page = client
        .list_reviews(authed(sample_list.clone(), &admin))
        .await?
        .into_inner();

    let mut rows = Vec::new();
    eprintln!("read: GetReview at concurrency {CONCURRENCY}…");
    let token = admin.clone();
    let get_ids = ids.clone();
    let (rate, histogram) = drive(&registry_channels, size, move |channel, n| {
        let request = authed(
            registry::GetReviewRequest {
                review_id: get_ids[n % get_ids.len()].clone(),
            },
            &token,
        );
        async move {
            ReviewRegistryClient::new(channel)
                .get_review(request)
                .await?;
            Ok(())
        }
    })
    .await?;
    eprintln!("read: echo ceiling for GetReview's sizes…");
    let (ceiling, ceiling_histogram) = echo_ceiling(
        &echo_channels,
        size,
        sample_get.encoded_len(),
        sample_review.encoded_len(),
    )
    .await?;
    rows.push(Row {
        scenario: "read",
        measure: "GetReview".into(),
        unit: "req/s",
        rate,
        ceiling,
        latency: Some(Latency::of(&histogram)),
        ceiling_latency: Some(Latency::of(&ceiling_histogram)),
        note: format!(
            "ceiling: bare tonic echo, {} B request / {} B reply",
            sample_get.encoded_len(),
            sample_review.encoded_len()
        ),
    });

    eprintln!("read: ListReviews (first page of 50) at concurrency {CONCURRENCY}…");
    let token = admin.clone();
    let (rate, histogram) = drive(&registry_channels, size, move |channel, _| {
        let request = authed(
            registry::ListReviewsRequest {
                page_size: 50,
                ..Default::default()
            },
            &token,
        );
        async move {
            ReviewRegistryClient::new(channel)
                .list_reviews(request)
                .await?;
            Ok(())
        }
    })
    .await?;
    eprintln!("read: echo ceiling for ListReviews' sizes…");
    let (ceiling, ceiling_histogram) = echo_ceiling(
        &echo_channels,
        size,
        sample_list.encoded_len(),
        sample_page.encoded_len(),
    )
    .await?;
    rows.push(Row {
        scenario: "read",
        measure: format!("ListReviews page ({} reviews)", sample_page.reviews.len()),
        unit: "req/s",
        rate,
        ceiling,
        latency: Some(Latency::of(&histogram)),
        ceiling_latency: Some(Latency::of(&ceiling_histogram)),
        note: format!(
            "ceiling: bare tonic echo, {} B request / {} B reply",
            sample_list.encoded_len(),
            sample_page.encoded_len()
        ),
    });
    echo_server.abort();
    Ok(rows)
}

/// The entry every agency sends, numbered: the same rows go to the ceiling.
struct EntryRow {
    occurred_on: NaiveDate,
    service: String,
    description: String,
}

fn entry_rows(count: usize) -> Vec<EntryRow> {
    let first = NaiveDate::from_ymd_opt(2024, 10, 1).expect("date");
    (0..count)
        .map(|n| EntryRow {
            occurred_on: first + chrono::Duration::days((n % 500) as i64),
            service: "Home visit".into(),
            description: format!(
                "Entry {n}: visited the family at home; the child was seen and spoken to alone."
            ),
        })
        .collect()
}

/// A review with its terms of reference naming `agencies`, so each has a report request.
async fn review_with_requests(stack: &Stack, agencies: usize) -> anyhow::Result<String> {
    let admin = stack.token("southvale", &["partnership_admin"], None, "bench");
    let chair = stack.token("southvale", &["panel_chair"], None, "chair");
    let mut client = ReviewRegistryClient::connect(format!("http://{}", stack.registry.addr))
        .await
        .context("registry")?;
    let id = client
        .create_review(authed(
            registry::CreateReviewRequest {
                request_id: "bench-ingest".into(),
                child_alias: "Child I".into(),
                local_authority: "Southvale Council".into(),
                incident_date: date(2026, 3, 9),
                became_aware_on: date(2026, 3, 10),
            },
            &admin,
        ))
        .await?
        .into_inner()
        .id;
    client
        .record_notification_sent(authed(
            registry::RecordNotificationSentRequest {
                review_id: id.clone(),
                sent_on: date(2026, 3, 11),
                ..Default::default()
            },
            &admin,
        ))
        .await?;
    client
        .record_decision(authed(
            registry::RecordDecisionRequest {
                review_id: id.clone(),
                decision: registry::Decision::LocalCspr as i32,
                decided_on: date(2026, 3, 26),
                rationale: String::new(),
            },
            &chair,
        ))
        .await?;
    client
        .set_terms_of_reference(authed(
            registry::SetTermsOfReferenceRequest {
                review_id: id.clone(),
                scope_start: date(2024, 9, 15),
                scope_end: date(2026, 3, 9),
                key_lines_of_enquiry: vec!["Information sharing".into()],
                methodology: "Systems approach".into(),
                agencies_in_scope: (0..agencies).map(agency).collect(),
                report_due_date: date(2026, 5, 1),
            },
            &admin,
        ))
        .await?;
    // The report requests arrive in submissions over the bus.
    let mut submissions =
        AgencySubmissionsClient::connect(format!("http://{}", stack.submissions.addr)).await?;
    for _ in 0..400 {
        let requests = submissions
            .list_report_requests(authed(
                submissions::ListReportRequestsRequest {
                    review_id: id.clone(),
                    page_size: 200,
                    ..Default::default()
                },
                &admin,
            ))
            .await?
            .into_inner()
            .report_requests;
        if requests.len() == agencies {
            return Ok(id);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    bail!("the report requests did not reach submissions")
}

/// Every agency streams its report at once; then the same rows by raw UNNEST.
async fn ingest(stack: &Stack, size: Size) -> anyhow::Result<Row> {
    eprintln!(
        "ingest: a review asking {} agencies for reports…",
        size.agencies
    );
    let review_id = review_with_requests(stack, size.agencies).await?;
    let rows = Arc::new(entry_rows(size.entries));
    let total = (size.agencies * size.entries) as f64;

    eprintln!(
        "ingest: {} agencies × {} entries through SubmitAgencyReport…",
        size.agencies, size.entries
    );
    let started = Instant::now();
    let mut tasks = Vec::new();
    for index in 0..size.agencies {
        let agency_id = format!("agency{index}");
        let token = stack.token("southvale", &["agency"], Some(&agency_id), &agency_id);
        let addr = stack.submissions.addr;
        let review_id = review_id.clone();
        let rows = rows.clone();
        tasks.push(tokio::spawn(async move {
            let mut client = AgencySubmissionsClient::connect(format!("http://{addr}")).await?;
            let header = submissions::SubmitAgencyReportRequest {
                item: Some(submissions::submit_agency_report_request::Item::Header(
                    submissions::SubmissionHeader {
                        request_id: format!("{agency_id}-bench"),
                        review_id,
                        agency_id: agency_id.clone(),
                        author_name: "Sam Lead".into(),
                        author_role: "Named safeguarding lead".into(),
                        narrative: Some(submissions::Narrative {
                            summary: "Summary".into(),
                            analysis_of_involvement: "Analysis".into(),
                            learning: "Learning".into(),
                            ..Default::default()
                        }),
                        entry_count: rows.len() as i64,
                    },
                )),
            };
            let entries = (0..rows.len()).map(move |n| {
                let row = &rows[n];
                submissions::SubmitAgencyReportRequest {
                    item: Some(submissions::submit_agency_report_request::Item::Entry(
                        submissions::ChronologyEntry {
                            occurred_on: Some(Date {
                                year: chrono::Datelike::year(&row.occurred_on),
                                month: chrono::Datelike::month(&row.occurred_on) as i32,
                                day: chrono::Datelike::day(&row.occurred_on) as i32,
                            }),
                            service: row.service.clone(),
                            description: row.description.clone(),
                            ..Default::default()
                        },
                    )),
                }
            });
            let stream = futures::stream::iter(std::iter::once(header).chain(entries));
            let sent = Instant::now();
            client
                .submit_agency_report(authed(stream, &token))
                .await
                .with_context(|| format!("{agency_id}'s submission"))?;
            anyhow::Ok(sent.elapsed())
        }));
    }
    let mut slowest = Duration::ZERO;
    for task in tasks {
        slowest = slowest.max(task.await??);
    }
    let rate = total / started.elapsed().as_secs_f64();

    eprintln!("ingest: the same rows by raw UNNEST insert (the ceiling)…");
    let ceiling = raw_insert_ceiling(&rows, size.agencies).await?;
    Ok(Row {
        scenario: "ingest",
        measure: format!(
            "SubmitAgencyReport, {} agencies × {} entries",
            size.agencies, size.entries
        ),
        unit: "entries/s",
        rate,
        ceiling,
        latency: None,
        ceiling_latency: None,
        note: format!(
            "slowest submission {:.2} s; ceiling: one transaction per agency, UNNEST batches of {INSERT_BATCH}, same table shape and index, concurrently",
            slowest.as_secs_f64()
        ),
    })
}

/// The same rows into the same table shape (and index) by UNNEST in batches, one
/// transaction per agency, all agencies at once, in a scratch database.
async fn raw_insert_ceiling(rows: &Arc<Vec<EntryRow>>, agencies: usize) -> anyhow::Result<f64> {
    let url = cspr_platform::config::with_database_name(
        &testing::server_url(),
        &testing::unique("bench_"),
    );
    cspr_platform::db::create_database_if_missing(&url).await?;
    let outcome = async {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(agencies as u32)
            .connect(&url)
            .await?;
        sqlx::raw_sql(
            "CREATE TABLE chronology_entries (
                report_id UUID NOT NULL, seq INTEGER NOT NULL, review_id UUID NOT NULL,
                occurred_on DATE NOT NULL, time_of_day TEXT NOT NULL, service TEXT NOT NULL,
                practitioner_name TEXT NOT NULL, practitioner_role TEXT NOT NULL,
                description TEXT NOT NULL, outcome TEXT NOT NULL,
                PRIMARY KEY (report_id, seq));
             CREATE INDEX chronology_by_review_date ON chronology_entries
                (review_id, occurred_on, time_of_day, report_id, seq);",
        )
        .execute(&pool)
        .await?;
        let review_id = uuid::Uuid::new_v4();
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..agencies {
            let pool = pool.clone();
            let rows = rows.clone();
            tasks.push(tokio::spawn(async move {
                let report_id = uuid::Uuid::new_v4();
                let mut transaction = pool.begin().await?;
                for (batch, chunk) in rows.chunks(INSERT_BATCH).enumerate() {
                    let seqs: Vec<i32> = (0..chunk.len())
                        .map(|n| (batch * INSERT_BATCH + n) as i32)
                        .collect();
                    let dates: Vec<NaiveDate> = chunk.iter().map(|row| row.occurred_on).collect();
                    let empty: Vec<String> = vec![String::new(); chunk.len()];
                    let services: Vec<&str> = chunk.iter().map(|row| row.service.as_str()).collect();
                    let descriptions: Vec<&str> =
                        chunk.iter().map(|row| row.description.as_str()).collect();
                    sqlx::query(
                        "INSERT INTO chronology_entries (report_id, seq, review_id, occurred_on, time_of_day, service,
                             practitioner_name, practitioner_role, description, outcome)
                         SELECT $1, seq, $2, occurred_on, time_of_day, service, practitioner_name, practitioner_role, description, outcome
                         FROM UNNEST($3::int[], $4::date[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])
                              AS t(seq, occurred_on, time_of_day, service, practitioner_name, practitioner_role, description, outcome)",
                    )
                    .bind(report_id)
                    .bind(review_id)
                    .bind(&seqs)
                    .bind(&dates)
                    .bind(&empty)
                    .bind(&services)
                    .bind(&empty)
                    .bind(&empty)
                    .bind(&descriptions)
                    .bind(&empty)
                    .execute(&mut *transaction)
                    .await?;
                }
                transaction.commit().await?;
                anyhow::Ok(())
            }));
        }
        for task in tasks {
            task.await??;
        }
        let rate = (agencies * rows.len()) as f64 / started.elapsed().as_secs_f64();
        pool.close().await;
        anyhow::Ok(rate)
    }
    .await;
    testing::drop_database(&url).await;
    outcome
}
