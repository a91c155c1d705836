//! Values parsed at the gRPC edge, so the inside of the service never sees bad data.

use std::fmt;

use chrono::NaiveDate;

/// Why a value was refused (the field name is added by the caller).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValueError(pub String);

fn error(message: impl Into<String>) -> ValueError {
    ValueError(message.into())
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

/// The alias a review uses for the child (e.g. "Child Q"): never a real name, so short, no
/// contact details, no digits-only identifiers that could be case numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildAlias(String);

impl ChildAlias {
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let alias = required_text(raw, 60)?;
        if alias.contains('@') {
            return Err(error("an alias must not contain contact details"));
        }
        if alias.chars().filter(char::is_ascii_digit).count() >= 6 {
            return Err(error("an alias must not contain identifying numbers"));
        }
        Ok(Self(alias))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
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

/// A recommendation's reference within an overview report (e.g. `R1`, `3.2`).
pub fn recommendation_ref(raw: &str) -> Result<String, ValueError> {
    let reference = raw.trim();
    if reference.is_empty() {
        return Err(error("required"));
    }
    if reference.len() > 20
        || !reference.chars().all(|character| {
            character.is_ascii_alphanumeric() || matches!(character, '.' | '-' | '_')
        })
    {
        return Err(error("1-20 characters of letters, digits, '.', '-' or '_'"));
    }
    Ok(reference.to_string())
}

/// The period a review looks at: start on or before end, neither in the future.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScopePeriod {
    pub start: NaiveDate,
    pub end: NaiveDate,
}

impl ScopePeriod {
    pub fn new(start: NaiveDate, end: NaiveDate, today: NaiveDate) -> Result<Self, ValueError> {
        if start > end {
            return Err(error("the scope period must start on or before its end"));
        }
        if end > today {
            return Err(error("the scope period must not end in the future"));
        }
        Ok(Self { start, end })
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn aliases_refuse_contact_details_and_numbers() {
        assert_eq!(
            ChildAlias::parse("  Child Q ").expect("valid").as_str(),
            "Child Q"
        );
        assert!(ChildAlias::parse("").is_err());
        assert!(ChildAlias::parse("q@example.org").is_err());
        assert!(ChildAlias::parse("Child 1234567").is_err());
        assert!(ChildAlias::parse(&"x".repeat(61)).is_err());
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

    #[test]
    fn scope_periods_are_ordered_and_past() {
        let day = |d: u32| NaiveDate::from_ymd_opt(2026, 3, d).expect("date");
        assert!(ScopePeriod::new(day(1), day(9), day(10)).is_ok());
        assert!(ScopePeriod::new(day(9), day(1), day(10)).is_err());
        assert!(ScopePeriod::new(day(1), day(11), day(10)).is_err());
    }

    proptest! {
        #[test]
        fn parsers_never_panic(text in "\\PC{0,300}") {
            let _ = ChildAlias::parse(&text);
            let _ = Email::parse(&text);
            let _ = AgencyId::parse(&text);
            let _ = recommendation_ref(&text);
            let _ = required_text(&text, 100);
        }

        #[test]
        fn parsed_aliases_are_trimmed_and_bounded(text in "[a-zA-Z ]{1,80}") {
            if let Ok(alias) = ChildAlias::parse(&text) {
                prop_assert!(!alias.as_str().is_empty());
                prop_assert!(alias.as_str().chars().count() <= 60);
                prop_assert_eq!(alias.as_str(), alias.as_str().trim());
            }
        }
    }
}
