//! The restriction sweep: a restriction at or past its review date raises
//! `family_restriction_review_due` once, for the family liaison to reconsider.

use cspr_platform::jobs::{ReviewDates, Sweep};

use crate::store::{RESTRICTION_SWEEP, Store};

/// The restriction sweep: the platform's [`Sweep`] of [`RESTRICTION_SWEEP`] over the store.
pub type RestrictionSweep = Sweep<ReviewDates>;

impl From<Store> for ReviewDates {
    fn from(store: Store) -> Self {
        RESTRICTION_SWEEP.over(&store)
    }
}
