//! The service's sweeps, safe with several replicas (pages locked with `SKIP LOCKED`): the
//! reminders, `report_due_soon` and `report_overdue`, each once per request and due date
//! (one alert row per reminder); and the stage sweep, which deletes the staged entries of
//! submissions whose process died before it could delete them itself.

use std::time::Duration;

use cspr_platform::jobs::{FirstPass, Page, Sweep, SweepPages};
use uuid::Uuid;

use crate::error::SubmissionsError;
use crate::store::Store;

/// The reminder sweep: the platform's [`Sweep`] of [`ReportReminders`], its first pass one
/// interval after start.
pub type ReminderSweep = Sweep<ReportReminders>;

/// What the reminder sweep walks: the store's open requests due soon or overdue.
#[derive(Debug, Clone)]
pub struct ReportReminders {
    pub store: Store,
    /// A report due within this many days is due soon.
    pub due_soon_days: u32,
}

impl SweepPages for ReportReminders {
    type Error = SubmissionsError;

    fn job(&self) -> &'static str {
        "report reminders"
    }

    async fn page(&self, after: Option<Uuid>, page_size: i64) -> Result<Page, SubmissionsError> {
        self.store
            .sweep_page(after, page_size, self.due_soon_days)
            .await
    }
}

/// The stage sweep: the platform's [`Sweep`] of [`AbandonedStages`].
pub type StageSweep = Sweep<AbandonedStages>;

/// What the stage sweep walks: stages untouched for longer than `max_age` by the store's
/// clock. A live stream touches its stage far more often (see the config's floor).
#[derive(Debug, Clone)]
pub struct AbandonedStages {
    pub store: Store,
    /// A stage untouched for this long is abandoned.
    pub max_age: Duration,
}

impl SweepPages for AbandonedStages {
    type Error = SubmissionsError;

    fn job(&self) -> &'static str {
        "abandoned submission stages"
    }

    fn page_size(&self) -> i64 {
        // A stage may hold up to CSPR_SUBMISSIONS_MAX_ENTRIES entries: keep a page's
        // transaction short.
        20
    }

    /// At start-up too: what a replica that died left is cleaned up as the next starts.
    fn first_pass(&self) -> FirstPass {
        FirstPass::AtStart
    }

    async fn page(&self, after: Option<Uuid>, page_size: i64) -> Result<Page, SubmissionsError> {
        let max_age = chrono::Duration::from_std(self.max_age).unwrap_or(chrono::Duration::MAX);
        let touched_before = self.store.clock.now() - max_age;
        Ok(self
            .store
            .sweep_stages(after, page_size, touched_before)
            .await?)
    }
}
