//! Values parsed at the gRPC edge, so the inside of the service never sees bad data.

use chrono::NaiveDate;

pub use cspr_platform::values::{
    AgencyId, Email, ValueError, optional_text, past_or_today, required_text,
};

fn error(message: impl Into<String>) -> ValueError {
    ValueError(message.into())
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
