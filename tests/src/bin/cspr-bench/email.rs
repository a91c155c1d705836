//! email: deliveries a second from one notifications instance to a real SMTP server.
//!
//! A review's terms of reference plan one real email (rendered from its template); the
//! harness copies it into `count` pending deliveries to distinct recipients in the
//! notifications database (due as the service's clock sees it; the quick way to queue many:
//! planning is measured by the events scenario), wakes the sender as the service itself does (`pg_notify`), and times until
//! every one is SENT. The SMTP server is the tests' own (`cspr_platform::testing::SmtpSink`,
//! tokio, in the same process), keeping each message in memory.
//! Duplicates are counted from what the server stored (Message-ID is the delivery id).
//!
//! Beside it, the same messages sent straight through the same lettre transport and pool
//! size to the same server: what the SMTP server and lettre manage without the database.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use cspr_notifications::config::MailTarget;
use cspr_notifications::mailer::{Mailer, build_message};
use cspr_notifications::store::DELIVERY_CHANNEL;
use cspr_platform::testing::SmtpSink;
use cspr_tests::Stack;

use crate::common::{Services, Setup};
use crate::{Row, Size, verdict};

/// Recipients of the queued deliveries: `bench-<n>@<domain>`.
const DOMAIN: &str = "email-bench.example.org";
/// Recipients of the ceiling's messages.
const CEILING_DOMAIN: &str = "email-ceiling.example.org";

pub(crate) async fn email(
    stack: &Stack,
    size: Size,
    sink: &SmtpSink,
    concurrency: u32,
) -> anyhow::Result<Row> {
    let count = size.emails;
    let url = stack
        .database_url("notifications")
        .context("notifications' database")?;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(url)
        .await?;

    eprintln!("email: one review's terms of reference, for a real email to copy…");
    let setup = Setup::new(&Services::of(stack)).await?;
    let review_id: uuid::Uuid = setup.review_at_decision("bench-email").await?.parse()?;
    setup.set_terms(&review_id.to_string(), 1).await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    let (template, subject, text, html) = loop {
        let found: Option<(uuid::Uuid, String, String, String)> = sqlx::query_as(
            "SELECT id, subject, body_text, body_html FROM deliveries WHERE review_id = $1 AND template = 'report_requested' AND status = 'SENT'",
        )
        .bind(review_id)
        .fetch_optional(&pool)
        .await?;
        if let Some(found) = found {
            break found;
        }
        if Instant::now() > deadline {
            bail!("the report request email was not sent within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    wait_for_empty_queue(&pool).await?;

    eprintln!("email: {count} deliveries queued, sent by the notifications service…");
    sqlx::query(
        "INSERT INTO deliveries (id, event_id, event_type, template, recipient, partnership_id,
             review_id, review_reference, subject, body_text, body_html, status, attempts,
             next_attempt_at, created_at)
         SELECT gen_random_uuid(), gen_random_uuid(), t.event_type, t.template,
             'bench-' || n || '@' || $3, t.partnership_id, t.review_id, t.review_reference,
             t.subject, t.body_text, t.body_html, 'PENDING', 0, t.next_attempt_at, t.created_at
         FROM deliveries t, generate_series(1, $2) AS n
         WHERE t.id = $1",
    )
    .bind(template)
    .bind(count as i32)
    .bind(DOMAIN)
    .execute(&pool)
    .await?;
    let started = Instant::now();
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(DELIVERY_CHANNEL)
        .execute(&pool)
        .await?;
    let like = format!("%@{DOMAIN}");
    let deadline = Instant::now() + Duration::from_secs(300);
    let elapsed = loop {
        let (sent, failed): (i64, i64) = sqlx::query_as(
            "SELECT count(*) FILTER (WHERE status = 'SENT'), count(*) FILTER (WHERE status = 'FAILED')
             FROM deliveries WHERE recipient LIKE $1",
        )
        .bind(&like)
        .fetch_one(&pool)
        .await?;
        if failed > 0 {
            bail!("{failed} deliveries FAILED");
        }
        if sent == count as i64 {
            break started.elapsed();
        }
        if Instant::now() > deadline {
            bail!("{sent} of {count} sent after 300 s");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let rate = count as f64 / elapsed.as_secs_f64();
    pool.close().await;

    // What the server stored: once each, no more.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (stored, duplicates) = stored_once(sink, DOMAIN);
    if stored != count {
        bail!("the SMTP server stored {stored} distinct messages of {count} sent");
    }

    eprintln!(
        "email: the ceiling, the same {count} messages straight through lettre (pool of {concurrency})…"
    );
    let ceiling = lettre_ceiling(sink, count, concurrency, (&subject, &text, &html)).await?;
    let cores = std::thread::available_parallelism().map_or(1, usize::from) as f64;
    Ok(Row {
        scenario: "email",
        measure: format!("{count} deliveries to SMTP, one notifications instance"),
        unit: "emails/s",
        rate,
        ceiling: Some(ceiling),
        latency: None,
        ceiling_latency: None,
        target: verdict("≥ 200/s, no duplicates", rate >= 200.0 && duplicates == 0),
        note: format!(
            "{:.0} emails/s per core; {duplicates} duplicates stored; SMTP server: the tests' own in-process sink, keeping messages in memory; sender concurrency and lettre pool {concurrency}; ceiling: the same messages through the same lettre transport and pool size, no database",
            rate / cores
        ),
    })
}

/// Waits until nothing is waiting to be sent (earlier scenarios' emails).
async fn wait_for_empty_queue(pool: &sqlx::PgPool) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM deliveries WHERE status IN ('PENDING', 'RETRYING')",
        )
        .fetch_one(pool)
        .await?;
        if waiting == 0 {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{waiting} earlier deliveries still waiting after 120 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Distinct messages the server stored for `domain`, and how many were stored twice.
fn stored_once(sink: &SmtpSink, domain: &str) -> (usize, usize) {
    let suffix = format!("@{domain}");
    let mut ids = HashSet::new();
    let mut duplicates = 0;
    for (recipient, raw) in sink.messages() {
        if !recipient.ends_with(&suffix) {
            continue;
        }
        let id = raw
            .lines()
            .find_map(|line| line.strip_prefix("Message-ID: "))
            .unwrap_or_default()
            .to_string();
        if !ids.insert((recipient, id)) {
            duplicates += 1;
        }
    }
    (ids.len(), duplicates)
}

/// The same message (subject and bodies), `count` times, straight through lettre's pooled transport.
async fn lettre_ceiling(
    sink: &SmtpSink,
    count: usize,
    concurrency: u32,
    (subject, text, html): (&str, &str, &str),
) -> anyhow::Result<f64> {
    let mailer = Arc::new(
        Mailer::new(&MailTarget::Smtp { url: sink.url() }, concurrency)
            .map_err(|error| anyhow::anyhow!(error))?,
    );
    let from = "CSPR reviews <no-reply@cspr.localhost>".parse()?;
    let started = Instant::now();
    let mut senders = Vec::new();
    for worker in 0..concurrency as usize {
        let mailer = mailer.clone();
        let (from, subject, text, html): (lettre::message::Mailbox, String, String, String) = (
            Clone::clone(&from),
            subject.to_string(),
            text.to_string(),
            html.to_string(),
        );
        senders.push(tokio::spawn(async move {
            for n in (worker..count).step_by(concurrency as usize) {
                let message = build_message(
                    &from,
                    &format!("bench-{n}@{CEILING_DOMAIN}"),
                    &subject,
                    &text,
                    &html,
                    None,
                    &uuid::Uuid::new_v4().to_string(),
                )
                .map_err(|error| anyhow::anyhow!(error.message))?;
                mailer
                    .send(message)
                    .await
                    .map_err(|error| anyhow::anyhow!(error.message))?;
            }
            anyhow::Ok(())
        }));
    }
    for sender in senders {
        sender.await??;
    }
    let rate = count as f64 / started.elapsed().as_secs_f64();
    let (stored, _) = stored_once(sink, CEILING_DOMAIN);
    if stored != count {
        bail!("the SMTP server stored {stored} of the ceiling's {count} messages");
    }
    Ok(rate)
}
