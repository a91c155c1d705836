//! `cspr practitioners`, `cspr learning-event schedule`: practitioner engagement from a
//! terminal.

use std::process::ExitCode;

use cspr_proto::practitioners::v1 as pb;
use cspr_proto::practitioners::v1::practitioner_engagement_client::PractitionerEngagementClient;

use crate::cli::{
    ActionsArgs, FamilyArgs, LearningEventArgs, LearningEventCommand, PractitionersArgs,
};
use crate::client::{Target, connect, explain};

fn show_date(date: &Option<cspr_proto::google::r#type::Date>) -> String {
    date.as_ref()
        .map(|date| format!("{:04}-{:02}-{:02}", date.year, date.month, date.day))
        .unwrap_or_default()
}

pub(crate) async fn practitioners(args: PractitionersArgs) -> anyhow::Result<ExitCode> {
    let mut client =
        PractitionerEngagementClient::new(connect(&args.client, Target::Practitioners).await?);
    let mut all = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_practitioners(pb::ListPractitionersRequest {
                review_id: args.review.clone(),
                include_suggested: args.suggested,
                page_size: 500,
                page_token,
            })
            .await
            .map_err(explain)?
            .into_inner();
        all.extend(page.practitioners);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    if args.client.json {
        let body: Vec<_> = all
            .iter()
            .map(|practitioner| {
                serde_json::json!({
                    "id": practitioner.id,
                    "name": practitioner.name,
                    "role": practitioner.role,
                    "agency_id": practitioner.agency_id,
                    "email": practitioner.email,
                    "involvement": [show_date(&practitioner.involvement_start), show_date(&practitioner.involvement_end)],
                    "status": pb::PractitionerStatus::try_from(practitioner.status).map(|status| status.as_str_name()).unwrap_or("UNKNOWN"),
                    "deferred_until_review": practitioner.deferral.as_ref().map(|deferral| show_date(&deferral.review_date)),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&body)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<24} {:<20} {:<16} {:<10} {:<23} {:<20} ID",
        "NAME", "ROLE", "AGENCY", "STATUS", "INVOLVEMENT", "CONTACT"
    );
    for practitioner in &all {
        let status = pb::PractitionerStatus::try_from(practitioner.status)
            .map(|status| {
                status
                    .as_str_name()
                    .trim_start_matches("PRACTITIONER_STATUS_")
                    .to_string()
            })
            .unwrap_or_default();
        let contact = match &practitioner.deferral {
            Some(deferral) => format!("deferred (review {})", show_date(&deferral.review_date)),
            None => "open".to_string(),
        };
        let involvement = match (
            &practitioner.involvement_start,
            &practitioner.involvement_end,
        ) {
            (Some(_), Some(_)) => format!(
                "{}..{}",
                show_date(&practitioner.involvement_start),
                show_date(&practitioner.involvement_end)
            ),
            _ => String::new(),
        };
        println!(
            "{:<24} {:<20} {:<16} {:<10} {:<23} {:<20} {}",
            practitioner.name,
            practitioner.role,
            practitioner.agency_id,
            status,
            involvement,
            contact,
            practitioner.id
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn learning_event(args: LearningEventArgs) -> anyhow::Result<ExitCode> {
    let mut client =
        PractitionerEngagementClient::new(connect(&args.client, Target::Practitioners).await?);
    match args.command {
        LearningEventCommand::Schedule {
            review,
            at,
            location,
            agenda,
            add,
            remove,
            request_id,
        } => {
            let event = client
                .schedule_learning_event(pb::ScheduleLearningEventRequest {
                    request_id: request_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
                    review_id: review,
                    scheduled_at: Some(prost_types::Timestamp {
                        seconds: at.timestamp(),
                        nanos: 0,
                    }),
                    location,
                    agenda,
                    add_practitioner_ids: add,
                    remove_practitioner_ids: remove,
                })
                .await
                .map_err(explain)?
                .into_inner();
            if args.client.json {
                let body = serde_json::json!({"id": event.id, "invitee_ids": event.invitee_ids});
                println!("{}", serde_json::to_string_pretty(&body)?);
            } else {
                println!(
                    "learning event {} scheduled; {} practitioner(s) invited:",
                    event.id,
                    event.invitee_ids.len()
                );
                for invitee in &event.invitee_ids {
                    println!("  {invitee}");
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn family(args: FamilyArgs) -> anyhow::Result<ExitCode> {
    use cspr_proto::family::v1 as family;
    use cspr_proto::family::v1::family_engagement_client::FamilyEngagementClient;

    let mut client = FamilyEngagementClient::new(connect(&args.client, Target::Family).await?);
    let mut members = Vec::new();
    let mut parallel_processes: Vec<String>;
    let mut page_token = String::new();
    loop {
        let page = client
            .list_family_members(family::ListFamilyMembersRequest {
                review_id: args.review.clone(),
                page_size: 200,
                page_token,
            })
            .await
            .map_err(explain)?
            .into_inner();
        members.extend(page.members);
        parallel_processes = page.parallel_processes;
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let relationship = |value: i32| {
        family::Relationship::try_from(value)
            .map(|relationship| {
                relationship
                    .as_str_name()
                    .trim_start_matches("RELATIONSHIP_")
                    .to_string()
            })
            .unwrap_or_default()
    };
    let route = |member: &family::FamilyMember| match &member.route {
        Some(family::family_member::Route::KnownProfessional(professional)) => {
            format!("via {} ({})", professional.name, professional.agency)
        }
        Some(family::family_member::Route::Direct(_)) => "direct".to_string(),
        None => String::new(),
    };
    if args.client.json {
        let body: Vec<_> = members
            .iter()
            .map(|member| {
                serde_json::json!({
                    "id": member.id,
                    "relationship": relationship(member.relationship),
                    "name": if member.redacted { serde_json::Value::Null } else { member.name.clone().into() },
                    "route": route(member),
                    "restricted": member.restriction.is_some(),
                    "contacts": member.contact_count,
                    "contributions": member.contribution_count,
                    "redacted": member.redacted,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&body)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<22} {:<24} {:<11} {:>8} {:>13}  ROUTE",
        "RELATIONSHIP", "NAME", "CONTACT", "CONTACTS", "CONTRIBUTIONS"
    );
    for member in &members {
        let name = if member.redacted {
            "(redacted)".to_string()
        } else {
            member.name.clone()
        };
        let contact = if member.restriction.is_some() {
            "restricted"
        } else {
            "open"
        };
        println!(
            "{:<22} {:<24} {:<11} {:>8} {:>13}  {}",
            relationship(member.relationship),
            name,
            contact,
            member.contact_count,
            member.contribution_count,
            route(member)
        );
    }
    if !parallel_processes.is_empty() {
        println!(
            "\nParallel processes on this review: {} (a criminal investigation may call for restrictions)",
            parallel_processes.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn actions(args: ActionsArgs) -> anyhow::Result<ExitCode> {
    use cspr_proto::actions::v1 as actions;
    use cspr_proto::actions::v1::action_monitoring_client::ActionMonitoringClient;

    let mut client = ActionMonitoringClient::new(connect(&args.client, Target::Actions).await?);
    let status_name = |value: i32| {
        actions::ActionStatus::try_from(value)
            .map(|status| {
                status
                    .as_str_name()
                    .trim_start_matches("ACTION_STATUS_")
                    .to_string()
            })
            .unwrap_or_default()
    };
    if args.target == "summary" {
        let summary = client
            .get_action_plan_summary(actions::GetActionPlanSummaryRequest {
                review_id: args.review.clone().unwrap_or_default(),
            })
            .await
            .map_err(explain)?
            .into_inner();
        if args.client.json {
            let by_status: serde_json::Map<String, serde_json::Value> = summary
                .by_status
                .iter()
                .map(|count| (status_name(count.status), count.count.into()))
                .collect();
            let body = serde_json::json!({
                "review_id": summary.review_id,
                "total": summary.total,
                "by_status": by_status,
                "overdue": summary.overdue,
                "completion_rate": summary.completion_rate,
                "verification_rate": summary.verification_rate,
                "plan_complete": summary.plan_complete,
            });
            println!("{}", serde_json::to_string_pretty(&body)?);
        } else {
            println!("Actions       {}", summary.total);
            for count in &summary.by_status {
                println!("  {:<12} {}", status_name(count.status), count.count);
            }
            println!("Overdue       {}", summary.overdue);
            println!("Completed     {:.0}%", summary.completion_rate * 100.0);
            println!("Verified      {:.0}%", summary.verification_rate * 100.0);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut all = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_actions(actions::ListActionsRequest {
                review_id: args.target.clone(),
                overdue_only: args.overdue,
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
    if args.client.json {
        let body: Vec<_> = all
            .iter()
            .map(|action| {
                serde_json::json!({
                    "id": action.id,
                    "recommendation_ref": action.recommendation_ref,
                    "owner_agency": action.owner_agency,
                    "due_date": show_date(&action.due_date),
                    "status": status_name(action.status),
                    "overdue": action.overdue,
                    "evidence_of_impact": action.evidence_of_impact,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&body)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<5} {:<14} {:<11} {:<12} {:<8} DESCRIPTION",
        "REF", "OWNER", "DUE", "STATUS", "OVERDUE"
    );
    for action in &all {
        println!(
            "{:<5} {:<14} {:<11} {:<12} {:<8} {}",
            action.recommendation_ref,
            action.owner_agency,
            show_date(&action.due_date),
            status_name(action.status),
            if action.overdue { "yes" } else { "" },
            action.description
        );
    }
    Ok(ExitCode::SUCCESS)
}
