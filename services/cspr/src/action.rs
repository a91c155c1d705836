//! `cspr action list|summary`: action plans from a terminal.

use std::process::ExitCode;

use cspr_proto::actions::v1 as pb;
use cspr_proto::actions::v1::action_monitoring_client::ActionMonitoringClient;
use serde_json::{Value, json};

use crate::cli::{ActionCommand, Client};
use crate::client::{Target, connect, explain};
use crate::output::{Row, date_text, enum_name, print_list, print_record, yes};

impl Row for pb::Action {
    const COLUMNS: &'static [&'static str] = &[
        "REF",
        "OWNER",
        "DUE",
        "STATUS",
        "OVERDUE",
        "DESCRIPTION",
        "ID",
    ];

    fn cells(&self) -> Vec<String> {
        vec![
            self.recommendation_ref.clone(),
            self.owner_agency.clone(),
            date_text(&self.due_date),
            enum_name::<pb::ActionStatus>(self.status),
            yes(self.overdue),
            self.description.clone(),
            self.id.clone(),
        ]
    }

    fn json(&self) -> Value {
        json!({
            "id": self.id,
            "recommendation_ref": self.recommendation_ref,
            "description": self.description,
            "owner_agency": self.owner_agency,
            "due_date": date_text(&self.due_date),
            "status": enum_name::<pb::ActionStatus>(self.status),
            "overdue": self.overdue,
            "evidence_of_impact": self.evidence_of_impact,
        })
    }
}

/// The statuses a summary counts, in the columns' order.
const SUMMARY_STATUSES: [pb::ActionStatus; 5] = [
    pb::ActionStatus::NotStarted,
    pb::ActionStatus::InProgress,
    pb::ActionStatus::Completed,
    pb::ActionStatus::Verified,
    pb::ActionStatus::Cancelled,
];

impl Row for pb::ActionPlanSummary {
    const COLUMNS: &'static [&'static str] = &[
        "REVIEW",
        "ACTIONS",
        "NOT STARTED",
        "IN PROGRESS",
        "COMPLETED",
        "VERIFIED",
        "CANCELLED",
        "OVERDUE",
        "COMPLETION RATE",
        "VERIFICATION RATE",
        "PLAN COMPLETE",
    ];

    fn cells(&self) -> Vec<String> {
        let count = |status: pb::ActionStatus| {
            self.by_status
                .iter()
                .filter(|count| count.status == status as i32)
                .map(|count| count.count)
                .sum::<i32>()
                .to_string()
        };
        let mut cells = vec![
            if self.review_id.is_empty() {
                "(partnership)".to_string()
            } else {
                self.review_id.clone()
            },
            self.total.to_string(),
        ];
        cells.extend(SUMMARY_STATUSES.map(count));
        cells.extend([
            self.overdue.to_string(),
            format!("{:.0}%", self.completion_rate * 100.0),
            format!("{:.0}%", self.verification_rate * 100.0),
            yes(self.plan_complete),
        ]);
        cells
    }

    fn json(&self) -> Value {
        let by_status: serde_json::Map<String, Value> = self
            .by_status
            .iter()
            .map(|count| {
                (
                    enum_name::<pb::ActionStatus>(count.status),
                    count.count.into(),
                )
            })
            .collect();
        json!({
            "review_id": self.review_id,
            "total": self.total,
            "by_status": by_status,
            "overdue": self.overdue,
            "completion_rate": self.completion_rate,
            "verification_rate": self.verification_rate,
            "plan_complete": self.plan_complete,
        })
    }
}

pub(crate) async fn action(args: Client<ActionCommand>) -> anyhow::Result<ExitCode> {
    let mut client = ActionMonitoringClient::new(connect(&args.client, Target::Actions).await?);
    let output = args.client.output;
    match args.command {
        ActionCommand::Summary { review } => {
            let summary = client
                .get_action_plan_summary(pb::GetActionPlanSummaryRequest {
                    review_id: review.unwrap_or_default(),
                })
                .await
                .map_err(explain)?
                .into_inner();
            print_record(output, &summary)?;
        }
        ActionCommand::List { review, overdue } => {
            let mut all = Vec::new();
            let mut page_token = String::new();
            loop {
                let page = client
                    .list_actions(pb::ListActionsRequest {
                        review_id: review.id.clone(),
                        overdue_only: overdue,
                        page_size: 200,
                        page_token,
                        ..Default::default()
                    })
                    .await
                    .map_err(explain)?
                    .into_inner();
                all.extend(page.actions);
                if page.next_page_token.is_empty() {
                    break;
                }
                page_token = page.next_page_token;
            }
            print_list(output, &all)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_counts_each_status_in_its_column() {
        let summary = pb::ActionPlanSummary {
            review_id: String::new(),
            total: 3,
            by_status: vec![
                pb::StatusCount {
                    status: pb::ActionStatus::InProgress as i32,
                    count: 2,
                },
                pb::StatusCount {
                    status: pb::ActionStatus::Verified as i32,
                    count: 1,
                },
            ],
            overdue: 1,
            completion_rate: 1.0 / 3.0,
            verification_rate: 1.0 / 3.0,
            plan_complete: false,
        };
        assert_eq!(
            summary.cells(),
            [
                "(partnership)",
                "3",
                "0",
                "2",
                "0",
                "1",
                "0",
                "1",
                "33%",
                "33%",
                ""
            ]
        );
        assert_eq!(summary.cells().len(), pb::ActionPlanSummary::COLUMNS.len());
        assert_eq!(
            summary.json()["by_status"],
            json!({"in_progress": 2, "verified": 1})
        );
    }

    #[test]
    fn a_summary_has_a_column_for_every_status() {
        let statuses: Vec<pb::ActionStatus> = (1..)
            .map_while(|value| pb::ActionStatus::try_from(value).ok())
            .collect();
        assert_eq!(statuses, SUMMARY_STATUSES.to_vec());
        for status in SUMMARY_STATUSES {
            let header = enum_name::<pb::ActionStatus>(status as i32)
                .replace('_', " ")
                .to_ascii_uppercase();
            assert!(
                pb::ActionPlanSummary::COLUMNS.contains(&header.as_str()),
                "{header}"
            );
        }
    }
}
