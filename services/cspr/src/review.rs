//! `cspr review create|list|show|timeline`: the registry from a terminal.

use std::process::ExitCode;

use cspr_proto::registry::v1 as pb;
use cspr_proto::registry::v1::review_registry_client::ReviewRegistryClient;
use serde_json::{Value, json};

use crate::cli::{Client, ReviewCommand};
use crate::client::{Target, connect, explain, proto_date};
use crate::output::{Output, Row, date_text, enum_name, print_list, print_record, table};

impl Row for pb::Review {
    const COLUMNS: &'static [&'static str] = &[
        "REFERENCE",
        "CHILD",
        "AUTHORITY",
        "INCIDENT",
        "AWARE",
        "STAGE",
        "REVIEWER",
        "ID",
    ];

    fn cells(&self) -> Vec<String> {
        vec![
            self.reference.clone(),
            self.child_alias.clone(),
            self.local_authority.clone(),
            date_text(&self.incident_date),
            date_text(&self.became_aware_on),
            enum_name::<pb::Stage>(self.stage),
            self.reviewer
                .as_ref()
                .map(|reviewer| reviewer.name.clone())
                .unwrap_or_default(),
            self.id.clone(),
        ]
    }

    fn json(&self) -> Value {
        json!({
            "id": self.id,
            "reference": self.reference,
            "child_alias": self.child_alias,
            "local_authority": self.local_authority,
            "incident_date": date_text(&self.incident_date),
            "became_aware_on": date_text(&self.became_aware_on),
            "stage": enum_name::<pb::Stage>(self.stage),
            "reviewer": self.reviewer.as_ref().map(|reviewer| json!({"name": reviewer.name, "email": reviewer.email})),
            "panel": self.panel.iter().map(Row::json).collect::<Vec<_>>(),
            "outstanding_agency_reports": self.outstanding_agency_reports,
            "deadlines": self.deadlines.iter().map(Row::json).collect::<Vec<_>>(),
        })
    }
}

impl Row for pb::PanelMember {
    const COLUMNS: &'static [&'static str] = &["PANEL MEMBER", "ORGANISATION", "ROLE"];

    fn cells(&self) -> Vec<String> {
        vec![
            self.name.clone(),
            self.organisation.clone(),
            enum_name::<pb::PanelRole>(self.role),
        ]
    }

    fn json(&self) -> Value {
        json!({
            "name": self.name,
            "organisation": self.organisation,
            "role": enum_name::<pb::PanelRole>(self.role),
        })
    }
}

impl Row for pb::Deadline {
    const COLUMNS: &'static [&'static str] =
        &["DEADLINE", "DUE", "STATUS", "DONE", "WORKING DAYS LEFT"];

    fn cells(&self) -> Vec<String> {
        vec![
            enum_name::<pb::DeadlineKind>(self.kind),
            date_text(&self.due_on),
            enum_name::<pb::DeadlineStatus>(self.status),
            date_text(&self.done_on),
            self.working_days_left.to_string(),
        ]
    }

    fn json(&self) -> Value {
        json!({
            "kind": enum_name::<pb::DeadlineKind>(self.kind),
            "due_on": date_text(&self.due_on),
            "status": enum_name::<pb::DeadlineStatus>(self.status),
            "done_on": date_text(&self.done_on),
            "working_days_left": self.working_days_left,
        })
    }
}

/// A review in full: in a table, its fields, then its panel, awaited reports and deadlines.
fn print_review(output: Output, review: &pb::Review) -> anyhow::Result<()> {
    print_record(output, review)?;
    if output == Output::Table {
        if !review.panel.is_empty() {
            println!();
            print_list(output, &review.panel)?;
        }
        if !review.outstanding_agency_reports.is_empty() {
            println!(
                "\nAwaiting agency reports from {}",
                review.outstanding_agency_reports.join(", ")
            );
        }
        println!();
        print_list(output, &review.deadlines)?;
    }
    Ok(())
}

pub(crate) async fn run(args: Client<ReviewCommand>) -> anyhow::Result<ExitCode> {
    let mut client = ReviewRegistryClient::new(connect(&args.client, Target::Registry).await?);
    let output = args.client.output;
    match args.command {
        ReviewCommand::Create {
            alias,
            local_authority,
            incident_date,
            became_aware_on,
            request_id,
        } => {
            let review = client
                .create_review(pb::CreateReviewRequest {
                    request_id: request_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
                    child_alias: alias,
                    local_authority,
                    incident_date: proto_date(incident_date),
                    became_aware_on: proto_date(became_aware_on),
                })
                .await
                .map_err(explain)?
                .into_inner();
            print_review(output, &review)?;
        }
        ReviewCommand::List {
            stage,
            overdue,
            at_risk,
            page_size,
            page_token,
        } => {
            let page = client
                .list_reviews(pb::ListReviewsRequest {
                    stage: stage.map_or(pb::Stage::Unspecified, pb::Stage::from) as i32,
                    overdue_only: overdue,
                    at_risk_only: at_risk,
                    page_size,
                    page_token,
                })
                .await
                .map_err(explain)?
                .into_inner();
            print_list(output, &page.reviews)?;
            if !page.next_page_token.is_empty() {
                eprintln!("more: --page-token {}", page.next_page_token);
            }
        }
        ReviewCommand::Show { review } => {
            let review = client
                .get_review(pb::GetReviewRequest {
                    review_id: review.id,
                })
                .await
                .map_err(explain)?
                .into_inner();
            print_review(output, &review)?;
        }
        ReviewCommand::Timeline { review } => {
            let timeline = client
                .get_timeline(pb::GetTimelineRequest {
                    review_id: review.id,
                })
                .await
                .map_err(explain)?
                .into_inner();
            match output {
                Output::Json => {
                    let body = json!({
                        "review_id": timeline.review_id,
                        "as_of": date_text(&timeline.as_of),
                        "deadlines": timeline.deadlines.iter().map(Row::json).collect::<Vec<_>>(),
                        "parallel_process_days": timeline.parallel_process_days,
                        "projected_completion": date_text(&timeline.projected_completion),
                    });
                    println!("{}", serde_json::to_string_pretty(&body)?);
                }
                Output::Csv => print_list(output, &timeline.deadlines)?,
                Output::Table => {
                    let mut facts = vec![vec!["AS OF".to_string(), date_text(&timeline.as_of)]];
                    if timeline.projected_completion.is_some() {
                        facts.push(vec![
                            "PARALLEL PROCESS DAYS".to_string(),
                            timeline.parallel_process_days.to_string(),
                        ]);
                        facts.push(vec![
                            "PROJECTED COMPLETION".to_string(),
                            date_text(&timeline.projected_completion),
                        ]);
                    }
                    println!("{}", table(&[], &facts));
                    print_list(output, &timeline.deadlines)?;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
