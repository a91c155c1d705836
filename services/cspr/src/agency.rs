//! `cspr submit`, `cspr chronology`, `cspr reports`: agency reports from a terminal.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use chrono::{Datelike, NaiveDate};
use cspr_proto::google::r#type::Date;
use cspr_proto::submissions::v1 as pb;
use cspr_proto::submissions::v1::agency_submissions_client::AgencySubmissionsClient;
use futures::StreamExt;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::cli::{ChronologyArgs, ReportsArgs, SubmitArgs};
use crate::client::{Target, connect, explain};

/// A report as a JSON file (field names as in the proto).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportFile {
    #[serde(default)]
    request_id: Option<String>,
    review_id: String,
    agency_id: String,
    author_name: String,
    author_role: String,
    narrative: NarrativeFile,
    #[serde(default)]
    entries: Vec<EntryFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NarrativeFile {
    summary: String,
    analysis_of_involvement: String,
    #[serde(default)]
    what_went_well: String,
    #[serde(default)]
    what_could_have_been_better: String,
    learning: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryFile {
    occurred_on: NaiveDate,
    #[serde(default)]
    time_of_day: String,
    service: String,
    #[serde(default)]
    practitioner_name: String,
    #[serde(default)]
    practitioner_role: String,
    description: String,
    #[serde(default)]
    outcome: String,
}

fn date(date: NaiveDate) -> Option<Date> {
    Some(Date {
        year: date.year(),
        month: date.month() as i32,
        day: date.day() as i32,
    })
}

fn show_date(date: &Option<Date>) -> String {
    date.as_ref()
        .map(|date| format!("{:04}-{:02}-{:02}", date.year, date.month, date.day))
        .unwrap_or_default()
}

fn status(value: i32) -> String {
    pb::ReportStatus::try_from(value)
        .map(|status| {
            status
                .as_str_name()
                .trim_start_matches("REPORT_STATUS_")
                .to_string()
        })
        .unwrap_or_else(|_| value.to_string())
}

/// One CSV field, quoted when it must be.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

pub(crate) async fn submit(args: SubmitArgs) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let report: ReportFile = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a report file", args.file.display()))?;
    let request_id = args
        .request_id
        .or(report.request_id.clone())
        .unwrap_or_else(|| hex::encode(&Sha256::digest(&bytes)[..16]));
    let total = report.entries.len() as u64;
    let header = pb::SubmitAgencyReportRequest {
        item: Some(pb::submit_agency_report_request::Item::Header(
            pb::SubmissionHeader {
                request_id,
                review_id: report.review_id,
                agency_id: report.agency_id,
                author_name: report.author_name,
                author_role: report.author_role,
                narrative: Some(pb::Narrative {
                    summary: report.narrative.summary,
                    analysis_of_involvement: report.narrative.analysis_of_involvement,
                    what_went_well: report.narrative.what_went_well,
                    what_could_have_been_better: report.narrative.what_could_have_been_better,
                    learning: report.narrative.learning,
                }),
                entry_count: total as i64,
            },
        )),
    };
    let progress = indicatif::ProgressBar::new(total);
    progress.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} entries sent ({per_sec}, {eta} left)",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let counter = progress.clone();
    let entries = report.entries.into_iter().map(move |entry| {
        counter.inc(1);
        pb::SubmitAgencyReportRequest {
            item: Some(pb::submit_agency_report_request::Item::Entry(
                pb::ChronologyEntry {
                    occurred_on: date(entry.occurred_on),
                    time_of_day: entry.time_of_day,
                    service: entry.service,
                    practitioner_name: entry.practitioner_name,
                    practitioner_role: entry.practitioner_role,
                    description: entry.description,
                    outcome: entry.outcome,
                },
            )),
        }
    });
    let messages = tokio_stream::iter(std::iter::once(header).chain(entries));
    let mut client =
        AgencySubmissionsClient::new(connect(&args.client, Target::Submissions).await?);
    let outcome = client.submit_agency_report(messages).await;
    progress.finish_and_clear();
    let receipt = outcome.map_err(explain)?.into_inner();
    if args.client.json {
        let body = serde_json::json!({
            "review_id": receipt.review_id,
            "agency_id": receipt.agency_id,
            "version": receipt.version,
            "entry_count": receipt.entry_count,
            "content_hash": receipt.content_hash,
        });
        println!("{}", serde_json::to_string_pretty(&body)?);
    } else {
        println!(
            "stored version {} of {}'s report: {} entries, sha256 {}",
            receipt.version, receipt.agency_id, receipt.entry_count, receipt.content_hash
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn chronology(args: ChronologyArgs) -> anyhow::Result<ExitCode> {
    let mut client =
        AgencySubmissionsClient::new(connect(&args.client, Target::Submissions).await?);
    let mut stream = client
        .stream_combined_chronology(pb::StreamCombinedChronologyRequest {
            review_id: args.review,
            include_pending: args.include_pending,
            agency_id: args.agency.unwrap_or_default(),
        })
        .await
        .map_err(explain)?
        .into_inner();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let columns = [
        "date",
        "time",
        "agency",
        "service",
        "practitioner",
        "role",
        "description",
        "outcome",
        "version",
        "status",
    ];
    if args.csv {
        writeln!(out, "{}", columns.join(","))?;
    }
    let mut count = 0u64;
    while let Some(item) = stream.next().await {
        let item = item.map_err(explain)?;
        let entry = item.entry.unwrap_or_default();
        let fields = [
            show_date(&entry.occurred_on),
            entry.time_of_day,
            item.agency_id,
            entry.service,
            entry.practitioner_name,
            entry.practitioner_role,
            entry.description,
            entry.outcome,
            item.version.to_string(),
            status(item.report_status),
        ];
        if args.csv {
            let line: Vec<String> = fields.iter().map(|field| csv_field(field)).collect();
            writeln!(out, "{}", line.join(","))?;
        } else {
            writeln!(
                out,
                "{} {:5} {:<16} {:<24} {}",
                fields[0],
                fields[1],
                fields[2],
                fields[3],
                fields[6].replace('\n', " ")
            )?;
        }
        count += 1;
    }
    out.flush()?;
    if !args.csv {
        eprintln!("{count} entries");
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn reports(args: ReportsArgs) -> anyhow::Result<ExitCode> {
    let mut client =
        AgencySubmissionsClient::new(connect(&args.client, Target::Submissions).await?);
    let mut requests = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_report_requests(pb::ListReportRequestsRequest {
                review_id: args.review.clone(),
                agency_id: String::new(),
                page_size: 200,
                page_token,
            })
            .await
            .map_err(explain)?
            .into_inner();
        requests.extend(page.report_requests);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    if args.client.json {
        let body: Vec<_> = requests
            .iter()
            .map(|request| {
                serde_json::json!({
                    "agency_id": request.agency_id,
                    "agency_name": request.agency_name,
                    "due_date": show_date(&request.due_date),
                    "status": status(request.status),
                    "latest_version": request.latest_version,
                    "decision_note": request.decision_note,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&body)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<16} {:<11} {:<10} {:>7}  NOTE",
        "AGENCY", "DUE", "STATUS", "VERSION"
    );
    for request in &requests {
        println!(
            "{:<16} {:<11} {:<10} {:>7}  {}",
            request.agency_id,
            show_date(&request.due_date),
            status(request.status),
            request.latest_version,
            request.decision_note
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a, b"), "\"a, b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
    }
}
