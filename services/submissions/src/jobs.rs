//! The reminder sweep: `report_due_soon` and `report_overdue`, each once per request and
//! due date, safe with several replicas (pages locked with `SKIP LOCKED`, one alert row per
//! reminder).

use cspr_platform::jobs::{Page, Sweep, SweepPages};
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
