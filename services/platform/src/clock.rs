//! An injectable clock, so deadline logic is tested by setting the date rather than waiting.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDate, SubsecRound, Utc};

/// Tells the time. Services hold an `Arc<dyn Clock>`.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;

    /// Today's date. Deadlines are whole days, counted in UTC (England is at most one hour
    /// ahead, which never moves a working-day deadline by more than the evening of a day).
    fn today(&self) -> NaiveDate {
        self.now().date_naive()
    }
}

/// The real clock, to the microsecond: PostgreSQL keeps timestamps to the microsecond, so
/// an instant a service answers with when it stores something is the instant it answers
/// with when it reads it back (a retry's receipt is the first one, digit for digit).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now().trunc_subsecs(6)
    }
}

/// A clock that stands still until told to move: for tests and demonstrations.
#[derive(Debug, Clone)]
pub struct ManualClock {
    /// The instant it reports; shared so a test can move it while a service runs.
    now: Arc<Mutex<DateTime<Utc>>>,
}

impl ManualClock {
    pub fn new(now: DateTime<Utc>) -> Self {
        Self {
            now: Arc::new(Mutex::new(now)),
        }
    }

    /// A clock at midday (UTC) on the given date.
    pub fn on(date: NaiveDate) -> Self {
        Self::new(date.and_hms_opt(12, 0, 0).unwrap_or_default().and_utc())
    }

    /// Moves the clock to midday on `date`.
    pub fn set_date(&self, date: NaiveDate) {
        let instant = date.and_hms_opt(12, 0, 0).unwrap_or_default().and_utc();
        *self
            .now
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = instant;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self
            .now
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use chrono::Timelike;

    use super::*;

    #[test]
    fn the_system_clock_tells_time_as_postgresql_keeps_it() {
        for _ in 0..100 {
            let now = SystemClock.now();
            assert_eq!(now.nanosecond() % 1_000, 0, "{now:?} has nanoseconds");
        }
    }
}
