//! The reminder sweep: `action_due_soon`, `action_overdue` and, after the configured number
//! of days overdue, `action_overdue_escalated` — each once per action and due date, safe with
//! several replicas.

use cspr_platform::jobs::{Page, Sweep, SweepPages};
use uuid::Uuid;

use crate::error::ActionsError;
use crate::store::Store;

/// The reminder sweep: the platform's [`Sweep`] of [`ActionReminders`], its first pass one
/// interval after start.
pub type ActionSweep = Sweep<ActionReminders>;

/// What the reminder sweep walks: the store's open actions due soon or overdue.
#[derive(Debug, Clone)]
pub struct ActionReminders {
    pub store: Store,
    /// An action due within this many days is due soon.
    pub due_soon_days: u32,
    /// An action this many days overdue is escalated.
    pub escalate_after_days: u32,
}

impl SweepPages for ActionReminders {
    type Error = ActionsError;

    fn job(&self) -> &'static str {
        "action reminders"
    }

    async fn page(&self, after: Option<Uuid>, page_size: i64) -> Result<Page, ActionsError> {
        self.store
            .sweep_page(
                after,
                page_size,
                self.due_soon_days,
                self.escalate_after_days,
            )
            .await
    }
}
