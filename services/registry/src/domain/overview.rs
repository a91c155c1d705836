//! The overview report's structure: the findings on each key line of enquiry, the three
//! questions every CSPR answers, good practice and learning beside the summary and the
//! recommendations; and the panel's comments on a section of a version, answered by the
//! reviewer in a later one.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::review::ReviewError;

/// The findings on one key line of enquiry of the terms of reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnquiryFindings {
    /// The line of enquiry, as the terms of reference word it.
    pub line_of_enquiry: String,
    pub findings: String,
}

/// What a version of the report says beyond its summary and recommendations. A version
/// submitted before reports had sections has them empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportSections {
    /// In the order of the terms of reference's key lines of enquiry.
    pub enquiries: Vec<EnquiryFindings>,
    /// Were the expected standards of practice met?
    pub standards_met: String,
    /// Were policies and procedures followed?
    pub policies_followed: String,
    /// What can be learned about the way organisations work together?
    pub working_together: String,
    /// Good practice identified: the areas of success.
    pub good_practice: String,
    pub learning: String,
}

/// The sections a comment can be on, besides `enquiry:<n>` (the n-th line, from 1).
pub const SECTIONS: [&str; 7] = [
    "summary",
    "standards_met",
    "policies_followed",
    "working_together",
    "good_practice",
    "learning",
    "recommendations",
];

impl ReportSections {
    /// The sections in order, for the terms' `lines` of enquiry: each line's findings as
    /// given, every line answered exactly once and no other. A missing line is the rule
    /// the reviewer acts on (named, FAILED_PRECONDITION); an unknown or repeated one is a
    /// mistake in the request (INVALID_ARGUMENT).
    pub fn answering(mut self, lines: &[String]) -> Result<Self, ReviewError> {
        let mut ordered = Vec::with_capacity(lines.len());
        for (index, given) in self.enquiries.iter().enumerate() {
            if !lines
                .iter()
                .any(|line| same_line(line, &given.line_of_enquiry))
            {
                return Err(ReviewError::Field {
                    field: "enquiry_findings",
                    message: format!(
                        "[{index}]: \u{201c}{}\u{201d} is not a key line of enquiry of the terms of reference",
                        given.line_of_enquiry
                    ),
                });
            }
            if self.enquiries[..index]
                .iter()
                .any(|earlier| same_line(&earlier.line_of_enquiry, &given.line_of_enquiry))
            {
                return Err(ReviewError::Field {
                    field: "enquiry_findings",
                    message: format!(
                        "[{index}]: \u{201c}{}\u{201d} is answered twice",
                        given.line_of_enquiry
                    ),
                });
            }
        }
        let mut missing = Vec::new();
        for line in lines {
            match self
                .enquiries
                .iter()
                .position(|given| same_line(line, &given.line_of_enquiry))
            {
                Some(position) => ordered.push(EnquiryFindings {
                    line_of_enquiry: line.clone(),
                    findings: self.enquiries[position].findings.clone(),
                }),
                None => missing.push(format!("\u{201c}{line}\u{201d}")),
            }
        }
        if !missing.is_empty() {
            return Err(ReviewError::Rule(format!(
                "the report must give findings on every key line of enquiry of the terms of reference; not answered: {}",
                missing.join("; ")
            )));
        }
        self.enquiries = ordered;
        Ok(self)
    }

    /// Whether `section` names a section of a version with these sections.
    pub fn has_section(&self, section: &str) -> bool {
        if SECTIONS.contains(&section) {
            return true;
        }
        section
            .strip_prefix("enquiry:")
            .and_then(|number| number.parse::<usize>().ok())
            .is_some_and(|number| number >= 1 && number <= self.enquiries.len())
    }
}

/// Lines of enquiry compare as written, but for case and runs of white space.
fn same_line(a: &str, b: &str) -> bool {
    let words = |text: &str| {
        text.split_whitespace()
            .map(str::to_lowercase)
            .collect::<Vec<_>>()
    };
    words(a) == words(b)
}

/// A panel member's comment on one section of one version of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverviewComment {
    pub id: Uuid,
    pub version: i32,
    pub section: String,
    pub text: String,
    /// The `sub` of who commented.
    pub author: String,
    pub at: DateTime<Utc>,
    pub answer: Option<CommentAnswer>,
}

/// The reviewer's answer to a comment, given with a later version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentAnswer {
    pub text: String,
    /// The version that answers it.
    pub version: i32,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines() -> Vec<String> {
        vec![
            "How well did agencies share information?".into(),
            "Was the voice of the child heard?".into(),
        ]
    }

    fn findings(line: &str) -> EnquiryFindings {
        EnquiryFindings {
            line_of_enquiry: line.into(),
            findings: format!("On {line}"),
        }
    }

    #[test]
    fn every_line_of_enquiry_is_answered_once_in_the_terms_order() {
        let sections = ReportSections {
            enquiries: vec![
                findings("was the voice of the  child heard?"),
                findings("How well did agencies share information?"),
            ],
            ..ReportSections::default()
        };
        let ordered = sections.answering(&lines()).expect("answers both");
        assert_eq!(
            ordered
                .enquiries
                .iter()
                .map(|given| given.line_of_enquiry.as_str())
                .collect::<Vec<_>>(),
            vec![
                "How well did agencies share information?",
                "Was the voice of the child heard?"
            ]
        );
        assert_eq!(
            ordered.enquiries[1].findings,
            "On was the voice of the  child heard?"
        );
    }

    #[test]
    fn a_missing_line_is_named_and_an_unknown_or_repeated_one_refused() {
        let missing = ReportSections {
            enquiries: vec![findings("How well did agencies share information?")],
            ..ReportSections::default()
        }
        .answering(&lines());
        assert_eq!(
            missing,
            Err(ReviewError::Rule(
                "the report must give findings on every key line of enquiry of the terms of reference; not answered: \u{201c}Was the voice of the child heard?\u{201d}".into()
            ))
        );
        let unknown = ReportSections {
            enquiries: vec![findings("Something else?")],
            ..ReportSections::default()
        }
        .answering(&lines());
        assert!(
            matches!(
                &unknown,
                Err(ReviewError::Field { field: "enquiry_findings", message }) if message.starts_with("[0]:") && message.contains("is not a key line")
            ),
            "{unknown:?}"
        );
        let twice = ReportSections {
            enquiries: vec![
                findings("Was the voice of the child heard?"),
                findings("WAS the voice of the child heard?"),
            ],
            ..ReportSections::default()
        }
        .answering(&lines());
        assert!(
            matches!(
                &twice,
                Err(ReviewError::Field { field: "enquiry_findings", message }) if message.starts_with("[1]:") && message.contains("twice")
            ),
            "{twice:?}"
        );
    }

    #[test]
    fn sections_are_the_fixed_ones_and_each_line_by_number() {
        let sections = ReportSections {
            enquiries: vec![findings("a"), findings("b")],
            ..ReportSections::default()
        };
        for section in [
            "summary",
            "learning",
            "recommendations",
            "enquiry:1",
            "enquiry:2",
        ] {
            assert!(sections.has_section(section), "{section}");
        }
        for section in ["enquiry:0", "enquiry:3", "enquiry:x", "findings", ""] {
            assert!(!sections.has_section(section), "{section}");
        }
    }
}
