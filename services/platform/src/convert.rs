//! Protobuf dates and timestamps to and from chrono, with field-named errors; a request's
//! date fields (required, past or future) read the same way in every service; and the
//! services' domain enums mapped to and from their proto enums ([`ProtoEnum`]).

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use cspr_proto::google::r#type::Date;

use crate::error::{Field, FieldViolation, ServiceError, field};
use crate::values::{future, past_or_today};

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

/// A request's required date field, refused on `name`.
pub fn date_field(name: &str, date: Option<&Date>) -> Field<NaiveDate> {
    field(name, date_from_proto(date))
}

/// [`date_field`] of something that has happened: on or before `today`.
pub fn past_date_field(name: &str, date: Option<&Date>, today: NaiveDate) -> Field<NaiveDate> {
    date_field(name, date).and_then(|date| field(name, past_or_today(date, today)))
}

/// [`date_field`] of something planned (a due date, a review date): after `today`.
pub fn future_date_field(name: &str, date: Option<&Date>, today: NaiveDate) -> Field<NaiveDate> {
    date_field(name, date).and_then(|date| field(name, future(date, today)))
}

/// A request's required time field, refused on `name` when unset or out of range.
pub fn timestamp_field(
    name: &str,
    timestamp: Option<&prost_types::Timestamp>,
) -> Field<DateTime<Utc>> {
    let timestamp = timestamp.ok_or_else(|| FieldViolation::new(name, "required"))?;
    DateTime::from_timestamp(
        timestamp.seconds,
        u32::try_from(timestamp.nanos).unwrap_or(0),
    )
    .ok_or_else(|| FieldViolation::new(name, "not a valid time"))
}

/// A service's domain enum that one of its proto enums mirrors, value for value by name (the
/// proto's `…_UNSPECIFIED`, number 0, has no domain value). Implemented by [`proto_enum!`],
/// so no service writes the two matches by hand.
pub trait ProtoEnum: Sized {
    /// The proto enum's number for this value.
    fn to_proto(self) -> i32;
    /// The value of a proto enum number: `None` for UNSPECIFIED or a number the proto does not
    /// have (the handler says what that means for its field).
    fn from_proto(number: i32) -> Option<Self>;
}

/// Implements [`ProtoEnum`] for a domain enum: `proto_enum!(Status => pb::Status { A, B })`
/// maps `Status::A` to and from `pb::Status::A`, and so on for every variant named.
#[macro_export]
macro_rules! proto_enum {
    ($domain:ident => $proto:ty { $($variant:ident),+ $(,)? }) => {
        impl $crate::convert::ProtoEnum for $domain {
            fn to_proto(self) -> i32 {
                (match self {
                    $($domain::$variant => <$proto>::$variant,)+
                }) as i32
            }

            fn from_proto(number: i32) -> Option<Self> {
                match <$proto>::try_from(number).ok()? {
                    $(<$proto>::$variant => Some($domain::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

/// The proto number of a value that may be missing (a stored text no variant has, an
/// optional field): UNSPECIFIED (0) for none.
pub fn enum_to_proto<E: ProtoEnum>(value: Option<E>) -> i32 {
    value.map_or(0, E::to_proto)
}

/// A list request's enum filter: UNSPECIFIED (0) is no filter, a number the proto does not
/// have is refused on `field` (`unknown <field>`).
pub fn enum_filter<E: ProtoEnum>(number: i32, field: &str) -> Result<Option<E>, ServiceError> {
    if number == 0 {
        return Ok(None);
    }
    E::from_proto(number)
        .map(Some)
        .ok_or_else(|| ServiceError::invalid(field, format!("unknown {field}")))
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

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Status {
        NotStarted,
        Verified,
    }

    // The proto has more values than this test's enum: those read as none.
    crate::proto_enum!(Status => cspr_proto::actions::v1::ActionStatus { NotStarted, Verified });

    #[test]
    fn enums_map_by_name_and_unspecified_is_none() {
        use cspr_proto::actions::v1::ActionStatus as Proto;
        assert_eq!(Status::Verified.to_proto(), Proto::Verified as i32);
        assert_eq!(
            Status::from_proto(Proto::NotStarted as i32),
            Some(Status::NotStarted)
        );
        assert_eq!(Status::from_proto(Proto::Unspecified as i32), None);
        assert_eq!(Status::from_proto(Proto::InProgress as i32), None);
        assert_eq!(Status::from_proto(999), None);
        assert_eq!(enum_to_proto::<Status>(None), 0);
        assert_eq!(enum_filter::<Status>(0, "status").expect("no filter"), None);
        assert_eq!(
            enum_filter::<Status>(Proto::Verified as i32, "status").expect("known"),
            Some(Status::Verified)
        );
        let refused = enum_filter::<Status>(999, "status").expect_err("unknown");
        assert_eq!(
            refused.to_string(),
            "invalid request: status: unknown status"
        );
    }

    #[test]
    fn date_fields_are_refused_on_their_name() {
        let today = NaiveDate::from_ymd_opt(2026, 5, 1).expect("date");
        let on = |day| Some(date_to_proto(today + chrono::Days::new(day)));
        let refused = |result: Field<NaiveDate>| {
            let violation = result.expect_err("refused");
            format!("{}: {}", violation.field, violation.description)
        };
        assert_eq!(refused(date_field("due", None)), "due: required");
        assert_eq!(
            future_date_field("due", on(1).as_ref(), today),
            Ok(today + chrono::Days::new(1))
        );
        assert_eq!(
            refused(future_date_field("due", on(0).as_ref(), today)),
            "due: must be in the future"
        );
        assert_eq!(past_date_field("on", on(0).as_ref(), today), Ok(today));
        assert_eq!(
            refused(past_date_field("on", on(1).as_ref(), today)),
            "on: must not be in the future"
        );
    }

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
