//! UK time (Europe/London), as people in England read and type a time of day: Greenwich
//! Mean Time in winter, British Summer Time (an hour ahead) from 01:00 UTC on the last
//! Sunday of March to 01:00 UTC on the last Sunday of October (the rule since 1996). The
//! services keep every moment in UTC; the pages that ask for a time of day convert what
//! is typed with [`to_utc`] and show moments with [`to_local`].

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Utc, Weekday};

/// The last Sunday of `month` of `year`, at 01:00 UTC: when the clocks change.
fn change_over(year: i32, month: u32) -> Option<DateTime<Utc>> {
    let first_of_next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)?
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)?
    };
    let last = first_of_next.pred_opt()?;
    let back = i64::from(last.weekday().num_days_from_sunday());
    let sunday = last - Duration::days(back);
    debug_assert_eq!(sunday.weekday(), Weekday::Sun);
    Some(sunday.and_time(NaiveTime::from_hms_opt(1, 0, 0)?).and_utc())
}

/// Whether British Summer Time is in force at `at`.
pub(crate) fn is_summer_time(at: DateTime<Utc>) -> bool {
    let year = at.year();
    match (change_over(year, 3), change_over(year, 10)) {
        (Some(starts), Some(ends)) => starts <= at && at < ends,
        _ => false,
    }
}

/// `at` as the clocks in the UK show it.
pub(crate) fn to_local(at: DateTime<Utc>) -> NaiveDateTime {
    let offset = if is_summer_time(at) { 1 } else { 0 };
    at.naive_utc() + Duration::hours(offset)
}

/// Why a UK time of day names no moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NoSuchTime {
    /// Between 01:00 and 02:00 on the day the clocks go forward: that hour is skipped.
    ClocksGoForward,
}

/// The moment a UK clock shows `local`. In the hour the clocks go back (01:00 to 02:00
/// on the last Sunday of October happens twice) it is the first one, in summer time.
pub(crate) fn to_utc(local: NaiveDateTime) -> Result<DateTime<Utc>, NoSuchTime> {
    // Summer time first: in the repeated hour both read the same, and the earlier is meant.
    for offset in [1, 0] {
        let candidate = (local - Duration::hours(offset)).and_utc();
        if is_summer_time(candidate) == (offset == 1) {
            return Ok(candidate);
        }
    }
    Err(NoSuchTime::ClocksGoForward)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Timelike;

    fn local(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").expect("time")
    }

    fn utc(text: &str) -> DateTime<Utc> {
        local(text).and_utc()
    }

    #[test]
    fn summer_is_an_hour_ahead_and_winter_is_utc() {
        assert_eq!(
            to_utc(local("2027-07-15 10:00")),
            Ok(utc("2027-07-15 09:00"))
        );
        assert_eq!(
            to_utc(local("2027-01-20 09:30")),
            Ok(utc("2027-01-20 09:30"))
        );
        assert_eq!(to_local(utc("2027-07-15 09:00")), local("2027-07-15 10:00"));
        assert_eq!(to_local(utc("2026-12-04 18:00")), local("2026-12-04 18:00"));
        assert!(is_summer_time(utc("2027-07-15 09:00")));
        assert!(!is_summer_time(utc("2027-01-20 09:00")));
    }

    #[test]
    fn the_clocks_change_at_one_in_the_morning_utc_on_the_last_sundays() {
        // 2026: 29 March and 25 October; 2027: 28 March and 31 October.
        assert_eq!(change_over(2026, 3), Some(utc("2026-03-29 01:00")));
        assert_eq!(change_over(2026, 10), Some(utc("2026-10-25 01:00")));
        assert_eq!(change_over(2027, 3), Some(utc("2027-03-28 01:00")));
        assert_eq!(change_over(2027, 10), Some(utc("2027-10-31 01:00")));
        assert!(!is_summer_time(utc("2026-03-29 00:59")));
        assert!(is_summer_time(utc("2026-03-29 01:00")));
        assert!(is_summer_time(utc("2026-10-25 00:59")));
        assert!(!is_summer_time(utc("2026-10-25 01:00")));
        // Forward: 00:59 GMT is followed by 02:00 BST; 01:30 never shows.
        assert_eq!(
            to_utc(local("2026-03-29 00:59")),
            Ok(utc("2026-03-29 00:59"))
        );
        assert_eq!(
            to_utc(local("2026-03-29 01:30")),
            Err(NoSuchTime::ClocksGoForward)
        );
        assert_eq!(
            to_utc(local("2026-03-29 02:00")),
            Ok(utc("2026-03-29 01:00"))
        );
        // Back: 01:30 shows twice; the first, in summer time, is the one meant.
        assert_eq!(
            to_utc(local("2026-10-25 01:30")),
            Ok(utc("2026-10-25 00:30"))
        );
        assert_eq!(
            to_utc(local("2026-10-25 02:00")),
            Ok(utc("2026-10-25 02:00"))
        );
        assert_eq!(to_local(utc("2026-10-25 01:30")), local("2026-10-25 01:30"));
    }

    #[test]
    fn every_minute_of_a_year_reads_back_as_it_was_typed_except_the_skipped_hour() {
        let mut at = local("2026-01-01 00:00");
        while at < local("2027-01-01 00:00") {
            match to_utc(at) {
                Ok(moment) => assert_eq!(to_local(moment), at, "{at}"),
                Err(NoSuchTime::ClocksGoForward) => {
                    assert_eq!(
                        at.date(),
                        NaiveDate::from_ymd_opt(2026, 3, 29).expect("day")
                    );
                    assert_eq!(at.hour(), 1, "{at}");
                }
            }
            at += Duration::minutes(7);
        }
    }
}
