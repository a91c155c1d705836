//! ingest: agencies streaming SubmitAgencyReport beside a raw UNNEST insert.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use chrono::NaiveDate;
use cspr_platform::testing::{self, authed};
use cspr_proto::google::r#type::Date;
use cspr_proto::submissions::v1 as submissions;
use cspr_proto::submissions::v1::agency_submissions_client::AgencySubmissionsClient;
use cspr_tests::Stack;

use crate::common::{Services, Setup};
use crate::{INSERT_BATCH, Row, Size, verdict};

/// The entry every agency sends, numbered: the same rows go to the ceiling.
pub(crate) struct EntryRow {
    occurred_on: NaiveDate,
    service: String,
    description: String,
}

/// `count` entries from `first`, one day apart, 500 days round.
pub(crate) fn entry_rows(count: usize, first: NaiveDate) -> Vec<EntryRow> {
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
pub(crate) async fn review_with_requests(
    services: &Services,
    setup: &Setup,
    request_id: &str,
    agencies: usize,
) -> anyhow::Result<String> {
    let id = setup.review_at_decision(request_id).await?;
    setup.set_terms(&id, agencies).await?;
    // The report requests arrive in submissions over the bus.
    let mut submissions =
        AgencySubmissionsClient::connect(format!("http://{}", services.submissions)).await?;
    for _ in 0..2_400 {
        let requests = submissions
            .list_report_requests(authed(
                submissions::ListReportRequestsRequest {
                    review_id: id.clone(),
                    page_size: 200,
                    ..Default::default()
                },
                &setup.admin,
            ))
            .await?
            .into_inner()
            .report_requests;
        if requests.len() == agencies {
            return Ok(id);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    bail!("the report requests of review {id} did not reach submissions within 60 s")
}

/// `agency{index}` streams `rows` as its report for the review; returns how long it took.
pub(crate) async fn submit_report(
    services: &Services,
    review_id: &str,
    index: usize,
    rows: Arc<Vec<EntryRow>>,
) -> anyhow::Result<Duration> {
    let agency_id = format!("agency{index}");
    let token = services.token(&["agency"], Some(&agency_id), &agency_id);
    let mut client =
        AgencySubmissionsClient::connect(format!("http://{}", services.submissions)).await?;
    let header = submissions::SubmitAgencyReportRequest {
        item: Some(submissions::submit_agency_report_request::Item::Header(
            submissions::SubmissionHeader {
                request_id: format!("{agency_id}-{review_id}"),
                review_id: review_id.to_string(),
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
        .with_context(|| format!("{agency_id}'s submission to review {review_id}"))?;
    Ok(sent.elapsed())
}

/// Every agency streams its report at once; then the same rows by raw UNNEST.
pub(crate) async fn ingest(stack: &Stack, size: Size) -> anyhow::Result<Row> {
    eprintln!(
        "ingest: a review asking {} agencies for reports…",
        size.agencies
    );
    let services = Services::of(stack);
    let setup = Setup::new(&services).await?;
    let review_id = review_with_requests(&services, &setup, "bench-ingest", size.agencies).await?;
    let rows = Arc::new(entry_rows(size.entries, setup.dates.first_entry));
    let total = (size.agencies * size.entries) as f64;

    eprintln!(
        "ingest: {} agencies × {} entries through SubmitAgencyReport…",
        size.agencies, size.entries
    );
    let started = Instant::now();
    let submissions: Vec<_> = (0..size.agencies)
        .map(|index| submit_report(&services, &review_id, index, rows.clone()))
        .collect();
    let slowest = futures::future::try_join_all(submissions)
        .await?
        .into_iter()
        .max()
        .unwrap_or_default();
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
        ceiling: Some(ceiling),
        latency: None,
        ceiling_latency: None,
        target: verdict("≥ 0.5", rate / ceiling >= 0.5),
        note: format!(
            "slowest submission {:.2} s; ceiling: one transaction per agency, UNNEST batches of {INSERT_BATCH}, same table shape and index, concurrently",
            slowest.as_secs_f64()
        ),
    })
}

/// The same rows into the same table shape (and index) by UNNEST in batches, one
/// transaction per agency, all agencies at once, in a scratch database.
pub(crate) async fn raw_insert_ceiling(
    rows: &Arc<Vec<EntryRow>>,
    agencies: usize,
) -> anyhow::Result<f64> {
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
