//! The restriction sweep: a restriction at or past its review date raises
//! `family_restriction_review_due` once, for the family liaison to reconsider.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::error::FamilyError;
use crate::store::Store;

const PAGE_SIZE: i64 = 500;

#[derive(Debug, Clone)]
pub struct RestrictionSweep {
    store: Store,
    interval: Duration,
}

impl RestrictionSweep {
    pub fn new(store: Store, interval: Duration) -> Self {
        Self { store, interval }
    }

    pub async fn sweep_once(&self) -> Result<usize, FamilyError> {
        cspr_platform::jobs::drain_pages(|after| self.store.sweep_page(after, PAGE_SIZE)).await
    }

    pub async fn run(self, shutdown: CancellationToken) {
        cspr_platform::jobs::run_every("restriction reviews", self.interval, shutdown, || {
            self.sweep_once()
        })
        .await;
    }
}
