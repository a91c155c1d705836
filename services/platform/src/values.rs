//! Generic values parsed at the gRPC edge of every service (text limits, work emails,
//! agency ids, past and future dates), so the inside of a service never sees bad data. Domain values
//! (a child's alias, a recommendation reference) stay in their service.

use std::fmt;

use chrono::NaiveDate;
use uuid::Uuid;

use crate::error::ServiceError;

/// Declares an enum whose values have names: what the databases store, events carry and
/// tokens claim (e.g. `INFORMATION_GATHERING`, `partnership_admin`). It writes the enum with
/// `ALL` (every value, in order), `as_str` (the value's name) and `parse` (the value of a
/// name, `None` for an unknown one): the three every such enum of every service had, each
/// written out again. Other methods go in an `impl` block of the enum's own.
///
/// ```
/// cspr_platform::named_enum! {
///     /// The rapid review's decision.
///     #[derive(Debug, Clone, Copy, PartialEq, Eq)]
///     pub enum Decision {
///         LocalCspr => "LOCAL_CSPR",
///         NoLocalCspr => "NO_LOCAL_CSPR",
///     }
/// }
/// assert_eq!(Decision::parse("LOCAL_CSPR"), Some(Decision::LocalCspr));
/// assert_eq!(Decision::NoLocalCspr.as_str(), "NO_LOCAL_CSPR");
/// assert_eq!(Decision::ALL.len(), 2);
/// ```
#[macro_export]
macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $($(#[$variant_meta:meta])* $variant:ident => $text:literal),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis enum $name {
            $($(#[$variant_meta])* $variant),+
        }

        impl $name {
            /// Every value, in the order declared.
            pub const ALL: [$name; [$($text),+].len()] = [$($name::$variant),+];

            /// The value's name, as stored and sent.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// The value of `name`, `None` for a name it does not have.
            pub fn parse(name: &str) -> Option<Self> {
                Self::ALL.into_iter().find(|value| value.as_str() == name)
            }
        }
    };
}

/// Why a value was refused (the field name is added by the caller).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValueError(pub String);

fn error(message: impl Into<String>) -> ValueError {
    ValueError(message.into())
}

/// A required id (UUID), trimmed.
pub fn uuid(raw: &str) -> Result<Uuid, ValueError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(error("required"));
    }
    raw.parse().map_err(|_| error("not an id (UUID)"))
}

/// [`uuid`] for a request field that is parsed on its own, refused as `INVALID_ARGUMENT`.
pub fn uuid_field(field: &str, raw: &str) -> Result<Uuid, ServiceError> {
    uuid(raw).map_err(|error| ServiceError::invalid(field, error.0))
}

/// Required free text, trimmed, with a length limit.
pub fn required_text(raw: &str, max_chars: usize) -> Result<String, ValueError> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(error("required"));
    }
    optional_text(text, max_chars)
}

/// Optional free text, trimmed, with a length limit.
pub fn optional_text(raw: &str, max_chars: usize) -> Result<String, ValueError> {
    let text = raw.trim();
    if text.chars().count() > max_chars {
        return Err(error(format!("at most {max_chars} characters")));
    }
    if text
        .chars()
        .any(|character| character.is_control() && character != '\n' && character != '\t')
    {
        return Err(error("control characters are not allowed"));
    }
    Ok(text.to_string())
}

/// An optional filter of a list call: trimmed, empty means "no filter", otherwise checked
/// as [`optional_text`] is (a length limit, no control characters such as NUL), so a filter
/// that could never match is refused up front rather than by the database.
pub fn optional_filter(
    field: &str,
    raw: &str,
    max_chars: usize,
) -> Result<Option<String>, ServiceError> {
    let text = optional_text(raw, max_chars)
        .map_err(|error| ServiceError::invalid(field, error.to_string()))?;
    Ok(Some(text).filter(|text| !text.is_empty()))
}

/// A work email address (professionals only; families' contact details never reach the
/// registry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let email = raw.trim();
        if email.is_empty() {
            return Err(error("required"));
        }
        if email.len() > 254 {
            return Err(error("at most 254 characters"));
        }
        let Some((local, domain)) = email.split_once('@') else {
            return Err(error("not an email address"));
        };
        let well_formed = !local.is_empty()
            && !domain.contains('@')
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !email
                .chars()
                .any(|character| character.is_whitespace() || character.is_control());
        if !well_formed {
            return Err(error("not an email address"));
        }
        Ok(Self(email.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// An agency's short id (e.g. `police`, `health-visiting`): what agency systems send as their
/// `org` claim.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AgencyId(String);

impl AgencyId {
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let id = raw.trim();
        if id.is_empty() {
            return Err(error("required"));
        }
        if id.len() > 64
            || !id.chars().all(|character| {
                character.is_ascii_lowercase()
                    || character.is_ascii_digit()
                    || character == '-'
                    || character == '_'
            })
        {
            return Err(error("1-64 characters of a-z, 0-9, '-' or '_'"));
        }
        Ok(Self(id.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A date that must not be in the future (things that have happened).
pub fn past_or_today(date: NaiveDate, today: NaiveDate) -> Result<NaiveDate, ValueError> {
    if date > today {
        Err(error("must not be in the future"))
    } else {
        Ok(date)
    }
}

/// A date that must be in the future (things planned: a due date, a review date).
pub fn future(date: NaiveDate, today: NaiveDate) -> Result<NaiveDate, ValueError> {
    if date <= today {
        Err(error("must be in the future"))
    } else {
        Ok(date)
    }
}

/// [`AgencyId::parse`] for a request field that is parsed on its own, refused as
/// `INVALID_ARGUMENT`; the id as its normal string.
pub fn agency_field(field: &str, raw: &str) -> Result<String, ServiceError> {
    AgencyId::parse(raw)
        .map(|id| id.as_str().to_string())
        .map_err(|error| ServiceError::invalid(field, error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ids_are_required_uuids() {
        let id = Uuid::now_v7();
        assert_eq!(uuid(&format!(" {id} ")), Ok(id));
        assert_eq!(uuid(" "), Err(error("required")));
        assert_eq!(uuid("review-1"), Err(error("not an id (UUID)")));
    }

    #[test]
    fn emails_are_checked() {
        assert!(Email::parse("lead@police.example.org").is_ok());
        for bad in ["", "no-at", "a@b", "a@.b.c", "a b@c.d", "a@b@c.d", "@c.d"] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn agency_ids_are_slugs() {
        assert!(AgencyId::parse("health-visiting").is_ok());
        assert!(AgencyId::parse("Police").is_err());
        assert!(AgencyId::parse("a b").is_err());
    }

    proptest! {
        #[test]
        fn parsers_never_panic(text in "\\PC{0,300}") {
            let _ = Email::parse(&text);
            let _ = AgencyId::parse(&text);
            let _ = required_text(&text, 100);
        }
    }
}
