//! The practitioners database: the only place with SQL. Each command is one transaction
//! with its event and audit record.

use chrono::{DateTime, NaiveDate, Utc};
use cspr_platform::auth::Principal;
use cspr_platform::convert::{date_to_proto, timestamp_to_proto};
use cspr_platform::idempotency::{self, RequestKey};
use cspr_platform::jobs::ReviewDateSweep;
use cspr_platform::pagination::TextCursor;
use cspr_platform::projection::reviews::{self, ReviewWith};
use cspr_platform::store::fetch_keyed;
use cspr_proto::events::v1::{self as ev, event::Body};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use crate::domain::{
    self, Candidate, DeferralReason, EngagementError, LearningPoint, PractitionerStatus,
};
use crate::error::PractitionersError;

cspr_platform::review_columns! {
    /// The practitioners service's own columns of a review: the terms' key lines of enquiry.
    #[derive(Debug, Clone, sqlx::FromRow)]
    pub struct EnquiryLines {
        /// What conversations with practitioners explore.
        pub key_lines_of_enquiry: sqlx::types::Json<Vec<String>>,
    }
}

/// What the service knows of a review; its scope is set with the terms of reference (the
/// methodology is agreed).
pub type ReviewInfo = ReviewWith<EnquiryLines>;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PractitionerRecord {
    pub id: Uuid,
    pub review_id: Uuid,
    pub name: String,
    pub role: String,
    pub agency_id: String,
    pub agency_name: String,
    pub email: String,
    pub involvement_start: Option<NaiveDate>,
    pub involvement_end: Option<NaiveDate>,
    pub status: String,
    pub deferral_reason: Option<String>,
    pub deferral_detail: String,
    pub deferral_authorised_by: String,
    pub deferral_review_date: Option<NaiveDate>,
    pub deferred_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl PractitionerRecord {
    pub fn candidate(&self) -> Candidate {
        Candidate {
            id: self.id,
            status: PractitionerStatus::parse(&self.status)
                .unwrap_or(PractitionerStatus::Suggested),
            deferred: self.deferral_reason.is_some(),
            involvement: self.involvement_start.zip(self.involvement_end),
        }
    }
}

const PRACTITIONER_COLUMNS: &str = "id, review_id, name, role, agency_id, agency_name, email, involvement_start, involvement_end,
    status, deferral_reason, deferral_detail, deferral_authorised_by, deferral_review_date, deferred_at, created_at, updated_at";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConversationRecord {
    pub id: Uuid,
    pub review_id: Uuid,
    pub practitioner_id: Uuid,
    pub scheduled_at: DateTime<Utc>,
    pub location: String,
    pub advance_information: String,
    pub key_lines_of_enquiry: sqlx::types::Json<Vec<String>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct LearningEventRecord {
    pub id: Uuid,
    pub review_id: Uuid,
    pub scheduled_at: DateTime<Utc>,
    pub location: String,
    pub agenda: String,
    pub invitee_ids: Vec<Uuid>,
    pub attendee_ids: Vec<Uuid>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LearningRecordRow {
    pub id: Uuid,
    pub review_id: Uuid,
    pub learning_event_id: Option<Uuid>,
    pub conversation_id: Option<Uuid>,
    pub points: sqlx::types::Json<Vec<LearningPoint>>,
    pub created_at: DateTime<Utc>,
}

/// A practitioner to register (or a suggestion to confirm).
#[derive(Debug, Clone)]
pub struct Registration {
    pub practitioner_id: Option<Uuid>,
    pub name: String,
    pub role: String,
    pub agency_id: String,
    pub agency_name: String,
    pub email: String,
    pub involvement_start: NaiveDate,
    pub involvement_end: NaiveDate,
}

cspr_platform::service_store! {
    /// The practitioners service's store: the shared
    /// [`StoreParts`](cspr_platform::store::StoreParts) (through which it reads its pool,
    /// outbox, clock and audit log) and the SQL below.
    pub struct Store;
}

impl Store {
    // ---- projections (consumer side)

    /// The terms of reference's key lines of enquiry (the platform's projection has applied
    /// the rest of the terms, so the row exists).
    pub async fn record_key_lines(
        connection: &mut PgConnection,
        review_id: Uuid,
        key_lines: &[String],
    ) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE reviews SET key_lines_of_enquiry = $2 WHERE review_id = $1")
            .bind(review_id)
            .bind(sqlx::types::Json(key_lines))
            .execute(connection)
            .await?;
        Ok(())
    }

    /// A practitioner named in a chronology: a suggestion, unless the same agency, name and
    /// role is already known. Returns whether it was new.
    pub async fn suggest(
        &self,
        connection: &mut PgConnection,
        review_id: Uuid,
        partnership_id: &str,
        agency_id: &str,
        name: &str,
        role: &str,
    ) -> Result<bool, sqlx::Error> {
        reviews::ensure(connection, review_id, partnership_id).await?;
        let now = self.clock.now();
        let inserted = sqlx::query(
            "INSERT INTO practitioners (id, review_id, name, role, agency_id, status, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, 'SUGGESTED', $6, $6)
             ON CONFLICT (review_id, agency_id, lower(name), lower(role)) DO NOTHING",
        )
        .bind(Uuid::now_v7())
        .bind(review_id)
        .bind(name.trim())
        .bind(role.trim())
        .bind(agency_id)
        .bind(now)
        .execute(connection)
        .await?
        .rows_affected();
        Ok(inserted == 1)
    }

    // ---- reads

    async fn practitioner_in(
        executor: impl PgExecutor<'_>,
        review_id: Uuid,
        id: Uuid,
        lock: bool,
    ) -> Result<Option<PractitionerRecord>, sqlx::Error> {
        let select = format!(
            "SELECT {PRACTITIONER_COLUMNS} FROM practitioners WHERE review_id = $1 AND id = $2"
        );
        fetch_keyed(
            executor,
            &select,
            (review_id, id),
            lock.then_some("practitioners"),
        )
        .await
    }

    /// A page of a review's practitioners in name order, after `after` (keyset).
    pub async fn list(
        &self,
        review_id: Uuid,
        include_suggested: bool,
        after: Option<TextCursor>,
        limit: i64,
    ) -> Result<Vec<PractitionerRecord>, sqlx::Error> {
        let (after_name, after_id) = match after {
            Some(cursor) => (Some(cursor.key), Some(cursor.id)),
            None => (None, None),
        };
        let sql = format!(
            "SELECT {PRACTITIONER_COLUMNS} FROM practitioners
             WHERE review_id = $1 AND ($2 OR status = 'CONFIRMED')
               AND ($3::text IS NULL OR (lower(name), id) > ($3, $4))
             ORDER BY lower(name), id LIMIT $5"
        );
        sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(review_id)
            .bind(include_suggested)
            .bind(after_name)
            .bind(after_id)
            .bind(limit)
            .fetch_all(&self.pool)
            .await
    }

    async fn learning_event_in(
        connection: &mut PgConnection,
        review_id: Uuid,
        id: Uuid,
    ) -> Result<Option<LearningEventRecord>, sqlx::Error> {
        #[derive(sqlx::FromRow)]
        struct EventRow {
            id: Uuid,
            review_id: Uuid,
            scheduled_at: DateTime<Utc>,
            location: String,
            agenda: String,
            created_at: DateTime<Utc>,
        }
        let row: Option<EventRow> = sqlx::query_as(
            "SELECT id, review_id, scheduled_at, location, agenda, created_at FROM learning_events WHERE review_id = $1 AND id = $2",
        )
        .bind(review_id)
        .bind(id)
        .fetch_optional(&mut *connection)
        .await?;
        let Some(EventRow {
            id,
            review_id,
            scheduled_at,
            location,
            agenda,
            created_at,
        }) = row
        else {
            return Ok(None);
        };
        let invitees: Vec<(Uuid, bool)> = sqlx::query_as(
            "SELECT practitioner_id, attended FROM learning_event_invitees WHERE learning_event_id = $1 ORDER BY practitioner_id",
        )
        .bind(id)
        .fetch_all(&mut *connection)
        .await?;
        Ok(Some(LearningEventRecord {
            id,
            review_id,
            scheduled_at,
            location,
            agenda,
            invitee_ids: invitees.iter().map(|(id, _)| *id).collect(),
            attendee_ids: invitees
                .iter()
                .filter(|(_, attended)| *attended)
                .map(|(id, _)| *id)
                .collect(),
            created_at,
        }))
    }

    async fn conversation_in(
        executor: impl PgExecutor<'_>,
        id: Uuid,
    ) -> Result<Option<ConversationRecord>, sqlx::Error> {
        sqlx::query_as(
            "SELECT id, review_id, practitioner_id, scheduled_at, location, advance_information, key_lines_of_enquiry, created_at
             FROM conversations WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(executor)
        .await
    }

    async fn learning_record_in(
        executor: impl PgExecutor<'_>,
        id: Uuid,
    ) -> Result<Option<LearningRecordRow>, sqlx::Error> {
        sqlx::query_as("SELECT id, review_id, learning_event_id, conversation_id, points, created_at FROM learning_records WHERE id = $1")
            .bind(id)
            .fetch_optional(executor)
            .await
    }

    // ---- commands

    pub async fn register(
        &self,
        principal: &Principal,
        review: &ReviewInfo,
        registration: Registration,
        key: RequestKey,
    ) -> Result<PractitionerRecord, PractitionersError> {
        let mut transaction = self.pool.begin().await?;
        let resource = registration.practitioner_id.unwrap_or_else(Uuid::now_v7);
        if let Some(existing) =
            idempotency::claim_by(&mut transaction, principal, &key, resource).await?
        {
            transaction.rollback().await?;
            return Self::practitioner_in(&self.pool, review.review_id, existing, false)
                .await?
                .ok_or_else(|| PractitionersError::PractitionerNotFound(existing.to_string()));
        }
        let now = self.clock.now();
        let id: Uuid = match registration.practitioner_id {
            Some(id) => {
                Self::practitioner_in(&mut *transaction, review.review_id, id, true)
                    .await?
                    .ok_or_else(|| PractitionersError::PractitionerNotFound(id.to_string()))?;
                let taken: Option<Uuid> = sqlx::query_scalar(
                    "SELECT id FROM practitioners
                     WHERE review_id = $1 AND id <> $2 AND agency_id = $3
                       AND lower(name) = lower($4) AND lower(role) = lower($5)",
                )
                .bind(review.review_id)
                .bind(id)
                .bind(&registration.agency_id)
                .bind(&registration.name)
                .bind(&registration.role)
                .fetch_optional(&mut *transaction)
                .await?;
                if let Some(existing) = taken {
                    return Err(PractitionersError::IdentityTaken(existing));
                }
                sqlx::query(
                    "UPDATE practitioners SET name = $3, role = $4, agency_id = $5, agency_name = $6, email = $7,
                         involvement_start = $8, involvement_end = $9, status = 'CONFIRMED', updated_at = $10
                     WHERE review_id = $1 AND id = $2",
                )
                .bind(review.review_id)
                .bind(id)
                .bind(&registration.name)
                .bind(&registration.role)
                .bind(&registration.agency_id)
                .bind(&registration.agency_name)
                .bind(&registration.email)
                .bind(registration.involvement_start)
                .bind(registration.involvement_end)
                .bind(now)
                .execute(&mut *transaction)
                .await?;
                id
            }
            None => {
                sqlx::query_scalar(
                    "INSERT INTO practitioners (id, review_id, name, role, agency_id, agency_name, email, involvement_start,
                         involvement_end, status, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'CONFIRMED', $10, $10)
                     ON CONFLICT (review_id, agency_id, lower(name), lower(role)) DO UPDATE SET
                         agency_name = EXCLUDED.agency_name, email = EXCLUDED.email,
                         involvement_start = EXCLUDED.involvement_start, involvement_end = EXCLUDED.involvement_end,
                         status = 'CONFIRMED', updated_at = EXCLUDED.updated_at
                     RETURNING id",
                )
                .bind(resource)
                .bind(review.review_id)
                .bind(&registration.name)
                .bind(&registration.role)
                .bind(&registration.agency_id)
                .bind(&registration.agency_name)
                .bind(&registration.email)
                .bind(registration.involvement_start)
                .bind(registration.involvement_end)
                .bind(now)
                .fetch_one(&mut *transaction)
                .await?
            }
        };
        let body = Body::PractitionerRegistered(ev::PractitionerRegistered {
            practitioner_id: id.to_string(),
            agency_id: registration.agency_id.clone(),
            email: registration.email.clone(),
            name: registration.name.clone(),
            role: registration.role.clone(),
            agency_name: registration.agency_name.clone(),
        });
        self.record_command(
            &mut transaction,
            principal,
            "RegisterPractitioner",
            review.review_id,
            format!("practitioners/{id}"),
            [body],
        )
        .await?;
        let record = Self::practitioner_in(&mut *transaction, review.review_id, id, false)
            .await?
            .ok_or_else(|| PractitionersError::PractitionerNotFound(id.to_string()))?;
        transaction.commit().await?;
        Ok(record)
    }

    /// DeferContact (Some) or ReleaseContact (None).
    pub async fn set_deferral(
        &self,
        principal: &Principal,
        review_id: Uuid,
        practitioner_id: Uuid,
        deferral: Option<(DeferralReason, String, String, NaiveDate)>,
    ) -> Result<PractitionerRecord, PractitionersError> {
        let mut transaction = self.pool.begin().await?;
        let current = Self::practitioner_in(&mut *transaction, review_id, practitioner_id, true)
            .await?
            .ok_or_else(|| PractitionersError::PractitionerNotFound(practitioner_id.to_string()))?;
        let now = self.clock.now();
        let (action, body) = match &deferral {
            Some((reason, detail, authorised_by, review_date)) => {
                sqlx::query(
                    "UPDATE practitioners SET deferral_reason = $3, deferral_detail = $4, deferral_authorised_by = $5,
                         deferral_review_date = $6, deferred_at = $7, updated_at = $7
                     WHERE review_id = $1 AND id = $2",
                )
                .bind(review_id)
                .bind(practitioner_id)
                .bind(reason.as_str())
                .bind(detail)
                .bind(authorised_by)
                .bind(review_date)
                .bind(now)
                .execute(&mut *transaction)
                .await?;
                (
                    "DeferContact",
                    Body::ContactDeferred(ev::ContactDeferred {
                        practitioner_id: practitioner_id.to_string(),
                        reason: reason.as_str().to_string(),
                        review_date: Some(date_to_proto(*review_date)),
                    }),
                )
            }
            None => {
                if current.deferral_reason.is_none() {
                    return Err(EngagementError::NotDeferred(practitioner_id).into());
                }
                sqlx::query(
                    "UPDATE practitioners SET deferral_reason = NULL, deferral_detail = '', deferral_authorised_by = '',
                         deferral_review_date = NULL, deferred_at = NULL, updated_at = $3
                     WHERE review_id = $1 AND id = $2",
                )
                .bind(review_id)
                .bind(practitioner_id)
                .bind(now)
                .execute(&mut *transaction)
                .await?;
                (
                    "ReleaseContact",
                    Body::ContactReleased(ev::ContactReleased {
                        practitioner_id: practitioner_id.to_string(),
                    }),
                )
            }
        };
        self.record_command(
            &mut transaction,
            principal,
            action,
            review_id,
            format!("practitioners/{practitioner_id}"),
            [body],
        )
        .await?;
        let record = Self::practitioner_in(&mut *transaction, review_id, practitioner_id, false)
            .await?
            .ok_or_else(|| PractitionersError::PractitionerNotFound(practitioner_id.to_string()))?;
        transaction.commit().await?;
        Ok(record)
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn schedule_conversation(
        &self,
        principal: &Principal,
        review: &ReviewInfo,
        practitioner_id: Uuid,
        scheduled_at: DateTime<Utc>,
        location: String,
        advance_information: String,
        key: RequestKey,
    ) -> Result<ConversationRecord, PractitionersError> {
        let mut transaction = self.pool.begin().await?;
        let conversation_id = Uuid::now_v7();
        if let Some(existing) =
            idempotency::claim_by(&mut transaction, principal, &key, conversation_id).await?
        {
            transaction.rollback().await?;
            return Self::conversation_in(&self.pool, existing)
                .await?
                .ok_or_else(|| PractitionersError::PractitionerNotFound(existing.to_string()));
        }
        if review.scope().is_none() {
            return Err(EngagementError::MethodologyNotAgreed.into());
        }
        // Locked so a deferral cannot slip in between the check and the invitation.
        let practitioner =
            Self::practitioner_in(&mut *transaction, review.review_id, practitioner_id, true)
                .await?
                .ok_or_else(|| {
                    PractitionersError::PractitionerNotFound(practitioner_id.to_string())
                })?;
        domain::may_contact(&practitioner.candidate())?;
        let now = self.clock.now();
        let key_lines = review.extra.key_lines_of_enquiry.0.clone();
        sqlx::query(
            "INSERT INTO conversations (id, review_id, practitioner_id, scheduled_at, location, advance_information, key_lines_of_enquiry, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(conversation_id)
        .bind(review.review_id)
        .bind(practitioner_id)
        .bind(scheduled_at)
        .bind(&location)
        .bind(&advance_information)
        .bind(sqlx::types::Json(&key_lines))
        .bind(now)
        .execute(&mut *transaction)
        .await?;
        let body = Body::ConversationScheduled(ev::ConversationScheduled {
            conversation_id: conversation_id.to_string(),
            practitioner_id: practitioner_id.to_string(),
            practitioner_name: practitioner.name.clone(),
            practitioner_email: practitioner.email.clone(),
            scheduled_at: Some(timestamp_to_proto(scheduled_at)),
            location,
            advance_information,
            key_lines_of_enquiry: key_lines,
            review_reference: review.reference.clone(),
        });
        self.record_command(
            &mut transaction,
            principal,
            "ScheduleConversation",
            review.review_id,
            format!("conversations/{conversation_id}"),
            [body],
        )
        .await?;
        let record = Self::conversation_in(&mut *transaction, conversation_id)
            .await?
            .ok_or_else(|| PractitionersError::PractitionerNotFound(conversation_id.to_string()))?;
        transaction.commit().await?;
        Ok(record)
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn schedule_learning_event(
        &self,
        principal: &Principal,
        review: &ReviewInfo,
        scheduled_at: DateTime<Utc>,
        location: String,
        agenda: String,
        add: Vec<Uuid>,
        remove: Vec<Uuid>,
        key: RequestKey,
    ) -> Result<LearningEventRecord, PractitionersError> {
        let mut transaction = self.pool.begin().await?;
        let event_id = Uuid::now_v7();
        if let Some(existing) =
            idempotency::claim_by(&mut transaction, principal, &key, event_id).await?
        {
            transaction.rollback().await?;
            let mut connection = self.pool.acquire().await?;
            return Self::learning_event_in(&mut connection, review.review_id, existing)
                .await?
                .ok_or_else(|| PractitionersError::PractitionerNotFound(existing.to_string()));
        }
        let scope = review
            .scope()
            .ok_or(EngagementError::MethodologyNotAgreed)?;
        let sql = format!(
            "SELECT {PRACTITIONER_COLUMNS} FROM practitioners WHERE review_id = $1 ORDER BY id FOR UPDATE"
        );
        let practitioners: Vec<PractitionerRecord> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(review.review_id)
            .fetch_all(&mut *transaction)
            .await?;
        let candidates: Vec<Candidate> = practitioners
            .iter()
            .map(PractitionerRecord::candidate)
            .collect();
        let invited = domain::invitees(&candidates, scope, &add, &remove)?;
        let now = self.clock.now();
        sqlx::query("INSERT INTO learning_events (id, review_id, scheduled_at, location, agenda, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(event_id)
            .bind(review.review_id)
            .bind(scheduled_at)
            .bind(&location)
            .bind(&agenda)
            .bind(now)
            .execute(&mut *transaction)
            .await?;
        sqlx::query("INSERT INTO learning_event_invitees (learning_event_id, practitioner_id) SELECT $1, UNNEST($2::uuid[])")
            .bind(event_id)
            .bind(&invited)
            .execute(&mut *transaction)
            .await?;
        let invitees = practitioners
            .iter()
            .filter(|practitioner| invited.contains(&practitioner.id))
            .map(|practitioner| ev::Invitee {
                practitioner_id: practitioner.id.to_string(),
                name: practitioner.name.clone(),
                email: practitioner.email.clone(),
            })
            .collect();
        let body = Body::LearningEventScheduled(ev::LearningEventScheduled {
            learning_event_id: event_id.to_string(),
            scheduled_at: Some(timestamp_to_proto(scheduled_at)),
            location,
            agenda,
            invitees,
            review_reference: review.reference.clone(),
        });
        self.record_command(
            &mut transaction,
            principal,
            "ScheduleLearningEvent",
            review.review_id,
            format!("learning-events/{event_id}"),
            [body],
        )
        .await?;
        let record = Self::learning_event_in(&mut transaction, review.review_id, event_id)
            .await?
            .ok_or_else(|| PractitionersError::PractitionerNotFound(event_id.to_string()))?;
        transaction.commit().await?;
        Ok(record)
    }

    pub async fn record_attendance(
        &self,
        principal: &Principal,
        review_id: Uuid,
        learning_event_id: Uuid,
        attended: Vec<Uuid>,
    ) -> Result<LearningEventRecord, PractitionersError> {
        let mut transaction = self.pool.begin().await?;
        let event = Self::learning_event_in(&mut transaction, review_id, learning_event_id)
            .await?
            .ok_or_else(|| {
                PractitionersError::LearningEventNotFound(learning_event_id.to_string())
            })?;
        if let Some(stranger) = attended.iter().find(|id| !event.invitee_ids.contains(id)) {
            return Err(PractitionersError::NotInvited(stranger.to_string()));
        }
        sqlx::query("UPDATE learning_event_invitees SET attended = (practitioner_id = ANY($2)) WHERE learning_event_id = $1")
            .bind(learning_event_id)
            .bind(&attended)
            .execute(&mut *transaction)
            .await?;
        self.audit_command(
            &mut transaction,
            principal,
            "RecordAttendance",
            review_id,
            format!("learning-events/{learning_event_id}"),
        )
        .await?;
        let record = Self::learning_event_in(&mut transaction, review_id, learning_event_id)
            .await?
            .ok_or_else(|| {
                PractitionersError::LearningEventNotFound(learning_event_id.to_string())
            })?;
        transaction.commit().await?;
        Ok(record)
    }

    pub async fn record_learning(
        &self,
        principal: &Principal,
        review_id: Uuid,
        source: (Option<Uuid>, Option<Uuid>),
        points: Vec<LearningPoint>,
        key: RequestKey,
    ) -> Result<LearningRecordRow, PractitionersError> {
        let mut transaction = self.pool.begin().await?;
        let record_id = Uuid::now_v7();
        if let Some(existing) =
            idempotency::claim_by(&mut transaction, principal, &key, record_id).await?
        {
            transaction.rollback().await?;
            return Self::learning_record_in(&self.pool, existing)
                .await?
                .ok_or_else(|| PractitionersError::LearningEventNotFound(existing.to_string()));
        }
        let (learning_event_id, conversation_id) = source;
        if let Some(id) = learning_event_id
            && Self::learning_event_in(&mut transaction, review_id, id)
                .await?
                .is_none()
        {
            return Err(PractitionersError::LearningEventNotFound(id.to_string()));
        }
        if let Some(id) = conversation_id
            && Self::conversation_in(&mut *transaction, id)
                .await?
                .is_none_or(|conversation| conversation.review_id != review_id)
        {
            return Err(PractitionersError::ConversationNotFound(id.to_string()));
        }
        let now = self.clock.now();
        sqlx::query(
            "INSERT INTO learning_records (id, review_id, learning_event_id, conversation_id, points, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(record_id)
        .bind(review_id)
        .bind(learning_event_id)
        .bind(conversation_id)
        .bind(sqlx::types::Json(&points))
        .bind(now)
        .execute(&mut *transaction)
        .await?;
        let body = Body::LearningRecorded(ev::LearningRecorded {
            learning_record_id: record_id.to_string(),
            themes: points
                .iter()
                .map(|point| point.theme.as_str().to_string())
                .collect(),
        });
        self.record_command(
            &mut transaction,
            principal,
            "RecordLearning",
            review_id,
            format!("learning/{record_id}"),
            [body],
        )
        .await?;
        let record = Self::learning_record_in(&mut *transaction, record_id)
            .await?
            .ok_or_else(|| PractitionersError::LearningEventNotFound(record_id.to_string()))?;
        transaction.commit().await?;
        Ok(record)
    }
}

/// Contact deferrals whose review date has come: `deferral_review_due` once per deferral
/// and date (replica-safe), for the reviewer to look at them again.
pub const DEFERRAL_SWEEP: ReviewDateSweep = ReviewDateSweep {
    job: "deferral reviews",
    select_due: "SELECT p.id, p.review_id, r.partnership_id, p.deferral_review_date FROM practitioners p
         JOIN reviews r ON r.review_id = p.review_id
         WHERE p.deferral_reason IS NOT NULL AND p.deferral_review_date <= $1 AND ($2::uuid IS NULL OR p.id > $2)
         ORDER BY p.id LIMIT $3 FOR UPDATE OF p SKIP LOCKED",
    record_alert: "INSERT INTO deferral_alerts (practitioner_id, review_date) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    system: "system:deferral-reviews",
    event: deferral_review_due,
};

fn deferral_review_due(practitioner_id: Uuid, review_date: NaiveDate) -> Body {
    Body::DeferralReviewDue(ev::DeferralReviewDue {
        practitioner_id: practitioner_id.to_string(),
        review_date: Some(date_to_proto(review_date)),
    })
}
