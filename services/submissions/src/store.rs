//! The submissions database: the only place with SQL.
//!
//! A submission holds no transaction while its stream waits for the client: its entries are
//! staged in batches (`INSERT … SELECT FROM UNNEST` into `staged_entries`), each in a short
//! transaction of its own, under a stage id that takes no lock on the request. Only when the
//! stream ends cleanly does one transaction lock the request, claim the request id, check
//! the request again, write the report with its version, move the staged entries into
//! `chronology_entries`, write the event and audit, and delete the stage. A stream that
//! breaks off deletes its stage; the stage sweep deletes those of a process that died.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};
use cspr_platform::auth::Principal;
use cspr_platform::bus::outbox::{self, EventMeta};
use cspr_platform::convert::date_to_proto;
use cspr_platform::idempotency::{self, RequestKey};
use cspr_platform::jobs::{Page, next_page};
use cspr_platform::metrics::Readings;
use cspr_platform::pagination::Cursor;
use cspr_platform::projection::reviews::Review;
use cspr_platform::store::{DuePage, StoreParts, fetch_keyed};
use cspr_proto::events::v1::{self as ev, Actor, event::Body};
use sqlx::{PgConnection, PgExecutor, PgPool};
use uuid::Uuid;

use crate::domain::{self, Entry, Narrative, ReportStatus};
use crate::error::SubmissionsError;

/// Entries staged per batch (one short transaction each): enough to amortise the round
/// trip, few enough that a stream's memory stays small.
const STAGE_BATCH: usize = 500;
/// A batch is also staged once its text reaches this many bytes (entries may be long).
const STAGE_BATCH_BYTES: usize = 1024 * 1024;
/// While entries arrive, the stage is written (and so touched) at least this often.
const STAGE_TOUCH: std::time::Duration = std::time::Duration::from_secs(60);

/// What the service knows of a review: the common projection holds all it needs (the scope
/// period bounds the chronology).
pub type ReviewInfo = Review;

/// A report request as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RequestRecord {
    pub id: Uuid,
    pub review_id: Uuid,
    pub agency_id: String,
    pub partnership_id: String,
    pub agency_name: String,
    pub contact_email: String,
    pub due_date: NaiveDate,
    pub status: String,
    pub latest_version: i32,
    pub decision_note: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// From the review projection.
    pub reference: String,
    pub scope_start: Option<NaiveDate>,
    pub scope_end: Option<NaiveDate>,
}

impl RequestRecord {
    pub fn status(&self) -> ReportStatus {
        ReportStatus::parse(&self.status).unwrap_or(ReportStatus::Requested)
    }
}

const REQUEST_COLUMNS: &str = "q.id, q.review_id, q.agency_id, q.partnership_id, q.agency_name, q.contact_email, q.due_date,
    q.status, q.latest_version, q.decision_note, q.created_at, q.updated_at, r.reference, r.scope_start, r.scope_end";

/// One version of a report as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReportRecord {
    pub id: Uuid,
    pub review_id: Uuid,
    pub agency_id: String,
    pub agency_name: String,
    pub version: i32,
    pub status: String,
    pub author_name: String,
    pub author_role: String,
    pub summary: String,
    pub analysis_of_involvement: String,
    pub what_went_well: String,
    pub what_could_have_been_better: String,
    pub learning: String,
    pub entry_count: i64,
    pub content_hash: String,
    pub decision_note: String,
    pub submitted_at: DateTime<Utc>,
    pub submitted_by: String,
}

const REPORT_COLUMNS: &str = "a.id, a.review_id, a.agency_id, q.agency_name, a.version, a.status, a.author_name, a.author_role,
    a.summary, a.analysis_of_involvement, a.what_went_well, a.what_could_have_been_better, a.learning,
    a.entry_count, a.content_hash, a.decision_note, a.submitted_at, a.submitted_by";

/// What a submission stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub review_id: Uuid,
    pub agency_id: String,
    pub version: i32,
    pub entry_count: i64,
    pub content_hash: String,
    pub submitted_at: DateTime<Utc>,
}

/// One row of the combined chronology: an entry, with the report it is from.
#[derive(Debug, Clone)]
pub struct ChronologyRow {
    pub agency_id: String,
    pub agency_name: String,
    pub version: i32,
    pub report_status: String,
    pub entry: Entry,
}

/// An agency to ask for a report.
#[derive(Debug, Clone)]
pub struct AgencyAsk {
    pub agency_id: String,
    pub agency_name: String,
    pub contact_email: String,
    pub due_date: NaiveDate,
}

/// The panel's decision on a report.
#[derive(Debug, Clone)]
pub enum PanelDecision {
    Accept { version: i32 },
    Return { version: i32, missing: String },
    Waive { reason: String },
}

impl PanelDecision {
    fn action(&self) -> &'static str {
        match self {
            PanelDecision::Accept { .. } => "AcceptAgencyReport",
            PanelDecision::Return { .. } => "ReturnAgencyReport",
            PanelDecision::Waive { .. } => "WaiveAgencyReport",
        }
    }
}

/// The validated header of a submission.
#[derive(Debug, Clone)]
pub struct SubmissionStart {
    pub request_id: String,
    pub review_id: Uuid,
    pub agency_id: String,
    pub author_name: String,
    pub author_role: String,
    pub narrative: Narrative,
}

cspr_platform::service_store! {
    /// The submissions service's store: the shared [`StoreParts`] (through which it reads its
    /// pool, outbox, clock and audit log) and the SQL below.
    pub struct Store;
}

fn requested_event(request: &RequestRecord) -> Body {
    Body::AgencyReportRequested(ev::AgencyReportRequested {
        agency_id: request.agency_id.clone(),
        agency_name: request.agency_name.clone(),
        contact_email: request.contact_email.clone(),
        due_date: Some(date_to_proto(request.due_date)),
        review_reference: request.reference.clone(),
        scope_start: request.scope_start.map(date_to_proto),
        scope_end: request.scope_end.map(date_to_proto),
    })
}

impl Store {
    /// Creates (or updates the due date and contact of) one agency's request, writing the
    /// `agency_report_requested` event when it is new or its due date moved.
    pub async fn ask_agency(
        &self,
        connection: &mut PgConnection,
        review_id: Uuid,
        partnership_id: &str,
        ask: &AgencyAsk,
        actor: Actor,
    ) -> Result<RequestRecord, sqlx::Error> {
        let now = self.clock.now();
        let previous_due: Option<NaiveDate> = sqlx::query_scalar(
            "SELECT due_date FROM report_requests WHERE review_id = $1 AND agency_id = $2 FOR UPDATE",
        )
        .bind(review_id)
        .bind(&ask.agency_id)
        .fetch_optional(&mut *connection)
        .await?;
        sqlx::query(
            "INSERT INTO report_requests (id, review_id, agency_id, partnership_id, agency_name, contact_email, due_date, status, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'REQUESTED', $8, $8)
             ON CONFLICT (review_id, agency_id) DO UPDATE SET
                 agency_name = EXCLUDED.agency_name, contact_email = EXCLUDED.contact_email,
                 due_date = EXCLUDED.due_date, updated_at = EXCLUDED.updated_at,
                 status = CASE WHEN report_requests.status = 'WAIVED' THEN 'REQUESTED' ELSE report_requests.status END",
        )
        .bind(Uuid::now_v7())
        .bind(review_id)
        .bind(&ask.agency_id)
        .bind(partnership_id)
        .bind(&ask.agency_name)
        .bind(&ask.contact_email)
        .bind(ask.due_date)
        .bind(now)
        .execute(&mut *connection)
        .await?;
        let request = Self::fetch_request(&mut *connection, review_id, &ask.agency_id, false)
            .await?
            .ok_or(sqlx::Error::RowNotFound)?;
        if previous_due != Some(ask.due_date) {
            let meta = EventMeta {
                partnership_id: partnership_id.to_string(),
                review_id: Some(review_id),
                actor,
            };
            self.outbox
                .enqueue(connection, &meta, requested_event(&request))
                .await?;
        }
        Ok(request)
    }

    // ---- reads

    async fn fetch_request(
        executor: impl PgExecutor<'_>,
        review_id: Uuid,
        agency_id: &str,
        lock: bool,
    ) -> Result<Option<RequestRecord>, sqlx::Error> {
        let select = format!(
            "SELECT {REQUEST_COLUMNS} FROM report_requests q JOIN reviews r ON r.review_id = q.review_id
             WHERE q.review_id = $1 AND q.agency_id = $2"
        );
        fetch_keyed(
            executor,
            &select,
            (review_id, agency_id),
            lock.then_some("q"),
        )
        .await
    }

    /// Requests of the partnership, by review and/or agency, oldest first.
    pub async fn list_requests(
        &self,
        partnership_id: &str,
        review_id: Option<Uuid>,
        agency_id: Option<&str>,
        after: Option<Cursor>,
        limit: i64,
    ) -> Result<Vec<RequestRecord>, sqlx::Error> {
        let sql = format!(
            "SELECT {REQUEST_COLUMNS} FROM report_requests q JOIN reviews r ON r.review_id = q.review_id
             WHERE q.partnership_id = $1
               AND ($2::uuid IS NULL OR q.review_id = $2)
               AND ($3::text IS NULL OR q.agency_id = $3)
               AND ($4::timestamptz IS NULL OR (q.created_at, q.id) > ($4, $5))
             ORDER BY q.created_at, q.id
             LIMIT $6"
        );
        sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(partnership_id)
            .bind(review_id)
            .bind(agency_id)
            .bind(after.map(|cursor| cursor.at))
            .bind(after.map(|cursor| cursor.id))
            .bind(limit)
            .fetch_all(&self.pool)
            .await
    }

    /// One version of an agency's report (the latest when `version` is None).
    pub async fn report(
        &self,
        review_id: Uuid,
        agency_id: &str,
        version: Option<i32>,
    ) -> Result<Option<ReportRecord>, sqlx::Error> {
        let sql = format!(
            "SELECT {REPORT_COLUMNS} FROM agency_reports a
             JOIN report_requests q ON q.review_id = a.review_id AND q.agency_id = a.agency_id
             WHERE a.review_id = $1 AND a.agency_id = $2 AND a.version IS NOT NULL
               AND ($3::int IS NULL OR a.version = $3)
             ORDER BY a.version DESC LIMIT 1"
        );
        sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(review_id)
            .bind(agency_id)
            .bind(version)
            .fetch_optional(&self.pool)
            .await
    }

    /// The latest version of each agency's report for a review, in submission order.
    pub async fn latest_reports(
        &self,
        review_id: Uuid,
        agency_id: Option<&str>,
        after: Option<Cursor>,
        limit: i64,
    ) -> Result<Vec<ReportRecord>, sqlx::Error> {
        let sql = format!(
            "SELECT {REPORT_COLUMNS} FROM agency_reports a
             JOIN report_requests q ON q.review_id = a.review_id AND q.agency_id = a.agency_id
             WHERE a.review_id = $1 AND a.version = q.latest_version
               AND ($2::text IS NULL OR a.agency_id = $2)
               AND ($3::timestamptz IS NULL OR (a.submitted_at, a.id) > ($3, $4))
             ORDER BY a.submitted_at, a.id
             LIMIT $5"
        );
        sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(review_id)
            .bind(agency_id)
            .bind(after.map(|cursor| cursor.at))
            .bind(after.map(|cursor| cursor.id))
            .bind(limit)
            .fetch_all(&self.pool)
            .await
    }

    /// Streams the combined chronology into a channel from a database cursor; the channel's
    /// bound keeps memory flat whatever the size.
    ///
    /// The reports in it (one per agency at most) are found first, so the entries are then
    /// read straight off the `(review_id, occurred_on, …)` index in date order, with no sort:
    /// the first entry leaves as soon as it is read, however long the chronology (a join
    /// read in one statement let the planner sort every entry first; 400 ms for 10,000).
    /// The cursor is planned for its first rows (`cursor_tuple_fraction`).
    /// Both reads share one snapshot (REPEATABLE READ), so a report accepted meanwhile is
    /// either wholly in or wholly out.
    ///
    /// `limit` (None: all) is how many entries the caller will take: the cursor fetches no
    /// more than that, so a page of 100 reads 100 rows, not a round of 500.
    pub fn stream_chronology(
        &self,
        review_id: Uuid,
        include_pending: bool,
        agency_id: Option<String>,
        limit: Option<usize>,
    ) -> tokio::sync::mpsc::Receiver<Result<ChronologyRow, sqlx::Error>> {
        let (sender, receiver) = tokio::sync::mpsc::channel(limit.unwrap_or(256).clamp(1, 256));
        let pool = self.pool.clone();
        tokio::spawn(async move {
            let streamed = stream_chronology_into(
                &pool,
                review_id,
                include_pending,
                agency_id,
                limit,
                &sender,
            )
            .await;
            if let Err(error) = streamed {
                let _ = sender.send(Err(error)).await;
            }
        });
        receiver
    }

    // ---- commands

    /// RequestAgencyReport.
    pub async fn request_report(
        &self,
        principal: &Principal,
        review_id: Uuid,
        ask: AgencyAsk,
    ) -> Result<RequestRecord, SubmissionsError> {
        let mut transaction = self.pool.begin().await?;
        let request = self
            .ask_agency(
                &mut transaction,
                review_id,
                &principal.partnership,
                &ask,
                outbox::actor(principal),
            )
            .await?;
        self.audit_command(
            &mut transaction,
            principal,
            "RequestAgencyReport",
            review_id,
            format!("reviews/{review_id}/reports/{}", ask.agency_id),
        )
        .await?;
        transaction.commit().await?;
        Ok(request)
    }

    /// Accept / return / waive.
    pub async fn decide(
        &self,
        principal: &Principal,
        review_id: Uuid,
        agency_id: &str,
        decision: PanelDecision,
    ) -> Result<RequestRecord, SubmissionsError> {
        let mut transaction = self.pool.begin().await?;
        let request = Self::fetch_request(&mut *transaction, review_id, agency_id, true)
            .await?
            .ok_or_else(|| SubmissionsError::RequestNotFound(agency_id.to_string()))?;
        let status = request.status();
        let (new_status, note, body) = match &decision {
            PanelDecision::Accept { version } => {
                domain::may_decide(status, request.latest_version, *version)?;
                (
                    ReportStatus::Accepted,
                    String::new(),
                    Body::AgencyReportAccepted(ev::AgencyReportAccepted {
                        agency_id: agency_id.to_string(),
                        version: *version,
                    }),
                )
            }
            PanelDecision::Return { version, missing } => {
                domain::may_decide(status, request.latest_version, *version)?;
                (
                    ReportStatus::Returned,
                    missing.clone(),
                    Body::AgencyReportReturned(ev::AgencyReportReturned {
                        agency_id: agency_id.to_string(),
                        version: *version,
                        missing: missing.clone(),
                        contact_email: request.contact_email.clone(),
                        due_date: Some(date_to_proto(request.due_date)),
                        review_reference: request.reference.clone(),
                    }),
                )
            }
            PanelDecision::Waive { reason } => {
                domain::may_waive(status)?;
                (
                    ReportStatus::Waived,
                    reason.clone(),
                    Body::AgencyReportWaived(ev::AgencyReportWaived {
                        agency_id: agency_id.to_string(),
                        reason: reason.clone(),
                    }),
                )
            }
        };
        let now = self.clock.now();
        sqlx::query("UPDATE report_requests SET status = $3, decision_note = $4, updated_at = $5 WHERE review_id = $1 AND agency_id = $2")
            .bind(review_id)
            .bind(agency_id)
            .bind(new_status.as_str())
            .bind(&note)
            .bind(now)
            .execute(&mut *transaction)
            .await?;
        if let PanelDecision::Accept { version } | PanelDecision::Return { version, .. } = &decision
        {
            sqlx::query("UPDATE agency_reports SET status = $4, decision_note = $5 WHERE review_id = $1 AND agency_id = $2 AND version = $3")
                .bind(review_id)
                .bind(agency_id)
                .bind(version)
                .bind(new_status.as_str())
                .bind(&note)
                .execute(&mut *transaction)
                .await?;
        }
        self.record_command(
            &mut transaction,
            principal,
            decision.action(),
            review_id,
            format!("reviews/{review_id}/reports/{agency_id}"),
            [body],
        )
        .await?;
        let updated = Self::fetch_request(&mut *transaction, review_id, agency_id, false)
            .await?
            .ok_or_else(|| SubmissionsError::RequestNotFound(agency_id.to_string()))?;
        transaction.commit().await?;
        Ok(updated)
    }

    /// Starts a submission: checks the request allows it (a plain read: the check is made
    /// again under the lock at the end) and opens its stage, in a statement of its own.
    pub async fn begin_submission(
        &self,
        principal: &Principal,
        start: SubmissionStart,
    ) -> Result<SubmissionWriter, SubmissionsError> {
        let request = Self::fetch_request(&self.pool, start.review_id, &start.agency_id, false)
            .await?
            .ok_or_else(|| SubmissionsError::RequestNotFound(start.agency_id.clone()))?;
        domain::may_submit(request.status())?;
        let stage_id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO staged_submissions (stage_id, partnership_id, review_id, agency_id, started_at, touched_at)
             VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(stage_id)
        .bind(&principal.partnership)
        .bind(start.review_id)
        .bind(&start.agency_id)
        .bind(self.clock.now())
        .execute(&self.pool)
        .await?;
        Ok(SubmissionWriter {
            parts: self.0.clone(),
            stage_id,
            start,
            pending: Vec::with_capacity(STAGE_BATCH),
            pending_bytes: 0,
            staged: 0,
            last_write: tokio::time::Instant::now(),
            practitioners: BTreeSet::new(),
            done: false,
        })
    }

    /// Deletes stages untouched since before `touched_before` (their stream's process
    /// died), a page at a time, skipping any a stream is finishing right now. Returns the
    /// last stage id of a full page (None when done) and how many were deleted.
    pub async fn sweep_stages(
        &self,
        after: Option<Uuid>,
        page_size: i64,
        touched_before: DateTime<Utc>,
    ) -> Result<Page, sqlx::Error> {
        let mut deleted: Vec<Uuid> = sqlx::query_scalar(
            "WITH gone AS (
                 DELETE FROM staged_submissions WHERE stage_id IN (
                     SELECT stage_id FROM staged_submissions
                     WHERE touched_at < $1 AND ($2::uuid IS NULL OR stage_id > $2)
                     ORDER BY stage_id LIMIT $3 FOR UPDATE SKIP LOCKED)
                 RETURNING stage_id),
             entries AS (DELETE FROM staged_entries WHERE stage_id IN (SELECT stage_id FROM gone))
             SELECT stage_id FROM gone",
        )
        .bind(touched_before)
        .bind(after)
        .bind(page_size)
        .fetch_all(&self.pool)
        .await?;
        deleted.sort();
        for stage_id in &deleted {
            tracing::info!(%stage_id, "abandoned submission stage deleted");
        }
        Ok((next_page(&deleted, page_size, |id| *id), deleted.len()))
    }

    /// The receipt of a stored submission.
    async fn receipt(&self, report_id: Uuid) -> Result<Option<Receipt>, sqlx::Error> {
        receipt_of(&self.pool, report_id).await
    }

    /// One page of the reminder sweep: open requests due within `due_soon_days` (or past),
    /// not locked by another replica; raises each reminder once. Returns the last request id
    /// seen (None when done) and how many reminders were raised.
    pub async fn sweep_page(
        &self,
        after: Option<Uuid>,
        page_size: i64,
        due_soon_days: u32,
    ) -> Result<Page, SubmissionsError> {
        let sql = format!(
            "SELECT {REQUEST_COLUMNS} FROM report_requests q JOIN reviews r ON r.review_id = q.review_id
             WHERE q.status IN ('REQUESTED', 'RETURNED') AND q.due_date <= $1 AND ($2::uuid IS NULL OR q.id > $2)
             ORDER BY q.id LIMIT $3 FOR UPDATE OF q SKIP LOCKED"
        );
        let mut page: DuePage<RequestRecord> = self
            .begin_due_page(sqlx::AssertSqlSafe(sql), due_soon_days, after, page_size)
            .await?;
        let today = page.today;
        for request in &page.rows {
            let overdue = request.due_date < today;
            let alert = if overdue { "OVERDUE" } else { "DUE_SOON" };
            let record_alert = sqlx::query(
                "INSERT INTO report_alerts (review_id, agency_id, alert, due_date) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            )
            .bind(request.review_id)
            .bind(&request.agency_id)
            .bind(alert)
            .bind(request.due_date);
            let body = if overdue {
                Body::ReportOverdue(ev::ReportOverdue {
                    agency_id: request.agency_id.clone(),
                    contact_email: request.contact_email.clone(),
                    due_date: Some(date_to_proto(request.due_date)),
                    review_reference: request.reference.clone(),
                })
            } else {
                Body::ReportDueSoon(ev::ReportDueSoon {
                    agency_id: request.agency_id.clone(),
                    contact_email: request.contact_email.clone(),
                    due_date: Some(date_to_proto(request.due_date)),
                    review_reference: request.reference.clone(),
                })
            };
            let meta = EventMeta::system(
                &request.partnership_id,
                request.review_id,
                "system:report-reminders",
            );
            page.alerts.raise_once(record_alert, &meta, body).await?;
        }
        Ok(page.commit(|request| request.id).await?)
    }

    /// A retry of a submission that was already stored returns its receipt.
    pub async fn stored_receipt(&self, report_id: Uuid) -> Result<Option<Receipt>, sqlx::Error> {
        self.receipt(report_id).await
    }
}

#[derive(sqlx::FromRow)]
struct ReceiptRow {
    review_id: Uuid,
    agency_id: String,
    version: Option<i32>,
    entry_count: i64,
    content_hash: String,
    submitted_at: DateTime<Utc>,
}

async fn receipt_of(pool: &PgPool, report_id: Uuid) -> Result<Option<Receipt>, sqlx::Error> {
    let row: Option<ReceiptRow> = sqlx::query_as(
        "SELECT review_id, agency_id, version, entry_count, content_hash, submitted_at FROM agency_reports WHERE id = $1",
    )
    .bind(report_id)
    .fetch_optional(pool)
    .await?;
    Ok(row.and_then(|row| {
        Some(Receipt {
            review_id: row.review_id,
            agency_id: row.agency_id,
            version: row.version?,
            entry_count: row.entry_count,
            content_hash: row.content_hash,
            submitted_at: row.submitted_at,
        })
    }))
}

/// A submission being received: its entries are staged in batches, each batch committed in
/// its own short transaction, so that nothing is held in the database while the stream waits
/// for its client; [`SubmissionWriter::finish`] moves them into the report in one
/// transaction. Dropped without finishing (an error, a cancelled call), it deletes its stage.
pub struct SubmissionWriter {
    /// The store's, for the pool, the events, the audit record and the time.
    parts: StoreParts,
    /// The stage's key in `staged_submissions` and `staged_entries`.
    stage_id: Uuid,
    start: SubmissionStart,
    /// Entries received and not yet staged.
    pending: Vec<Entry>,
    /// Their text, in bytes: a batch is also written once it is this large.
    pending_bytes: usize,
    /// Entries staged so far.
    staged: i64,
    /// When the stage was last written: a slow stream's stage is touched at least every
    /// [`STAGE_TOUCH`] while entries arrive, so the sweep never takes it for abandoned.
    last_write: tokio::time::Instant,
    /// Practitioners named (name, role), for the submitted event.
    practitioners: BTreeSet<(String, String)>,
    /// The stage is gone (moved into the report, or deleted): nothing to clean up on drop.
    done: bool,
}

fn text_bytes(entry: &Entry) -> usize {
    entry.time_of_day.len()
        + entry.service.len()
        + entry.practitioner_name.len()
        + entry.practitioner_role.len()
        + entry.description.len()
        + entry.outcome.len()
}

impl SubmissionWriter {
    /// Entries received so far.
    pub fn count(&self) -> i64 {
        self.staged + self.pending.len() as i64
    }

    pub async fn push(&mut self, entry: Entry) -> Result<(), SubmissionsError> {
        if !entry.practitioner_name.is_empty() {
            self.practitioners.insert((
                entry.practitioner_name.clone(),
                entry.practitioner_role.clone(),
            ));
        }
        self.pending_bytes += text_bytes(&entry);
        self.pending.push(entry);
        if self.pending.len() >= STAGE_BATCH
            || self.pending_bytes >= STAGE_BATCH_BYTES
            || self.last_write.elapsed() >= STAGE_TOUCH
        {
            self.flush().await?;
        }
        Ok(())
    }

    /// Stages the pending entries and touches the stage, in one short transaction.
    async fn flush(&mut self) -> Result<(), SubmissionsError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let entries = std::mem::take(&mut self.pending);
        self.pending_bytes = 0;
        let count = entries.len();
        let mut seqs = Vec::with_capacity(count);
        let mut dates = Vec::with_capacity(count);
        let mut times = Vec::with_capacity(count);
        let mut services = Vec::with_capacity(count);
        let mut names = Vec::with_capacity(count);
        let mut roles = Vec::with_capacity(count);
        let mut descriptions = Vec::with_capacity(count);
        let mut outcomes = Vec::with_capacity(count);
        for (offset, entry) in entries.into_iter().enumerate() {
            seqs.push(i32::try_from(self.staged + offset as i64 + 1).unwrap_or(i32::MAX));
            dates.push(entry.occurred_on);
            times.push(entry.time_of_day);
            services.push(entry.service);
            names.push(entry.practitioner_name);
            roles.push(entry.practitioner_role);
            descriptions.push(entry.description);
            outcomes.push(entry.outcome);
        }
        let mut transaction = self.parts.pool.begin().await?;
        let touched =
            sqlx::query("UPDATE staged_submissions SET touched_at = $2 WHERE stage_id = $1")
                .bind(self.stage_id)
                .bind(self.parts.clock.now())
                .execute(&mut *transaction)
                .await?
                .rows_affected();
        if touched == 0 {
            self.done = true;
            return Err(SubmissionsError::StageDiscarded);
        }
        sqlx::query(
            "INSERT INTO staged_entries (stage_id, seq, occurred_on, time_of_day, service,
                 practitioner_name, practitioner_role, description, outcome)
             SELECT $1, seq, occurred_on, time_of_day, service, practitioner_name, practitioner_role, description, outcome
             FROM UNNEST($2::int[], $3::date[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])
                  AS t(seq, occurred_on, time_of_day, service, practitioner_name, practitioner_role, description, outcome)",
        )
        .bind(self.stage_id)
        .bind(&seqs)
        .bind(&dates)
        .bind(&times)
        .bind(&services)
        .bind(&names)
        .bind(&roles)
        .bind(&descriptions)
        .bind(&outcomes)
        .execute(&mut *transaction)
        .await?;
        transaction.commit().await?;
        self.staged += count as i64;
        self.last_write = tokio::time::Instant::now();
        Ok(())
    }

    /// The stream ended cleanly. In one transaction, under the request's row lock: honour
    /// the request id (a retry of a stored submission returns the first receipt), check
    /// again that the request takes a submission, write the report with its version, move
    /// the staged entries into it, write the event and audit, delete the stage, commit.
    pub async fn finish(
        mut self,
        principal: &Principal,
        content_hash: String,
    ) -> Result<Receipt, SubmissionsError> {
        self.flush().await?;
        let review_id = self.start.review_id;
        let agency_id = self.start.agency_id.clone();
        let mut transaction = self.parts.pool.begin().await?;
        // The stage first, locked: the sweep skips it from here on, or has deleted it.
        let stage: Option<Uuid> = sqlx::query_scalar(
            "SELECT stage_id FROM staged_submissions WHERE stage_id = $1 FOR UPDATE",
        )
        .bind(self.stage_id)
        .fetch_optional(&mut *transaction)
        .await?;
        if stage.is_none() {
            self.done = true;
            return Err(SubmissionsError::StageDiscarded);
        }
        let request = Store::fetch_request(&mut *transaction, review_id, &agency_id, true)
            .await?
            .ok_or_else(|| SubmissionsError::RequestNotFound(agency_id.clone()))?;
        let report_id = Uuid::now_v7();
        // The content is known only once the stream ended, so the key is made here.
        let key = RequestKey {
            operation: "SubmitAgencyReport",
            request_id: self.start.request_id.clone(),
            fingerprint: content_hash.as_bytes().to_vec(),
        };
        let replayed = idempotency::claim_by(&mut transaction, principal, &key, report_id).await?;
        if let Some(existing) = replayed {
            transaction.rollback().await?;
            self.discard().await;
            return receipt_of(&self.parts.pool, existing)
                .await?
                .ok_or_else(|| SubmissionsError::RequestNotFound(agency_id));
        }
        // Checked again under the lock: the panel may have decided while the stream ran.
        domain::may_submit(request.status()).map_err(SubmissionsError::Decision)?;
        let version = request.latest_version + 1;
        let now = self.parts.clock.now();
        let start = &self.start;
        sqlx::query(
            "INSERT INTO agency_reports (id, review_id, agency_id, version, status, author_name, author_role, summary,
                 analysis_of_involvement, what_went_well, what_could_have_been_better, learning, entry_count,
                 content_hash, submitted_at, submitted_by)
             VALUES ($1, $2, $3, $4, 'SUBMITTED', $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind(report_id)
        .bind(review_id)
        .bind(&agency_id)
        .bind(version)
        .bind(&start.author_name)
        .bind(&start.author_role)
        .bind(&start.narrative.summary)
        .bind(&start.narrative.analysis_of_involvement)
        .bind(&start.narrative.what_went_well)
        .bind(&start.narrative.what_could_have_been_better)
        .bind(&start.narrative.learning)
        .bind(self.staged)
        .bind(&content_hash)
        .bind(now)
        .bind(&principal.subject)
        .execute(&mut *transaction)
        .await?;
        let moved = sqlx::query(
            "INSERT INTO chronology_entries (report_id, seq, review_id, occurred_on, time_of_day, service,
                 practitioner_name, practitioner_role, description, outcome)
             SELECT $1, seq, $2, occurred_on, time_of_day, service, practitioner_name, practitioner_role, description, outcome
             FROM staged_entries WHERE stage_id = $3",
        )
        .bind(report_id)
        .bind(review_id)
        .bind(self.stage_id)
        .execute(&mut *transaction)
        .await?
        .rows_affected();
        if i64::try_from(moved).ok() != Some(self.staged) {
            return Err(SubmissionsError::StageDiscarded);
        }
        sqlx::query(DELETE_STAGE)
            .bind(self.stage_id)
            .execute(&mut *transaction)
            .await?;
        sqlx::query(
            "UPDATE report_requests SET status = 'SUBMITTED', latest_version = $3, decision_note = '', updated_at = $4
             WHERE review_id = $1 AND agency_id = $2",
        )
        .bind(review_id)
        .bind(&agency_id)
        .bind(version)
        .bind(now)
        .execute(&mut *transaction)
        .await?;
        let practitioners = std::mem::take(&mut self.practitioners)
            .into_iter()
            .map(|(name, role)| ev::NamedPractitioner {
                name,
                role,
                agency_id: agency_id.clone(),
            })
            .collect();
        let body = Body::AgencyReportSubmitted(ev::AgencyReportSubmitted {
            agency_id: agency_id.clone(),
            version,
            entry_count: self.staged,
            content_hash: content_hash.clone(),
            practitioners,
        });
        self.parts
            .record_command(
                &mut transaction,
                principal,
                "SubmitAgencyReport",
                review_id,
                format!("reviews/{review_id}/reports/{agency_id}/versions/{version}"),
                [body],
            )
            .await?;
        transaction.commit().await?;
        self.done = true;
        Ok(Receipt {
            review_id,
            agency_id,
            version,
            entry_count: self.staged,
            content_hash,
            submitted_at: now,
        })
    }

    /// Deletes the stage and its entries now; a failure is left to the sweep.
    async fn discard(&mut self) {
        self.done = true;
        delete_stage(&self.parts.pool, self.stage_id).await;
    }
}

/// Deletes a stage with its entries (one statement: there is no cascade).
const DELETE_STAGE: &str = "WITH entries AS (DELETE FROM staged_entries WHERE stage_id = $1)
     DELETE FROM staged_submissions WHERE stage_id = $1";

async fn delete_stage(pool: &PgPool, stage_id: Uuid) {
    let deleted = sqlx::query(DELETE_STAGE).bind(stage_id).execute(pool).await;
    if let Err(error) = deleted {
        tracing::warn!(%stage_id, %error, "submission stage not deleted; the stage sweep will");
    }
}

/// A stream that ended without a receipt (refused, cancelled, cut off) leaves nothing: its
/// stage is deleted in the background, as the handler that dropped it may itself have been
/// dropped. Should that fail (or the process die first), the stage sweep deletes it.
impl Drop for SubmissionWriter {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let pool = self.parts.pool.clone();
        let stage_id = self.stage_id;
        runtime.spawn(async move { delete_stage(&pool, stage_id).await });
    }
}

/// A report in a combined chronology.
#[derive(Debug, sqlx::FromRow)]
struct ChronologyReport {
    id: Uuid,
    agency_id: String,
    agency_name: String,
    version: i32,
    report_status: String,
}

/// One entry as the cursor reads it, with the report it belongs to.
#[derive(Debug, sqlx::FromRow)]
struct CursorEntry {
    report_id: Uuid,
    #[sqlx(flatten)]
    entry: Entry,
}

/// Rows fetched from the chronology cursor at a time: a few first, so the first entry
/// leaves at once, then more per round trip.
const CHRONOLOGY_FIRST_FETCH: i64 = 32;
const CHRONOLOGY_FETCH: i64 = 500;

/// See [`Store::stream_chronology`]. Stops early, without error, when the receiver is gone.
async fn stream_chronology_into(
    pool: &PgPool,
    review_id: Uuid,
    include_pending: bool,
    agency_id: Option<String>,
    limit: Option<usize>,
    sender: &tokio::sync::mpsc::Sender<Result<ChronologyRow, sqlx::Error>>,
) -> Result<(), sqlx::Error> {
    let mut remaining = limit.map_or(i64::MAX, |limit| i64::try_from(limit).unwrap_or(i64::MAX));
    let mut transaction = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *transaction)
        .await?;
    // Plan the cursor for its first rows: left to the default (0.1 of the rows), the
    // planner misjudges how few entries match both the review and its reports (the columns
    // go together) and sorts them all first. Measured on 1,000,000 entries, 10,000 in the
    // review: first 32 rows in 96 ms with the sort, 0.3 ms straight off the index.
    sqlx::query("SET LOCAL cursor_tuple_fraction = 0.001")
        .execute(&mut *transaction)
        .await?;
    let reports: Vec<ChronologyReport> = sqlx::query_as(
        "SELECT a.id, q.agency_id, q.agency_name, a.version, q.status AS report_status
         FROM report_requests q
         JOIN agency_reports a
           ON a.review_id = q.review_id AND a.agency_id = q.agency_id AND a.version = q.latest_version
         WHERE q.review_id = $1
           AND (q.status = 'ACCEPTED' OR ($2 AND q.status IN ('SUBMITTED', 'RETURNED')))
           AND ($3::text IS NULL OR q.agency_id = $3)",
    )
    .bind(review_id)
    .bind(include_pending)
    .bind(agency_id)
    .fetch_all(&mut *transaction)
    .await?;
    if reports.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = reports.iter().map(|report| report.id).collect();
    let reports: std::collections::HashMap<Uuid, ChronologyReport> = reports
        .into_iter()
        .map(|report| (report.id, report))
        .collect();
    sqlx::query(
        "DECLARE chronology NO SCROLL CURSOR FOR
         SELECT report_id, occurred_on, time_of_day, service, practitioner_name,
                practitioner_role, description, outcome
         FROM chronology_entries
         WHERE review_id = $1 AND report_id = ANY($2)
         ORDER BY occurred_on, time_of_day, report_id, seq",
    )
    .bind(review_id)
    .bind(&ids)
    .execute(&mut *transaction)
    .await?;
    let mut fetch = CHRONOLOGY_FIRST_FETCH.min(remaining);
    while fetch > 0 {
        let batch: Vec<CursorEntry> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "FETCH {fetch} FROM chronology"
        )))
        .fetch_all(&mut *transaction)
        .await?;
        let last = batch.len() < fetch as usize;
        remaining -= batch.len() as i64;
        fetch = CHRONOLOGY_FETCH.min(remaining);
        for entry in batch {
            let Some(report) = reports.get(&entry.report_id) else {
                continue;
            };
            let row = ChronologyRow {
                agency_id: report.agency_id.clone(),
                agency_name: report.agency_name.clone(),
                version: report.version,
                report_status: report.report_status.clone(),
                entry: entry.entry,
            };
            if sender.send(Ok(row)).await.is_err() {
                return Ok(());
            }
        }
        if last {
            break;
        }
    }
    transaction.commit().await
}

impl Store {
    /// Agency reports past their due date and not yet submitted (requested, or returned
    /// for more), by partnership: the `cspr.agency_reports.overdue` gauge.
    pub async fn overdue_reports(&self) -> Result<Readings, sqlx::Error> {
        let today = self.clock.today();
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT partnership_id, count(*) FROM report_requests
             WHERE status IN ('REQUESTED', 'RETURNED') AND due_date < $1
             GROUP BY partnership_id",
        )
        .bind(today)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(partnership, count)| (vec![("partnership", partnership)], count as f64))
            .collect())
    }
}
