//! The working-day calendar of England and Wales: weekends and bank holidays excluded.
//!
//! The bank holidays ship as data (`data/bank-holidays-england-and-wales.txt`, 2018–2030,
//! substitute days included) so deadlines never depend on a network fetch. Dates outside
//! the covered years are refused rather than guessed, because a wrong statutory deadline is
//! worse than a clear error.

use std::collections::BTreeSet;

use chrono::{Datelike, Days, NaiveDate, Weekday};

const BANK_HOLIDAYS: &str = include_str!("../data/bank-holidays-england-and-wales.txt");

/// First year the shipped bank holiday data covers.
pub const CALENDAR_FIRST_YEAR: i32 = 2018;
/// Last year the shipped bank holiday data covers.
pub const CALENDAR_LAST_YEAR: i32 = 2030;

/// A date the calendar cannot answer for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{date} is outside the working-day calendar ({CALENDAR_FIRST_YEAR}-{CALENDAR_LAST_YEAR}); extend the bank holiday data"
)]
pub struct OutsideCalendar {
    /// The date that fell outside.
    pub date: NaiveDate,
}

/// Working days of England and Wales.
#[derive(Debug, Clone)]
pub struct WorkingDayCalendar {
    /// Bank holidays, sorted.
    holidays: BTreeSet<NaiveDate>,
    /// Inclusive range the data covers.
    first: NaiveDate,
    last: NaiveDate,
}

impl WorkingDayCalendar {
    /// The shipped calendar. The data is checked by a unit test, so parsing cannot fail at
    /// run time; a malformed line is skipped rather than crashing a service.
    pub fn england_and_wales() -> Self {
        let holidays = BANK_HOLIDAYS
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .filter_map(|line| NaiveDate::parse_from_str(line.get(..10)?, "%Y-%m-%d").ok())
            .collect();
        Self::with_holidays(holidays, CALENDAR_FIRST_YEAR, CALENDAR_LAST_YEAR)
    }

    /// A calendar with the given holidays, valid for the given years.
    pub fn with_holidays(holidays: BTreeSet<NaiveDate>, first_year: i32, last_year: i32) -> Self {
        Self {
            holidays,
            first: NaiveDate::from_ymd_opt(first_year, 1, 1).unwrap_or(NaiveDate::MIN),
            last: NaiveDate::from_ymd_opt(last_year, 12, 31).unwrap_or(NaiveDate::MAX),
        }
    }

    fn check(&self, date: NaiveDate) -> Result<(), OutsideCalendar> {
        if date < self.first || date > self.last {
            Err(OutsideCalendar { date })
        } else {
            Ok(())
        }
    }

    /// Whether `date` is a working day (not a weekend, not a bank holiday).
    pub fn is_working_day(&self, date: NaiveDate) -> Result<bool, OutsideCalendar> {
        self.check(date)?;
        let weekend = matches!(date.weekday(), Weekday::Sat | Weekday::Sun);
        Ok(!weekend && !self.holidays.contains(&date))
    }

    /// The date `count` working days after `start` ("within 5 working days of X"): the
    /// day after `start` is the first candidate, and `start` itself never counts.
    pub fn add_working_days(
        &self,
        start: NaiveDate,
        count: u32,
    ) -> Result<NaiveDate, OutsideCalendar> {
        let mut date = start;
        let mut remaining = count;
        while remaining > 0 {
            date = date + Days::new(1);
            if self.is_working_day(date)? {
                remaining -= 1;
            }
        }
        self.check(date)?;
        Ok(date)
    }

    /// The date `count` working days before `end` ("at least 7 working days before X").
    pub fn subtract_working_days(
        &self,
        end: NaiveDate,
        count: u32,
    ) -> Result<NaiveDate, OutsideCalendar> {
        let mut date = end;
        let mut remaining = count;
        while remaining > 0 {
            date = date - Days::new(1);
            if self.is_working_day(date)? {
                remaining -= 1;
            }
        }
        self.check(date)?;
        Ok(date)
    }

    /// Working days from `from` (exclusive) to `to` (inclusive); negative when `to` is
    /// before `from`. `working_days_between(d, add_working_days(d, n)) == n`.
    pub fn working_days_between(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<i64, OutsideCalendar> {
        self.check(from)?;
        self.check(to)?;
        let (start, end, sign) = if to >= from {
            (from, to, 1)
        } else {
            (to, from, -1)
        };
        let mut count = 0i64;
        let mut date = start;
        while date < end {
            date = date + Days::new(1);
            if self.is_working_day(date)? {
                count += 1;
            }
        }
        Ok(sign * count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("test date")
    }

    #[test]
    fn shipped_data_is_well_formed() {
        let data_lines = BANK_HOLIDAYS
            .lines()
            .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
            .count();
        let calendar = WorkingDayCalendar::england_and_wales();
        assert_eq!(
            calendar.holidays.len(),
            data_lines,
            "every data line parses"
        );
        for year in CALENDAR_FIRST_YEAR..=CALENDAR_LAST_YEAR {
            let in_year = calendar
                .holidays
                .iter()
                .filter(|day| day.year() == year)
                .count();
            assert!(in_year >= 8, "{year} has {in_year} bank holidays");
        }
        assert!(
            calendar
                .holidays
                .iter()
                .all(|day| !matches!(day.weekday(), Weekday::Sat | Weekday::Sun))
        );
    }

    #[test]
    fn weekends_are_skipped() {
        let calendar = WorkingDayCalendar::england_and_wales();
        // Thursday 2026-03-12 + 5 working days: Fri, Mon, Tue, Wed, Thu.
        assert_eq!(
            calendar.add_working_days(date("2026-03-12"), 5),
            Ok(date("2026-03-19"))
        );
        // Becoming aware on a Saturday: the clock starts on Monday.
        assert_eq!(
            calendar.add_working_days(date("2026-03-14"), 1),
            Ok(date("2026-03-16"))
        );
    }

    #[test]
    fn easter_is_skipped() {
        let calendar = WorkingDayCalendar::england_and_wales();
        // Good Friday 2026-04-03 and Easter Monday 2026-04-06.
        assert_eq!(
            calendar.add_working_days(date("2026-04-02"), 1),
            Ok(date("2026-04-07"))
        );
        assert_eq!(
            calendar.add_working_days(date("2026-03-30"), 5),
            Ok(date("2026-04-08"))
        );
    }

    #[test]
    fn christmas_and_substitute_days_are_skipped() {
        let calendar = WorkingDayCalendar::england_and_wales();
        // 2026: Christmas Friday 25, Boxing Day Saturday 26 → substitute Monday 28.
        assert_eq!(calendar.is_working_day(date("2026-12-28")), Ok(false));
        assert_eq!(
            calendar.add_working_days(date("2026-12-24"), 1),
            Ok(date("2026-12-29"))
        );
        // 2021: both Christmas Day and Boxing Day on a weekend → Monday 27 and Tuesday 28.
        assert_eq!(
            calendar.add_working_days(date("2021-12-24"), 1),
            Ok(date("2021-12-29"))
        );
        // 2022: New Year's Day on a Saturday → Monday 3 January.
        assert_eq!(calendar.is_working_day(date("2022-01-03")), Ok(false));
        // 15 working days across Christmas 2025 and New Year 2026.
        assert_eq!(
            calendar.add_working_days(date("2025-12-15"), 15),
            Ok(date("2026-01-08"))
        );
    }

    #[test]
    fn subtracting_mirrors_adding() {
        let calendar = WorkingDayCalendar::england_and_wales();
        // Publication Thursday 2026-04-09: 7 working days before skips Easter.
        assert_eq!(
            calendar.subtract_working_days(date("2026-04-09"), 7),
            Ok(date("2026-03-27"))
        );
    }

    #[test]
    fn dates_outside_the_data_are_refused() {
        let calendar = WorkingDayCalendar::england_and_wales();
        assert!(calendar.add_working_days(date("2030-12-30"), 5).is_err());
        assert!(calendar.is_working_day(date("2017-12-31")).is_err());
    }

    proptest! {
        #[test]
        // Starts at least ten days into the data, so counting back from the end never
        // leaves the calendar (the day before a start on a holiday can be in 2017).
        fn counting_back_what_was_added(day_offset in 10u64..4000, count in 0u32..60) {
            let calendar = WorkingDayCalendar::england_and_wales();
            let start = date("2018-01-01") + Days::new(day_offset);
            let end = calendar.add_working_days(start, count).expect("inside data");
            prop_assert!(end >= start);
            prop_assert_eq!(calendar.working_days_between(start, end).expect("inside"), i64::from(count));
            if count > 0 {
                prop_assert!(calendar.is_working_day(end).expect("inside"));
                let back = calendar.subtract_working_days(end, count).expect("inside");
                prop_assert!(back <= start);
                prop_assert_eq!(calendar.working_days_between(back, end).expect("inside"), i64::from(count));
            }
        }
    }
}
