//! What every service's store is built from, and the statements all of them run alike.
//!
//! Five services keep a `Store` (their only SQL) that needs the same four things from the
//! [`ServiceContext`]: the pool, the outbox, the clock and the audit log. They were copied
//! into each store's fields, its `new`, its `pool()`/`audit_log()` and each `lib.rs`'s
//! `store(context)`; here they are taken once, and a store holds them as its [`StoreParts`]
//! (and dereferences to them, so `self.pool`, `self.clock`, `store.pool()` read the same).
//! What the stores' commands and sweeps wrote alike is here too: a command's events and
//! audit record ([`StoreParts::record_command`]), the read of one row by its keys, plain or
//! locked for the command ([`fetch_keyed`]), and a sweep's page of due rows
//! ([`lock_due_page`]). Four of the stores are nothing but their parts and their SQL; each
//! declares itself with [`service_store!`](crate::service_store) instead of writing the
//! newtype, its `Deref` and its `new` again.

use std::sync::Arc;

use chrono::NaiveDate;
use cspr_proto::events::v1::event::Body;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::{
    Encode, FromRow, PgConnection, PgExecutor, PgPool, Postgres, SqlSafeStr, Transaction, Type,
};
use uuid::Uuid;

use crate::audit::{self, AuditLog};
use crate::auth::Principal;
use crate::bus::outbox::{EventMeta, Outbox};
use crate::clock::Clock;
use crate::jobs::{Page, next_page};
use crate::server::ServiceContext;

/// The shared parts of a service's store, cloned from its [`ServiceContext`].
#[derive(Clone, Debug)]
pub struct StoreParts {
    /// The service's own database.
    pub pool: PgPool,
    /// Writes events in the command's transaction.
    pub outbox: Outbox,
    /// The time of everything the store writes (a manual clock in tests).
    pub clock: Arc<dyn Clock>,
    /// The service's group-committing writer of read and refusal audits.
    pub audit: AuditLog,
}

impl StoreParts {
    pub fn new(context: &ServiceContext) -> Self {
        Self {
            pool: context.pool.clone(),
            outbox: context.outbox.clone(),
            clock: Arc::clone(&context.clock),
            audit: context.audit.clone(),
        }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The service's writer of read and refusal audits.
    pub fn audit_log(&self) -> &AuditLog {
        &self.audit
    }

    /// Writes what a command by `principal` on one of a review's resources writes last, in
    /// its transaction (`connection`): its events (by the caller, on the review) and then its
    /// audit record ([`StoreParts::audit_command`]).
    pub async fn record_command(
        &self,
        connection: &mut PgConnection,
        principal: &Principal,
        action: &str,
        review_id: Uuid,
        resource: String,
        bodies: impl IntoIterator<Item = Body>,
    ) -> Result<(), sqlx::Error> {
        let meta = EventMeta::by(principal, review_id);
        for body in bodies {
            self.outbox.enqueue(connection, &meta, body).await?;
        }
        self.audit_command(connection, principal, action, review_id, resource)
            .await
    }

    /// Begins a reminder sweep's page: takes the clock's date and locks, in a new
    /// transaction, the rows [`lock_due_page`] finds due within `due_soon_days` of it.
    pub async fn begin_due_page<R>(
        &self,
        select_due: impl SqlSafeStr,
        due_soon_days: u32,
        after: Option<Uuid>,
        page_size: i64,
    ) -> Result<DuePage<R>, sqlx::Error>
    where
        R: for<'r> FromRow<'r, PgRow> + Send + Unpin,
    {
        let today = self.clock.today();
        let horizon = today + chrono::Days::new(u64::from(due_soon_days));
        let mut alerts = self.begin_alerts().await?;
        let rows =
            lock_due_page(alerts.connection(), select_due, horizon, after, page_size).await?;
        Ok(DuePage {
            alerts,
            today,
            rows,
            page_size,
        })
    }

    /// Begins a sweep's page: the transaction its alerts are raised in ([`Alerts`]).
    pub async fn begin_alerts(&self) -> Result<Alerts, sqlx::Error> {
        Ok(Alerts {
            transaction: self.pool.begin().await?,
            outbox: self.outbox.clone(),
            raised: 0,
        })
    }

    /// Writes the audit record of a command done on one of a review's resources, in the
    /// command's transaction (`connection`) at the clock's time. Its outcome is always "ok":
    /// a command that fails rolls back, record and all, and its refusal is audited through
    /// the [`AuditLog`] instead.
    pub async fn audit_command(
        &self,
        connection: &mut PgConnection,
        principal: &Principal,
        action: &str,
        review_id: Uuid,
        resource: String,
    ) -> Result<(), sqlx::Error> {
        audit::record_on_review(
            connection,
            self.clock.now(),
            principal,
            action,
            review_id,
            resource,
            "ok",
        )
        .await
    }
}

/// Declares a service's store: a newtype over the shared [`StoreParts`] that dereferences to
/// them (so `self.pool`, `self.clock`, `store.pool()` read the same in every service), with
/// `new(parts)`. The service writes its SQL in its own `impl` blocks of the type.
///
/// ```ignore
/// cspr_platform::service_store! {
///     /// The actions service's store: the shared parts and the SQL below.
///     pub struct Store;
/// }
/// ```
#[macro_export]
macro_rules! service_store {
    ($(#[$meta:meta])* $vis:vis struct $name:ident;) => {
        $(#[$meta])*
        #[derive(Debug, Clone)]
        $vis struct $name($crate::store::StoreParts);

        impl ::std::ops::Deref for $name {
            type Target = $crate::store::StoreParts;

            fn deref(&self) -> &$crate::store::StoreParts {
                &self.0
            }
        }

        impl $name {
            /// The store over the service's shared parts.
            pub fn new(parts: $crate::store::StoreParts) -> Self {
                Self(parts)
            }
        }
    };
}

/// Reads the row `select` finds by its two keys (`$1`, `$2`), if there is one. With `lock`,
/// the table (or its alias) whose row the read takes `FOR UPDATE`, holding it for the rest of
/// the command's transaction; `None` reads it plainly. `executor` is the command's
/// transaction (`&mut *transaction`), a connection, or the pool. Every store's read of one of
/// its rows (an action, a family member, a request) is this statement.
pub async fn fetch_keyed<'c, 'q, R, A, B>(
    executor: impl PgExecutor<'c>,
    select: &str,
    keys: (A, B),
    lock: Option<&str>,
) -> Result<Option<R>, sqlx::Error>
where
    R: for<'r> FromRow<'r, PgRow> + Send + Unpin,
    A: 'q + Encode<'q, Postgres> + Type<Postgres>,
    B: 'q + Encode<'q, Postgres> + Type<Postgres>,
{
    let sql = match lock {
        Some(table) => format!("{select} FOR UPDATE OF {table}"),
        None => select.to_string(),
    };
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(keys.0)
        .bind(keys.1)
        .fetch_optional(executor)
        .await
}

/// Locks a page of a reminder sweep's rows in its transaction: `select_due` takes the rows
/// due on or before `$1` (`due_by`), with ids after `$2` (`after`; NULL from the start), by
/// id, at most `$3` (`page_size`), `FOR UPDATE OF … SKIP LOCKED` so that replicas take
/// different rows. The services' sweeps write only the statement.
pub async fn lock_due_page<R>(
    connection: &mut PgConnection,
    select_due: impl SqlSafeStr,
    due_by: NaiveDate,
    after: Option<Uuid>,
    page_size: i64,
) -> Result<Vec<R>, sqlx::Error>
where
    R: for<'r> FromRow<'r, PgRow> + Send + Unpin,
{
    sqlx::query_as(select_due)
        .bind(due_by)
        .bind(after)
        .bind(page_size)
        .fetch_all(connection)
        .await
}

/// The transaction a sweep's page raises its alerts in, and how many it raised: each alert
/// is raised once however many replicas sweep ([`Outbox::raise_once`]), and counted only
/// when it is raised now. Every sweep counted its alerts so.
#[derive(Debug)]
pub struct Alerts {
    transaction: Transaction<'static, Postgres>,
    outbox: Outbox,
    raised: usize,
}

impl Alerts {
    /// The page's transaction, for its reads and its other writes.
    pub fn connection(&mut self) -> &mut PgConnection {
        &mut self.transaction
    }

    /// Raises an alert once: `record_alert` is the alert's bound `INSERT … ON CONFLICT DO
    /// NOTHING`; `body` is enqueued as `meta` only when it inserted the row.
    pub async fn raise_once(
        &mut self,
        record_alert: Query<'_, Postgres, PgArguments>,
        meta: &EventMeta,
        body: Body,
    ) -> Result<(), sqlx::Error> {
        let connection: &mut PgConnection = &mut self.transaction;
        if self
            .outbox
            .raise_once(connection, record_alert, meta, body)
            .await?
        {
            self.raised += 1;
        }
        Ok(())
    }

    /// Counts `raised` alerts raised in the page's transaction by the service's own
    /// [`Outbox::raise_once`] (the registry raises a review's deadline alerts with one
    /// function for its sweep and its commands).
    pub fn count(&mut self, raised: usize) {
        self.raised += raised;
    }

    /// Commits the page; returns how many alerts it raised.
    pub async fn commit(self) -> Result<usize, sqlx::Error> {
        self.transaction.commit().await?;
        Ok(self.raised)
    }
}

/// A reminder sweep's page of due rows, locked in the transaction in which the sweep raises
/// the rows' alerts.
#[derive(Debug)]
pub struct DuePage<R> {
    pub alerts: Alerts,
    /// The clock's date the page was taken on.
    pub today: NaiveDate,
    pub rows: Vec<R>,
    page_size: i64,
}

impl<R> DuePage<R> {
    /// Commits the page's alerts: returns the next page's `after` (`None` when this page was
    /// the last) and the alerts raised, the page function's return for
    /// [`crate::jobs::drain_pages`].
    pub async fn commit(self, id: impl Fn(&R) -> Uuid) -> Result<Page, sqlx::Error> {
        let raised = self.alerts.commit().await?;
        Ok((next_page(&self.rows, self.page_size, id), raised))
    }
}
