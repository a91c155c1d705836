//! Protobuf dates and timestamps to and from chrono, with field-named errors.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use cspr_proto::google::r#type::Date;

/// A `google.type.Date` that is not a whole valid date.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    #[error("required")]
    Missing,
    #[error("{0:04}-{1:02}-{2:02} is not a valid calendar date")]
    Invalid(i32, i32, i32),
}

/// Reads a required date.
pub fn date_from_proto(date: Option<&Date>) -> Result<NaiveDate, DateError> {
    let date = date.ok_or(DateError::Missing)?;
    if date.year == 0 && date.month == 0 && date.day == 0 {
        return Err(DateError::Missing);
    }
    let month = u32::try_from(date.month)
        .map_err(|_| DateError::Invalid(date.year, date.month, date.day))?;
    let day =
        u32::try_from(date.day).map_err(|_| DateError::Invalid(date.year, date.month, date.day))?;
    if !(1..=9999).contains(&date.year) {
        return Err(DateError::Invalid(date.year, date.month, date.day));
    }
    NaiveDate::from_ymd_opt(date.year, month, day)
        .ok_or(DateError::Invalid(date.year, date.month, date.day))
}

/// Reads an optional date (unset or all-zero means none).
pub fn optional_date_from_proto(date: Option<&Date>) -> Result<Option<NaiveDate>, DateError> {
    match date_from_proto(date) {
        Ok(date) => Ok(Some(date)),
        Err(DateError::Missing) => Ok(None),
        Err(error) => Err(error),
    }
}

pub fn date_to_proto(date: NaiveDate) -> Date {
    Date {
        year: date.year(),
        month: date.month() as i32,
        day: date.day() as i32,
    }
}

pub fn timestamp_to_proto(instant: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: instant.timestamp(),
        nanos: instant.timestamp_subsec_nanos() as i32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn whole_dates_only() {
        assert_eq!(date_from_proto(None), Err(DateError::Missing));
        assert_eq!(
            date_from_proto(Some(&Date {
                year: 0,
                month: 0,
                day: 0
            })),
            Err(DateError::Missing)
        );
        assert!(
            date_from_proto(Some(&Date {
                year: 2026,
                month: 2,
                day: 30
            }))
            .is_err()
        );
        assert!(
            date_from_proto(Some(&Date {
                year: 2026,
                month: -1,
                day: 1
            }))
            .is_err()
        );
    }

    proptest! {
        #[test]
        fn any_triple_is_parsed_or_refused(year in any::<i32>(), month in any::<i32>(), day in any::<i32>()) {
            if let Ok(date) = date_from_proto(Some(&Date { year, month, day })) {
                prop_assert_eq!(date_to_proto(date), Date { year, month, day });
            }
        }
    }
}
