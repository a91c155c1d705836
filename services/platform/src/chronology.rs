//! What an agency report's narrative and chronology entries must satisfy, free of I/O: the
//! submissions service checks every streamed entry with these, and the web front end checks
//! an uploaded spreadsheet with the same rules before sending anything.

use chrono::NaiveDate;

use crate::convert::DateError;
use crate::error::FieldViolation;
use crate::projection::reviews::ScopePeriod;
use crate::values::{optional_text, required_text};

/// Configured limits on what a submission may carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Entries per submission.
    pub max_entries: u64,
    /// Characters per entry field (description, outcome, …).
    pub max_entry_text: usize,
    /// Characters per narrative section.
    pub max_narrative_text: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_entries: 100_000,
            max_entry_text: 10_000,
            max_narrative_text: 100_000,
        }
    }
}

/// The narrative sections of a report.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Narrative {
    pub summary: String,
    pub analysis_of_involvement: String,
    pub what_went_well: String,
    pub what_could_have_been_better: String,
    pub learning: String,
}

/// The raw narrative as received.
#[derive(Debug, Clone, Copy)]
pub struct NarrativeInput<'a> {
    pub summary: &'a str,
    pub analysis_of_involvement: &'a str,
    pub what_went_well: &'a str,
    pub what_could_have_been_better: &'a str,
    pub learning: &'a str,
}

/// Checks the narrative: summary, analysis and learning are required.
pub fn parse_narrative(
    input: NarrativeInput<'_>,
    limits: &Limits,
    violations: &mut Vec<FieldViolation>,
) -> Narrative {
    let limit = limits.max_narrative_text;
    let mut take = |field: &str, result: Result<String, crate::values::ValueError>| match result {
        Ok(text) => text,
        Err(error) => {
            violations.push(FieldViolation::new(
                format!("header.narrative.{field}"),
                error.to_string(),
            ));
            String::new()
        }
    };
    Narrative {
        summary: take("summary", required_text(input.summary, limit)),
        analysis_of_involvement: take(
            "analysis_of_involvement",
            required_text(input.analysis_of_involvement, limit),
        ),
        what_went_well: take("what_went_well", optional_text(input.what_went_well, limit)),
        what_could_have_been_better: take(
            "what_could_have_been_better",
            optional_text(input.what_could_have_been_better, limit),
        ),
        learning: take("learning", required_text(input.learning, limit)),
    }
}

/// One chronology entry, checked; also the row the submissions service stores and reads
/// back, so what is checked and what is stored cannot drift apart.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Entry {
    pub occurred_on: NaiveDate,
    /// "HH:MM" or empty.
    pub time_of_day: String,
    pub service: String,
    pub practitioner_name: String,
    pub practitioner_role: String,
    pub description: String,
    pub outcome: String,
}

impl From<Entry> for cspr_proto::submissions::v1::ChronologyEntry {
    fn from(entry: Entry) -> Self {
        Self {
            occurred_on: Some(crate::convert::date_to_proto(entry.occurred_on)),
            time_of_day: entry.time_of_day,
            service: entry.service,
            practitioner_name: entry.practitioner_name,
            practitioner_role: entry.practitioner_role,
            description: entry.description,
            outcome: entry.outcome,
        }
    }
}

/// The raw entry as received (its date already read from the protobuf).
#[derive(Debug, Clone)]
pub struct EntryInput<'a> {
    pub occurred_on: Result<NaiveDate, DateError>,
    pub time_of_day: &'a str,
    pub service: &'a str,
    pub practitioner_name: &'a str,
    pub practitioner_role: &'a str,
    pub description: &'a str,
    pub outcome: &'a str,
}

fn valid_time_of_day(text: &str) -> bool {
    let bytes = text.as_bytes();
    if bytes.len() != 5 || bytes[2] != b':' {
        return false;
    }
    let digits = |pair: &[u8]| -> Option<u32> {
        if pair.iter().all(u8::is_ascii_digit) {
            Some(u32::from(pair[0] - b'0') * 10 + u32::from(pair[1] - b'0'))
        } else {
            None
        }
    };
    matches!((digits(&bytes[..2]), digits(&bytes[3..])), (Some(hours), Some(minutes)) if hours < 24 && minutes < 60)
}

/// Checks one entry (number `index`, from 0) against the scope period and limits; every
/// problem is named `entries[index].field`.
pub fn parse_entry(
    index: u64,
    input: EntryInput<'_>,
    scope: ScopePeriod,
    limits: &Limits,
) -> Result<Entry, Vec<FieldViolation>> {
    let mut violations = Vec::new();
    let field = |name: &str| format!("entries[{index}].{name}");
    let occurred_on = match input.occurred_on {
        Ok(date) if date < scope.start || date > scope.end => {
            violations.push(FieldViolation::new(
                field("occurred_on"),
                format!(
                    "{date} is outside the scope period {} to {}",
                    scope.start, scope.end
                ),
            ));
            None
        }
        Ok(date) => Some(date),
        Err(error) => {
            violations.push(FieldViolation::new(field("occurred_on"), error.to_string()));
            None
        }
    };
    let time_of_day = input.time_of_day.trim();
    if !time_of_day.is_empty() && !valid_time_of_day(time_of_day) {
        violations.push(FieldViolation::new(
            field("time_of_day"),
            "HH:MM, 24-hour, or empty",
        ));
    }
    let limit = limits.max_entry_text;
    let mut text = |name: &str, result: Result<String, crate::values::ValueError>| match result {
        Ok(text) => text,
        Err(error) => {
            violations.push(FieldViolation::new(field(name), error.to_string()));
            String::new()
        }
    };
    let service = text("service", required_text(input.service, 500));
    let practitioner_name = text(
        "practitioner_name",
        optional_text(input.practitioner_name, 200),
    );
    let practitioner_role = text(
        "practitioner_role",
        optional_text(input.practitioner_role, 200),
    );
    let description = text("description", required_text(input.description, limit));
    let outcome = text("outcome", optional_text(input.outcome, limit));
    match occurred_on {
        Some(occurred_on) if violations.is_empty() => Ok(Entry {
            occurred_on,
            time_of_day: time_of_day.to_string(),
            service,
            practitioner_name,
            practitioner_role,
            description,
            outcome,
        }),
        _ => Err(violations),
    }
}
