//! `cspr report submit|list`, `cspr chronology show`: agency reports from a terminal.

use std::process::ExitCode;

use anyhow::Context;
use cspr_proto::submissions::v1 as pb;
use cspr_proto::submissions::v1::agency_submissions_client::AgencySubmissionsClient;
use cspr_submissions::report_file::{self, ReportSubmission};
use futures::StreamExt;
use serde_json::{Value, json};

use crate::cli::{ChronologyCommand, Client, ClientArgs, ReportCommand};
use crate::client::{Target, connect, explain};
use crate::output::{Output, Printer, Row, date_text, enum_name, print_list, print_record};

impl Row for pb::SubmissionReceipt {
    const COLUMNS: &'static [&'static str] = &["REVIEW", "AGENCY", "VERSION", "ENTRIES", "SHA256"];

    fn cells(&self) -> Vec<String> {
        vec![
            self.review_id.clone(),
            self.agency_id.clone(),
            self.version.to_string(),
            self.entry_count.to_string(),
            self.content_hash.clone(),
        ]
    }

    fn json(&self) -> Value {
        json!({
            "review_id": self.review_id,
            "agency_id": self.agency_id,
            "version": self.version,
            "entry_count": self.entry_count,
            "content_hash": self.content_hash,
        })
    }
}

impl Row for pb::ReportRequest {
    const COLUMNS: &'static [&'static str] =
        &["AGENCY", "NAME", "DUE", "STATUS", "VERSION", "NOTE"];

    fn cells(&self) -> Vec<String> {
        vec![
            self.agency_id.clone(),
            self.agency_name.clone(),
            date_text(&self.due_date),
            enum_name::<pb::ReportStatus>(self.status),
            self.latest_version.to_string(),
            self.decision_note.clone(),
        ]
    }

    fn json(&self) -> Value {
        json!({
            "agency_id": self.agency_id,
            "agency_name": self.agency_name,
            "due_date": date_text(&self.due_date),
            "status": enum_name::<pb::ReportStatus>(self.status),
            "latest_version": self.latest_version,
            "decision_note": self.decision_note,
        })
    }
}

impl Row for pb::CombinedChronologyEntry {
    const COLUMNS: &'static [&'static str] = &[
        "DATE",
        "TIME",
        "AGENCY",
        "SERVICE",
        "PRACTITIONER",
        "ROLE",
        "DESCRIPTION",
        "OUTCOME",
        "VERSION",
        "STATUS",
    ];

    fn cells(&self) -> Vec<String> {
        let entry = self.entry.clone().unwrap_or_default();
        vec![
            date_text(&entry.occurred_on),
            entry.time_of_day,
            self.agency_id.clone(),
            entry.service,
            entry.practitioner_name,
            entry.practitioner_role,
            entry.description,
            entry.outcome,
            self.version.to_string(),
            enum_name::<pb::ReportStatus>(self.report_status),
        ]
    }

    fn json(&self) -> Value {
        let entry = self.entry.clone().unwrap_or_default();
        json!({
            "occurred_on": date_text(&entry.occurred_on),
            "time_of_day": entry.time_of_day,
            "agency_id": self.agency_id,
            "agency_name": self.agency_name,
            "service": entry.service,
            "practitioner_name": entry.practitioner_name,
            "practitioner_role": entry.practitioner_role,
            "description": entry.description,
            "outcome": entry.outcome,
            "version": self.version,
            "status": enum_name::<pb::ReportStatus>(self.report_status),
        })
    }
}

pub(crate) async fn report(args: Client<ReportCommand>) -> anyhow::Result<ExitCode> {
    match args.command {
        ReportCommand::Submit { file, request_id } => submit(&args.client, file, request_id).await,
        ReportCommand::List { review } => list(&args.client, review.id).await,
    }
}

pub(crate) async fn chronology(args: Client<ChronologyCommand>) -> anyhow::Result<ExitCode> {
    let ChronologyCommand::Show {
        review,
        include_pending,
        agency,
    } = args.command;
    let mut client =
        AgencySubmissionsClient::new(connect(&args.client, Target::Submissions).await?);
    let mut stream = client
        .stream_combined_chronology(pb::StreamCombinedChronologyRequest {
            review_id: review.id,
            include_pending,
            agency_id: agency.unwrap_or_default(),
            limit: 0,
        })
        .await
        .map_err(explain)?
        .into_inner();
    let stdout = std::io::stdout();
    let mut printer = Printer::<pb::CombinedChronologyEntry, _>::new(
        args.client.output,
        std::io::BufWriter::new(stdout.lock()),
    )?;
    while let Some(item) = stream.next().await {
        printer.row(&item.map_err(explain)?)?;
    }
    let count = printer.finish()?;
    if args.client.output == Output::Table {
        eprintln!("{count} entries");
    }
    Ok(ExitCode::SUCCESS)
}

async fn submit(
    args: &ClientArgs,
    file: std::path::PathBuf,
    request_id: Option<String>,
) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
    let mut submission = report_file::parse(&bytes)
        .with_context(|| format!("{} is not a report file", file.display()))?;
    if let Some(request_id) = request_id {
        submission.header.request_id = request_id;
    }
    let header = submission.header_message();
    let total = submission.entries.len() as u64;
    let progress = indicatif::ProgressBar::new(total);
    progress.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} entries sent ({per_sec}, {eta} left)",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let counter = progress.clone();
    let entries = submission.entries.into_iter().map(move |entry| {
        counter.inc(1);
        ReportSubmission::entry_message(entry)
    });
    let messages = tokio_stream::iter(std::iter::once(header).chain(entries));
    let mut client = AgencySubmissionsClient::new(connect(args, Target::Submissions).await?);
    let outcome = client.submit_agency_report(messages).await;
    progress.finish_and_clear();
    let receipt = outcome.map_err(explain)?.into_inner();
    print_record(args.output, &receipt)?;
    Ok(ExitCode::SUCCESS)
}

async fn list(args: &ClientArgs, review_id: String) -> anyhow::Result<ExitCode> {
    let mut client = AgencySubmissionsClient::new(connect(args, Target::Submissions).await?);
    let mut requests = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_report_requests(pb::ListReportRequestsRequest {
                review_id: review_id.clone(),
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
    print_list(args.output, &requests)?;
    Ok(ExitCode::SUCCESS)
}
