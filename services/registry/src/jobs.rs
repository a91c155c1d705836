//! The deadline sweep: refreshes every open review's deadline statuses and raises
//! `deadline_at_risk` / `deadline_missed` once per deadline and due date.
//!
//! Safe with several replicas: each page of reviews is locked with `SKIP LOCKED` (replicas
//! share the work), and an alert row's primary key makes a second raise impossible.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::error::RegistryError;
use crate::store::Store;

/// Reviews per transaction.
const PAGE_SIZE: i64 = 200;

#[derive(Debug, Clone)]
pub struct DeadlineSweep {
    store: Store,
    interval: Duration,
}

impl DeadlineSweep {
    pub fn new(store: Store, interval: Duration) -> Self {
        Self { store, interval }
    }

    /// One pass over every open review; returns the number of alerts raised.
    pub async fn sweep_once(&self) -> Result<usize, RegistryError> {
        cspr_platform::jobs::drain_pages(|after| self.store.sweep_page(after, PAGE_SIZE)).await
    }

    /// Sweeps every interval until shutdown, the first pass one interval after start.
    pub async fn run(self, shutdown: CancellationToken) {
        cspr_platform::jobs::run_every_after_an_interval(
            "deadline sweep",
            self.interval,
            shutdown,
            || self.sweep_once(),
        )
        .await;
    }
}
