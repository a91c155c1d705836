//! The submissions rules, free of I/O: report statuses and the panel's decisions, what a
//! submission's header and entries must satisfy, and the content hash of a submission.

use sha2::{Digest, Sha256};

cspr_platform::named_enum! {
    /// Where an agency's report stands.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum ReportStatus {
        Requested => "REQUESTED",
        Submitted => "SUBMITTED",
        Accepted => "ACCEPTED",
        Returned => "RETURNED",
        Waived => "WAIVED",
    }
}

impl ReportStatus {
    /// Whether the report still keeps the review from its overview (and gets reminders).
    pub fn is_outstanding(self) -> bool {
        matches!(
            self,
            ReportStatus::Requested | ReportStatus::Submitted | ReportStatus::Returned
        )
    }
}

/// A command the request's state does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecisionError {
    #[error("the report was waived; ask for it again to reopen it")]
    Waived,
    #[error("the report was already accepted")]
    AlreadyAccepted,
    #[error("nothing has been submitted yet")]
    NothingSubmitted,
    #[error("the report is {0}, not awaiting the panel")]
    NotAwaitingDecision(&'static str),
    #[error("version {asked} is not the latest submitted version ({latest})")]
    NotLatest { asked: i32, latest: i32 },
}

/// Whether an agency may submit (a new version) now.
pub fn may_submit(status: ReportStatus) -> Result<(), DecisionError> {
    match status {
        ReportStatus::Waived => Err(DecisionError::Waived),
        ReportStatus::Accepted => Err(DecisionError::AlreadyAccepted),
        ReportStatus::Requested | ReportStatus::Submitted | ReportStatus::Returned => Ok(()),
    }
}

/// Accept or return: only the latest version, only while it awaits the panel.
pub fn may_decide(
    status: ReportStatus,
    latest_version: i32,
    version: i32,
) -> Result<(), DecisionError> {
    match status {
        ReportStatus::Submitted => {}
        ReportStatus::Requested => return Err(DecisionError::NothingSubmitted),
        other => return Err(DecisionError::NotAwaitingDecision(other.as_str())),
    }
    if version != latest_version {
        return Err(DecisionError::NotLatest {
            asked: version,
            latest: latest_version,
        });
    }
    Ok(())
}

/// Waive: anything not yet accepted or waived.
pub fn may_waive(status: ReportStatus) -> Result<(), DecisionError> {
    match status {
        ReportStatus::Accepted => Err(DecisionError::AlreadyAccepted),
        ReportStatus::Waived => Err(DecisionError::NotAwaitingDecision("WAIVED")),
        _ => Ok(()),
    }
}

/// The rules of a submission's narrative and entries (shared with the web's upload check).
pub use cspr_platform::chronology::{
    Entry, EntryInput, Limits, Narrative, NarrativeInput, parse_entry, parse_narrative,
};

/// The review's scope period, as the platform's review projection keeps it.
pub use cspr_platform::projection::reviews::ScopePeriod;

/// The SHA-256 of a submission as sent: the header's bytes, then each entry's, each
/// length-prefixed so no two different streams hash alike.
#[derive(Debug, Clone, Default)]
pub struct ContentHasher(Sha256);

impl ContentHasher {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, encoded_message: &[u8]) {
        self.0.update((encoded_message.len() as u64).to_be_bytes());
        self.0.update(encoded_message);
    }

    pub fn finish(self) -> String {
        hex::encode(self.0.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use proptest::prelude::*;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("date")
    }

    fn scope() -> ScopePeriod {
        ScopePeriod {
            start: date("2024-09-15"),
            end: date("2026-03-09"),
        }
    }

    fn input(occurred_on: &str) -> EntryInput<'static> {
        EntryInput {
            occurred_on: Ok(date(occurred_on)),
            time_of_day: "09:30",
            service: "Home visit",
            practitioner_name: "Alex Smith",
            practitioner_role: "Health visitor",
            description: "Visited the family.",
            outcome: "",
        }
    }

    #[test]
    fn entries_inside_the_scope_are_accepted() {
        let entry =
            parse_entry(0, input("2025-01-10"), scope(), &Limits::default()).expect("valid");
        assert_eq!(entry.occurred_on, date("2025-01-10"));
        assert!(parse_entry(0, input("2024-09-15"), scope(), &Limits::default()).is_ok());
        assert!(parse_entry(0, input("2026-03-09"), scope(), &Limits::default()).is_ok());
    }

    #[test]
    fn entries_outside_the_scope_name_their_index() {
        let violations =
            parse_entry(41, input("2026-03-10"), scope(), &Limits::default()).expect_err("outside");
        assert_eq!(violations.len(), 1);
        assert_eq!(violations[0].field, "entries[41].occurred_on");
        assert!(
            violations[0]
                .description
                .contains("outside the scope period")
        );
    }

    #[test]
    fn required_fields_and_time_format() {
        let mut bad = input("2025-01-10");
        bad.service = " ";
        bad.description = "";
        bad.time_of_day = "25:00";
        let violations = parse_entry(3, bad, scope(), &Limits::default()).expect_err("invalid");
        let fields: Vec<_> = violations
            .iter()
            .map(|violation| violation.field.as_str())
            .collect();
        assert_eq!(
            fields,
            [
                "entries[3].time_of_day",
                "entries[3].service",
                "entries[3].description"
            ]
        );
    }

    #[test]
    fn text_limits_apply() {
        let long = "x".repeat(11);
        let mut entry = input("2025-01-10");
        entry.description = &long;
        let limits = Limits {
            max_entry_text: 10,
            ..Limits::default()
        };
        assert!(parse_entry(0, entry, scope(), &limits).is_err());
    }

    #[test]
    fn decisions_follow_the_status() {
        assert!(may_submit(ReportStatus::Requested).is_ok());
        assert!(may_submit(ReportStatus::Returned).is_ok());
        assert_eq!(may_submit(ReportStatus::Waived), Err(DecisionError::Waived));
        assert_eq!(may_decide(ReportStatus::Submitted, 2, 2), Ok(()));
        assert_eq!(
            may_decide(ReportStatus::Submitted, 2, 1),
            Err(DecisionError::NotLatest {
                asked: 1,
                latest: 2
            })
        );
        assert_eq!(
            may_decide(ReportStatus::Requested, 0, 0),
            Err(DecisionError::NothingSubmitted)
        );
        assert!(may_decide(ReportStatus::Accepted, 1, 1).is_err());
        assert!(may_waive(ReportStatus::Returned).is_ok());
        assert!(may_waive(ReportStatus::Accepted).is_err());
        assert!(ReportStatus::Returned.is_outstanding());
        assert!(!ReportStatus::Waived.is_outstanding());
    }

    #[test]
    fn hashes_depend_on_message_boundaries() {
        let mut one = ContentHasher::new();
        one.add(b"ab");
        one.add(b"c");
        let mut two = ContentHasher::new();
        two.add(b"a");
        two.add(b"bc");
        assert_ne!(one.finish(), two.finish());
    }

    proptest! {
        #[test]
        fn any_text_is_parsed_or_refused_without_panic(text in "\\PC{0,200}", time in "\\PC{0,8}") {
            let entry = EntryInput {
                occurred_on: Ok(date("2025-01-10")),
                time_of_day: &time,
                service: &text,
                practitioner_name: &text,
                practitioner_role: &text,
                description: &text,
                outcome: &text,
            };
            let _ = parse_entry(0, entry, scope(), &Limits::default());
        }
    }
}
