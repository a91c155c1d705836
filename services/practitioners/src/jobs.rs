//! The deferral sweep: a deferral at or past its review date raises `deferral_review_due`
//! once, for the reviewer to look at again (replica-safe).

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::error::PractitionersError;
use crate::store::Store;

const PAGE_SIZE: i64 = 500;

#[derive(Debug, Clone)]
pub struct DeferralSweep {
    store: Store,
    interval: Duration,
}

impl DeferralSweep {
    pub fn new(store: Store, interval: Duration) -> Self {
        Self { store, interval }
    }

    pub async fn sweep_once(&self) -> Result<usize, PractitionersError> {
        cspr_platform::jobs::drain_pages(|after| self.store.sweep_page(after, PAGE_SIZE)).await
    }

    pub async fn run(self, shutdown: CancellationToken) {
        cspr_platform::jobs::run_every("deferral reviews", self.interval, shutdown, || {
            self.sweep_once()
        })
        .await;
    }
}
