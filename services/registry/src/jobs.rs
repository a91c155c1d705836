//! The deadline sweep: refreshes every open review's deadline statuses and raises
//! `deadline_at_risk` / `deadline_missed` once per deadline and due date.
//!
//! Safe with several replicas: each page of reviews is locked with `SKIP LOCKED` (replicas
//! share the work), and an alert row's primary key makes a second raise impossible.

use cspr_platform::jobs::{Page, Sweep, SweepPages};
use uuid::Uuid;

use crate::error::RegistryError;
use crate::store::Store;

/// The deadline sweep: the platform's [`Sweep`] of the store's open reviews, its first pass
/// one interval after start.
pub type DeadlineSweep = Sweep<Store>;

impl SweepPages for Store {
    type Error = RegistryError;

    fn job(&self) -> &'static str {
        "deadline sweep"
    }

    /// Reviews per transaction: each page loads its reviews whole.
    fn page_size(&self) -> i64 {
        200
    }

    async fn page(&self, after: Option<Uuid>, page_size: i64) -> Result<Page, RegistryError> {
        self.sweep_page(after, page_size).await
    }
}
