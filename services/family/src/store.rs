//! The family database: the only place with SQL. Personal fields arrive here already
//! sealed (see `crypto`); each command is one transaction with its event and audit record.

use chrono::{DateTime, NaiveDate, Utc};
use cspr_platform::auth::Principal;
use cspr_platform::convert::date_to_proto;
use cspr_platform::idempotency::{self, RequestKey};
use cspr_platform::jobs::ReviewDateSweep;
use cspr_platform::pagination::Cursor;
use cspr_platform::projection::reviews::{self, ReviewWith};
use cspr_platform::store::fetch_keyed;
use cspr_proto::events::v1::{self as ev, event::Body};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use crate::domain::{self, ContactError, Relationship, RestrictionReason};
use crate::error::FamilyError;

cspr_platform::review_columns! {
    /// The family service's own columns of a review: its parallel processes.
    #[derive(Debug, Clone, sqlx::FromRow)]
    pub struct FamilyFacts {
        /// Parallel process id → kind (e.g. "CRIMINAL_INVESTIGATION"), ongoing ones only.
        pub parallel_processes: sqlx::types::Json<std::collections::BTreeMap<String, String>>,
    }
}

/// What the service knows of a review.
pub type ReviewInfo = ReviewWith<FamilyFacts>;

/// What a command on a member checks before it changes anything.
#[derive(Debug, Clone, Copy, Default)]
pub struct MemberGuard<'a> {
    /// A retry of this request answers the member as it is, changing nothing.
    pub key: Option<&'a RequestKey>,
    /// The member's version the command was made from, when the caller says: another's
    /// change since is ABORTED, not overwritten.
    pub based_on_version: Option<i32>,
}

impl<'a> MemberGuard<'a> {
    pub fn keyed(key: &'a RequestKey) -> Self {
        Self {
            key: Some(key),
            based_on_version: None,
        }
    }

    pub fn made_from(based_on_version: Option<i32>) -> Self {
        Self {
            key: None,
            based_on_version,
        }
    }
}

/// A family member as stored (personal fields sealed).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MemberRow {
    pub id: Uuid,
    pub review_id: Uuid,
    pub relationship: String,
    pub name_sealed: Vec<u8>,
    pub decision_note_sealed: Vec<u8>,
    pub route: String,
    pub professional_name: String,
    pub professional_agency: String,
    pub professional_email: String,
    pub direct_contact_sealed: Option<Vec<u8>>,
    pub direct_reason_sealed: Option<Vec<u8>>,
    pub restriction_reason: Option<String>,
    pub restriction_detail_sealed: Option<Vec<u8>>,
    pub restriction_authorised_by: String,
    pub restriction_review_date: Option<NaiveDate>,
    pub restricted_at: Option<DateTime<Utc>>,
    pub consultation_sent_at: Option<DateTime<Utc>>,
    pub consultation_due: Option<NaiveDate>,
    pub response_sealed: Option<Vec<u8>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// 1 when added, one more with each change.
    pub version: i32,
    pub contact_count: i64,
    pub contribution_count: i64,
    /// The kinds of the requests held for the member ([`HeldKind`]), oldest first.
    pub held_kinds: Vec<String>,
}

impl MemberRow {
    pub fn relationship(&self) -> Option<Relationship> {
        Relationship::parse(&self.relationship)
    }

    pub fn restriction(&self) -> Option<RestrictionReason> {
        self.restriction_reason
            .as_deref()
            .and_then(RestrictionReason::parse)
    }
}

const MEMBER_COLUMNS: &str = "m.id, m.review_id, m.relationship, m.name_sealed, m.decision_note_sealed, m.route,
    m.professional_name, m.professional_agency, m.professional_email, m.direct_contact_sealed, m.direct_reason_sealed,
    m.restriction_reason, m.restriction_detail_sealed, m.restriction_authorised_by, m.restriction_review_date,
    m.restricted_at, m.consultation_sent_at, m.consultation_due, m.response_sealed, m.created_at, m.updated_at, m.version,
    (SELECT count(*) FROM family_contacts c WHERE c.member_id = m.id) AS contact_count,
    (SELECT count(*) FROM family_contributions k WHERE k.member_id = m.id) AS contribution_count,
    ARRAY(SELECT h.kind FROM held_requests h WHERE h.member_id = m.id ORDER BY h.held_at, h.id) AS held_kinds";

/// A contact in the log as stored (the summary sealed under the member's id).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ContactRow {
    pub id: Uuid,
    pub contacted_at: DateTime<Utc>,
    pub made_by: String,
    pub route: String,
    pub summary_sealed: Vec<u8>,
    pub created_at: DateTime<Utc>,
}

/// A contribution as stored (the views sealed under the contribution's own id).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ContributionRow {
    pub id: Uuid,
    pub views_sealed: Vec<u8>,
    pub recorded_by: String,
    pub created_at: DateTime<Utc>,
}

/// How many contacts and contributions a member's record carries (the latest).
pub const HISTORY_LIMIT: i64 = 100;

/// How to reach a member.
#[derive(Debug, Clone)]
pub enum Route {
    KnownProfessional {
        name: String,
        agency: String,
        email: String,
    },
    /// Sealed contact details and reason.
    Direct {
        contact_sealed: Vec<u8>,
        reason_sealed: Vec<u8>,
    },
}

/// A member to add (personal fields sealed).
#[derive(Debug, Clone)]
pub struct NewMember {
    pub id: Uuid,
    pub relationship: Relationship,
    pub name_sealed: Vec<u8>,
    pub decision_note_sealed: Vec<u8>,
    pub route: Route,
    /// With the purpose to pass on: ask the known professional to approach the member now.
    pub request_contact: Option<String>,
}

cspr_platform::service_store! {
    /// The family service's store: the shared [`StoreParts`](cspr_platform::store::StoreParts)
    /// (through which it reads its pool, outbox, clock and audit log) and the SQL below.
    pub struct Store;
}

impl Store {
    // ---- projections of the registry (consumer side)

    /// A parallel process started (Some kind) or ended (None).
    pub async fn record_parallel_process(
        connection: &mut PgConnection,
        review_id: Uuid,
        partnership_id: &str,
        process_id: &str,
        kind: Option<&str>,
    ) -> Result<(), sqlx::Error> {
        reviews::ensure(connection, review_id, partnership_id).await?;
        match kind {
            Some(kind) => {
                sqlx::query("UPDATE reviews SET parallel_processes = parallel_processes || jsonb_build_object($2::text, $3::text) WHERE review_id = $1")
                    .bind(review_id)
                    .bind(process_id)
                    .bind(kind)
                    .execute(connection)
                    .await?;
            }
            None => {
                sqlx::query("UPDATE reviews SET parallel_processes = parallel_processes - $2::text WHERE review_id = $1")
                    .bind(review_id)
                    .bind(process_id)
                    .execute(connection)
                    .await?;
            }
        }
        Ok(())
    }

    // ---- reads

    async fn member_in(
        executor: impl PgExecutor<'_>,
        review_id: Uuid,
        member_id: Uuid,
        lock: bool,
    ) -> Result<Option<MemberRow>, sqlx::Error> {
        let select = format!(
            "SELECT {MEMBER_COLUMNS} FROM family_members m WHERE m.review_id = $1 AND m.id = $2"
        );
        fetch_keyed(
            executor,
            &select,
            (review_id, member_id),
            lock.then_some("m"),
        )
        .await
    }

    pub async fn member(
        &self,
        review_id: Uuid,
        member_id: Uuid,
    ) -> Result<Option<MemberRow>, sqlx::Error> {
        Self::member_in(&self.pool, review_id, member_id, false).await
    }

    /// The member's contact log, newest first (when made, then when logged), at most `limit`.
    pub async fn contacts(
        &self,
        member_id: Uuid,
        limit: i64,
    ) -> Result<Vec<ContactRow>, sqlx::Error> {
        sqlx::query_as(
            "SELECT id, contacted_at, made_by, route, summary_sealed, created_at FROM family_contacts
             WHERE member_id = $1 ORDER BY contacted_at DESC, created_at DESC, id DESC LIMIT $2",
        )
        .bind(member_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
    }

    /// The member's contributions, newest first, at most `limit`.
    pub async fn contributions(
        &self,
        member_id: Uuid,
        limit: i64,
    ) -> Result<Vec<ContributionRow>, sqlx::Error> {
        sqlx::query_as(
            "SELECT id, views_sealed, recorded_by, created_at FROM family_contributions
             WHERE member_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
        )
        .bind(member_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
    }

    pub async fn list(
        &self,
        review_id: Uuid,
        after: Option<Cursor>,
        limit: i64,
    ) -> Result<Vec<MemberRow>, sqlx::Error> {
        let sql = format!(
            "SELECT {MEMBER_COLUMNS} FROM family_members m
             WHERE m.review_id = $1 AND ($2::timestamptz IS NULL OR (m.created_at, m.id) > ($2, $3))
             ORDER BY m.created_at, m.id LIMIT $4"
        );
        sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(review_id)
            .bind(after.map(|cursor| cursor.at))
            .bind(after.map(|cursor| cursor.id))
            .bind(limit)
            .fetch_all(&self.pool)
            .await
    }

    // ---- commands

    /// Runs `change` on a locked member (after the request id check, when there is one),
    /// then writes its event and audit record; returns the member as it then is.
    async fn with_member<F>(
        &self,
        principal: &Principal,
        review: &ReviewInfo,
        member_id: Uuid,
        action: &'static str,
        guard: MemberGuard<'_>,
        change: F,
    ) -> Result<MemberRow, FamilyError>
    where
        F: for<'c> FnOnce(
            &'c mut PgConnection,
            &'c MemberRow,
            DateTime<Utc>,
        )
            -> futures::future::BoxFuture<'c, Result<Vec<Body>, FamilyError>>,
    {
        let mut transaction = self.pool.begin().await?;
        if let Some(key) = guard.key
            && idempotency::claim_by(&mut transaction, principal, key, member_id)
                .await?
                .is_some()
        {
            transaction.rollback().await?;
            return self
                .member(review.review_id, member_id)
                .await?
                .ok_or_else(|| FamilyError::MemberNotFound(member_id.to_string()));
        }
        let member = Self::member_in(&mut *transaction, review.review_id, member_id, true)
            .await?
            .ok_or_else(|| FamilyError::MemberNotFound(member_id.to_string()))?;
        cspr_platform::error::require_current(guard.based_on_version, member.version)
            .map_err(FamilyError::Stale)?;
        let now = self.clock.now();
        let bodies = change(&mut transaction, &member, now).await?;
        sqlx::query(
            "UPDATE family_members SET updated_at = $2, version = version + 1 WHERE id = $1",
        )
        .bind(member_id)
        .bind(now)
        .execute(&mut *transaction)
        .await?;
        self.record_command(
            &mut transaction,
            principal,
            action,
            review.review_id,
            format!("family-members/{member_id}"),
            bodies,
        )
        .await?;
        let updated = Self::member_in(&mut *transaction, review.review_id, member_id, false)
            .await?
            .ok_or_else(|| FamilyError::MemberNotFound(member_id.to_string()))?;
        transaction.commit().await?;
        Ok(updated)
    }

    pub async fn add_member(
        &self,
        principal: &Principal,
        review: &ReviewInfo,
        member: NewMember,
        key: RequestKey,
    ) -> Result<MemberRow, FamilyError> {
        let mut transaction = self.pool.begin().await?;
        if let Some(existing) =
            idempotency::claim_by(&mut transaction, principal, &key, member.id).await?
        {
            transaction.rollback().await?;
            return self
                .member(review.review_id, existing)
                .await?
                .ok_or_else(|| FamilyError::MemberNotFound(existing.to_string()));
        }
        let now = self.clock.now();
        let (route, professional, direct) = match &member.route {
            Route::KnownProfessional {
                name,
                agency,
                email,
            } => (
                "KNOWN_PROFESSIONAL",
                (name.clone(), agency.clone(), email.clone()),
                (None, None),
            ),
            Route::Direct {
                contact_sealed,
                reason_sealed,
            } => (
                "DIRECT",
                (String::new(), String::new(), String::new()),
                (Some(contact_sealed.clone()), Some(reason_sealed.clone())),
            ),
        };
        sqlx::query(
            "INSERT INTO family_members (id, review_id, relationship, name_sealed, decision_note_sealed, route,
                 professional_name, professional_agency, professional_email, direct_contact_sealed, direct_reason_sealed,
                 created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)",
        )
        .bind(member.id)
        .bind(review.review_id)
        .bind(member.relationship.as_str())
        .bind(&member.name_sealed)
        .bind(&member.decision_note_sealed)
        .bind(route)
        .bind(&professional.0)
        .bind(&professional.1)
        .bind(&professional.2)
        .bind(&direct.0)
        .bind(&direct.1)
        .bind(now)
        .execute(&mut *transaction)
        .await?;
        let mut bodies = vec![Body::FamilyMemberAdded(ev::FamilyMemberAdded {
            family_member_id: member.id.to_string(),
            relationship: member.relationship.as_str().to_string(),
        })];
        if let Some(purpose) = &member.request_contact {
            let Route::KnownProfessional {
                name,
                agency,
                email,
            } = &member.route
            else {
                return Err(ContactError::NoKnownProfessional.into());
            };
            let requested = Body::FamilyContactRequested(ev::FamilyContactRequested {
                family_member_id: member.id.to_string(),
                relationship: member
                    .relationship
                    .in_words()
                    .trim_start_matches("a ")
                    .trim_start_matches("an ")
                    .to_string(),
                professional_name: name.clone(),
                professional_email: email.clone(),
                professional_agency: agency.clone(),
                purpose: purpose.clone(),
                review_reference: review.reference.clone(),
            });
            if let Some(requested) = hold_if_deferred(
                &mut transaction,
                (review, member.id, email),
                HeldKind::Contact,
                requested,
                now,
            )
            .await?
            {
                bodies.push(requested);
            }
        }
        self.record_command(
            &mut transaction,
            principal,
            "AddFamilyMember",
            review.review_id,
            format!("family-members/{}", member.id),
            bodies,
        )
        .await?;
        let stored = Self::member_in(&mut *transaction, review.review_id, member.id, false)
            .await?
            .ok_or_else(|| FamilyError::MemberNotFound(member.id.to_string()))?;
        transaction.commit().await?;
        Ok(stored)
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn restrict(
        &self,
        principal: &Principal,
        review: &ReviewInfo,
        member_id: Uuid,
        reason: RestrictionReason,
        detail_sealed: Vec<u8>,
        authorised_by: String,
        review_date: NaiveDate,
        based_on_version: Option<i32>,
    ) -> Result<MemberRow, FamilyError> {
        self.with_member(principal, review, member_id, "RestrictContact", MemberGuard::made_from(based_on_version), move |connection, member, now| {
            Box::pin(async move {
                sqlx::query(
                    "UPDATE family_members SET restriction_reason = $2, restriction_detail_sealed = $3,
                         restriction_authorised_by = $4, restriction_review_date = $5, restricted_at = $6
                     WHERE id = $1",
                )
                .bind(member.id)
                .bind(reason.as_str())
                .bind(&detail_sealed)
                .bind(&authorised_by)
                .bind(review_date)
                .bind(now)
                .execute(&mut *connection)
                .await?;
                Ok(vec![Body::FamilyContactRestricted(ev::FamilyContactRestricted {
                    family_member_id: member.id.to_string(),
                    reason: reason.as_str().to_string(),
                    review_date: Some(date_to_proto(review_date)),
                })])
            })
        })
        .await
    }

    pub async fn lift(
        &self,
        principal: &Principal,
        review: &ReviewInfo,
        member_id: Uuid,
        based_on_version: Option<i32>,
    ) -> Result<MemberRow, FamilyError> {
        self.with_member(principal, review, member_id, "LiftRestriction", MemberGuard::made_from(based_on_version), |connection, member, _now| {
            Box::pin(async move {
                if member.restriction().is_none() {
                    return Err(ContactError::NotRestricted.into());
                }
                sqlx::query(
                    "UPDATE family_members SET restriction_reason = NULL, restriction_detail_sealed = NULL,
                         restriction_authorised_by = '', restriction_review_date = NULL, restricted_at = NULL
                     WHERE id = $1",
                )
                .bind(member.id)
                .execute(&mut *connection)
                .await?;
                Ok(vec![Body::FamilyRestrictionLifted(ev::FamilyRestrictionLifted {
                    family_member_id: member.id.to_string(),
                })])
            })
        })
        .await
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn record_contact(
        &self,
        principal: &Principal,
        review: &ReviewInfo,
        member_id: Uuid,
        contacted_at: DateTime<Utc>,
        made_by: String,
        route: String,
        summary_sealed: Vec<u8>,
        key: RequestKey,
    ) -> Result<MemberRow, FamilyError> {
        self.with_member(principal, review, member_id, "RecordContact", MemberGuard::keyed(&key), move |connection, member, now| {
            Box::pin(async move {
                domain::may_contact(member.restriction())?;
                sqlx::query(
                    "INSERT INTO family_contacts (id, member_id, contacted_at, made_by, route, summary_sealed, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(Uuid::now_v7())
                .bind(member.id)
                .bind(contacted_at)
                .bind(&made_by)
                .bind(&route)
                .bind(&summary_sealed)
                .bind(now)
                .execute(&mut *connection)
                .await?;
                Ok(vec![Body::FamilyContactRecorded(ev::FamilyContactRecorded {
                    family_member_id: member.id.to_string(),
                })])
            })
        })
        .await
    }

    pub async fn record_contribution(
        &self,
        principal: &Principal,
        review: &ReviewInfo,
        member_id: Uuid,
        contribution_id: Uuid,
        views_sealed: Vec<u8>,
        key: RequestKey,
    ) -> Result<MemberRow, FamilyError> {
        let recorded_by = principal.subject.clone();
        self.with_member(principal, review, member_id, "RecordContribution", MemberGuard::keyed(&key), move |connection, member, now| {
            Box::pin(async move {
                domain::may_contact(member.restriction())?;
                sqlx::query("INSERT INTO family_contributions (id, member_id, views_sealed, recorded_by, created_at) VALUES ($1, $2, $3, $4, $5)")
                    .bind(contribution_id)
                    .bind(member.id)
                    .bind(&views_sealed)
                    .bind(&recorded_by)
                    .bind(now)
                    .execute(&mut *connection)
                    .await?;
                Ok(vec![Body::FamilyContributionRecorded(ev::FamilyContributionRecorded {
                    family_member_id: member.id.to_string(),
                })])
            })
        })
        .await
    }

    pub async fn consult(
        &self,
        principal: &Principal,
        review: &ReviewInfo,
        member_id: Uuid,
        response_due: NaiveDate,
        key: RequestKey,
    ) -> Result<MemberRow, FamilyError> {
        let reference = review.reference.clone();
        let review_ids = review.clone();
        self.with_member(principal, review, member_id, "ConsultOnPublication", MemberGuard::keyed(&key), move |connection, member, now| {
            Box::pin(async move {
                let review = &review_ids;
                domain::may_contact(member.restriction())?;
                // A member with direct contact is asked by the family liaison themselves.
                let direct = member.route != "KNOWN_PROFESSIONAL";
                sqlx::query("UPDATE family_members SET consultation_sent_at = $2, consultation_due = $3, response_sealed = NULL WHERE id = $1")
                    .bind(member.id)
                    .bind(now)
                    .bind(response_due)
                    .execute(&mut *connection)
                    .await?;
                let relationship = member.relationship().map(Relationship::in_words).unwrap_or("a family member");
                let sent = Body::PublicationConsultationSent(ev::PublicationConsultationSent {
                    family_member_id: member.id.to_string(),
                    relationship: relationship.trim_start_matches("a ").trim_start_matches("an ").to_string(),
                    professional_name: member.professional_name.clone(),
                    professional_email: member.professional_email.clone(),
                    response_due: Some(date_to_proto(response_due)),
                    review_reference: reference,
                    direct,
                });
                if direct {
                    return Ok(vec![sent]);
                }
                Ok(hold_if_deferred(connection, (review, member.id, &member.professional_email), HeldKind::Consultation, sent, now)
                    .await?
                    .into_iter()
                    .collect())
            })
        })
        .await
    }

    pub async fn record_response(
        &self,
        principal: &Principal,
        review: &ReviewInfo,
        member_id: Uuid,
        response_sealed: Vec<u8>,
        based_on_version: Option<i32>,
    ) -> Result<MemberRow, FamilyError> {
        self.with_member(
            principal,
            review,
            member_id,
            "RecordPublicationResponse",
            MemberGuard::made_from(based_on_version),
            move |connection, member, _now| {
                Box::pin(async move {
                    if member.consultation_sent_at.is_none() {
                        return Err(FamilyError::NotConsulted);
                    }
                    sqlx::query("UPDATE family_members SET response_sealed = $2 WHERE id = $1")
                        .bind(member.id)
                        .bind(&response_sealed)
                        .execute(&mut *connection)
                        .await?;
                    Ok(vec![Body::PublicationResponseRecorded(
                        ev::PublicationResponseRecorded {
                            family_member_id: member.id.to_string(),
                        },
                    )])
                })
            },
        )
        .await
    }
}

/// Restrictions whose review date has come: `family_restriction_review_due` once per
/// restriction and date (replica-safe), for the family liaison to reconsider.
pub const RESTRICTION_SWEEP: ReviewDateSweep = ReviewDateSweep {
    job: "restriction reviews",
    select_due: "SELECT m.id, m.review_id, r.partnership_id, m.restriction_review_date FROM family_members m
         JOIN reviews r ON r.review_id = m.review_id
         WHERE m.restriction_reason IS NOT NULL AND m.restriction_review_date <= $1 AND ($2::uuid IS NULL OR m.id > $2)
         ORDER BY m.id LIMIT $3 FOR UPDATE OF m SKIP LOCKED",
    record_alert: "INSERT INTO restriction_alerts (member_id, review_date) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    system: "system:restriction-reviews",
    event: restriction_review_due,
};

fn restriction_review_due(member_id: Uuid, review_date: NaiveDate) -> Body {
    Body::FamilyRestrictionReviewDue(ev::FamilyRestrictionReviewDue {
        family_member_id: member_id.to_string(),
        review_date: Some(date_to_proto(review_date)),
    })
}

// ---- requests held while the known professional's own contact is deferred

/// A request to approach a member that can be held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeldKind {
    /// The request to the known professional to approach them (AddFamilyMember).
    Contact,
    /// The consultation on publication (ConsultOnPublication).
    Consultation,
}

impl HeldKind {
    pub fn as_str(self) -> &'static str {
        match self {
            HeldKind::Contact => "CONTACT",
            HeldKind::Consultation => "CONSULTATION",
        }
    }
}

/// `body`, to publish now, unless the member's known professional (`email`) is, in this
/// review, a practitioner whose own contact is deferred: then it is kept in
/// `held_requests` (published when the deferral is released) and `None` comes back.
async fn hold_if_deferred(
    connection: &mut PgConnection,
    (review, member_id, email): (&ReviewInfo, Uuid, &str),
    kind: HeldKind,
    body: Body,
    now: DateTime<Utc>,
) -> Result<Option<Body>, sqlx::Error> {
    let deferred: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM review_practitioners
                        WHERE review_id = $1 AND lower(email) = lower($2) AND deferred)",
    )
    .bind(review.review_id)
    .bind(email)
    .fetch_one(&mut *connection)
    .await?;
    if !deferred {
        return Ok(Some(body));
    }
    let event = ev::Event {
        body: Some(body),
        ..Default::default()
    };
    sqlx::query(
        "INSERT INTO held_requests (id, member_id, partnership_id, kind, event, held_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(Uuid::now_v7())
    .bind(member_id)
    .bind(&review.partnership_id)
    .bind(kind.as_str())
    .bind(prost::Message::encode_to_vec(&event))
    .bind(now)
    .execute(&mut *connection)
    .await?;
    Ok(None)
}

impl Store {
    /// PractitionerRegistered: who the practitioner is, to match a known professional.
    pub async fn record_practitioner(
        connection: &mut PgConnection,
        review_id: Uuid,
        practitioner_id: Uuid,
        email: &str,
        name: &str,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO review_practitioners (review_id, practitioner_id, email, name)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (review_id, practitioner_id) DO UPDATE SET email = $3, name = $4",
        )
        .bind(review_id)
        .bind(practitioner_id)
        .bind(email.trim())
        .bind(name.trim())
        .execute(&mut *connection)
        .await?;
        Ok(())
    }

    /// ContactDeferred: requests through this practitioner are held from now on.
    pub async fn defer_practitioner(
        connection: &mut PgConnection,
        review_id: Uuid,
        practitioner_id: Uuid,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE review_practitioners SET deferred = TRUE WHERE review_id = $1 AND practitioner_id = $2",
        )
        .bind(review_id)
        .bind(practitioner_id)
        .execute(&mut *connection)
        .await?;
        Ok(())
    }

    /// ContactReleased: the practitioner's contact is no longer deferred; unless another
    /// deferred practitioner of the review has the same email, the requests held for the
    /// members they are the known professional of are taken out, oldest first, with the
    /// partnership each is published for.
    pub async fn release_practitioner(
        connection: &mut PgConnection,
        review_id: Uuid,
        practitioner_id: Uuid,
    ) -> Result<Vec<(String, Body)>, sqlx::Error> {
        let email: Option<String> = sqlx::query_scalar(
            "UPDATE review_practitioners SET deferred = FALSE
             WHERE review_id = $1 AND practitioner_id = $2 RETURNING email",
        )
        .bind(review_id)
        .bind(practitioner_id)
        .fetch_optional(&mut *connection)
        .await?;
        let Some(email) = email else {
            return Ok(vec![]);
        };
        let rows: Vec<(String, Vec<u8>, DateTime<Utc>, Uuid)> = sqlx::query_as(
            "DELETE FROM held_requests h USING family_members m
             WHERE h.member_id = m.id AND m.review_id = $1 AND lower(m.professional_email) = lower($2)
               AND NOT EXISTS (SELECT 1 FROM review_practitioners p
                               WHERE p.review_id = $1 AND lower(p.email) = lower($2) AND p.deferred)
             RETURNING h.partnership_id, h.event, h.held_at, h.id",
        )
        .bind(review_id)
        .bind(&email)
        .fetch_all(&mut *connection)
        .await?;
        let mut rows = rows;
        rows.sort_by_key(|(_, _, held_at, id)| (*held_at, *id));
        Ok(rows
            .into_iter()
            .filter_map(|(partnership, event, _, _)| {
                <ev::Event as prost::Message>::decode(event.as_slice())
                    .ok()
                    .and_then(|event| event.body)
                    .map(|body| (partnership, body))
            })
            .collect())
    }

    /// Publishes a released request as the service itself.
    pub async fn publish_released(
        &self,
        connection: &mut PgConnection,
        review_id: Uuid,
        partnership_id: &str,
        body: Body,
    ) -> Result<(), sqlx::Error> {
        let meta = cspr_platform::bus::outbox::EventMeta::system(
            partnership_id,
            review_id,
            "system:held-family-requests",
        );
        self.outbox.enqueue(connection, &meta, body).await?;
        Ok(())
    }
}
