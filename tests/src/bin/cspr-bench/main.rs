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

// The table is the output; progress goes to stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod common;
mod email;
mod events;
mod footprint;
mod ingest;
mod read;
mod scale;
mod web;

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use chrono::NaiveDate;
use cspr_notifications::config::MailTarget;
use cspr_platform::testing;
use hdrhistogram::Histogram;
use serde_json::{Value, json};

/// Concurrent callers in the read scenario (quality.md).
const CONCURRENCY: usize = 64;
/// Connections they share (HTTP/2 multiplexes the rest).
const CHANNELS: usize = 4;
/// Rows per UNNEST insert in the ingest ceiling: the submissions service's batch size.
const INSERT_BATCH: usize = 2_000;

const USAGE: &str =
    "usage: cspr-bench <read|ingest|events|email|scale|web|footprint|all> [--quick] [--json PATH]

Scenarios:
  read    GetReview and a ListReviews page at concurrency 64, beside a bare tonic echo
          service answering the same payload sizes.
  ingest  agencies streaming SubmitAgencyReport at once, beside a raw UNNEST insert of the
          same rows into the same table shape.
  events  terms of reference set → report requests in submissions → emails planned in
          notifications (latency paced, throughput flooded), beside raw JetStream
          publish-with-ack and pull consume of the same payload size.
  email   queued deliveries sent by one notifications instance to a local SMTP server
          (the tests' own, in-process), beside the same messages straight through lettre.
  scale   10,000 reviews, 1,000,000 chronology entries and 20,000 actions seeded, then
          p99 of ListReviews pages, GetTimeline, StreamCombinedChronology's first entry
          and ListActions with filters; checks the hot tables saw no sequential scan.
  web     the web front end's dashboard with 10,000 reviews and a chronology page of a
          review with 10,000 entries, 16 browsers at once, beside a bare axum server
          answering a page of the same size.
  footprint
          six `cspr serve <service>` processes (built if needed): start-up to SERVING,
          cold and warm; each one's memory idle and under load.
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
    /// Events scenario: reviews whose terms are set at `event_rate` a second (latency)…
    paced_events: usize,
    event_rate: f64,
    /// …and reviews whose terms are set by many callers at once (throughput).
    flood_events: usize,
    /// Email scenario: deliveries queued at once.
    emails: usize,
    /// Scale scenario: reviews, chronology entries (in reports of this many), actions.
    scale_reviews: usize,
    scale_entries: usize,
    scale_entries_per_report: usize,
    scale_actions: usize,
    /// Web scenario: reviews on the dashboard, entries in the chronology.
    web_reviews: usize,
    web_entries: usize,
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
                paced_events: 5,
                event_rate: 20.0,
                flood_events: 16,
                emails: 50,
                scale_reviews: 200,
                scale_entries: 20_000,
                scale_entries_per_report: 1_000,
                scale_actions: 500,
                web_reviews: 200,
                web_entries: 1_000,
            }
        } else {
            Self {
                warmup: Duration::from_secs(2),
                measure: Duration::from_secs(10),
                reviews: 200,
                agencies: 8,
                entries: 5_000,
                paced_events: 100,
                event_rate: 20.0,
                flood_events: 400,
                emails: 2_000,
                scale_reviews: 10_000,
                scale_entries: 1_000_000,
                scale_entries_per_report: 1_000,
                scale_actions: 20_000,
                web_reviews: 10_000,
                web_entries: 10_000,
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
    /// What the engine underneath does in the same run, where there is one to compare.
    ceiling: Option<f64>,
    latency: Option<Latency>,
    ceiling_latency: Option<Latency>,
    /// quality.md's target and whether this run met it.
    target: String,
    note: String,
}

impl Row {
    fn ratio(&self) -> Option<f64> {
        self.ceiling.map(|ceiling| self.rate / ceiling)
    }
}

/// "≥ 0.5, p99 < 10 ms: met" / "…: **not met**".
fn verdict(target: &str, met: bool) -> String {
    if met {
        format!("{target}: met")
    } else {
        format!("{target}: **not met**")
    }
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
            "read" | "ingest" | "events" | "email" | "scale" | "web" | "footprint" | "all"
                if scenario.is_none() =>
            {
                scenario = Some(arg)
            }
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
    eprintln!("starting an SMTP server (in-process) for the emails…");
    let mut sink = testing::SmtpSink::start().await;
    let mut platform = testing::platform_config(&testing::nats_url());
    platform.database_max_connections = 16;
    // Gauges read once at start, not during the measurements (their full-table counts
    // would also show as sequential scans in the scale scenario's plan check).
    platform.gauge_interval = Duration::from_secs(3600);
    let settings = json!({
        "quick": quick,
        "concurrency": CONCURRENCY,
        "channels": CHANNELS,
        "database_max_connections": platform.database_max_connections,
        "gauge_interval_s": platform.gauge_interval.as_secs(),
        "warmup_s": size.warmup.as_secs_f64(),
        "measure_s": size.measure.as_secs_f64(),
        "reviews": size.reviews,
        "agencies": size.agencies,
        "entries_per_agency": size.entries,
        "events_paced": size.paced_events,
        "events_rate_per_s": size.event_rate,
        "events_flood": size.flood_events,
        "emails": size.emails,
        "mail_concurrency": cspr_tests::MAIL_CONCURRENCY,
        "scale_reviews": size.scale_reviews,
        "scale_entries": size.scale_entries,
        "scale_actions": size.scale_actions,
        "web_reviews": size.web_reviews,
        "web_entries": size.web_entries,
    });
    eprintln!("settings: {settings}");
    eprintln!("starting the six services in-process…");
    let started = Instant::now();
    let stack = cspr_tests::spawn_stack_with(
        platform,
        NaiveDate::from_ymd_opt(2026, 3, 26).context("date")?,
        MailTarget::Smtp { url: sink.url() },
    )
    .await;
    eprintln!("all SERVING in {:.2} s", started.elapsed().as_secs_f64());

    let mut rows = Vec::new();
    let outcome = async {
        if scenario == "read" || scenario == "all" {
            rows.extend(read::read(&stack, size).await?);
        }
        if scenario == "ingest" || scenario == "all" {
            rows.push(ingest::ingest(&stack, size).await?);
        }
        if scenario == "events" || scenario == "all" {
            rows.extend(events::events(&stack, size).await?);
        }
        if scenario == "scale" || scenario == "all" {
            rows.extend(scale::scale(&stack, size).await?);
        }
        if scenario == "web" || scenario == "all" {
            rows.extend(web::web(&stack, size).await?);
        }
        if scenario == "email" || scenario == "all" {
            rows.push(email::email(&stack, size, &sink, cspr_tests::MAIL_CONCURRENCY).await?);
        }
        anyhow::Ok(())
    }
    .await;
    stack.stop().await;
    sink.stop().await;
    outcome?;
    // Separate processes, measured once the in-process services are gone.
    if scenario == "footprint" || scenario == "all" {
        rows.extend(footprint::footprint(size).await?);
    }

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
            "ratio": row.ratio(),
            "target": row.target,
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
        "| scenario | measure | rate | ceiling | ratio | p50 ms | p99 ms | p999 ms | ceiling p50/p99 ms | target |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---|");
    for row in rows {
        let latency = row.latency.map_or_else(
            || "| – | – | –".to_string(),
            |l| format!("| {:.2} | {:.2} | {:.2}", l.p50, l.p99, l.p999),
        );
        let ceiling_latency = row.ceiling_latency.map_or_else(
            || "–".to_string(),
            |l| format!("{:.2} / {:.2}", l.p50, l.p99),
        );
        let ceiling = row
            .ceiling
            .map_or_else(|| "–".to_string(), |c| format!("{c:.0} {}", row.unit));
        let ratio = row
            .ratio()
            .map_or_else(|| "–".to_string(), |r| format!("{r:.2}"));
        let rate = if row.rate >= 100.0 {
            format!("{:.0}", row.rate)
        } else {
            format!("{:.2}", row.rate)
        };
        println!(
            "| {} | {} | {rate} {} | {ceiling} | {ratio} {latency} | {ceiling_latency} | {} |",
            row.scenario, row.measure, row.unit, row.target,
        );
    }
    for row in rows.iter().filter(|row| !row.note.is_empty()) {
        println!("- {} / {}: {}", row.scenario, row.measure, row.note);
    }
}
