//! The registry's reviews as a consuming service keeps them, in its own `reviews` table.
//!
//! A service never reads the registry's database, yet each needs to know which reviews exist,
//! in which partnership (a caller from another partnership is told NOT_FOUND), the appointed
//! reviewer (who may see the review's data) and, once the terms of reference are set, the
//! scope period. Those columns are the same in every service, and so are the registry events
//! that fill them; they are written here once. A service's own columns of the table (the
//! action plan's flags, the family's parallel processes, …) stay in its store: its view of a
//! review is a [`ReviewWith`] its own columns ([`ExtraColumns`]), or the plain [`Review`].
//!
//! Events may arrive in any order across a review's life (a redelivery, a replay), so every
//! write creates the row if it is missing and changes only what its event says.

use std::ops::Deref;

use chrono::NaiveDate;
use cspr_proto::events::v1::{Event, event::Body};
use sqlx::postgres::PgRow;
use sqlx::{FromRow, PgConnection, PgExecutor};
use uuid::Uuid;

use crate::access::ReviewFacts;
use crate::bus::consumer::{HandlerError, review_id};
use crate::convert::date_from_proto;
use crate::error::ServiceError;
use crate::values::uuid_field;

/// The columns every service's `reviews` table has, in the order of [`Review`].
pub const COLUMNS: &str =
    "review_id, partnership_id, reference, reviewer_subject, scope_start, scope_end";

/// What every consuming service knows of a review.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Review {
    /// The registry's id of the review.
    pub review_id: Uuid,
    /// The tenant: a caller of another partnership must not learn the review exists.
    pub partnership_id: String,
    /// The human reference (e.g. "CSPR-2026-014"), empty until `review_created` arrives.
    pub reference: String,
    /// The appointed reviewer's token subject, for the access rule "a reviewer reads only
    /// the reviews they are appointed to".
    pub reviewer_subject: Option<String>,
    /// The first day of the scope period, once the terms of reference are set.
    pub scope_start: Option<NaiveDate>,
    /// The last day of the scope period, set with `scope_start`.
    pub scope_end: Option<NaiveDate>,
}

impl Review {
    /// The scope period, once the terms of reference are set (the methodology is agreed).
    pub fn scope(&self) -> Option<ScopePeriod> {
        Some(ScopePeriod {
            start: self.scope_start?,
            end: self.scope_end?,
        })
    }

    /// What the access rules need of the review: its partnership and appointed reviewer.
    pub fn facts(&self) -> ReviewFacts<'_> {
        ReviewFacts::new(&self.partnership_id, self.reviewer_subject.as_deref())
    }
}

/// The period a review looks at (from the terms of reference): chronology entries and
/// practitioners' involvement are judged against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScopePeriod {
    /// Its first day.
    pub start: NaiveDate,
    /// Its last day.
    pub end: NaiveDate,
}

/// A service's own columns of its `reviews` table, loaded with the common ones.
pub trait ExtraColumns: for<'r> FromRow<'r, PgRow> + Send + Unpin {
    /// The columns after [`COLUMNS`], each with a leading comma (e.g.
    /// `", plan_active, plan_completed"`).
    const COLUMNS: &'static str;
}

/// Declares a service's own columns of its `reviews` table: the struct, as written (with
/// `sqlx::FromRow` among its derives), and its [`ExtraColumns`], the column list made from
/// the struct's fields so that the two cannot drift apart.
///
/// ```ignore
/// cspr_platform::review_columns! {
///     /// The actions service's own columns of a review: the plan's state.
///     #[derive(Debug, Clone, sqlx::FromRow)]
///     pub struct PlanState {
///         pub plan_active: bool,
///         pub plan_completed: bool,
///     }
/// }
/// ```
#[macro_export]
macro_rules! review_columns {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $($(#[$field_meta:meta])* $field_vis:vis $field:ident: $type:ty),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis struct $name {
            $($(#[$field_meta])* $field_vis $field: $type),+
        }

        impl $crate::projection::reviews::ExtraColumns for $name {
            const COLUMNS: &'static str = concat!($(", ", stringify!($field)),+);
        }
    };
}

/// A service's view of a review: the common [`Review`] and its own columns `E`. It reads as
/// the review itself (`review.reviewer_subject`); the service's columns are in `extra`.
#[derive(Debug, Clone)]
pub struct ReviewWith<E> {
    /// The columns every service keeps.
    pub review: Review,
    /// The service's own columns.
    pub extra: E,
}

impl<E> Deref for ReviewWith<E> {
    type Target = Review;

    fn deref(&self) -> &Review {
        &self.review
    }
}

impl<'r, E: FromRow<'r, PgRow>> FromRow<'r, PgRow> for ReviewWith<E> {
    fn from_row(row: &'r PgRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            review: Review::from_row(row)?,
            extra: E::from_row(row)?,
        })
    }
}

/// What [`get`] and [`load`] can read: the plain [`Review`] or a [`ReviewWith`] extras.
pub trait ReviewView: for<'r> FromRow<'r, PgRow> + Send + Unpin {
    /// The columns selected after [`COLUMNS`].
    const EXTRA_COLUMNS: &'static str;

    /// The columns every service keeps (what access is decided on).
    fn common(&self) -> &Review;
}

impl ReviewView for Review {
    const EXTRA_COLUMNS: &'static str = "";

    fn common(&self) -> &Review {
        self
    }
}

impl<E: ExtraColumns> ReviewView for ReviewWith<E> {
    const EXTRA_COLUMNS: &'static str = E::COLUMNS;

    fn common(&self) -> &Review {
        &self.review
    }
}

/// Why a review could not be loaded for a caller.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Not in the caller's partnership: unknown, or another partnership's (not revealed).
    #[error("review {0} not found")]
    NotFound(Uuid),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Every service answers an unloadable review the same way: NOT_FOUND `review <id>` (never
/// saying whether another partnership has it), or the database failure.
impl From<LoadError> for ServiceError {
    fn from(error: LoadError) -> Self {
        match error {
            LoadError::NotFound(review_id) => ServiceError::NotFound(format!("review {review_id}")),
            LoadError::Database(database) => ServiceError::from(database),
        }
    }
}

/// Applies a registry event to the projection in the consumer's transaction. Returns whether
/// the event was one the projection keeps (`review_created`, `reviewer_appointed`,
/// `terms_of_reference_set`); the handler may still act on it for its own purposes.
pub async fn apply(connection: &mut PgConnection, event: &Event) -> Result<bool, HandlerError> {
    let Some(body) = &event.body else {
        return Ok(false);
    };
    let partnership_id = &event.partnership_id;
    match body {
        Body::ReviewCreated(created) => {
            sqlx::query(
                "INSERT INTO reviews (review_id, partnership_id, reference) VALUES ($1, $2, $3)
                 ON CONFLICT (review_id) DO UPDATE SET reference = EXCLUDED.reference",
            )
            .bind(review_id(event)?)
            .bind(partnership_id)
            .bind(&created.reference)
            .execute(connection)
            .await?;
        }
        Body::ReviewerAppointed(appointed) => {
            sqlx::query(
                "INSERT INTO reviews (review_id, partnership_id, reviewer_subject) VALUES ($1, $2, $3)
                 ON CONFLICT (review_id) DO UPDATE SET reviewer_subject = EXCLUDED.reviewer_subject",
            )
            .bind(review_id(event)?)
            .bind(partnership_id)
            .bind(&appointed.subject)
            .execute(connection)
            .await?;
        }
        Body::TermsOfReferenceSet(terms) => {
            let scope_start = event_date(event, "scope_start", terms.scope_start.as_ref())?;
            let scope_end = event_date(event, "scope_end", terms.scope_end.as_ref())?;
            // The terms carry the reference too; an empty one (an older producer) keeps the
            // reference `review_created` gave.
            sqlx::query(
                "INSERT INTO reviews (review_id, partnership_id, reference, scope_start, scope_end)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (review_id) DO UPDATE SET scope_start = EXCLUDED.scope_start, scope_end = EXCLUDED.scope_end,
                     reference = CASE WHEN EXCLUDED.reference = '' THEN reviews.reference ELSE EXCLUDED.reference END",
            )
            .bind(review_id(event)?)
            .bind(partnership_id)
            .bind(&terms.review_reference)
            .bind(scope_start)
            .bind(scope_end)
            .execute(connection)
            .await?;
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// A date of an event, or the handler error that parks the malformed event.
fn event_date(
    event: &Event,
    field: &str,
    date: Option<&cspr_proto::google::r#type::Date>,
) -> Result<NaiveDate, HandlerError> {
    date_from_proto(date).map_err(|_| {
        HandlerError::message(format!(
            "event {} ({}): {field} is not a date",
            event.id, event.r#type
        ))
    })
}

/// Creates the review's row if no event has yet: a service's own facts about a review (a
/// suggestion, a recommendation) may arrive before the registry's `review_created`.
pub async fn ensure(
    connection: &mut PgConnection,
    review_id: Uuid,
    partnership_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO reviews (review_id, partnership_id) VALUES ($1, $2) ON CONFLICT (review_id) DO NOTHING",
    )
    .bind(review_id)
    .bind(partnership_id)
    .execute(connection)
    .await?;
    Ok(())
}

/// The review in `partnership_id`, if the service knows it there.
pub async fn get<'e, V: ReviewView>(
    executor: impl PgExecutor<'e>,
    partnership_id: &str,
    review_id: Uuid,
) -> Result<Option<V>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS}{} FROM reviews WHERE review_id = $1 AND partnership_id = $2",
        V::EXTRA_COLUMNS
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(review_id)
        .bind(partnership_id)
        .fetch_optional(executor)
        .await
}

/// The review in the caller's partnership, or [`LoadError::NotFound`] — also for another
/// partnership's review, so its existence is never revealed.
pub async fn load<'e, V: ReviewView>(
    executor: impl PgExecutor<'e>,
    partnership_id: &str,
    review_id: Uuid,
) -> Result<V, LoadError> {
    get(executor, partnership_id, review_id)
        .await?
        .ok_or(LoadError::NotFound(review_id))
}

/// [`load`] of the review a request names in its `review_id` field: the handlers' first
/// step, an invalid id being INVALID_ARGUMENT on that field.
pub async fn load_requested<'e, V: ReviewView>(
    executor: impl PgExecutor<'e>,
    partnership_id: &str,
    raw_review_id: &str,
) -> Result<V, ServiceError> {
    let review_id = uuid_field("review_id", raw_review_id)?;
    Ok(load(executor, partnership_id, review_id).await?)
}
