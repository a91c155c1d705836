//! `cspr review …`: the registry from a terminal, as tables or JSON.

use std::process::ExitCode;

use chrono::{Datelike, NaiveDate};
use cspr_proto::google::r#type::Date;
use cspr_proto::registry::v1 as pb;
use cspr_proto::registry::v1::review_registry_client::ReviewRegistryClient;
use serde_json::{Value, json};

use crate::cli::{ReviewArgs, ReviewCommand};
use crate::client::{Target, connect, explain};

fn to_date(date: NaiveDate) -> Date {
    Date {
        year: date.year(),
        month: date.month() as i32,
        day: date.day() as i32,
    }
}

fn show_date(date: &Option<Date>) -> String {
    date.as_ref()
        .map(|date| format!("{:04}-{:02}-{:02}", date.year, date.month, date.day))
        .unwrap_or_default()
}

fn enum_name<E: TryFrom<i32>>(
    value: i32,
    name: impl Fn(&E) -> &'static str,
    prefix: &str,
) -> String {
    E::try_from(value)
        .map(|known| name(&known).trim_start_matches(prefix).to_string())
        .unwrap_or_else(|_| value.to_string())
}

fn stage(value: i32) -> String {
    enum_name(value, pb::Stage::as_str_name, "STAGE_")
}

fn deadline_json(deadline: &pb::Deadline) -> Value {
    json!({
        "kind": enum_name(deadline.kind, pb::DeadlineKind::as_str_name, "DEADLINE_KIND_"),
        "due_on": show_date(&deadline.due_on),
        "status": enum_name(deadline.status, pb::DeadlineStatus::as_str_name, "DEADLINE_STATUS_"),
        "done_on": show_date(&deadline.done_on),
        "working_days_left": deadline.working_days_left,
    })
}

fn review_json(review: &pb::Review) -> Value {
    json!({
        "id": review.id,
        "reference": review.reference,
        "child_alias": review.child_alias,
        "local_authority": review.local_authority,
        "incident_date": show_date(&review.incident_date),
        "became_aware_on": show_date(&review.became_aware_on),
        "stage": stage(review.stage),
        "reviewer": review.reviewer.as_ref().map(|reviewer| json!({"name": reviewer.name, "email": reviewer.email})),
        "panel": review.panel.iter().map(|member| json!({
            "name": member.name,
            "organisation": member.organisation,
            "role": enum_name(member.role, pb::PanelRole::as_str_name, "PANEL_ROLE_"),
        })).collect::<Vec<_>>(),
        "outstanding_agency_reports": review.outstanding_agency_reports,
        "deadlines": review.deadlines.iter().map(deadline_json).collect::<Vec<_>>(),
    })
}

/// Prints rows as a left-aligned table.
fn table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|header| header.len()).collect();
    for row in rows {
        for (index, cell) in row.iter().enumerate() {
            widths[index] = widths[index].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .enumerate()
            .map(|(index, cell)| format!("{cell:<width$}", width = widths[index]))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    println!(
        "{}",
        line(headers.iter().map(|header| header.to_string()).collect())
    );
    for row in rows {
        println!("{}", line(row.clone()));
    }
}

fn print_review(review: &pb::Review) {
    println!("Review     {} ({})", review.reference, review.id);
    println!("Child      {}", review.child_alias);
    println!("Authority  {}", review.local_authority);
    println!(
        "Incident   {}   aware {}",
        show_date(&review.incident_date),
        show_date(&review.became_aware_on)
    );
    println!("Stage      {}", stage(review.stage));
    if let Some(reviewer) = &review.reviewer {
        println!("Reviewer   {} <{}>", reviewer.name, reviewer.email);
    }
    for member in &review.panel {
        println!(
            "Panel      {} ({}, {})",
            member.name,
            member.organisation,
            enum_name(member.role, pb::PanelRole::as_str_name, "PANEL_ROLE_")
        );
    }
    if !review.outstanding_agency_reports.is_empty() {
        println!(
            "Awaiting   agency reports from {}",
            review.outstanding_agency_reports.join(", ")
        );
    }
    println!();
    print_deadlines(&review.deadlines);
}

fn print_deadlines(deadlines: &[pb::Deadline]) {
    let rows: Vec<Vec<String>> = deadlines
        .iter()
        .map(|deadline| {
            let value = deadline_json(deadline);
            ["kind", "due_on", "status", "done_on", "working_days_left"]
                .iter()
                .map(|key| match &value[key] {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect();
    table(
        &["DEADLINE", "DUE", "STATUS", "DONE", "WORKING DAYS LEFT"],
        &rows,
    );
}

pub(crate) async fn run(args: ReviewArgs) -> anyhow::Result<ExitCode> {
    let mut client = ReviewRegistryClient::new(connect(&args.client, Target::Registry).await?);
    let json_output = args.client.json;
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
                    incident_date: Some(to_date(incident_date)),
                    became_aware_on: Some(to_date(became_aware_on)),
                })
                .await
                .map_err(explain)?
                .into_inner();
            if json_output {
                println!("{}", serde_json::to_string_pretty(&review_json(&review))?);
            } else {
                print_review(&review);
            }
        }
        ReviewCommand::List {
            stage: stage_filter,
            overdue,
            at_risk,
            page_size,
            page_token,
        } => {
            let stage_value = match stage_filter {
                None => 0,
                Some(name) => {
                    let upper = name.to_ascii_uppercase();
                    pb::Stage::from_str_name(&format!("STAGE_{upper}"))
                        .ok_or_else(|| anyhow::anyhow!("unknown stage {name:?}"))?
                        as i32
                }
            };
            let page = client
                .list_reviews(pb::ListReviewsRequest {
                    stage: stage_value,
                    overdue_only: overdue,
                    at_risk_only: at_risk,
                    page_size,
                    page_token,
                })
                .await
                .map_err(explain)?
                .into_inner();
            if json_output {
                let body = json!({
                    "reviews": page.reviews.iter().map(review_json).collect::<Vec<_>>(),
                    "next_page_token": page.next_page_token,
                });
                println!("{}", serde_json::to_string_pretty(&body)?);
            } else {
                let rows: Vec<Vec<String>> = page
                    .reviews
                    .iter()
                    .map(|review| {
                        vec![
                            review.reference.clone(),
                            review.child_alias.clone(),
                            stage(review.stage),
                            show_date(&review.became_aware_on),
                            review.id.clone(),
                        ]
                    })
                    .collect();
                table(&["REFERENCE", "CHILD", "STAGE", "AWARE", "ID"], &rows);
                if !page.next_page_token.is_empty() {
                    println!("\nmore: --page-token {}", page.next_page_token);
                }
            }
        }
        ReviewCommand::Get { id } => {
            let review = client
                .get_review(pb::GetReviewRequest { review_id: id })
                .await
                .map_err(explain)?
                .into_inner();
            if json_output {
                println!("{}", serde_json::to_string_pretty(&review_json(&review))?);
            } else {
                print_review(&review);
            }
        }
        ReviewCommand::Timeline { id } => {
            let timeline = client
                .get_timeline(pb::GetTimelineRequest { review_id: id })
                .await
                .map_err(explain)?
                .into_inner();
            if json_output {
                let body = json!({
                    "review_id": timeline.review_id,
                    "as_of": show_date(&timeline.as_of),
                    "deadlines": timeline.deadlines.iter().map(deadline_json).collect::<Vec<_>>(),
                    "parallel_process_days": timeline.parallel_process_days,
                    "projected_completion": show_date(&timeline.projected_completion),
                });
                println!("{}", serde_json::to_string_pretty(&body)?);
            } else {
                println!("As of {}", show_date(&timeline.as_of));
                print_deadlines(&timeline.deadlines);
                if timeline.projected_completion.is_some() {
                    println!(
                        "\nParallel processes add {} days; projected completion {}",
                        timeline.parallel_process_days,
                        show_date(&timeline.projected_completion)
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
