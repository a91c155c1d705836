//! The property the `report_file` fuzz target (`fuzz/`) checks, beside the code it
//! exercises, so the fuzzer and `cargo test` (which replays every committed seed and kept
//! crash input) run the same check. Compiled only for tests and with the `fuzzing` feature.

use chrono::NaiveDate;
use cspr_platform::convert::date_from_proto;

use crate::domain::{self, Limits, NarrativeInput, ScopePeriod};
use crate::report_file::{self, ReportFile};

/// `report_file`: the agency report file ([`report_file::parse`]). Any bytes are a report
/// file or refused, never a panic. A file read is one header announcing exactly its entries,
/// with its own request id or the hash of its bytes; each entry's date arrives as the
/// service reads it back ([`date_from_proto`]); the file written out again reads as the same
/// submission; and the service's checks of the narrative and of every entry
/// ([`domain::parse_narrative`], [`domain::parse_entry`]) take whatever it holds.
pub fn report_file(data: &[u8]) {
    let Ok(submission) = report_file::parse(data) else {
        assert!(serde_json::from_slice::<ReportFile>(data).is_err());
        return;
    };
    let file: ReportFile = serde_json::from_slice(data).expect("parsed above");
    assert_eq!(submission.header.entry_count, file.entries.len() as i64);
    assert_eq!(submission.entries.len(), file.entries.len());
    match &file.request_id {
        Some(request_id) => assert_eq!(&submission.header.request_id, request_id),
        None => assert_eq!(
            submission.header.request_id,
            report_file::default_request_id(data)
        ),
    }
    for (entry, sent) in file.entries.iter().zip(&submission.entries) {
        assert_eq!(
            date_from_proto(sent.occurred_on.as_ref()).ok(),
            Some(entry.occurred_on),
            "the entry's date arrives as written"
        );
        assert_eq!(sent.description, entry.description);
    }

    let written = serde_json::to_vec(&file).expect("a report file writes out");
    let mut again = report_file::parse(&written).expect("a written report file reads");
    again.header.request_id = submission.header.request_id.clone();
    assert_eq!(again, submission, "write ∘ read is the identity");

    let limits = Limits::default();
    let narrative = submission.header.narrative.clone().unwrap_or_default();
    let mut violations = Vec::new();
    domain::parse_narrative(
        NarrativeInput {
            summary: &narrative.summary,
            analysis_of_involvement: &narrative.analysis_of_involvement,
            what_went_well: &narrative.what_went_well,
            what_could_have_been_better: &narrative.what_could_have_been_better,
            learning: &narrative.learning,
        },
        &limits,
        &mut violations,
    );
    let scope = ScopePeriod {
        start: NaiveDate::MIN,
        end: NaiveDate::MAX,
    };
    for (index, entry) in submission.entries.iter().enumerate() {
        let _ = domain::parse_entry(
            index as u64,
            crate::grpc::entry_input(entry),
            scope,
            &limits,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_file_inputs_hold() {
        assert!(cspr_platform::fuzzing::replay("report_file", report_file) > 0);
    }
}
