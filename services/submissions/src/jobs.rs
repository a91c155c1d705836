//! The reminder sweep: `report_due_soon` and `report_overdue`, each once per request and
//! due date, safe with several replicas (pages locked with `SKIP LOCKED`, one alert row per
//! reminder).

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::error::SubmissionsError;
use crate::store::Store;

const PAGE_SIZE: i64 = 500;

#[derive(Debug, Clone)]
pub struct ReminderSweep {
    store: Store,
    interval: Duration,
    due_soon_days: u32,
}

impl ReminderSweep {
    pub fn new(store: Store, interval: Duration, due_soon_days: u32) -> Self {
        Self {
            store,
            interval,
            due_soon_days,
        }
    }

    /// One pass; returns the number of reminders raised.
    pub async fn sweep_once(&self) -> Result<usize, SubmissionsError> {
        cspr_platform::jobs::drain_pages(|after| {
            self.store.sweep_page(after, PAGE_SIZE, self.due_soon_days)
        })
        .await
    }

    /// Sweeps every interval until shutdown, the first pass one interval after start.
    pub async fn run(self, shutdown: CancellationToken) {
        cspr_platform::jobs::run_every_after_an_interval(
            "report reminders",
            self.interval,
            shutdown,
            || self.sweep_once(),
        )
        .await;
    }
}
