//! What every service's store is built from, and the writes all of them make alike.
//!
//! Five services keep a `Store` (their only SQL) that needs the same four things from the
//! [`ServiceContext`]: the pool, the outbox, the clock and the audit log. They were copied
//! into each store's fields, its `new`, its `pool()`/`audit_log()` and each `lib.rs`'s
//! `store(context)`; here they are taken once, and a store holds them as its [`StoreParts`]
//! (and dereferences to them, so `self.pool`, `self.clock`, `store.pool()` read the same).

use std::sync::Arc;

use cspr_proto::events::v1::event::Body;
use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use sqlx::{PgConnection, PgPool, Postgres};
use uuid::Uuid;

use crate::audit::{self, AuditLog};
use crate::auth::Principal;
use crate::bus::outbox::{EventMeta, Outbox};
use crate::clock::Clock;
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

    /// Raises a sweep's reminder once: runs `record_alert` (the alert's bound `INSERT … ON
    /// CONFLICT DO NOTHING`) in the sweep's transaction and, only when it inserted the row,
    /// enqueues `body` as `meta`. However many replicas sweep and however often, an alert
    /// is raised once. Returns whether it was raised now.
    pub async fn raise_once(
        &self,
        connection: &mut PgConnection,
        record_alert: Query<'_, Postgres, PgArguments>,
        meta: &EventMeta,
        body: Body,
    ) -> Result<bool, sqlx::Error> {
        let inserted = record_alert
            .execute(&mut *connection)
            .await?
            .rows_affected();
        if inserted == 0 {
            return Ok(false);
        }
        self.outbox.enqueue(connection, meta, body).await?;
        Ok(true)
    }
}
