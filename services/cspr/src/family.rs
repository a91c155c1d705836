//! `cspr family list`: a review's family members from a terminal.

use std::process::ExitCode;

use cspr_proto::family::v1 as pb;
use cspr_proto::family::v1::family_engagement_client::FamilyEngagementClient;
use serde_json::{Value, json};

use crate::cli::{Client, FamilyCommand};
use crate::client::{Target, connect, explain};
use crate::output::{Row, enum_name, print_list, yes};

/// How the reviewer reaches a member: through a known professional, or directly.
fn route(member: &pb::FamilyMember) -> String {
    match &member.route {
        Some(pb::family_member::Route::KnownProfessional(professional)) => {
            format!("via {} ({})", professional.name, professional.agency)
        }
        Some(pb::family_member::Route::Direct(_)) => "direct".to_string(),
        None => String::new(),
    }
}

impl Row for pb::FamilyMember {
    const COLUMNS: &'static [&'static str] = &[
        "RELATIONSHIP",
        "NAME",
        "RESTRICTED",
        "CONTACTS",
        "CONTRIBUTIONS",
        "ROUTE",
        "ID",
    ];

    fn cells(&self) -> Vec<String> {
        vec![
            enum_name::<pb::Relationship>(self.relationship),
            if self.redacted {
                "(redacted)".to_string()
            } else {
                self.name.clone()
            },
            yes(self.restriction.is_some()),
            self.contact_count.to_string(),
            self.contribution_count.to_string(),
            route(self),
            self.id.clone(),
        ]
    }

    fn json(&self) -> Value {
        json!({
            "id": self.id,
            "relationship": enum_name::<pb::Relationship>(self.relationship),
            "name": if self.redacted { Value::Null } else { self.name.clone().into() },
            "route": route(self),
            "restricted": self.restriction.is_some(),
            "contacts": self.contact_count,
            "contributions": self.contribution_count,
            "redacted": self.redacted,
        })
    }
}

pub(crate) async fn family(args: Client<FamilyCommand>) -> anyhow::Result<ExitCode> {
    let FamilyCommand::List { review } = args.command;
    let mut client = FamilyEngagementClient::new(connect(&args.client, Target::Family).await?);
    let mut members = Vec::new();
    let mut parallel_processes: Vec<String>;
    let mut page_token = String::new();
    loop {
        let page = client
            .list_family_members(pb::ListFamilyMembersRequest {
                review_id: review.id.clone(),
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
    print_list(args.client.output, &members)?;
    if !parallel_processes.is_empty() {
        eprintln!(
            "Parallel processes on this review: {} (a criminal investigation may call for restrictions)",
            parallel_processes.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}
