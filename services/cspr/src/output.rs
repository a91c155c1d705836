//! How every client command prints: one `--output table|json|csv`, one table printer, one
//! CSV writer and one rule for enum values, so a script written against one command reads
//! every other the same way.
//!
//! The rules:
//! - stdout carries only the data; hints (the next page, a count, a note) go to stderr, so
//!   `--output json` and `--output csv` can be piped as they are;
//! - a listing is rows; a single record (a review, a receipt) is one row of the same
//!   columns, printed as `FIELD  value` lines in a table and as a header and one line in CSV;
//! - an enum value is its proto name without the type's prefix, in lower case
//!   (`STAGE_INFORMATION_GATHERING` → `information_gathering`), in tables, JSON and CSV alike,
//!   and the same text is what value options such as `--stage` accept;
//! - a date is `YYYY-MM-DD`, empty when absent.

use std::io::Write;

use cspr_proto::google::r#type::Date;
use serde_json::Value;

/// How a command prints what it got.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Output {
    /// Aligned columns for a person at a terminal.
    #[default]
    Table,
    /// Pretty JSON: an array for a listing, an object for a single record.
    Json,
    /// CSV with a header row (RFC 4180 quoting).
    Csv,
}

/// One printable row: its cells for tables and CSV, its object for JSON.
pub(crate) trait Row {
    /// Column headers as a table shows them; CSV uses them in lower case with `_`.
    const COLUMNS: &'static [&'static str];
    /// One text per column, in [`Row::COLUMNS`] order.
    fn cells(&self) -> Vec<String>;
    /// The row as JSON (may hold more than the columns, e.g. nested lists).
    fn json(&self) -> Value;
}

/// A proto enum whose values print by the one rule of this module.
pub(crate) trait ProtoEnum: TryFrom<i32> {
    /// The generated `as_str_name`, e.g. `STAGE_NOTIFIED`.
    fn proto_name(&self) -> &'static str;
}

macro_rules! proto_enums {
    ($($name:ty),* $(,)?) => {
        $(impl ProtoEnum for $name {
            fn proto_name(&self) -> &'static str {
                self.as_str_name()
            }
        })*
    };
}

proto_enums!(
    cspr_proto::registry::v1::Stage,
    cspr_proto::registry::v1::DeadlineKind,
    cspr_proto::registry::v1::DeadlineStatus,
    cspr_proto::registry::v1::PanelRole,
    cspr_proto::submissions::v1::ReportStatus,
    cspr_proto::practitioners::v1::PractitionerStatus,
    cspr_proto::family::v1::Relationship,
    cspr_proto::actions::v1::ActionStatus,
);

/// An enum value as the CLI prints it: the proto name without the type's prefix, lower case.
/// The prefix is what the type's zero value (`…_UNSPECIFIED`, required by the style guide)
/// carries before `UNSPECIFIED`, so no prefix is written out per type. A number this build
/// does not know (a newer server) prints as the number.
pub(crate) fn enum_name<E: ProtoEnum>(value: i32) -> String {
    let prefix = E::try_from(0)
        .ok()
        .and_then(|zero| zero.proto_name().strip_suffix("UNSPECIFIED"))
        .unwrap_or("");
    match E::try_from(value) {
        Ok(known) => known
            .proto_name()
            .strip_prefix(prefix)
            .unwrap_or(known.proto_name())
            .to_ascii_lowercase(),
        Err(_) => value.to_string(),
    }
}

/// A proto date as `YYYY-MM-DD`; empty when absent.
pub(crate) fn date_text(date: &Option<Date>) -> String {
    date.as_ref()
        .map(|date| format!("{:04}-{:02}-{:02}", date.year, date.month, date.day))
        .unwrap_or_default()
}

/// A flag as a table cell: `yes`, or empty so the column reads at a glance.
pub(crate) fn yes(flag: bool) -> String {
    if flag { "yes" } else { "" }.to_string()
}

/// The one table printer: left-aligned columns two spaces apart, a header line unless
/// `headers` is empty, line breaks inside a cell shown as spaces.
pub(crate) fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let flatten = |cell: &str| cell.replace("\r\n", " ").replace(['\n', '\r'], " ");
    let mut lines: Vec<Vec<String>> = Vec::with_capacity(rows.len() + 1);
    if !headers.is_empty() {
        lines.push(headers.iter().map(|header| header.to_string()).collect());
    }
    lines.extend(
        rows.iter()
            .map(|row| row.iter().map(|cell| flatten(cell)).collect()),
    );
    let columns = lines.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0; columns];
    for line in &lines {
        for (index, cell) in line.iter().enumerate() {
            widths[index] = widths[index].max(cell.chars().count());
        }
    }
    let mut text = String::new();
    for line in &lines {
        let mut rendered = String::new();
        for (index, cell) in line.iter().enumerate() {
            if index > 0 {
                rendered.push_str("  ");
            }
            rendered.push_str(cell);
            let padding = widths[index] - cell.chars().count();
            rendered.extend(std::iter::repeat_n(' ', padding));
        }
        text.push_str(rendered.trim_end());
        text.push('\n');
    }
    text
}

/// One CSV line (with its line end), each field quoted when it must be.
pub(crate) fn csv_line<S: AsRef<str>>(fields: &[S]) -> String {
    let mut line = fields
        .iter()
        .map(|field| {
            let field = field.as_ref();
            if field.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", field.replace('"', "\"\""))
            } else {
                field.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(",");
    line.push('\n');
    line
}

/// The CSV header of a row type: its columns in lower case, spaces as `_`.
fn csv_header(columns: &[&str]) -> String {
    let names: Vec<String> = columns
        .iter()
        .map(|column| column.to_ascii_lowercase().replace(' ', "_"))
        .collect();
    csv_line(&names)
}

/// Prints a listing row by row: CSV is written as rows arrive (a chronology can hold
/// 100,000 entries), a table waits for every row to size its columns, JSON for the closing
/// bracket.
pub(crate) struct Printer<R: Row, W: Write> {
    output: Output,
    out: W,
    cells: Vec<Vec<String>>,
    objects: Vec<Value>,
    count: u64,
    row: std::marker::PhantomData<R>,
}

impl<R: Row, W: Write> Printer<R, W> {
    pub(crate) fn new(output: Output, mut out: W) -> std::io::Result<Self> {
        if output == Output::Csv {
            out.write_all(csv_header(R::COLUMNS).as_bytes())?;
        }
        Ok(Self {
            output,
            out,
            cells: Vec::new(),
            objects: Vec::new(),
            count: 0,
            row: std::marker::PhantomData,
        })
    }

    pub(crate) fn row(&mut self, row: &R) -> std::io::Result<()> {
        self.count += 1;
        match self.output {
            Output::Csv => self.out.write_all(csv_line(&row.cells()).as_bytes()),
            Output::Table => {
                self.cells.push(row.cells());
                Ok(())
            }
            Output::Json => {
                self.objects.push(row.json());
                Ok(())
            }
        }
    }

    /// Writes what waited for the last row; returns how many rows there were.
    pub(crate) fn finish(mut self) -> anyhow::Result<u64> {
        match self.output {
            Output::Csv => {}
            Output::Table => self
                .out
                .write_all(table(R::COLUMNS, &self.cells).as_bytes())?,
            Output::Json => {
                serde_json::to_writer_pretty(&mut self.out, &Value::Array(self.objects))?;
                self.out.write_all(b"\n")?;
            }
        }
        self.out.flush()?;
        Ok(self.count)
    }
}

/// Prints a listing to stdout.
pub(crate) fn print_list<'a, R: Row + 'a>(
    output: Output,
    rows: impl IntoIterator<Item = &'a R>,
) -> anyhow::Result<()> {
    let mut printer = Printer::<R, _>::new(output, std::io::stdout().lock())?;
    for row in rows {
        printer.row(row)?;
    }
    printer.finish()?;
    Ok(())
}

/// A single record: `FIELD  value` lines in a table, a header and one line in CSV, an
/// object in JSON.
pub(crate) fn render_record<R: Row>(output: Output, record: &R) -> anyhow::Result<String> {
    Ok(match output {
        Output::Table => {
            let rows: Vec<Vec<String>> = R::COLUMNS
                .iter()
                .zip(record.cells())
                .map(|(column, cell)| vec![column.to_string(), cell])
                .collect();
            table(&[], &rows)
        }
        Output::Csv => csv_header(R::COLUMNS) + &csv_line(&record.cells()),
        Output::Json => serde_json::to_string_pretty(&record.json())? + "\n",
    })
}

/// Prints a single record to stdout.
pub(crate) fn print_record<R: Row>(output: Output, record: &R) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(render_record(output, record)?.as_bytes())?;
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use cspr_proto::registry::v1 as registry;
    use serde_json::json;

    struct Pair(&'static str, &'static str);

    impl Row for Pair {
        const COLUMNS: &'static [&'static str] = &["NAME", "LONG NOTE"];
        fn cells(&self) -> Vec<String> {
            vec![self.0.to_string(), self.1.to_string()]
        }
        fn json(&self) -> Value {
            json!({"name": self.0, "long_note": self.1})
        }
    }

    fn printed(output: Output, rows: &[Pair]) -> String {
        let mut buffer = Vec::new();
        let mut printer = Printer::<Pair, _>::new(output, &mut buffer).expect("header");
        for row in rows {
            printer.row(row).expect("row");
        }
        assert_eq!(printer.finish().expect("finish"), rows.len() as u64);
        String::from_utf8(buffer).expect("utf8")
    }

    #[test]
    fn tables_align_columns_and_flatten_line_breaks() {
        let text = table(
            &["A", "B", "C"],
            &[
                vec!["long value".into(), "x".into(), String::new()],
                vec!["y".into(), "two\nlines".into(), "z".into()],
            ],
        );
        assert_eq!(
            text,
            "A           B          C\n\
             long value  x\n\
             y           two lines  z\n"
        );
        assert_eq!(table(&[], &[vec!["K".into(), "v".into()]]), "K  v\n");
        assert_eq!(table(&["ONLY"], &[]), "ONLY\n");
    }

    #[test]
    fn widths_count_characters_not_bytes() {
        let text = table(&["NAME", "X"], &[vec!["Zoë".into(), "1".into()]]);
        assert_eq!(text, "NAME  X\nZoë   1\n");
    }

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        assert_eq!(csv_line(&["plain", "a, b"]), "plain,\"a, b\"\n");
        assert_eq!(csv_line(&["say \"hi\""]), "\"say \"\"hi\"\"\"\n");
        assert_eq!(csv_line(&["two\nlines", ""]), "\"two\nlines\",\n");
    }

    #[test]
    fn one_listing_in_each_output() {
        let rows = [Pair("a", "first, note"), Pair("bb", "second")];
        assert_eq!(
            printed(Output::Table, &rows),
            "NAME  LONG NOTE\na     first, note\nbb    second\n"
        );
        assert_eq!(
            printed(Output::Csv, &rows),
            "name,long_note\na,\"first, note\"\nbb,second\n"
        );
        let parsed: Value = serde_json::from_str(&printed(Output::Json, &rows)).expect("json");
        assert_eq!(
            parsed,
            json!([{"name": "a", "long_note": "first, note"}, {"name": "bb", "long_note": "second"}])
        );
        assert_eq!(printed(Output::Json, &[]).trim(), "[]");
        assert_eq!(printed(Output::Csv, &[]), "name,long_note\n");
    }

    #[test]
    fn one_record_in_each_output() {
        let record = Pair("a", "b");
        assert_eq!(
            render_record(Output::Table, &record).expect("table"),
            "NAME       a\nLONG NOTE  b\n"
        );
        assert_eq!(
            render_record(Output::Csv, &record).expect("csv"),
            "name,long_note\na,b\n"
        );
        let parsed: Value =
            serde_json::from_str(&render_record(Output::Json, &record).expect("json"))
                .expect("json");
        assert_eq!(parsed, record.json());
    }

    #[test]
    fn enum_values_drop_the_type_prefix_and_are_lower_case() {
        use cspr_proto::actions::v1::ActionStatus;
        use cspr_proto::family::v1::Relationship;
        use cspr_proto::practitioners::v1::PractitionerStatus;
        assert_eq!(
            enum_name::<registry::Stage>(registry::Stage::InformationGathering as i32),
            "information_gathering"
        );
        assert_eq!(
            enum_name::<registry::DeadlineKind>(registry::DeadlineKind::Notification as i32),
            "notification"
        );
        assert_eq!(
            enum_name::<PractitionerStatus>(PractitionerStatus::Suggested as i32),
            "suggested"
        );
        assert_eq!(
            enum_name::<ActionStatus>(ActionStatus::NotStarted as i32),
            "not_started"
        );
        assert_eq!(
            enum_name::<Relationship>(Relationship::AuntUncle as i32),
            "aunt_uncle"
        );
        assert_eq!(enum_name::<registry::Stage>(0), "unspecified");
        assert_eq!(
            enum_name::<registry::Stage>(99),
            "99",
            "a newer server's value"
        );
    }

    #[test]
    fn dates_print_as_iso_or_empty() {
        let date = Some(Date {
            year: 2026,
            month: 3,
            day: 9,
        });
        assert_eq!(date_text(&date), "2026-03-09");
        assert_eq!(date_text(&None), "");
        assert_eq!(yes(true), "yes");
        assert_eq!(yes(false), "");
    }
}
