//! scale: query latency with a region's worth of data in the databases.
//!
//! Seeds 10,000 reviews through `CreateReview`, 1,000,000 chronology entries through
//! `SubmitAgencyReport` (reviews of ten agencies each; the service writes them with UNNEST
//! batches, so this is as fast as COPY here, and every row is one the API accepted), and
//! actions straight into the actions database (an action needs an approved overview report,
//! a long way through the lifecycle per review; the rows are generated server-side in one
//! statement). Then measures, from a few callers (latency, not throughput: the read scenario
//! does that), ListReviews pages walked deep with their tokens, GetTimeline,
//! StreamCombinedChronology's first entry, and ListActions with filters.
//!
//! Query plans are checked by what PostgreSQL counted: the hot tables' sequential and index
//! scans (`pg_stat_user_tables`) before and after the measured calls. A sequential scan on
//! one of them during the calls is reported in the note.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use cspr_platform::testing::authed;
use cspr_proto::actions::v1 as actions;
use cspr_proto::actions::v1::action_monitoring_client::ActionMonitoringClient;
use cspr_proto::registry::v1 as registry;
use cspr_proto::registry::v1::review_registry_client::ReviewRegistryClient;
use cspr_proto::submissions::v1 as submissions;
use cspr_proto::submissions::v1::agency_submissions_client::AgencySubmissionsClient;
use cspr_tests::Stack;
use futures::StreamExt as _;
use sqlx::PgPool;

use crate::common::{Services, Setup, channels, drive, seed_reviews, wait_for_quiet_bus};
use crate::ingest::{entry_rows, review_with_requests, submit_report};
use crate::{Latency, Row, Size, verdict};

/// Callers during the measured calls.
const CALLERS: usize = 4;
/// Agencies reporting on each review with a chronology.
const AGENCIES: usize = 10;
/// Owner agencies the actions are spread over.
const OWNERS: usize = 20;

/// The tables the measured calls read, by service.
const HOT_TABLES: &[(&str, &[&str])] = &[
    ("registry", &["reviews"]),
    ("submissions", &["chronology_entries", "agency_reports"]),
    ("actions", &["actions"]),
];

pub(crate) async fn scale(stack: &Stack, size: Size) -> anyhow::Result<Vec<Row>> {
    let services = Services::of(stack);
    let setup = Arc::new(Setup::new(&services).await?);
    let started = Instant::now();
    eprintln!(
        "scale: {} reviews through CreateReview…",
        size.scale_reviews
    );
    let reviews =
        Arc::new(seed_reviews(&services, &setup.admin, "scale", size.scale_reviews).await?);

    let chronology_reviews =
        (size.scale_entries / (AGENCIES * size.scale_entries_per_report)).max(1);
    eprintln!(
        "scale: {} chronology entries: {chronology_reviews} reviews × {AGENCIES} agencies × {} entries through SubmitAgencyReport…",
        chronology_reviews * AGENCIES * size.scale_entries_per_report,
        size.scale_entries_per_report
    );
    let rows = Arc::new(entry_rows(
        size.scale_entries_per_report,
        setup.dates.first_entry,
    ));
    let mut with_chronology = Vec::with_capacity(chronology_reviews);
    for index in 0..chronology_reviews {
        let id = review_with_requests(
            &services,
            &setup,
            &format!("bench-scale-chronology-{index}"),
            AGENCIES,
        )
        .await?;
        let submissions: Vec<_> = (0..AGENCIES)
            .map(|agency| submit_report(&services, &id, agency, rows.clone()))
            .collect();
        futures::future::try_join_all(submissions).await?;
        with_chronology.push(id);
        if (index + 1) % 10 == 0 {
            eprintln!(
                "  {} of {chronology_reviews} reviews' chronologies",
                index + 1
            );
        }
    }
    let with_chronology = Arc::new(with_chronology);

    let databases = Databases::connect(stack).await?;
    eprintln!(
        "scale: {} actions into the actions database…",
        size.scale_actions
    );
    let actions_seeded = databases.seed_actions(&reviews, size.scale_actions).await?;
    eprintln!(
        "scale: seeded in {:.0} s; waiting for PostgreSQL's statistics to settle…",
        started.elapsed().as_secs_f64()
    );
    databases.analyze().await?;
    eprintln!("scale: waiting for every consumer to take in the seeding's events…");
    wait_for_quiet_bus(&stack.platform.subject_prefix).await?;
    let before = databases.scans().await?;

    let admin = setup.admin.clone();
    let mut rows_out = Vec::new();
    let registry_channels = channels(stack.registry.addr).await?;

    eprintln!("scale: ListReviews pages of 50, walked with their tokens, {CALLERS} callers…");
    let token = admin.clone();
    let pages = Arc::new(std::sync::Mutex::new(vec![String::new(); CALLERS]));
    let (rate, histogram) = drive(&registry_channels, size, CALLERS, move |channel, n| {
        let pages = pages.clone();
        let caller = n % CALLERS;
        let page_token = pages.lock().map(|p| p[caller].clone()).unwrap_or_default();
        let request = authed(
            registry::ListReviewsRequest {
                page_size: 50,
                page_token,
                ..Default::default()
            },
            &token,
        );
        async move {
            let page = ReviewRegistryClient::new(channel)
                .list_reviews(request)
                .await?
                .into_inner();
            if let Ok(mut pages) = pages.lock() {
                pages[caller] = page.next_page_token;
            }
            Ok(())
        }
    })
    .await?;
    rows_out.push(scale_row(
        format!("ListReviews page of 50, {} reviews", size.scale_reviews),
        rate,
        &histogram,
    ));

    eprintln!("scale: GetTimeline, {CALLERS} callers…");
    let token = admin.clone();
    let ids = reviews.clone();
    let (rate, histogram) = drive(&registry_channels, size, CALLERS, move |channel, n| {
        let request = authed(
            registry::GetTimelineRequest {
                review_id: ids[(n * 7_919) % ids.len()].clone(),
            },
            &token,
        );
        async move {
            ReviewRegistryClient::new(channel)
                .get_timeline(request)
                .await?;
            Ok(())
        }
    })
    .await?;
    rows_out.push(scale_row("GetTimeline".into(), rate, &histogram));

    eprintln!("scale: StreamCombinedChronology, time to the first entry, {CALLERS} callers…");
    let submissions_channels = channels(stack.submissions.addr).await?;
    let token = admin.clone();
    let ids = with_chronology.clone();
    let (rate, histogram) = drive(&submissions_channels, size, CALLERS, move |channel, n| {
        let request = authed(
            submissions::StreamCombinedChronologyRequest {
                review_id: ids[n % ids.len()].clone(),
                include_pending: true,
                agency_id: String::new(),
                // The first entry is what is measured: the stream ends after it.
                limit: 1,
            },
            &token,
        );
        async move {
            let mut stream = AgencySubmissionsClient::new(channel)
                .stream_combined_chronology(request)
                .await?
                .into_inner();
            match stream.next().await {
                Some(entry) => Ok(entry.map(drop)?),
                None => Err(tonic::Status::data_loss("an empty chronology").into()),
            }
        }
    })
    .await?;
    rows_out.push(scale_row(
        format!(
            "StreamCombinedChronology first entry ({} entries a review)",
            AGENCIES * size.scale_entries_per_report
        ),
        rate,
        &histogram,
    ));

    eprintln!("scale: ListActions with filters, {CALLERS} callers…");
    let actions_channels = channels(stack.actions.addr).await?;
    let token = admin.clone();
    let (rate, histogram) = drive(&actions_channels, size, CALLERS, move |channel, n| {
        // Alternately: one owner's actions in progress, and everything overdue.
        let request = if n % 2 == 0 {
            actions::ListActionsRequest {
                owner_agency: format!("agency{}", n % OWNERS),
                status: actions::ActionStatus::InProgress as i32,
                page_size: 50,
                ..Default::default()
            }
        } else {
            actions::ListActionsRequest {
                overdue_only: true,
                page_size: 50,
                ..Default::default()
            }
        };
        let request = authed(request, &token);
        async move {
            ActionMonitoringClient::new(channel)
                .list_actions(request)
                .await?;
            Ok(())
        }
    })
    .await?;
    rows_out.push(scale_row(
        format!("ListActions (owner + status; overdue), {actions_seeded} actions"),
        rate,
        &histogram,
    ));

    let after = databases.scans().await?;
    databases.close().await;
    let mut plans = Vec::new();
    let mut sequential = Vec::new();
    for ((table, seq_before, idx_before), (_, seq_after, idx_after)) in before.iter().zip(&after) {
        plans.push(format!(
            "{table}: {} index scans, {} sequential",
            idx_after - idx_before,
            seq_after - seq_before
        ));
        if seq_after > seq_before {
            sequential.push(table.clone());
        }
    }
    let plans = if sequential.is_empty() {
        format!(
            "no sequential scan on the hot tables ({})",
            plans.join("; ")
        )
    } else {
        format!(
            "SEQUENTIAL SCANS on {} ({})",
            sequential.join(", "),
            plans.join("; ")
        )
    };
    eprintln!("scale: {plans}");
    let data = format!(
        "{} reviews, {} chronology entries, {actions_seeded} actions in the databases",
        size.scale_reviews + chronology_reviews,
        chronology_reviews * AGENCIES * size.scale_entries_per_report,
    );
    for (index, row) in rows_out.iter_mut().enumerate() {
        row.note = if index == 0 {
            format!("{CALLERS} callers; {data}; {plans}")
        } else {
            format!("{CALLERS} callers; data and plans as above")
        };
    }
    Ok(rows_out)
}

fn scale_row(measure: String, rate: f64, histogram: &hdrhistogram::Histogram<u64>) -> Row {
    let latency = Latency::of(histogram);
    Row {
        scenario: "scale",
        measure,
        unit: "req/s",
        rate,
        ceiling: None,
        latency: Some(latency),
        ceiling_latency: None,
        target: verdict("p99 < 20 ms", latency.p99 < 20.0),
        note: String::new(),
    }
}

/// The databases the scenario seeds directly or reads statistics from.
struct Databases {
    pools: Vec<(&'static str, PgPool)>,
}

impl Databases {
    async fn connect(stack: &Stack) -> anyhow::Result<Self> {
        let mut pools = Vec::new();
        for (service, _) in HOT_TABLES {
            let url = stack
                .database_url(service)
                .with_context(|| format!("{service}'s database"))?;
            pools.push((
                *service,
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(1)
                    .connect(url)
                    .await?,
            ));
        }
        Ok(Self { pools })
    }

    fn pool(&self, service: &str) -> anyhow::Result<&PgPool> {
        self.pools
            .iter()
            .find(|(name, _)| *name == service)
            .map(|(_, pool)| pool)
            .with_context(|| format!("{service}'s database"))
    }

    async fn close(&self) {
        for (_, pool) in &self.pools {
            pool.close().await;
        }
    }

    /// `count` actions over the seeded reviews (once the actions service has heard of
    /// them): one recommendation each, owners `agency0`…, due dates spread over 2025–2026
    /// (some overdue), statuses mixed. Returns how many were written.
    async fn seed_actions(&self, reviews: &[String], count: usize) -> anyhow::Result<i64> {
        let pool = self.pool("actions")?;
        let per_review = 10_usize;
        let chosen: Vec<uuid::Uuid> = reviews
            .iter()
            .take(count.div_ceil(per_review))
            .map(|id| id.parse())
            .collect::<Result<_, _>>()?;
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let known: i64 =
                sqlx::query_scalar("SELECT count(*) FROM reviews WHERE review_id = ANY($1)")
                    .bind(&chosen)
                    .fetch_one(pool)
                    .await?;
            if known == chosen.len() as i64 {
                break;
            }
            if Instant::now() > deadline {
                bail!(
                    "the actions service knows {known} of {} reviews after 300 s",
                    chosen.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        sqlx::query(
            "INSERT INTO recommendations (review_id, ref, text)
             SELECT review_id, 'R1', 'Agencies share information at the point of referral'
             FROM unnest($1::uuid[]) AS review_id",
        )
        .bind(&chosen)
        .execute(pool)
        .await?;
        let written = sqlx::query(
            "INSERT INTO actions (id, review_id, partnership_id, recommendation_ref, description,
                 owner_agency, owner_email, due_date, measure_of_success, status,
                 created_at, updated_at)
             SELECT gen_random_uuid(), r.review_id, r.partnership_id, 'R1',
                 'Audit referral information sharing, round ' || n,
                 'agency' || ((n + k) % $3), 'owner' || ((n + k) % $3) || '@agency.example.org',
                 date '2025-06-01' + ((n * 37 + k) % 540)::int,
                 'Audit shows information shared in 95% of referrals',
                 (ARRAY['NOT_STARTED', 'IN_PROGRESS', 'COMPLETED', 'VERIFIED'])[1 + ((n + k) % 4)::int],
                 now() - make_interval(secs => k * $2 + n), now()
             FROM (SELECT review_id, partnership_id, row_number() OVER () AS k
                   FROM reviews WHERE review_id = ANY($1)) AS r,
                  generate_series(1, $2) AS n",
        )
        .bind(&chosen)
        .bind(per_review as i32)
        .bind(OWNERS as i32)
        .execute(pool)
        .await?
        .rows_affected();
        Ok(written as i64)
    }

    /// Fresh planner statistics, as autovacuum would have after a load like this.
    async fn analyze(&self) -> anyhow::Result<()> {
        for (service, tables) in HOT_TABLES {
            for table in *tables {
                sqlx::query(sqlx::AssertSqlSafe(format!("ANALYZE {table}")))
                    .execute(self.pool(service)?)
                    .await?;
            }
        }
        Ok(())
    }

    /// (table, sequential scans, index scans) of each hot table.
    async fn scans(&self) -> anyhow::Result<Vec<(String, i64, i64)>> {
        // Backends report their counts at most once a second, and an idle one within ten.
        tokio::time::sleep(Duration::from_secs(11)).await;
        let mut scans = Vec::new();
        for (service, tables) in HOT_TABLES {
            for table in *tables {
                let (seq, idx): (i64, i64) = sqlx::query_as(
                    "SELECT seq_scan, coalesce(idx_scan, 0) FROM pg_stat_user_tables WHERE relname = $1",
                )
                .bind(table)
                .fetch_one(self.pool(service)?)
                .await
                .with_context(|| format!("statistics of {service}'s {table}"))?;
                scans.push((format!("{service}.{table}"), seq, idx));
            }
        }
        Ok(scans)
    }
}
