//! The reminder sweep: `action_due_soon`, `action_overdue` and, after the configured number
//! of days overdue, `action_overdue_escalated` — each once per action and due date, safe with
//! several replicas.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::error::ActionsError;
use crate::store::Store;

const PAGE_SIZE: i64 = 500;

#[derive(Debug, Clone)]
pub struct ActionSweep {
    store: Store,
    interval: Duration,
    due_soon_days: u32,
    escalate_after_days: u32,
}

impl ActionSweep {
    pub fn new(
        store: Store,
        interval: Duration,
        due_soon_days: u32,
        escalate_after_days: u32,
    ) -> Self {
        Self {
            store,
            interval,
            due_soon_days,
            escalate_after_days,
        }
    }

    pub async fn sweep_once(&self) -> Result<usize, ActionsError> {
        cspr_platform::jobs::drain_pages(|after| {
            self.store.sweep_page(
                after,
                PAGE_SIZE,
                self.due_soon_days,
                self.escalate_after_days,
            )
        })
        .await
    }

    /// Sweeps every interval until shutdown, the first pass one interval after start.
    pub async fn run(self, shutdown: CancellationToken) {
        cspr_platform::jobs::run_every_after_an_interval(
            "action reminders",
            self.interval,
            shutdown,
            || self.sweep_once(),
        )
        .await;
    }
}
