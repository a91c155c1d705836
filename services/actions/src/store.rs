//! The actions database: the only place with SQL. Each command is one transaction with its
//! events and audit record; the plan's activation and completion are decided here too.

use chrono::{DateTime, NaiveDate, Utc};
use cspr_platform::auth::Principal;
use cspr_platform::bus::outbox::{self, EventMeta};
use cspr_platform::convert::date_to_proto;
use cspr_platform::idempotency::{self, RequestKey};
use cspr_platform::jobs::Page;
use cspr_platform::metrics::Readings;
use cspr_platform::pagination::Cursor;
use cspr_platform::projection::reviews::{self, ReviewWith};
use cspr_platform::store::{DuePage, fetch_keyed};
use cspr_proto::events::v1::{self as ev, Actor, event::Body};
use sqlx::{PgConnection, PgExecutor, Postgres, Transaction};
use uuid::Uuid;

use crate::domain::{self, ActionStatus};
use crate::error::ActionsError;

cspr_platform::review_columns! {
    /// The actions service's own columns of a review: the plan's state.
    #[derive(Debug, Clone, sqlx::FromRow)]
    pub struct PlanState {
        /// Set when the review is published: the plan is being monitored.
        pub plan_active: bool,
        /// Set once, when every action of the active plan is verified or cancelled.
        pub plan_completed: bool,
    }
}

/// What the service knows of a review.
pub type ReviewInfo = ReviewWith<PlanState>;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ActionRow {
    pub id: Uuid,
    pub review_id: Uuid,
    pub partnership_id: String,
    pub recommendation_ref: String,
    pub description: String,
    pub owner_agency: String,
    pub owner_email: String,
    pub due_date: NaiveDate,
    pub measure_of_success: String,
    pub status: String,
    pub cancel_reason: String,
    pub evidence_of_impact: String,
    pub verified_at: Option<DateTime<Utc>>,
    pub verified_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// 1 when created, one more with each change.
    pub version: i32,
    pub reference: String,
}

impl ActionRow {
    pub fn status(&self) -> ActionStatus {
        ActionStatus::parse(&self.status).unwrap_or(ActionStatus::NotStarted)
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NoteRow {
    pub action_id: Uuid,
    pub at: DateTime<Utc>,
    pub author: String,
    pub status: String,
    pub note: String,
}

const ACTION_COLUMNS: &str = "a.id, a.review_id, a.partnership_id, a.recommendation_ref, a.description, a.owner_agency,
    a.owner_email, a.due_date, a.measure_of_success, a.status, a.cancel_reason, a.evidence_of_impact, a.verified_at,
    a.verified_by, a.created_at, a.updated_at, a.version, r.reference";

/// Filters of ListActions.
#[derive(Debug, Clone, Default)]
pub struct ActionFilter {
    pub review_id: Option<Uuid>,
    /// Only the reviews this reviewer is appointed to (a reviewer's reach).
    pub reviewer_subject: Option<String>,
    pub owner_agency: Option<String>,
    pub status: Option<ActionStatus>,
    pub overdue_on: Option<NaiveDate>,
}

/// A new action (validated).
#[derive(Debug, Clone)]
pub struct NewAction {
    pub recommendation_ref: String,
    pub description: String,
    pub owner_agency: String,
    pub owner_email: String,
    pub due_date: NaiveDate,
    pub measure_of_success: String,
}

/// A progress update (validated).
#[derive(Debug, Clone)]
pub struct Progress {
    pub status: ActionStatus,
    pub cancel_reason: String,
    pub note: String,
    pub evidence_of_impact: String,
    /// The version the update was made from, when the caller says.
    pub based_on_version: Option<i32>,
}

cspr_platform::service_store! {
    /// The actions service's store: the shared [`StoreParts`](cspr_platform::store::StoreParts)
    /// (through which it reads its pool, outbox, clock and audit log) and the SQL below.
    pub struct Store;
}

fn meta(partnership_id: &str, review_id: Uuid, actor: Actor) -> EventMeta {
    EventMeta {
        partnership_id: partnership_id.to_string(),
        review_id: Some(review_id),
        actor,
    }
}

impl Store {
    // ---- projections of the registry (consumer side)

    /// The approved overview report's recommendations become the plan's headings (a later
    /// approval adds new ones and updates texts; headings with actions stay).
    pub async fn record_recommendations(
        connection: &mut PgConnection,
        review_id: Uuid,
        partnership_id: &str,
        recommendations: &[(String, String)],
    ) -> Result<(), sqlx::Error> {
        reviews::ensure(connection, review_id, partnership_id).await?;
        let refs: Vec<&str> = recommendations
            .iter()
            .map(|(reference, _)| reference.as_str())
            .collect();
        let texts: Vec<&str> = recommendations
            .iter()
            .map(|(_, text)| text.as_str())
            .collect();
        sqlx::query(
            "INSERT INTO recommendations (review_id, ref, text) SELECT $1, ref, text FROM UNNEST($2::text[], $3::text[]) AS t(ref, text)
             ON CONFLICT (review_id, ref) DO UPDATE SET text = EXCLUDED.text",
        )
        .bind(review_id)
        .bind(&refs)
        .bind(&texts)
        .execute(connection)
        .await?;
        Ok(())
    }

    /// The review was published: the plan becomes active (and may already be complete).
    pub async fn activate_plan(
        &self,
        connection: &mut PgConnection,
        review_id: Uuid,
        partnership_id: &str,
    ) -> Result<(), sqlx::Error> {
        reviews::ensure(connection, review_id, partnership_id).await?;
        let activated = sqlx::query(
            "UPDATE reviews SET plan_active = true WHERE review_id = $1 AND NOT plan_active",
        )
        .bind(review_id)
        .execute(&mut *connection)
        .await?
        .rows_affected();
        if activated == 1 {
            let count: i64 =
                sqlx::query_scalar("SELECT count(*) FROM actions WHERE review_id = $1")
                    .bind(review_id)
                    .fetch_one(&mut *connection)
                    .await?;
            let system = outbox::system_actor("system:action-plan");
            let body = Body::ActionPlanActivated(ev::ActionPlanActivated {
                action_count: i32::try_from(count).unwrap_or(i32::MAX),
            });
            self.outbox
                .enqueue(
                    connection,
                    &meta(partnership_id, review_id, system.clone()),
                    body,
                )
                .await?;
            self.complete_plan_if_settled(connection, review_id, partnership_id, system)
                .await?;
        }
        Ok(())
    }

    /// Emits `action_plan_completed` once, when the plan is active and every action is
    /// verified or cancelled.
    async fn complete_plan_if_settled(
        &self,
        connection: &mut PgConnection,
        review_id: Uuid,
        partnership_id: &str,
        actor: Actor,
    ) -> Result<(), sqlx::Error> {
        // The review's row first: a plan activated (by an event) while its last action is
        // settled (by a call) would otherwise see neither the other's change, and the plan
        // would never complete. Whichever transaction comes second waits here and then
        // reads the other's committed change.
        sqlx::query("SELECT 1 FROM reviews WHERE review_id = $1 FOR UPDATE")
            .bind(review_id)
            .execute(&mut *connection)
            .await?;
        let statuses: Vec<String> =
            sqlx::query_scalar("SELECT status FROM actions WHERE review_id = $1")
                .bind(review_id)
                .fetch_all(&mut *connection)
                .await?;
        let parsed: Vec<(ActionStatus, bool)> = statuses
            .iter()
            .filter_map(|status| ActionStatus::parse(status))
            .map(|status| (status, false))
            .collect();
        if !domain::summarize(&parsed).plan_complete {
            return Ok(());
        }
        let completed = sqlx::query("UPDATE reviews SET plan_completed = true WHERE review_id = $1 AND plan_active AND NOT plan_completed")
            .bind(review_id)
            .execute(&mut *connection)
            .await?
            .rows_affected();
        if completed == 1 {
            let verified = parsed
                .iter()
                .filter(|(status, _)| *status == ActionStatus::Verified)
                .count();
            let body = Body::ActionPlanCompleted(ev::ActionPlanCompleted {
                verified: i32::try_from(verified).unwrap_or(i32::MAX),
                cancelled: i32::try_from(parsed.len() - verified).unwrap_or(i32::MAX),
            });
            self.outbox
                .enqueue(connection, &meta(partnership_id, review_id, actor), body)
                .await?;
        }
        Ok(())
    }

    // ---- reads

    pub async fn has_recommendation(
        &self,
        review_id: Uuid,
        reference: &str,
    ) -> Result<bool, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM recommendations WHERE review_id = $1 AND ref = $2)",
        )
        .bind(review_id)
        .bind(reference)
        .fetch_one(&self.pool)
        .await
    }

    async fn action_in(
        executor: impl PgExecutor<'_>,
        partnership_id: &str,
        id: Uuid,
        lock: bool,
    ) -> Result<Option<ActionRow>, sqlx::Error> {
        let select = format!(
            "SELECT {ACTION_COLUMNS} FROM actions a JOIN reviews r ON r.review_id = a.review_id
             WHERE a.id = $1 AND a.partnership_id = $2"
        );
        fetch_keyed(executor, &select, (id, partnership_id), lock.then_some("a")).await
    }

    pub async fn notes(&self, action_ids: &[Uuid]) -> Result<Vec<NoteRow>, sqlx::Error> {
        sqlx::query_as("SELECT action_id, at, author, status, note FROM action_notes WHERE action_id = ANY($1) ORDER BY at, id")
            .bind(action_ids)
            .fetch_all(&self.pool)
            .await
    }

    pub async fn list(
        &self,
        partnership_id: &str,
        filter: &ActionFilter,
        after: Option<Cursor>,
        limit: i64,
    ) -> Result<Vec<ActionRow>, sqlx::Error> {
        let sql = format!(
            "SELECT {ACTION_COLUMNS} FROM actions a JOIN reviews r ON r.review_id = a.review_id
             WHERE a.partnership_id = $1
               AND ($2::uuid IS NULL OR a.review_id = $2)
               AND ($3::text IS NULL OR a.owner_agency = $3)
               AND ($4::text IS NULL OR a.status = $4)
               AND ($5::date IS NULL OR (a.due_date < $5 AND a.status IN ('NOT_STARTED', 'IN_PROGRESS')))
               AND ($6::timestamptz IS NULL OR (a.created_at, a.id) > ($6, $7))
               AND ($9::text IS NULL OR r.reviewer_subject = $9)
             ORDER BY a.created_at, a.id LIMIT $8"
        );
        sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(partnership_id)
            .bind(filter.review_id)
            .bind(filter.owner_agency.as_deref())
            .bind(filter.status.map(ActionStatus::as_str))
            .bind(filter.overdue_on)
            .bind(after.map(|cursor| cursor.at))
            .bind(after.map(|cursor| cursor.id))
            .bind(limit)
            .bind(filter.reviewer_subject.as_deref())
            .fetch_all(&self.pool)
            .await
    }

    /// (status, overdue) of every action of the partnership, or of one review.
    pub async fn statuses(
        &self,
        partnership_id: &str,
        review_id: Option<Uuid>,
        today: NaiveDate,
    ) -> Result<Vec<(ActionStatus, bool)>, sqlx::Error> {
        let rows: Vec<(String, NaiveDate)> = sqlx::query_as(
            "SELECT status, due_date FROM actions WHERE partnership_id = $1 AND ($2::uuid IS NULL OR review_id = $2)",
        )
        .bind(partnership_id)
        .bind(review_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(status, due)| {
                ActionStatus::parse(&status)
                    .map(|status| (status, domain::is_overdue(status, due, today)))
            })
            .collect())
    }

    // ---- commands

    pub async fn create(
        &self,
        principal: &Principal,
        review: &ReviewInfo,
        action: NewAction,
        key: &RequestKey,
    ) -> Result<ActionRow, ActionsError> {
        let mut transaction = self.pool.begin().await?;
        let id = Uuid::now_v7();
        let replayed = idempotency::claim_by(&mut transaction, principal, key, id).await?;
        if let Some(existing) = replayed {
            transaction.rollback().await?;
            return Self::action_in(&self.pool, &principal.partnership, existing, false)
                .await?
                .ok_or_else(|| ActionsError::ActionNotFound(existing.to_string()));
        }
        let now = self.clock.now();
        sqlx::query(
            "INSERT INTO actions (id, review_id, partnership_id, recommendation_ref, description, owner_agency, owner_email,
                 due_date, measure_of_success, status, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'NOT_STARTED', $10, $10)",
        )
        .bind(id)
        .bind(review.review_id)
        .bind(&principal.partnership)
        .bind(&action.recommendation_ref)
        .bind(&action.description)
        .bind(&action.owner_agency)
        .bind(&action.owner_email)
        .bind(action.due_date)
        .bind(&action.measure_of_success)
        .bind(now)
        .execute(&mut *transaction)
        .await?;
        sqlx::query("UPDATE reviews SET plan_completed = false WHERE review_id = $1")
            .bind(review.review_id)
            .execute(&mut *transaction)
            .await?;
        let body = Body::ActionAssigned(ev::ActionAssigned {
            action_id: id.to_string(),
            recommendation_ref: action.recommendation_ref.clone(),
            description: action.description.clone(),
            owner_agency: action.owner_agency.clone(),
            owner_email: action.owner_email.clone(),
            due_date: Some(date_to_proto(action.due_date)),
            measure_of_success: action.measure_of_success.clone(),
            review_reference: review.reference.clone(),
        });
        self.record_command(
            &mut transaction,
            principal,
            "CreateAction",
            review.review_id,
            format!("actions/{id}"),
            [body],
        )
        .await?;
        let row = Self::action_in(&mut *transaction, &principal.partnership, id, false)
            .await?
            .ok_or_else(|| ActionsError::ActionNotFound(id.to_string()))?;
        transaction.commit().await?;
        Ok(row)
    }

    /// UpdateActionProgress; `owner` is the agency an agency caller must own the action as.
    pub async fn update_progress(
        &self,
        principal: &Principal,
        id: Uuid,
        owner: Option<&str>,
        progress: Progress,
    ) -> Result<ActionRow, ActionsError> {
        let mut transaction = self.pool.begin().await?;
        let action = Self::action_in(&mut *transaction, &principal.partnership, id, true)
            .await?
            .ok_or_else(|| ActionsError::ActionNotFound(id.to_string()))?;
        if owner.is_some_and(|owner| owner != action.owner_agency) {
            return Err(ActionsError::ActionNotFound(id.to_string()));
        }
        domain::may_update(action.status(), progress.status)?;
        cspr_platform::error::require_current(progress.based_on_version, action.version)
            .map_err(domain::ActionError::from)?;
        let now = self.clock.now();
        sqlx::query(
            "UPDATE actions SET status = $2, cancel_reason = $3,
                 evidence_of_impact = CASE WHEN $4 = '' THEN evidence_of_impact ELSE $4 END, updated_at = $5,
                 version = version + 1
             WHERE id = $1",
        )
        .bind(id)
        .bind(progress.status.as_str())
        .bind(&progress.cancel_reason)
        .bind(&progress.evidence_of_impact)
        .bind(now)
        .execute(&mut *transaction)
        .await?;
        sqlx::query("INSERT INTO action_notes (id, action_id, at, author, status, note) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(Uuid::now_v7())
            .bind(id)
            .bind(now)
            .bind(&principal.subject)
            .bind(progress.status.as_str())
            .bind(&progress.note)
            .execute(&mut *transaction)
            .await?;
        let body = Body::ActionProgressUpdated(ev::ActionProgressUpdated {
            action_id: id.to_string(),
            status: progress.status.as_str().to_string(),
        });
        self.finish_action_command(
            transaction,
            principal,
            &action,
            "UpdateActionProgress",
            body,
        )
        .await
    }

    pub async fn verify(
        &self,
        principal: &Principal,
        id: Uuid,
        note: String,
        based_on_version: Option<i32>,
    ) -> Result<ActionRow, ActionsError> {
        let mut transaction = self.pool.begin().await?;
        let action = Self::action_in(&mut *transaction, &principal.partnership, id, true)
            .await?
            .ok_or_else(|| ActionsError::ActionNotFound(id.to_string()))?;
        domain::may_verify(action.status(), &action.evidence_of_impact)?;
        cspr_platform::error::require_current(based_on_version, action.version)
            .map_err(domain::ActionError::from)?;
        let now = self.clock.now();
        sqlx::query("UPDATE actions SET status = 'VERIFIED', verified_at = $2, verified_by = $3, updated_at = $2, version = version + 1 WHERE id = $1")
            .bind(id)
            .bind(now)
            .bind(&principal.subject)
            .execute(&mut *transaction)
            .await?;
        sqlx::query("INSERT INTO action_notes (id, action_id, at, author, status, note) VALUES ($1, $2, $3, $4, 'VERIFIED', $5)")
            .bind(Uuid::now_v7())
            .bind(id)
            .bind(now)
            .bind(&principal.subject)
            .bind(&note)
            .execute(&mut *transaction)
            .await?;
        let body = Body::ActionVerified(ev::ActionVerified {
            action_id: id.to_string(),
        });
        self.finish_action_command(transaction, principal, &action, "VerifyAction", body)
            .await
    }

    /// The end of a command on one action (progress, verification): its event, the plan's
    /// completion when it settled the plan's last action, its audit record; commits and
    /// returns the action as it now is.
    async fn finish_action_command(
        &self,
        mut transaction: Transaction<'_, Postgres>,
        principal: &Principal,
        action: &ActionRow,
        command: &str,
        body: Body,
    ) -> Result<ActionRow, ActionsError> {
        let actor = outbox::actor(principal);
        self.outbox
            .enqueue(
                &mut transaction,
                &meta(&action.partnership_id, action.review_id, actor.clone()),
                body,
            )
            .await?;
        self.complete_plan_if_settled(
            &mut transaction,
            action.review_id,
            &action.partnership_id,
            actor,
        )
        .await?;
        let id = action.id;
        self.audit_command(
            &mut transaction,
            principal,
            command,
            action.review_id,
            format!("actions/{id}"),
        )
        .await?;
        let row = Self::action_in(&mut *transaction, &principal.partnership, id, false)
            .await?
            .ok_or_else(|| ActionsError::ActionNotFound(id.to_string()))?;
        transaction.commit().await?;
        Ok(row)
    }

    /// One page of the reminder sweep: due soon, overdue, and escalation after
    /// `escalate_after_days` overdue — each once per action and due date (replica-safe).
    pub async fn sweep_page(
        &self,
        after: Option<Uuid>,
        page_size: i64,
        due_soon_days: u32,
        escalate_after_days: u32,
    ) -> Result<Page, ActionsError> {
        let sql = format!(
            "SELECT {ACTION_COLUMNS} FROM actions a JOIN reviews r ON r.review_id = a.review_id
             WHERE a.status IN ('NOT_STARTED', 'IN_PROGRESS') AND a.due_date <= $1 AND ($2::uuid IS NULL OR a.id > $2)
             ORDER BY a.id LIMIT $3 FOR UPDATE OF a SKIP LOCKED"
        );
        let mut page: DuePage<ActionRow> = self
            .begin_due_page(sqlx::AssertSqlSafe(sql), due_soon_days, after, page_size)
            .await?;
        let today = page.today;
        for action in &page.rows {
            let days_overdue = (today - action.due_date).num_days();
            let mut alerts = Vec::new();
            if days_overdue > 0 {
                alerts.push("OVERDUE");
                if days_overdue >= i64::from(escalate_after_days) {
                    alerts.push("ESCALATED");
                }
            } else {
                alerts.push("DUE_SOON");
            }
            let meta = EventMeta::system(
                &action.partnership_id,
                action.review_id,
                "system:action-reminders",
            );
            for alert in alerts {
                let body = match alert {
                    "DUE_SOON" => Body::ActionDueSoon(ev::ActionDueSoon {
                        action_id: action.id.to_string(),
                        description: action.description.clone(),
                        owner_email: action.owner_email.clone(),
                        due_date: Some(date_to_proto(action.due_date)),
                        review_reference: action.reference.clone(),
                    }),
                    "OVERDUE" => Body::ActionOverdue(ev::ActionOverdue {
                        action_id: action.id.to_string(),
                        description: action.description.clone(),
                        owner_email: action.owner_email.clone(),
                        due_date: Some(date_to_proto(action.due_date)),
                        review_reference: action.reference.clone(),
                    }),
                    _ => Body::ActionOverdueEscalated(ev::ActionOverdueEscalated {
                        action_id: action.id.to_string(),
                        owner_agency: action.owner_agency.clone(),
                        due_date: Some(date_to_proto(action.due_date)),
                        days_overdue: i32::try_from(days_overdue).unwrap_or(i32::MAX),
                        review_reference: action.reference.clone(),
                    }),
                };
                let record_alert = sqlx::query("INSERT INTO action_alerts (action_id, alert, due_date) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                    .bind(action.id)
                    .bind(alert)
                    .bind(action.due_date);
                page.alerts.raise_once(record_alert, &meta, body).await?;
            }
        }
        Ok(page.commit(|row| row.id).await?)
    }
}

impl Store {
    /// Open actions past their due date, and the share of actions completed or verified
    /// (of those not cancelled), by partnership: `cspr.actions.overdue` and
    /// `cspr.action_plans.completion`.
    pub async fn action_gauges(&self) -> Result<(Readings, Readings), sqlx::Error> {
        let today = self.clock.today();
        let rows: Vec<(String, i64, Option<f64>)> = sqlx::query_as(
            "SELECT partnership_id,
                    count(*) FILTER (WHERE status IN ('NOT_STARTED', 'IN_PROGRESS') AND due_date < $1),
                    (count(*) FILTER (WHERE status IN ('COMPLETED', 'VERIFIED')))::float8
                      / nullif(count(*) FILTER (WHERE status <> 'CANCELLED'), 0)
             FROM actions GROUP BY partnership_id",
        )
        .bind(today)
        .fetch_all(&self.pool)
        .await?;
        let mut overdue = Vec::new();
        let mut completion = Vec::new();
        for (partnership, late, done) in rows {
            overdue.push((vec![("partnership", partnership.clone())], late as f64));
            if let Some(done) = done {
                completion.push((vec![("partnership", partnership)], done));
            }
        }
        Ok((overdue, completion))
    }
}
