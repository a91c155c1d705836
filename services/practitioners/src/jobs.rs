//! The deferral sweep: a deferral at or past its review date raises `deferral_review_due`
//! once, for the reviewer to look at again (replica-safe).

use cspr_platform::jobs::{ReviewDates, Sweep};

use crate::store::{DEFERRAL_SWEEP, Store};

/// The deferral sweep: the platform's [`Sweep`] of [`DEFERRAL_SWEEP`] over the store.
pub type DeferralSweep = Sweep<ReviewDates>;

impl From<Store> for ReviewDates {
    fn from(store: Store) -> Self {
        DEFERRAL_SWEEP.over(&store)
    }
}
