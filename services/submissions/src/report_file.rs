//! The agency report file: a report written as JSON (field names as in the proto), which
//! `cspr report submit --file` reads and streams to `SubmitAgencyReport`. Read here, in the
//! service's crate, rather than in the binary: the file is the submission's other way in, and
//! its reading is fuzzed (`fuzz/`, target `report_file`) as a library function.
//!
//! Only the file's shape is checked here (unknown fields, missing ones, a date that is no
//! calendar date are refused); what a report must say is the service's to check, as it is
//! for any client's stream.

use chrono::NaiveDate;
use cspr_platform::convert::date_to_proto;
use cspr_proto::submissions::v1 as pb;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A report as a JSON file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportFile {
    /// The idempotency key; without one the submission's is a hash of the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    pub review_id: String,
    pub agency_id: String,
    pub author_name: String,
    pub author_role: String,
    pub narrative: NarrativeFile,
    #[serde(default)]
    pub entries: Vec<EntryFile>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NarrativeFile {
    pub summary: String,
    pub analysis_of_involvement: String,
    #[serde(default)]
    pub what_went_well: String,
    #[serde(default)]
    pub what_could_have_been_better: String,
    pub learning: String,
}

/// One chronology entry; `occurred_on` is a `YYYY-MM-DD` date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryFile {
    #[serde(deserialize_with = "calendar_date")]
    pub occurred_on: NaiveDate,
    #[serde(default)]
    pub time_of_day: String,
    pub service: String,
    #[serde(default)]
    pub practitioner_name: String,
    #[serde(default)]
    pub practitioner_role: String,
    pub description: String,
    #[serde(default)]
    pub outcome: String,
}

/// A date of the years 1 to 9999, the ones a `google.type.Date` carries to the service
/// (`cspr_platform::convert::date_from_proto`): chrono alone would read `+262142-12-31` or
/// `0000-01-01` too, which the service then refuses as no calendar date, with the file's
/// line lost.
fn calendar_date<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<NaiveDate, D::Error> {
    use chrono::Datelike;
    let date = NaiveDate::deserialize(deserializer)?;
    if (1..=9999).contains(&date.year()) {
        Ok(date)
    } else {
        Err(serde::de::Error::custom(format!(
            "{date} is outside the years 1 to 9999"
        )))
    }
}

/// A report file as the messages of a `SubmitAgencyReport` stream: the header, then the
/// entries.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportSubmission {
    pub header: pb::SubmissionHeader,
    pub entries: Vec<pb::ChronologyEntry>,
}

/// A file that is not a report file, and why (serde's message names line and column).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ReportFileError(#[from] serde_json::Error);

/// Reads a report file's bytes.
pub fn parse(bytes: &[u8]) -> Result<ReportSubmission, ReportFileError> {
    let file: ReportFile = serde_json::from_slice(bytes)?;
    Ok(file.into_submission(bytes))
}

/// The idempotency key of a file without one: the first 16 bytes of its SHA-256, so
/// submitting the same file again is a harmless retry.
pub fn default_request_id(bytes: &[u8]) -> String {
    hex::encode(&Sha256::digest(bytes)[..16])
}

impl ReportFile {
    /// The submission of this file, whose bytes were `bytes` (for the default request id).
    pub fn into_submission(self, bytes: &[u8]) -> ReportSubmission {
        let request_id = self.request_id.unwrap_or_else(|| default_request_id(bytes));
        let entries: Vec<pb::ChronologyEntry> = self
            .entries
            .into_iter()
            .map(|entry| pb::ChronologyEntry {
                occurred_on: Some(date_to_proto(entry.occurred_on)),
                time_of_day: entry.time_of_day,
                service: entry.service,
                practitioner_name: entry.practitioner_name,
                practitioner_role: entry.practitioner_role,
                description: entry.description,
                outcome: entry.outcome,
            })
            .collect();
        let narrative = self.narrative;
        ReportSubmission {
            header: pb::SubmissionHeader {
                request_id,
                review_id: self.review_id,
                agency_id: self.agency_id,
                author_name: self.author_name,
                author_role: self.author_role,
                narrative: Some(pb::Narrative {
                    summary: narrative.summary,
                    analysis_of_involvement: narrative.analysis_of_involvement,
                    what_went_well: narrative.what_went_well,
                    what_could_have_been_better: narrative.what_could_have_been_better,
                    learning: narrative.learning,
                }),
                entry_count: entries.len() as i64,
            },
            entries,
        }
    }
}

impl ReportSubmission {
    /// The stream's first message.
    pub fn header_message(&self) -> pb::SubmitAgencyReportRequest {
        pb::SubmitAgencyReportRequest {
            item: Some(pb::submit_agency_report_request::Item::Header(
                self.header.clone(),
            )),
        }
    }

    /// An entry's message.
    pub fn entry_message(entry: pb::ChronologyEntry) -> pb::SubmitAgencyReportRequest {
        pb::SubmitAgencyReportRequest {
            item: Some(pb::submit_agency_report_request::Item::Entry(entry)),
        }
    }
}
