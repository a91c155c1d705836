//! An agency's chronology spreadsheet (CSV, one entry a row under a header row) read into
//! the entries of a SubmitAgencyReport stream, checked with the submissions service's own
//! rules (`cspr_platform::chronology::parse_entry`, which the service runs on every streamed
//! entry): every bad row is named by its row and column, and nothing is sent unless every
//! row is valid. Pure: no I/O.

use chrono::NaiveDate;
use cspr_platform::chronology::{EntryInput, Limits, parse_entry};
use cspr_platform::convert::DateError;
use cspr_platform::projection::reviews::ScopePeriod;
use cspr_proto::submissions::v1 as submissions;
use sha2::{Digest, Sha256};

/// The spreadsheet's columns (its header row) and the entry field each one fills.
pub(crate) const COLUMNS: [(&str, &str); 7] = [
    ("date", "occurred_on"),
    ("time", "time_of_day"),
    ("service", "service"),
    ("practitioner_name", "practitioner_name"),
    ("practitioner_role", "practitioner_role"),
    ("description", "description"),
    ("outcome", "outcome"),
];

/// The downloadable template: the header row alone.
pub(crate) fn template_csv() -> String {
    let names: Vec<&str> = COLUMNS.iter().map(|(column, _)| *column).collect();
    format!("{}\r\n", names.join(","))
}

/// One problem of the file: its spreadsheet row (the header is row 1) and column, when
/// there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RowError {
    pub(crate) row: u64,
    pub(crate) column: Option<String>,
    pub(crate) message: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.column {
            Some(column) => write!(
                formatter,
                "Row {}, column {column}: {}",
                self.row, self.message
            ),
            None if self.row == 0 => write!(formatter, "{}", self.message),
            None => write!(formatter, "Row {}: {}", self.row, self.message),
        }
    }
}

fn file_error(message: impl Into<String>) -> Vec<RowError> {
    vec![RowError {
        row: 0,
        column: None,
        message: message.into(),
    }]
}

/// The spreadsheet column of an entry field (`occurred_on` → `date`).
pub(crate) fn column_of(field: &str) -> &str {
    COLUMNS
        .iter()
        .find(|(_, name)| *name == field)
        .map_or(field, |(column, _)| column)
}

/// The spreadsheet row of entry `index` (from 0): the header is row 1.
pub(crate) fn row_of(index: u64) -> u64 {
    index + 2
}

/// A date as a spreadsheet writes it: 2025-03-14 or 14/03/2025.
fn read_date(text: &str) -> Result<NaiveDate, Option<DateError>> {
    let text = text.trim();
    if text.is_empty() {
        return Err(Some(DateError::Missing));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(text, "%d/%m/%Y"))
        .map_err(|_| None)
}

/// The message of a rule's refusal, for a person ("required" → "enter a value").
fn message_of(description: &str) -> String {
    match description {
        "required" => "enter a value".to_string(),
        other => other.to_string(),
    }
}

/// The entries of `bytes` (a CSV file, UTF-8, optionally with a byte-order mark), each
/// checked against `scope` and `limits`; at most `max_rows` entries. Every problem of every
/// row, or the entries.
pub(crate) fn parse_chronology(
    bytes: &[u8],
    scope: ScopePeriod,
    limits: &Limits,
    max_rows: u64,
) -> Result<Vec<submissions::ChronologyEntry>, Vec<RowError>> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if std::str::from_utf8(bytes).is_err() {
        return Err(file_error(
            "The file is not UTF-8 text: save the spreadsheet as \"CSV UTF-8\"",
        ));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(file_error("The file is empty"));
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(bytes);
    let header = reader
        .headers()
        .map_err(|error| file_error(format!("The header row cannot be read: {error}")))?
        .clone();
    // Where each column is in the file (any order, any case).
    let mut positions = [usize::MAX; COLUMNS.len()];
    let mut errors = Vec::new();
    for (at, name) in header.iter().enumerate() {
        let name = name.trim().to_ascii_lowercase();
        match COLUMNS.iter().position(|(column, _)| *column == name) {
            Some(known) if positions[known] == usize::MAX => positions[known] = at,
            Some(_) => errors.push(RowError {
                row: 1,
                column: Some(name),
                message: "the column is named twice".into(),
            }),
            None => errors.push(RowError {
                row: 1,
                column: Some(name),
                message: "not a column of the template".into(),
            }),
        }
    }
    for (known, (column, _)) in COLUMNS.iter().enumerate() {
        if positions[known] == usize::MAX {
            errors.push(RowError {
                row: 1,
                column: Some(column.to_string()),
                message: "the column is missing: start from the template".into(),
            });
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut entries = Vec::new();
    let mut index = 0_u64;
    for record in reader.records() {
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                let row = error.position().map_or(row_of(index), |at| at.line());
                errors.push(RowError {
                    row,
                    column: None,
                    message: format!("cannot be read: {error}"),
                });
                break;
            }
        };
        // A spreadsheet's trailing blank rows are not entries.
        if record.iter().all(|cell| cell.trim().is_empty()) {
            continue;
        }
        if index >= max_rows {
            return Err(file_error(format!(
                "The file has more than {max_rows} entries: split the chronology or ask the panel"
            )));
        }
        let row = record.position().map_or(row_of(index), |at| at.line());
        let cell = |known: usize| record.get(positions[known]).unwrap_or_default();
        let date_text = cell(0);
        let (occurred_on, unreadable_date) = match read_date(date_text) {
            Ok(date) => (Ok(date), false),
            Err(Some(missing)) => (Err(missing), false),
            // A placeholder: the date's own message replaces the rule's.
            Err(None) => (Err(DateError::Missing), true),
        };
        let input = EntryInput {
            occurred_on,
            time_of_day: cell(1),
            service: cell(2),
            practitioner_name: cell(3),
            practitioner_role: cell(4),
            description: cell(5),
            outcome: cell(6),
        };
        match parse_entry(index, input, scope, limits) {
            Ok(entry) => entries.push(entry.into()),
            Err(violations) => {
                for violation in violations {
                    let field = violation.field.rsplit('.').next().unwrap_or_default();
                    let message = if field == "occurred_on" && unreadable_date {
                        format!(
                            "\"{}\" is not a date: write it as 2025-03-14 or 14/03/2025",
                            date_text.trim()
                        )
                    } else {
                        message_of(&violation.description)
                    };
                    errors.push(RowError {
                        row,
                        column: Some(column_of(field).to_string()),
                        message,
                    });
                }
            }
        }
        index += 1;
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    if entries.is_empty() {
        return Err(file_error(
            "The file has no entries: add one row under the header row for each contact",
        ));
    }
    Ok(entries)
}

/// The idempotency key of an upload: the same form sent again with the same content (a
/// retry, a double click) is the same submission, not a second version. `parts` are every
/// piece of the content, each length-prefixed so no two different uploads hash alike.
pub(crate) fn request_id_of(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    let digest = hasher.finalize();
    let mut bytes = [0_u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// The stream of a submission: the header (with the entry count), then each entry.
pub(crate) fn messages(
    mut header: submissions::SubmissionHeader,
    entries: Vec<submissions::ChronologyEntry>,
) -> Vec<submissions::SubmitAgencyReportRequest> {
    use submissions::submit_agency_report_request::Item;
    header.entry_count = entries.len() as i64;
    std::iter::once(Item::Header(header))
        .chain(entries.into_iter().map(Item::Entry))
        .map(|item| submissions::SubmitAgencyReportRequest { item: Some(item) })
        .collect()
}

#[cfg(test)]
mod tests {
    use cspr_proto::google::r#type::Date;

    use super::*;

    fn day(year: i32, month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(year, month, day).expect("date")
    }

    fn scope() -> ScopePeriod {
        ScopePeriod {
            start: day(2024, 9, 15),
            end: day(2026, 3, 9),
        }
    }

    fn parse(text: &str) -> Result<Vec<submissions::ChronologyEntry>, Vec<String>> {
        parse_chronology(text.as_bytes(), scope(), &Limits::default(), 100)
            .map_err(|errors| errors.iter().map(ToString::to_string).collect())
    }

    const HEADER: &str =
        "date,time,service,practitioner_name,practitioner_role,description,outcome\n";

    #[test]
    fn a_good_file_gives_every_entry_in_order() {
        let entries = parse(&format!(
            "{HEADER}2025-01-10,09:30,Home visit,Ann Smith,Health visitor,Saw the family,Referral made\n\
             14/02/2025,,GP appointment,,,Child seen for a cough,\n\n"
        ))
        .expect("valid");
        assert_eq!(entries.len(), 2);
        assert_eq!(
            entries[0].occurred_on,
            Some(Date {
                year: 2025,
                month: 1,
                day: 10
            })
        );
        assert_eq!(entries[0].time_of_day, "09:30");
        assert_eq!(entries[0].outcome, "Referral made");
        assert_eq!(
            entries[1].occurred_on,
            Some(Date {
                year: 2025,
                month: 2,
                day: 14
            })
        );
        assert_eq!(entries[1].service, "GP appointment");
        assert_eq!(template_csv(), HEADER.replace('\n', "\r\n"));
    }

    #[test]
    fn every_bad_row_is_named_by_row_and_column() {
        let errors = parse(&format!(
            "{HEADER}2025-01-10,09:30,Home visit,,,Saw the family,\n\
             2023-01-01,25:00,Home visit,,,Saw the family,\n\
             not a date,,,,,,\n"
        ))
        .expect_err("refused");
        assert_eq!(
            errors,
            vec![
                "Row 3, column date: 2023-01-01 is outside the scope period 2024-09-15 to 2026-03-09",
                "Row 3, column time: HH:MM, 24-hour, or empty",
                "Row 4, column date: \"not a date\" is not a date: write it as 2025-03-14 or 14/03/2025",
                "Row 4, column service: enter a value",
                "Row 4, column description: enter a value",
            ]
        );
    }

    #[test]
    fn a_byte_order_mark_and_quoted_commas_are_read() {
        let text = format!(
            "\u{FEFF}{HEADER}2025-01-10,,\"Visit, at home\",,,\"Said \"\"fine\"\", left\",\n"
        );
        let entries = parse(&text).expect("valid");
        assert_eq!(entries[0].service, "Visit, at home");
        assert_eq!(entries[0].description, "Said \"fine\", left");
    }

    #[test]
    fn columns_in_any_order_but_none_missing_or_unknown() {
        let entries = parse(
            "Description,Date,Service,Time,Outcome,Practitioner_Role,Practitioner_Name\n\
             Saw them,2025-01-10,Visit,,,,\n",
        )
        .expect("valid");
        assert_eq!(entries[0].description, "Saw them");
        let errors = parse("date,service,colour\n2025-01-10,Visit,red\n").expect_err("refused");
        assert!(
            errors.contains(&"Row 1, column colour: not a column of the template".to_string()),
            "{errors:?}"
        );
        assert!(
            errors.contains(
                &"Row 1, column description: the column is missing: start from the template"
                    .to_string()
            ),
            "{errors:?}"
        );
    }

    #[test]
    fn an_empty_file_or_a_header_alone_is_refused() {
        assert_eq!(parse("").expect_err("empty"), vec!["The file is empty"]);
        assert_eq!(
            parse(HEADER).expect_err("no rows"),
            vec!["The file has no entries: add one row under the header row for each contact"]
        );
        let latin1 = [HEADER.as_bytes(), b"2025-01-10,,Visit,,,Caf\xE9,\n"].concat();
        assert!(parse_chronology(&latin1, scope(), &Limits::default(), 10).is_err());
    }

    #[test]
    fn too_many_rows_are_refused() {
        let rows: String = (0..4).map(|_| "2025-01-10,,Visit,,,Saw them,\n").collect();
        let text = format!("{HEADER}{rows}");
        let refused = parse_chronology(text.as_bytes(), scope(), &Limits::default(), 3)
            .expect_err("too many");
        assert_eq!(
            refused[0].to_string(),
            "The file has more than 3 entries: split the chronology or ask the panel"
        );
        assert!(parse_chronology(text.as_bytes(), scope(), &Limits::default(), 4).is_ok());
    }

    #[test]
    fn the_same_upload_has_the_same_key_and_another_does_not() {
        let first = request_id_of(&[b"review", b"csc", b"a,b"]);
        assert_eq!(first, request_id_of(&[b"review", b"csc", b"a,b"]));
        assert_ne!(first, request_id_of(&[b"review", b"csc", b"a", b",b"]));
        assert!(uuid::Uuid::parse_str(&first).is_ok());
        let stream = messages(
            submissions::SubmissionHeader::default(),
            vec![submissions::ChronologyEntry::default(); 2],
        );
        assert_eq!(stream.len(), 3);
        match &stream[0].item {
            Some(submissions::submit_agency_report_request::Item::Header(header)) => {
                assert_eq!(header.entry_count, 2);
            }
            other => panic!("{other:?}"),
        }
    }
}
