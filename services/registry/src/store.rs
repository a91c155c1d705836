//! The registry's database access: the only place with SQL.
//!
//! A command runs in one transaction: lock the review row, apply the domain command, persist
//! what changed, refresh the cached deadline statuses, write the events to the outbox and
//! the audit record — all or nothing.

use std::collections::{BTreeMap, HashMap};
use std::ops::Deref;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use cspr_platform::audit::AuditEntry;
use cspr_platform::auth::Principal;
use cspr_platform::bus::outbox::{self, EventMeta};
use cspr_platform::calendar::WorkingDayCalendar;
use cspr_platform::idempotency::{self, RequestKey};
use cspr_platform::jobs::{Page, next_page};
use cspr_platform::metrics::Readings;
use cspr_platform::pagination::Cursor;
use cspr_platform::store::{StoreParts, fetch_keyed};
use sqlx::PgConnection;
use sqlx::types::Json;
use uuid::Uuid;

use crate::domain::deadlines::{self, DeadlineRules, DeadlineStatus, Timeline};
use crate::domain::meeting::{Arrangements, CarriedOut, MeetingRecord, PanelMeeting};
use crate::domain::overview::{CommentAnswer, OverviewComment, ReportSections};
use crate::domain::review::{
    AgencyReportStatus, Answer, Change, Decision, InformationRequest, InformationRequestStatus,
    Notification, OverviewReport, PanelMember, PanelRole, ParallelProcess, ParallelProcessKind,
    Publication, RapidReview, RapidReviewDecision, Recommendation, Review, ReviewError, Reviewer,
    TermsOfReference,
};
use crate::domain::stage::Stage;
use crate::domain::values::Email;
use crate::error::RegistryError;
use crate::events;

/// Filters of ListReviews.
#[derive(Debug, Clone, Default)]
pub struct ReviewFilter {
    pub stage: Option<Stage>,
    /// Only reviews this reviewer is appointed to.
    pub reviewer_subject: Option<String>,
    pub overdue_only: bool,
    pub at_risk_only: bool,
}

/// The registry's store: the shared [`StoreParts`] (through which it reads its pool, outbox,
/// clock and audit log), the rules it needs to keep derived data in step, and the SQL below.
#[derive(Debug, Clone)]
pub struct Store {
    parts: StoreParts,
    /// The statutory rules and calendar, for the cached deadline statuses.
    rules: Arc<DeadlineRules>,
    calendar: Arc<WorkingDayCalendar>,
}

impl Deref for Store {
    type Target = StoreParts;

    fn deref(&self) -> &StoreParts {
        &self.parts
    }
}

#[derive(sqlx::FromRow)]
struct ReviewRow {
    id: Uuid,
    partnership_id: String,
    reference: String,
    child_alias: String,
    local_authority: String,
    incident_date: NaiveDate,
    became_aware_on: NaiveDate,
    stage: String,
    notification_sent_on: Option<NaiveDate>,
    national_panel_reference: String,
    decision: Option<String>,
    decided_on: Option<NaiveDate>,
    decision_rationale: String,
    reviewer_name: Option<String>,
    reviewer_email: Option<String>,
    reviewer_subject: Option<String>,
    reviewer_appointed_on: Option<NaiveDate>,
    publication_planned_on: Option<NaiveDate>,
    notice_due_by: Option<NaiveDate>,
    notice_sent_on: Option<NaiveDate>,
    outcome_recorded_on: Option<NaiveDate>,
    published: bool,
    published_on: Option<NaiveDate>,
    publication_location: String,
    not_published_justification: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    action_plan_active: bool,
    action_plan_completed: bool,
    rapid_review: Option<Json<RapidReview>>,
}

const REVIEW_COLUMNS: &str = "id, partnership_id, reference, child_alias, local_authority, incident_date, became_aware_on, stage,
    notification_sent_on, national_panel_reference, decision, decided_on, decision_rationale,
    reviewer_name, reviewer_email, reviewer_subject, reviewer_appointed_on,
    publication_planned_on, notice_due_by, notice_sent_on, outcome_recorded_on, published, published_on,
    publication_location, not_published_justification, created_at, updated_at, action_plan_active, action_plan_completed,
    rapid_review";

#[derive(serde::Deserialize)]
struct PanelRow {
    id: Uuid,
    name: String,
    email: String,
    organisation: String,
    role: String,
    independence_statement: String,
    appointed_at: DateTime<Utc>,
    found_involved: Option<String>,
}

#[derive(serde::Deserialize)]
struct ProcessRow {
    id: Uuid,
    kind: String,
    description: String,
    started_on: NaiveDate,
    ended_on: Option<NaiveDate>,
}

/// Which meeting a meeting command is on.
#[derive(Debug)]
pub enum MeetingTarget {
    /// A new meeting with this id, unless the key was used before.
    New(RequestKey, Uuid),
    Existing(Uuid),
}

const MEETING_COLUMNS: &str = "id, review_id, starts_at, ends_at, location, agenda, sequence, cancel_reason, record, scheduled_by, updated_at";

#[derive(sqlx::FromRow)]
struct MeetingRow {
    id: Uuid,
    review_id: Uuid,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    location: String,
    agenda: Json<Vec<String>>,
    sequence: i32,
    cancel_reason: Option<String>,
    record: Option<Json<MeetingRecord>>,
    scheduled_by: String,
    updated_at: DateTime<Utc>,
}

impl MeetingRow {
    fn into_meeting(self) -> PanelMeeting {
        PanelMeeting {
            id: self.id,
            review_id: self.review_id,
            arrangements: Arrangements {
                starts_at: self.starts_at,
                ends_at: self.ends_at,
                location: self.location,
                agenda: self.agenda.0,
            },
            sequence: self.sequence,
            cancel_reason: self.cancel_reason,
            record: self.record.map(|record| record.0),
            scheduled_by: self.scheduled_by,
            updated_at: self.updated_at,
        }
    }
}

#[derive(serde::Deserialize)]
struct InformationRow {
    id: Uuid,
    question: String,
    requested_by: String,
    requested_at: DateTime<Utc>,
    respond_by: NaiveDate,
    reply_to: Option<String>,
    answer: Option<String>,
    answered_by: Option<String>,
    answered_at: Option<DateTime<Utc>>,
}

#[derive(serde::Deserialize)]
struct OverviewRow {
    version: i32,
    findings: String,
    /// NULL for a version from before reports had sections.
    sections: Option<ReportSections>,
    recommendations: Vec<Recommendation>,
    submitted_at: DateTime<Utc>,
    approved_at: Option<DateTime<Utc>>,
    approved_by: Option<String>,
}

impl OverviewRow {
    fn into_report(self) -> OverviewReport {
        OverviewReport {
            version: self.version,
            findings: self.findings,
            sections: self.sections.unwrap_or_default(),
            recommendations: self.recommendations,
            submitted_at: self.submitted_at,
            approved_at: self.approved_at,
            approved_by: self.approved_by,
        }
    }
}

#[derive(serde::Deserialize)]
struct CommentRow {
    id: Uuid,
    version: i32,
    section: String,
    text: String,
    author: String,
    at: DateTime<Utc>,
    answer: Option<String>,
    answered_in_version: Option<i32>,
}

impl CommentRow {
    fn into_comment(self) -> OverviewComment {
        OverviewComment {
            id: self.id,
            version: self.version,
            section: self.section,
            text: self.text,
            author: self.author,
            at: self.at,
            answer: match (self.answer, self.answered_in_version) {
                (Some(text), Some(version)) => Some(CommentAnswer { text, version }),
                _ => None,
            },
        }
    }
}

#[derive(serde::Deserialize)]
struct StatusRow {
    agency_id: String,
    status: String,
}

/// The counts of SummarizeRapidReviews ([`Store::rapid_review_summary`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct RapidReviewCounts {
    pub notified: i64,
    pub rapid_reviews_recorded: i64,
    pub became_local_reviews: i64,
    pub not_proceeding: i64,
    pub awaiting_decision: i64,
    pub sent_to_panel: i64,
    pub panel_agrees: i64,
    pub panel_asks_for_more: i64,
    pub panel_national_review: i64,
    pub awaiting_panel_response: i64,
}

/// One review's children, each table as a JSON column (NULL when it has no rows): the
/// columns of [`CHILD_COLUMNS`].
#[derive(sqlx::FromRow, Default)]
struct ChildColumns {
    panel: Option<Json<Vec<PanelRow>>>,
    terms: Option<Json<TermsOfReference>>,
    processes: Option<Json<Vec<ProcessRow>>>,
    information: Option<Json<Vec<InformationRow>>>,
    overview: Option<Json<OverviewRow>>,
    comments: Option<Json<Vec<CommentRow>>>,
    statuses: Option<Json<Vec<StatusRow>>>,
}

/// A review's seven child tables as [`ChildColumns`], for the review `r` of the statement's
/// `FROM`: a read of reviews selects them beside [`REVIEW_COLUMNS`], so that a review and
/// everything it holds come back in one round trip (reads are dominated by round trips to
/// PostgreSQL: BENCHMARKS.md, "read"). Each is an index lookup by `review_id`.
const CHILD_COLUMNS: &str = "(SELECT json_agg(p ORDER BY p.appointed_at, p.id) FROM
       (SELECT id, name, email, organisation, role, independence_statement, appointed_at, found_involved
        FROM panel_members WHERE review_id = r.id) p) AS panel,
    (SELECT document FROM terms_of_reference WHERE review_id = r.id
     ORDER BY version DESC LIMIT 1) AS terms,
    (SELECT json_agg(x ORDER BY x.started_on, x.id) FROM
       (SELECT id, kind, description, started_on, ended_on
        FROM parallel_processes WHERE review_id = r.id) x) AS processes,
    (SELECT json_agg(i ORDER BY i.requested_at, i.id) FROM
       (SELECT id, question, requested_by, requested_at, respond_by, reply_to, answer, answered_by, answered_at
        FROM information_requests WHERE review_id = r.id) i) AS information,
    (SELECT to_json(o) FROM
       (SELECT version, findings, sections, recommendations, submitted_at, approved_at, approved_by
        FROM overview_reports WHERE review_id = r.id ORDER BY version DESC LIMIT 1) o) AS overview,
    (SELECT json_agg(c ORDER BY c.at, c.id) FROM
       (SELECT id, version, section, text, author, at, answer, answered_in_version
        FROM overview_comments WHERE review_id = r.id) c) AS comments,
    (SELECT json_agg(d) FROM
       (SELECT agency_id, status FROM agency_report_statuses WHERE review_id = r.id) d) AS statuses";

/// A review's row with its children, as one statement reads them.
#[derive(sqlx::FromRow)]
struct ReviewWithChildren {
    #[sqlx(flatten)]
    row: ReviewRow,
    #[sqlx(flatten)]
    children: ChildColumns,
}

/// The children of the review `id`, read after its row (a locked read).
#[derive(sqlx::FromRow)]
struct ChildrenOf {
    id: Uuid,
    #[sqlx(flatten)]
    children: ChildColumns,
}

fn corrupt(what: &str, value: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("unexpected {what} {value:?} in the registry database").into())
}

impl Store {
    /// The store over `parts`, keeping deadlines by `rules` on the England and
    /// Wales working-day calendar.
    pub fn new(parts: StoreParts, rules: DeadlineRules) -> Self {
        Self {
            parts,
            rules: Arc::new(rules),
            calendar: Arc::new(WorkingDayCalendar::england_and_wales()),
        }
    }

    /// The service's clock's time, for what a consumed event changes.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The reviews of `rows` (already read, and locked by the caller's transaction) with
    /// everything they hold, in the order of `rows`: one more statement, after the lock, so
    /// that the children are read as the lock holder's transaction sees them.
    async fn load_reviews(
        connection: &mut PgConnection,
        rows: Vec<ReviewRow>,
    ) -> Result<Vec<Review>, sqlx::Error> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
        let sql = format!("SELECT r.id, {CHILD_COLUMNS} FROM UNNEST($1::uuid[]) AS r(id)");
        let children: Vec<ChildrenOf> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(&ids)
            .fetch_all(&mut *connection)
            .await?;
        let mut children: HashMap<Uuid, ChildColumns> = children
            .into_iter()
            .map(|of| (of.id, of.children))
            .collect();
        rows.into_iter()
            .map(|row| {
                let of = children.remove(&row.id).unwrap_or_default();
                Self::assemble(row, of)
            })
            .collect()
    }

    /// A review from its row and its children's columns.
    fn assemble(row: ReviewRow, children: ChildColumns) -> Result<Review, sqlx::Error> {
        let panel = children
            .panel
            .map_or_else(Vec::new, |panel| panel.0)
            .into_iter()
            .map(|member| {
                let role = PanelRole::parse(&member.role)
                    .ok_or_else(|| corrupt("panel role", &member.role))?;
                let email =
                    Email::parse(&member.email).map_err(|_| corrupt("email", &member.email))?;
                Ok(PanelMember {
                    id: member.id,
                    name: member.name,
                    email,
                    organisation: member.organisation,
                    role,
                    independence_statement: member.independence_statement,
                    appointed_at: member.appointed_at,
                    found_involved: member.found_involved,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let parallel_processes = children
            .processes
            .map_or_else(Vec::new, |processes| processes.0)
            .into_iter()
            .map(|process| {
                let kind = ParallelProcessKind::parse(&process.kind)
                    .ok_or_else(|| corrupt("process kind", &process.kind))?;
                Ok(ParallelProcess {
                    id: process.id,
                    kind,
                    description: process.description,
                    started_on: process.started_on,
                    ended_on: process.ended_on,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let information_requests = children
            .information
            .map_or_else(Vec::new, |requests| requests.0)
            .into_iter()
            .map(|request| {
                let reply_to = request
                    .reply_to
                    .map(|email| Email::parse(&email).map_err(|_| corrupt("email", &email)))
                    .transpose()?;
                let answer = match (request.answer, request.answered_by, request.answered_at) {
                    (Some(text), Some(answered_by), Some(answered_at)) => Some(Answer {
                        text,
                        answered_by,
                        answered_at,
                    }),
                    _ => None,
                };
                Ok(InformationRequest {
                    id: request.id,
                    question: request.question,
                    requested_by: request.requested_by,
                    requested_at: request.requested_at,
                    respond_by: request.respond_by,
                    reply_to,
                    answer,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let overview_report = children.overview.map(|overview| overview.0.into_report());
        let overview_comments = children
            .comments
            .map_or_else(Vec::new, |comments| comments.0)
            .into_iter()
            .map(CommentRow::into_comment)
            .collect();
        let mut agency_report_statuses = BTreeMap::new();
        for row in children
            .statuses
            .map_or_else(Vec::new, |statuses| statuses.0)
        {
            let status = AgencyReportStatus::parse(&row.status)
                .ok_or_else(|| corrupt("agency report status", &row.status))?;
            agency_report_statuses.insert(row.agency_id, status);
        }

        let stage = Stage::parse(&row.stage).ok_or_else(|| corrupt("stage", &row.stage))?;
        let decision = match (row.decision.as_deref(), row.decided_on) {
            (Some(name), Some(decided_on)) => Some(RapidReviewDecision {
                decision: Decision::parse(name).ok_or_else(|| corrupt("decision", name))?,
                decided_on,
                rationale: row.decision_rationale,
            }),
            _ => None,
        };
        let reviewer = match (
            row.reviewer_name,
            row.reviewer_email,
            row.reviewer_subject,
            row.reviewer_appointed_on,
        ) {
            (Some(name), Some(email), Some(subject), Some(appointed_on)) => Some(Reviewer {
                name,
                email: Email::parse(&email).map_err(|_| corrupt("email", &email))?,
                subject,
                appointed_on,
            }),
            _ => None,
        };
        Ok(Review {
            id: row.id,
            partnership_id: row.partnership_id,
            reference: row.reference,
            child_alias: row.child_alias,
            local_authority: row.local_authority,
            incident_date: row.incident_date,
            became_aware_on: row.became_aware_on,
            stage,
            notification: row.notification_sent_on.map(|sent_on| Notification {
                sent_on,
                national_panel_reference: row.national_panel_reference,
            }),
            decision,
            rapid_review: row.rapid_review.map(|record| record.0),
            panel,
            reviewer,
            terms_of_reference: children.terms.map(|terms| terms.0),
            parallel_processes,
            information_requests,
            overview_report,
            overview_comments,
            publication: Publication {
                planned_on: row.publication_planned_on,
                notice_due_by: row.notice_due_by,
                notice_sent_on: row.notice_sent_on,
                outcome_recorded_on: row.outcome_recorded_on,
                published: row.published,
                published_on: row.published_on,
                location: row.publication_location,
                not_published_justification: row.not_published_justification,
            },
            agency_report_statuses,
            created_at: row.created_at,
            updated_at: row.updated_at,
            action_plan_active: row.action_plan_active,
            action_plan_completed: row.action_plan_completed,
        })
    }

    /// The review `review_id` of the partnership, locked `FOR UPDATE` for the rest of the
    /// command's transaction on `connection`.
    async fn fetch_locked(
        connection: &mut PgConnection,
        partnership_id: &str,
        review_id: Uuid,
    ) -> Result<Option<Review>, sqlx::Error> {
        let select =
            format!("SELECT {REVIEW_COLUMNS} FROM reviews WHERE id = $1 AND partnership_id = $2");
        let keys = (review_id, partnership_id);
        let row: Option<ReviewRow> =
            fetch_keyed(&mut *connection, &select, keys, Some("reviews")).await?;
        match row {
            Some(row) => Ok(Self::load_reviews(connection, vec![row]).await?.pop()),
            None => Ok(None),
        }
    }

    /// One review of the partnership, with everything it holds, in one statement.
    pub async fn get(
        &self,
        partnership_id: &str,
        review_id: Uuid,
    ) -> Result<Option<Review>, sqlx::Error> {
        let select = format!(
            "SELECT {REVIEW_COLUMNS}, {CHILD_COLUMNS} FROM reviews r WHERE id = $1 AND partnership_id = $2"
        );
        let row: Option<ReviewWithChildren> =
            fetch_keyed(&self.pool, &select, (review_id, partnership_id), None).await?;
        row.map(|row| Self::assemble(row.row, row.children))
            .transpose()
    }

    /// One version of a review's overview report (0: the latest), when there is one.
    pub async fn overview_report(
        &self,
        review_id: Uuid,
        version: i32,
    ) -> Result<Option<OverviewReport>, sqlx::Error> {
        let row: Option<(Json<OverviewRow>,)> = sqlx::query_as(
            "SELECT to_json(o) FROM
               (SELECT version, findings, sections, recommendations, submitted_at, approved_at, approved_by
                FROM overview_reports WHERE review_id = $1 AND ($2 = 0 OR version = $2)
                ORDER BY version DESC LIMIT 1) o",
        )
        .bind(review_id)
        .bind(version)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(row,)| row.0.into_report()))
    }

    /// A page of reviews, newest first, after `after`, with everything they hold, in one
    /// statement.
    ///
    /// The statement names only the filters given, and the page size as a number, so that
    /// each combination is its own prepared statement whose one generic plan is the index
    /// scan of its filter. With `($2 IS NULL OR stage = $2)` and `LIMIT $8` the generic plan
    /// could not choose `reviews_by_stage` and was costed for a tenth of the table, so
    /// PostgreSQL planned the statement anew on every call (BENCHMARKS.md, "Reads after
    /// issue 17's changes"). The page size is at most [`PageRequest`]'s maximum plus one, so
    /// there are few such statements per connection.
    ///
    /// [`PageRequest`]: cspr_platform::pagination::PageRequest
    pub async fn list(
        &self,
        partnership_id: &str,
        filter: &ReviewFilter,
        after: Option<Cursor>,
        limit: i64,
    ) -> Result<Vec<Review>, sqlx::Error> {
        let mut conditions = String::from("partnership_id = $1");
        let mut parameter = 1;
        let mut next = || {
            parameter += 1;
            parameter
        };
        if filter.stage.is_some() {
            conditions += &format!(" AND stage = ${}", next());
        }
        if filter.reviewer_subject.is_some() {
            conditions += &format!(" AND reviewer_subject = ${}", next());
        }
        if filter.overdue_only {
            conditions += " AND EXISTS (SELECT 1 FROM review_deadlines d WHERE d.review_id = r.id AND d.status = 'MISSED')";
        }
        if filter.at_risk_only {
            conditions += " AND EXISTS (SELECT 1 FROM review_deadlines d WHERE d.review_id = r.id AND d.status = 'AT_RISK')";
        }
        if after.is_some() {
            let (at, id) = (next(), next());
            conditions += &format!(" AND (created_at, id) < (${at}, ${id})");
        }
        // The page first, then its children: the subquery's LIMIT keeps the child lookups
        // to the page's rows whatever plan the page takes.
        let sql = format!(
            "SELECT *, {CHILD_COLUMNS} FROM
               (SELECT {REVIEW_COLUMNS} FROM reviews r WHERE {conditions}
                ORDER BY created_at DESC, id DESC LIMIT {limit}) r
             ORDER BY created_at DESC, id DESC"
        );
        let mut query =
            sqlx::query_as::<_, ReviewWithChildren>(sqlx::AssertSqlSafe(sql)).bind(partnership_id);
        if let Some(stage) = filter.stage {
            query = query.bind(stage.as_str());
        }
        if let Some(subject) = filter.reviewer_subject.as_deref() {
            query = query.bind(subject);
        }
        if let Some(cursor) = after {
            query = query.bind(cursor.at).bind(cursor.id);
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.into_iter()
            .map(|row| Self::assemble(row.row, row.children))
            .collect()
    }

    /// Whether a person is recorded as a practitioner involved in the review: the same
    /// email, or the same name with the same organisation (agency name or id).
    pub async fn is_involved_practitioner(
        &self,
        review_id: Uuid,
        email: &str,
        name: &str,
        organisation: &str,
    ) -> Result<bool, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT EXISTS (
                 SELECT 1 FROM involved_practitioners
                 WHERE review_id = $1
                   AND (lower(email) = lower($2)
                        OR (lower(name) = lower($3) AND (lower(agency_name) = lower($4) OR lower(agency_id) = lower($4)))))",
        )
        .bind(review_id)
        .bind(email)
        .bind(name.trim())
        .bind(organisation.trim())
        .fetch_one(&self.pool)
        .await
    }

    /// CreateReview: numbers the review, stores it, its deadlines, its event and audit.
    pub async fn create(
        &self,
        principal: &Principal,
        (key, review_id): (RequestKey, Uuid),
        open: impl FnOnce(Uuid, String) -> Result<(Review, Vec<Change>), ReviewError>,
    ) -> Result<Review, RegistryError> {
        let mut transaction = self.pool.begin().await?;
        if let Some(existing) =
            idempotency::claim_by(&mut transaction, principal, &key, review_id).await?
        {
            transaction.rollback().await?;
            return self
                .get(&principal.partnership, existing)
                .await?
                .ok_or(RegistryError::ReviewNotFound(existing.to_string()));
        }
        let year = self.clock.today().format("%Y").to_string();
        let number: i32 = sqlx::query_scalar(
            "INSERT INTO review_counters (partnership_id, year, last_number) VALUES ($1, $2, 1)
             ON CONFLICT (partnership_id, year) DO UPDATE SET last_number = review_counters.last_number + 1
             RETURNING last_number",
        )
        .bind(&principal.partnership)
        .bind(year.parse::<i32>().unwrap_or_default())
        .fetch_one(&mut *transaction)
        .await?;
        let reference = format!(
            "{}-{year}-{number:03}",
            principal.partnership.to_ascii_uppercase()
        );
        let (review, changes) = open(review_id, reference)?;
        sqlx::query(
            "INSERT INTO reviews (id, partnership_id, reference, child_alias, local_authority, incident_date, became_aware_on, stage, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
        )
        .bind(review.id)
        .bind(&review.partnership_id)
        .bind(&review.reference)
        .bind(&review.child_alias)
        .bind(&review.local_authority)
        .bind(review.incident_date)
        .bind(review.became_aware_on)
        .bind(review.stage.as_str())
        .bind(review.created_at)
        .execute(&mut *transaction)
        .await?;
        self.finish_command(
            &mut transaction,
            principal,
            "CreateReview",
            &review,
            &changes,
        )
        .await?;
        transaction.commit().await?;
        Ok(review)
    }

    /// Runs a command on one review: lock, `guard` (before a replay is answered too), apply,
    /// persist, deadlines, events, audit.
    pub async fn update(
        &self,
        principal: &Principal,
        review_id: Uuid,
        action: &'static str,
        key: Option<(RequestKey, Uuid)>,
        guard: impl FnOnce(&Review) -> Result<(), RegistryError>,
        command: impl FnOnce(&mut Review) -> Result<Vec<Change>, RegistryError>,
    ) -> Result<Review, RegistryError> {
        let mut transaction = self.pool.begin().await?;
        let review = Self::fetch_locked(&mut transaction, &principal.partnership, review_id)
            .await?
            .ok_or_else(|| RegistryError::ReviewNotFound(review_id.to_string()))?;
        guard(&review)?;
        if let Some((key, resource_id)) = &key
            && idempotency::claim_by(&mut transaction, principal, key, *resource_id)
                .await?
                .is_some()
        {
            transaction.rollback().await?;
            return Ok(review);
        }
        let review = self
            .apply_locked(&mut transaction, principal, action, review, command)
            .await?;
        transaction.commit().await?;
        Ok(review)
    }

    /// Runs a command on a meeting of the review `review_id` (a new one when `meeting_id` is
    /// None), on the locked review and the locked meeting, like [`Store::update`]: `command`
    /// gets the review and the meeting as they stand and returns the changes, each carrying
    /// the meeting as it leaves it. Returns the meeting as it is after: the command's, the
    /// one a replayed `key` created, or (a change that changed nothing) the stored one.
    pub async fn update_meeting(
        &self,
        principal: &Principal,
        review_id: Uuid,
        action: &'static str,
        target: MeetingTarget,
        guard: impl FnOnce(&Review) -> Result<(), RegistryError>,
        command: impl FnOnce(&Review, Option<PanelMeeting>) -> Result<Vec<Change>, RegistryError>,
    ) -> Result<PanelMeeting, RegistryError> {
        let mut transaction = self.pool.begin().await?;
        let review = Self::fetch_locked(&mut transaction, &principal.partnership, review_id)
            .await?
            .ok_or_else(|| RegistryError::ReviewNotFound(review_id.to_string()))?;
        guard(&review)?;
        let (meeting_id, existing) = match target {
            MeetingTarget::New(key, meeting_id) => {
                if let Some(first) =
                    idempotency::claim_by(&mut transaction, principal, &key, meeting_id).await?
                {
                    let meeting = Self::meeting_locked(&mut transaction, review_id, first)
                        .await?
                        .ok_or_else(|| RegistryError::MeetingNotFound(first.to_string()))?;
                    transaction.rollback().await?;
                    return Ok(meeting);
                }
                (meeting_id, None)
            }
            MeetingTarget::Existing(meeting_id) => {
                let meeting = Self::meeting_locked(&mut transaction, review_id, meeting_id)
                    .await?
                    .ok_or_else(|| RegistryError::MeetingNotFound(meeting_id.to_string()))?;
                (meeting_id, Some(meeting))
            }
        };
        let unchanged = existing.clone();
        let changes = command(&review, existing)?;
        let after = changes.iter().rev().find_map(|change| match change {
            Change::PanelMeeting(meeting, _) if meeting.id == meeting_id => {
                Some((**meeting).clone())
            }
            _ => None,
        });
        let review = self
            .apply_locked(&mut transaction, principal, action, review, move |_| {
                Ok(changes)
            })
            .await?;
        drop(review);
        transaction.commit().await?;
        after
            .or(unchanged)
            .ok_or_else(|| RegistryError::MeetingNotFound(meeting_id.to_string()))
    }

    async fn meeting_locked(
        connection: &mut PgConnection,
        review_id: Uuid,
        meeting_id: Uuid,
    ) -> Result<Option<PanelMeeting>, sqlx::Error> {
        let row: Option<MeetingRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {MEETING_COLUMNS} FROM panel_meetings WHERE id = $1 AND review_id = $2 FOR UPDATE"
        )))
        .bind(meeting_id)
        .bind(review_id)
        .fetch_optional(connection)
        .await?;
        Ok(row.map(MeetingRow::into_meeting))
    }

    /// One page of a review's meetings, earliest start first, after `after` (start, id).
    pub async fn meetings(
        &self,
        review_id: Uuid,
        after: Option<Cursor>,
        limit: i64,
    ) -> Result<Vec<PanelMeeting>, sqlx::Error> {
        let (after_at, after_id) = match after {
            Some(cursor) => (Some(cursor.at), Some(cursor.id)),
            None => (None, None),
        };
        let rows: Vec<MeetingRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {MEETING_COLUMNS} FROM panel_meetings
             WHERE review_id = $1 AND ($2::timestamptz IS NULL OR (starts_at, id) > ($2, $3))
             ORDER BY starts_at, id LIMIT $4"
        )))
        .bind(review_id)
        .bind(after_at)
        .bind(after_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(MeetingRow::into_meeting).collect())
    }

    /// The commands a panel's decisions can be carried out by on the review, oldest first:
    /// the registry's own from its audit trail (successful ones), the agencies' report
    /// decisions from the submissions events it keeps.
    pub async fn carried_out(
        &self,
        partnership_id: &str,
        review_id: Uuid,
    ) -> Result<Vec<CarriedOut>, sqlx::Error> {
        let rows: Vec<(String, String, String, DateTime<Utc>, String)> = sqlx::query_as(
            "SELECT 'registry', action, actor, at, '' FROM audit_records
              WHERE partnership_id = $1 AND review_id = $2 AND outcome = 'ok'
                AND action IN ('SetTermsOfReference', 'ApproveOverviewReport')
             UNION ALL
             SELECT 'submissions', CASE status WHEN 'WAIVED' THEN 'WaiveAgencyReport' ELSE 'AcceptAgencyReport' END,
                    coalesce(changed_by, ''), updated_at, agency_id
               FROM agency_report_statuses WHERE review_id = $2 AND status IN ('ACCEPTED', 'WAIVED')
             ORDER BY 4",
        )
        .bind(partnership_id)
        .bind(review_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(service, action, actor, at, detail)| CarriedOut {
                service: if service == "registry" {
                    "registry"
                } else {
                    "submissions"
                },
                action,
                actor,
                at,
                detail,
            })
            .collect())
    }

    /// The common middle of a command on a locked review: apply, persist, deadlines, events,
    /// audit — on the caller's transaction.
    async fn apply_locked(
        &self,
        connection: &mut PgConnection,
        principal: &Principal,
        action: &'static str,
        mut review: Review,
        command: impl FnOnce(&mut Review) -> Result<Vec<Change>, RegistryError>,
    ) -> Result<Review, RegistryError> {
        let changes = command(&mut review)?;
        if changes.is_empty() {
            // Nothing changed (e.g. AdvanceStage to the current stage): still audited.
            self.audit_review_command(connection, principal, action, review.id)
                .await?;
            return Ok(review);
        }
        review.updated_at = self.clock.now();
        self.persist(connection, &review, &changes).await?;
        self.finish_command(connection, principal, action, &review, &changes)
            .await?;
        Ok(review)
    }

    /// Consumer side: the action plan of a review became active (Some(false)) or complete
    /// (Some(true)); an active plan moves a published review to ACTION_MONITORING, in the
    /// handler's transaction, as the system.
    pub async fn record_action_plan(
        &self,
        connection: &mut PgConnection,
        partnership_id: &str,
        review_id: Uuid,
        completed: bool,
    ) -> Result<(), RegistryError> {
        let column_sql = if completed {
            "UPDATE reviews SET action_plan_active = true, action_plan_completed = true WHERE id = $1 AND partnership_id = $2"
        } else {
            "UPDATE reviews SET action_plan_active = true WHERE id = $1 AND partnership_id = $2"
        };
        sqlx::query(column_sql)
            .bind(review_id)
            .bind(partnership_id)
            .execute(&mut *connection)
            .await?;
        let Some(review) = Self::fetch_locked(connection, partnership_id, review_id).await? else {
            return Ok(());
        };
        if !completed && review.stage == Stage::Published {
            let system = Principal {
                subject: "system:action-plan".into(),
                partnership: partnership_id.to_string(),
                roles: vec![],
                org: None,
                peer: None,
            };
            self.apply_locked(
                connection,
                &system,
                "ActionPlanActivated",
                review,
                |review| Ok(review.advance(Stage::ActionMonitoring)?),
            )
            .await?;
        }
        Ok(())
    }

    /// SummarizeRapidReviews: the counts over the partnership's reviews whose notification
    /// was sent from `from` (or the first) to `to`, both days included.
    pub async fn rapid_review_summary(
        &self,
        partnership_id: &str,
        from: Option<NaiveDate>,
        to: NaiveDate,
    ) -> Result<RapidReviewCounts, sqlx::Error> {
        sqlx::query_as(
            "SELECT count(*) AS notified,
                    count(*) FILTER (WHERE rapid_review IS NOT NULL) AS rapid_reviews_recorded,
                    count(*) FILTER (WHERE decision = 'LOCAL_CSPR') AS became_local_reviews,
                    count(*) FILTER (WHERE decision = 'NO_LOCAL_CSPR') AS not_proceeding,
                    count(*) FILTER (WHERE decision IS NULL) AS awaiting_decision,
                    count(*) FILTER (WHERE rapid_review->>'sent_to_panel_on' IS NOT NULL) AS sent_to_panel,
                    count(*) FILTER (WHERE rapid_review->'panel_response'->>'kind' = 'AGREES') AS panel_agrees,
                    count(*) FILTER (WHERE rapid_review->'panel_response'->>'kind' = 'ASKS_FOR_MORE') AS panel_asks_for_more,
                    count(*) FILTER (WHERE rapid_review->'panel_response'->>'kind' = 'NATIONAL_REVIEW') AS panel_national_review,
                    count(*) FILTER (WHERE rapid_review->>'sent_to_panel_on' IS NOT NULL
                                       AND jsonb_typeof(rapid_review->'panel_response') IS DISTINCT FROM 'object') AS awaiting_panel_response
             FROM reviews
             WHERE partnership_id = $1 AND notification_sent_on >= COALESCE($2, '-infinity'::date)
               AND notification_sent_on <= $3",
        )
        .bind(partnership_id)
        .bind(from)
        .bind(to)
        .fetch_one(&self.pool)
        .await
    }

    /// Consumer side, after more practitioners involved in the case were recorded: the
    /// members of the review's panel not flagged yet who match one of them (the same email;
    /// or the same name and organisation, the agency's name or id) are flagged with how
    /// ([`Review::flag_involved_panel_members`]), with their events, as the system.
    pub async fn flag_involved_panel_members(
        &self,
        connection: &mut PgConnection,
        partnership_id: &str,
        review_id: Uuid,
    ) -> Result<(), RegistryError> {
        let found: Vec<(Uuid, String)> = sqlx::query_as(
            "SELECT DISTINCT ON (m.id) m.id,
                    CASE WHEN p.practitioner_id LIKE 'chronology:%'
                         THEN 'named in ' || COALESCE(NULLIF(p.agency_name, ''), p.agency_id) || '''s chronology'
                         ELSE 'registered as a practitioner involved in the case ('
                              || COALESCE(NULLIF(p.agency_name, ''), p.agency_id) || ')'
                    END
             FROM panel_members m
             JOIN involved_practitioners p ON p.review_id = m.review_id
              AND ((lower(p.email) = lower(m.email) AND p.email <> '')
                   OR (lower(p.name) = lower(m.name)
                       AND (lower(p.agency_name) = lower(m.organisation) OR lower(p.agency_id) = lower(m.organisation))))
             WHERE m.review_id = $1 AND m.found_involved IS NULL
             ORDER BY m.id, p.practitioner_id LIKE 'chronology:%', p.practitioner_id",
        )
        .bind(review_id)
        .fetch_all(&mut *connection)
        .await?;
        if found.is_empty() {
            return Ok(());
        }
        let Some(review) = Self::fetch_locked(connection, partnership_id, review_id).await? else {
            return Ok(());
        };
        let system = Principal {
            subject: "system:panel-independence".into(),
            partnership: partnership_id.to_string(),
            roles: vec![],
            org: None,
            peer: None,
        };
        self.apply_locked(connection, &system, "PanelIndependence", review, |review| {
            Ok(review.flag_involved_panel_members(&found))
        })
        .await?;
        Ok(())
    }

    /// Writes what a command changed.
    async fn persist(
        &self,
        connection: &mut PgConnection,
        review: &Review,
        changes: &[Change],
    ) -> Result<(), sqlx::Error> {
        let reviewer = review.reviewer.as_ref();
        let decision = review.decision.as_ref();
        sqlx::query(
            "UPDATE reviews SET
                stage = $2, notification_sent_on = $3, national_panel_reference = $4,
                decision = $5, decided_on = $6, decision_rationale = $7,
                reviewer_name = $8, reviewer_email = $9, reviewer_subject = $10, reviewer_appointed_on = $11,
                publication_planned_on = $12, notice_due_by = $13, notice_sent_on = $14, outcome_recorded_on = $15,
                published = $16, published_on = $17, publication_location = $18, not_published_justification = $19,
                updated_at = $20, rapid_review = $21
             WHERE id = $1",
        )
        .bind(review.id)
        .bind(review.stage.as_str())
        .bind(review.notification.as_ref().map(|notification| notification.sent_on))
        .bind(
            review
                .notification
                .as_ref()
                .map(|notification| notification.national_panel_reference.as_str())
                .unwrap_or_default(),
        )
        .bind(decision.map(|decision| decision.decision.as_str()))
        .bind(decision.map(|decision| decision.decided_on))
        .bind(decision.map(|decision| decision.rationale.as_str()).unwrap_or_default())
        .bind(reviewer.map(|reviewer| reviewer.name.as_str()))
        .bind(reviewer.map(|reviewer| reviewer.email.as_str()))
        .bind(reviewer.map(|reviewer| reviewer.subject.as_str()))
        .bind(reviewer.map(|reviewer| reviewer.appointed_on))
        .bind(review.publication.planned_on)
        .bind(review.publication.notice_due_by)
        .bind(review.publication.notice_sent_on)
        .bind(review.publication.outcome_recorded_on)
        .bind(review.publication.published)
        .bind(review.publication.published_on)
        .bind(&review.publication.location)
        .bind(&review.publication.not_published_justification)
        .bind(review.updated_at)
        .bind(review.rapid_review.as_ref().map(Json))
        .execute(&mut *connection)
        .await?;

        for change in changes {
            match change {
                Change::PanelMemberAppointed(member_id) => {
                    if let Some(member) = review.panel.iter().find(|member| member.id == *member_id)
                    {
                        sqlx::query(
                            "INSERT INTO panel_members (id, review_id, name, email, organisation, role, independence_statement, appointed_at)
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                        )
                        .bind(member.id)
                        .bind(review.id)
                        .bind(&member.name)
                        .bind(member.email.as_str())
                        .bind(&member.organisation)
                        .bind(member.role.as_str())
                        .bind(&member.independence_statement)
                        .bind(member.appointed_at)
                        .execute(&mut *connection)
                        .await?;
                    }
                }
                Change::PanelMemberFoundInvolved(member_id) => {
                    if let Some(member) = review.panel.iter().find(|member| member.id == *member_id)
                    {
                        sqlx::query("UPDATE panel_members SET found_involved = $2 WHERE id = $1")
                            .bind(member.id)
                            .bind(&member.found_involved)
                            .execute(&mut *connection)
                            .await?;
                    }
                }
                Change::TermsOfReferenceSet => {
                    if let Some(terms) = &review.terms_of_reference {
                        sqlx::query("INSERT INTO terms_of_reference (review_id, version, document, set_at) VALUES ($1, $2, $3, $4)")
                            .bind(review.id)
                            .bind(terms.version)
                            .bind(sqlx::types::Json(terms))
                            .bind(terms.set_at)
                            .execute(&mut *connection)
                            .await?;
                    }
                }
                Change::ParallelProcessStarted(process_id)
                | Change::ParallelProcessEnded(process_id) => {
                    if let Some(process) = review
                        .parallel_processes
                        .iter()
                        .find(|process| process.id == *process_id)
                    {
                        sqlx::query(
                            "INSERT INTO parallel_processes (id, review_id, kind, description, started_on, ended_on)
                             VALUES ($1, $2, $3, $4, $5, $6)
                             ON CONFLICT (id) DO UPDATE SET ended_on = EXCLUDED.ended_on",
                        )
                        .bind(process.id)
                        .bind(review.id)
                        .bind(process.kind.as_str())
                        .bind(&process.description)
                        .bind(process.started_on)
                        .bind(process.ended_on)
                        .execute(&mut *connection)
                        .await?;
                    }
                }
                Change::InformationRequested(request_id)
                | Change::InformationRequestAnswered(request_id) => {
                    if let Some(request) = review
                        .information_requests
                        .iter()
                        .find(|request| request.id == *request_id)
                    {
                        let answer = request.answer.as_ref();
                        sqlx::query(
                            "INSERT INTO information_requests (id, review_id, question, requested_by, requested_at, respond_by, reply_to, answer, answered_by, answered_at)
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                             ON CONFLICT (id) DO UPDATE SET answer = EXCLUDED.answer, answered_by = EXCLUDED.answered_by, answered_at = EXCLUDED.answered_at",
                        )
                        .bind(request.id)
                        .bind(review.id)
                        .bind(&request.question)
                        .bind(&request.requested_by)
                        .bind(request.requested_at)
                        .bind(request.respond_by)
                        .bind(request.reply_to.as_ref().map(Email::as_str))
                        .bind(answer.map(|answer| answer.text.as_str()))
                        .bind(answer.map(|answer| answer.answered_by.as_str()))
                        .bind(answer.map(|answer| answer.answered_at))
                        .execute(&mut *connection)
                        .await?;
                    }
                }
                Change::OverviewReportSubmitted | Change::OverviewReportApproved => {
                    if let Some(report) = &review.overview_report {
                        sqlx::query(
                            "INSERT INTO overview_reports (review_id, version, findings, recommendations, submitted_at, approved_at, approved_by, sections)
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                             ON CONFLICT (review_id, version) DO UPDATE SET approved_at = EXCLUDED.approved_at, approved_by = EXCLUDED.approved_by",
                        )
                        .bind(review.id)
                        .bind(report.version)
                        .bind(&report.findings)
                        .bind(sqlx::types::Json(&report.recommendations))
                        .bind(report.submitted_at)
                        .bind(report.approved_at)
                        .bind(&report.approved_by)
                        .bind(sqlx::types::Json(&report.sections))
                        .execute(&mut *connection)
                        .await?;
                    }
                }
                Change::OverviewCommented(comment_id)
                | Change::OverviewCommentAnswered(comment_id) => {
                    if let Some(comment) = review
                        .overview_comments
                        .iter()
                        .find(|comment| comment.id == *comment_id)
                    {
                        let answer = comment.answer.as_ref();
                        sqlx::query(
                            "INSERT INTO overview_comments (id, review_id, version, section, text, author, at, answer, answered_in_version)
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                             ON CONFLICT (id) DO UPDATE SET answer = EXCLUDED.answer, answered_in_version = EXCLUDED.answered_in_version",
                        )
                        .bind(comment.id)
                        .bind(review.id)
                        .bind(comment.version)
                        .bind(&comment.section)
                        .bind(&comment.text)
                        .bind(&comment.author)
                        .bind(comment.at)
                        .bind(answer.map(|answer| answer.text.as_str()))
                        .bind(answer.map(|answer| answer.version))
                        .execute(&mut *connection)
                        .await?;
                    }
                }
                Change::PanelMeeting(meeting, _) => {
                    let arrangements = &meeting.arrangements;
                    sqlx::query(
                        "INSERT INTO panel_meetings (id, review_id, starts_at, ends_at, location, agenda, sequence, cancel_reason, record, scheduled_by, updated_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                         ON CONFLICT (id) DO UPDATE SET starts_at = EXCLUDED.starts_at, ends_at = EXCLUDED.ends_at,
                             location = EXCLUDED.location, agenda = EXCLUDED.agenda, sequence = EXCLUDED.sequence,
                             cancel_reason = EXCLUDED.cancel_reason, record = EXCLUDED.record, updated_at = EXCLUDED.updated_at",
                    )
                    .bind(meeting.id)
                    .bind(review.id)
                    .bind(arrangements.starts_at)
                    .bind(arrangements.ends_at)
                    .bind(&arrangements.location)
                    .bind(Json(&arrangements.agenda))
                    .bind(meeting.sequence)
                    .bind(&meeting.cancel_reason)
                    .bind(meeting.record.as_ref().map(Json))
                    .bind(&meeting.scheduled_by)
                    .bind(meeting.updated_at)
                    .execute(&mut *connection)
                    .await?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Deadlines, events and audit: the common end of every command.
    async fn finish_command(
        &self,
        connection: &mut PgConnection,
        principal: &Principal,
        action: &str,
        review: &Review,
        changes: &[Change],
    ) -> Result<(), RegistryError> {
        let today = self.clock.today();
        let timeline = deadlines::timeline(review, &self.rules, &self.calendar, today)
            .map_err(ReviewError::from)?;
        Self::refresh_deadlines(connection, review.id, &timeline).await?;
        let meta = EventMeta {
            partnership_id: review.partnership_id.clone(),
            review_id: Some(review.id),
            actor: outbox::actor(principal),
        };
        for body in events::bodies(review, changes, &timeline, &self.rules, today) {
            self.outbox.enqueue(connection, &meta, body).await?;
        }
        // A change that puts a deadline at risk or past due is alerted now, not at the next
        // sweep.
        self.raise_deadline_alerts(connection, review, &timeline, "system:deadline-alerts")
            .await?;
        self.audit_review_command(connection, principal, action, review.id)
            .await?;
        Ok(())
    }

    /// Raises the at-risk and missed alerts of `timeline`, each once per review, deadline
    /// and due date however many sweeps, replicas and commands see it (the `deadline_alerts`
    /// row decides): from the sweep as the days pass, and at once from a command whose
    /// change puts a deadline at risk or past due. `system` names who raised it. Returns how
    /// many were raised now.
    async fn raise_deadline_alerts(
        &self,
        connection: &mut PgConnection,
        review: &Review,
        timeline: &Timeline,
        system: &str,
    ) -> Result<usize, sqlx::Error> {
        let mut raised = 0;
        for deadline in &timeline.deadlines {
            let (Some(due_on), alert) = (deadline.due_on, deadline.status) else {
                continue;
            };
            let alert = match alert {
                DeadlineStatus::AtRisk => "AT_RISK",
                DeadlineStatus::Missed if deadline.done_on.is_none() => "MISSED",
                _ => continue,
            };
            let record_alert = sqlx::query(
                "INSERT INTO deadline_alerts (review_id, kind, alert, due_on) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            )
            .bind(review.id)
            .bind(deadline.kind.as_str())
            .bind(alert)
            .bind(due_on);
            let meta = EventMeta::system(&review.partnership_id, review.id, system);
            let body = events::deadline_alert(review, deadline, alert == "MISSED");
            if self
                .outbox
                .raise_once(&mut *connection, record_alert, &meta, body)
                .await?
            {
                raised += 1;
            }
        }
        // A request for information past the day asked for: the reviewer is reminded, once.
        for request in &review.information_requests {
            if request.status(timeline.as_of) != InformationRequestStatus::Overdue {
                continue;
            }
            let Some(body) = events::information_overdue(review, request) else {
                continue;
            };
            let record_alert = sqlx::query(
                "INSERT INTO information_request_alerts (request_id) VALUES ($1) ON CONFLICT DO NOTHING",
            )
            .bind(request.id);
            let meta = EventMeta::system(&review.partnership_id, review.id, system);
            if self
                .outbox
                .raise_once(&mut *connection, record_alert, &meta, body)
                .await?
            {
                raised += 1;
            }
        }
        Ok(raised)
    }

    async fn refresh_deadlines(
        connection: &mut PgConnection,
        review_id: Uuid,
        timeline: &Timeline,
    ) -> Result<(), sqlx::Error> {
        let kinds: Vec<&str> = timeline
            .deadlines
            .iter()
            .map(|deadline| deadline.kind.as_str())
            .collect();
        let due: Vec<Option<NaiveDate>> = timeline
            .deadlines
            .iter()
            .map(|deadline| deadline.due_on)
            .collect();
        let statuses: Vec<&str> = timeline
            .deadlines
            .iter()
            .map(|deadline| deadline.status.as_str())
            .collect();
        sqlx::query("DELETE FROM review_deadlines WHERE review_id = $1")
            .bind(review_id)
            .execute(&mut *connection)
            .await?;
        sqlx::query(
            "INSERT INTO review_deadlines (review_id, kind, due_on, status)
             SELECT $1, kind, due_on, status FROM UNNEST($2::text[], $3::date[], $4::text[]) AS t(kind, due_on, status)",
        )
        .bind(review_id)
        .bind(&kinds)
        .bind(&due)
        .bind(&statuses)
        .execute(&mut *connection)
        .await?;
        Ok(())
    }

    /// The record of a command on the review itself.
    async fn audit_review_command(
        &self,
        connection: &mut PgConnection,
        principal: &Principal,
        action: &str,
        review_id: Uuid,
    ) -> Result<(), sqlx::Error> {
        self.audit_command(
            connection,
            principal,
            action,
            review_id,
            format!("reviews/{review_id}"),
        )
        .await
    }

    /// Audits a read (or a refusal) outside any command.
    pub async fn audit_access(
        &self,
        principal: &Principal,
        action: &str,
        review_id: Option<Uuid>,
        outcome: &str,
    ) -> Result<(), sqlx::Error> {
        self.audit
            .record(&AuditEntry {
                principal,
                action,
                review_id,
                resource: review_id
                    .map_or_else(|| "reviews".to_string(), |id| format!("reviews/{id}")),
                outcome,
            })
            .await
    }

    /// One page of the deadline sweep: open reviews after `after_id` not locked by another
    /// replica; refreshes their statuses and raises each at-risk / missed alert once.
    /// Returns the last review id seen (None when done) and the alerts raised.
    pub async fn sweep_page(
        &self,
        after_id: Option<Uuid>,
        page_size: i64,
    ) -> Result<Page, RegistryError> {
        let mut alerts = self.begin_alerts().await?;
        let sql = format!(
            "SELECT {REVIEW_COLUMNS} FROM reviews
             WHERE stage NOT IN ('NOT_PROCEEDING', 'CLOSED') AND ($1::uuid IS NULL OR id > $1)
             ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED"
        );
        let rows: Vec<ReviewRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(after_id)
            .bind(page_size)
            .fetch_all(alerts.connection())
            .await?;
        let reviews = Self::load_reviews(alerts.connection(), rows).await?;
        let today = self.clock.today();
        for review in &reviews {
            let timeline = match deadlines::timeline(review, &self.rules, &self.calendar, today) {
                Ok(timeline) => timeline,
                Err(error) => {
                    tracing::warn!(review_id = %review.id, %error, "deadline sweep skipped a review");
                    continue;
                }
            };
            Self::refresh_deadlines(alerts.connection(), review.id, &timeline).await?;
            let raised = self
                .raise_deadline_alerts(
                    alerts.connection(),
                    review,
                    &timeline,
                    "system:deadline-sweep",
                )
                .await?;
            alerts.count(raised);
        }
        let raised = alerts.commit().await?;
        Ok((next_page(&reviews, page_size, |review| review.id), raised))
    }
}

/// Consumer side: where an agency's report stands (idempotent upsert; the latest event
/// wins).
pub async fn record_agency_report_status(
    connection: &mut PgConnection,
    review_id: Uuid,
    agency_id: &str,
    status: AgencyReportStatus,
    updated_at: DateTime<Utc>,
    changed_by: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO agency_report_statuses (review_id, agency_id, status, updated_at, changed_by) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (review_id, agency_id) DO UPDATE SET status = EXCLUDED.status, updated_at = EXCLUDED.updated_at, changed_by = EXCLUDED.changed_by",
    )
    .bind(review_id)
    .bind(agency_id)
    .bind(status.as_str())
    .bind(updated_at)
    .bind(changed_by)
    .execute(connection)
    .await?;
    Ok(())
}

/// Consumer side: the practitioners an agency's chronology names (AgencyReportSubmitted),
/// involved in the case as much as a registered practitioner is: kept by name and agency
/// (its id, and its name from the latest terms of reference), without an email, for the
/// panel independence check's name-and-organisation match. A name named again is kept once.
pub async fn record_named_practitioners(
    connection: &mut PgConnection,
    review_id: Uuid,
    agency_id: &str,
    named: &[cspr_proto::events::v1::NamedPractitioner],
) -> Result<(), sqlx::Error> {
    let names: Vec<&str> = named
        .iter()
        .map(|practitioner| practitioner.name.trim())
        .filter(|name| !name.is_empty())
        .collect();
    if names.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO involved_practitioners (review_id, practitioner_id, agency_id, email, name, agency_name)
         SELECT $1, 'chronology:' || $2 || ':' || lower(n), $2, '', n,
                COALESCE((SELECT a->>'name'
                          FROM terms_of_reference t, jsonb_array_elements(t.document->'agencies_in_scope') a
                          WHERE t.review_id = $1 AND a->>'id' = $2
                          ORDER BY t.version DESC LIMIT 1), '')
         FROM UNNEST($3::text[]) AS n
         ON CONFLICT (review_id, practitioner_id) DO NOTHING",
    )
    .bind(review_id)
    .bind(agency_id)
    .bind(&names)
    .execute(connection)
    .await?;
    Ok(())
}

/// Consumer side: a practitioner involved in the case (panel independence check).
pub async fn record_involved_practitioner(
    connection: &mut PgConnection,
    review_id: Uuid,
    practitioner: &cspr_proto::events::v1::PractitionerRegistered,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO involved_practitioners (review_id, practitioner_id, agency_id, email, name, agency_name)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (review_id, practitioner_id) DO UPDATE SET email = EXCLUDED.email, agency_id = EXCLUDED.agency_id,
             name = EXCLUDED.name, agency_name = EXCLUDED.agency_name",
    )
    .bind(review_id)
    .bind(&practitioner.practitioner_id)
    .bind(&practitioner.agency_id)
    .bind(&practitioner.email)
    .bind(practitioner.name.trim())
    .bind(practitioner.agency_name.trim())
    .execute(connection)
    .await?;
    Ok(())
}

/// The registry's business gauges, each by partnership (see `cspr_platform::metrics`).
#[derive(Debug, Default)]
pub struct RegistryGauges {
    /// Reviews by stage.
    pub reviews: Readings,
    /// Deadlines AT_RISK / MISSED of reviews not yet published, by deadline.
    pub at_risk: Readings,
    pub missed: Readings,
    /// Published reviews by whether the six-month deadline was met.
    pub completed: Readings,
}

impl Store {
    /// Reads [`RegistryGauges`] (aggregates over indexed columns: a few milliseconds at
    /// 10,000 reviews).
    pub async fn business_gauges(&self) -> Result<RegistryGauges, sqlx::Error> {
        let mut gauges = RegistryGauges::default();
        let stages: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT partnership_id, stage, count(*) FROM reviews GROUP BY partnership_id, stage",
        )
        .fetch_all(&self.pool)
        .await?;
        for (partnership, stage, count) in stages {
            gauges.reviews.push((
                vec![
                    ("partnership", partnership),
                    ("stage", stage.to_lowercase()),
                ],
                count as f64,
            ));
        }
        let deadlines: Vec<(String, String, String, i64)> = sqlx::query_as(
            "SELECT r.partnership_id, d.kind, d.status, count(*)
             FROM review_deadlines d JOIN reviews r ON r.id = d.review_id
             WHERE d.status IN ('AT_RISK', 'MISSED') AND NOT r.published
             GROUP BY r.partnership_id, d.kind, d.status",
        )
        .fetch_all(&self.pool)
        .await?;
        for (partnership, kind, status, count) in deadlines {
            let labels = vec![
                ("partnership", partnership),
                ("deadline", kind.to_lowercase()),
            ];
            if status == "MISSED" {
                gauges.missed.push((labels, count as f64));
            } else {
                gauges.at_risk.push((labels, count as f64));
            }
        }
        let completed: Vec<(String, bool, i64)> = sqlx::query_as(
            "SELECT r.partnership_id, d.status = 'MET', count(*)
             FROM reviews r JOIN review_deadlines d ON d.review_id = r.id AND d.kind = 'COMPLETION'
             WHERE r.published
             GROUP BY 1, 2",
        )
        .fetch_all(&self.pool)
        .await?;
        for (partnership, within, count) in completed {
            gauges.completed.push((
                vec![
                    ("partnership", partnership),
                    ("within_target", within.to_string()),
                ],
                count as f64,
            ));
        }
        Ok(gauges)
    }
}
