//! The `ActionMonitoring` gRPC service: decode → authorize → domain → store.

use std::collections::HashMap;

use cspr_platform::access::Reach;
use cspr_platform::access::rules::{self, Rule};
use cspr_platform::auth::caller;
use cspr_platform::convert::{
    ProtoEnum, date_to_proto, enum_filter, enum_to_proto, future_date_field, timestamp_to_proto,
};
use cspr_platform::error::{FieldViolation, ServiceError, Violations, field};
use cspr_platform::handler::ReviewRead;
use cspr_platform::idempotency::RequestKey;
use cspr_platform::pagination::{Cursor, PageRequest};
use cspr_platform::proto_enum;
use cspr_platform::values::{AgencyId, Email, optional_text, required_text, uuid_field};
use cspr_proto::actions::v1 as pb;
use cspr_proto::actions::v1::action_monitoring_server::ActionMonitoring;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::domain::{self, ActionStatus};
use crate::error::ActionsError;
use crate::store::{ActionFilter, ActionRow, NewAction, NoteRow, Progress, ReviewInfo, Store};

proto_enum!(ActionStatus => pb::ActionStatus {
    NotStarted, InProgress, Completed, Verified, Cancelled
});

/// The actions gRPC handlers, over the service's store (which holds its clock).
#[derive(Debug, Clone)]
pub struct ActionsApi {
    store: Store,
}

impl ActionsApi {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    fn to_proto(&self, action: &ActionRow, notes: &[&NoteRow]) -> pb::Action {
        let status = action.status();
        pb::Action {
            id: action.id.to_string(),
            review_id: action.review_id.to_string(),
            review_reference: action.reference.clone(),
            recommendation_ref: action.recommendation_ref.clone(),
            description: action.description.clone(),
            owner_agency: action.owner_agency.clone(),
            owner_email: action.owner_email.clone(),
            due_date: Some(date_to_proto(action.due_date)),
            measure_of_success: action.measure_of_success.clone(),
            status: status.to_proto(),
            cancel_reason: action.cancel_reason.clone(),
            evidence_of_impact: action.evidence_of_impact.clone(),
            progress: notes
                .iter()
                .map(|note| pb::ProgressNote {
                    time: Some(timestamp_to_proto(note.at)),
                    author: note.author.clone(),
                    status: enum_to_proto(ActionStatus::parse(&note.status)),
                    note: note.note.clone(),
                })
                .collect(),
            overdue: domain::is_overdue(status, action.due_date, self.store.clock.today()),
            verify_time: action.verified_at.map(timestamp_to_proto),
            verified_by: action.verified_by.clone(),
            create_time: Some(timestamp_to_proto(action.created_at)),
            update_time: Some(timestamp_to_proto(action.updated_at)),
            version: action.version,
        }
    }

    async fn reply(&self, action: &ActionRow) -> Result<Response<pb::Action>, Status> {
        let notes = self
            .store
            .notes(&[action.id])
            .await
            .map_err(ActionsError::from)?;
        let notes: Vec<&NoteRow> = notes.iter().collect();
        Ok(Response::new(self.to_proto(action, &notes)))
    }
}

/// The rule of one of this service's RPCs in the platform's table.
fn rule(method: &str) -> Result<&'static Rule, ServiceError> {
    rules::lookup(rules::ACTIONS, method)
}

#[tonic::async_trait]
impl ActionMonitoring for ActionsApi {
    async fn list_audit_records(
        &self,
        request: Request<cspr_proto::registry::v1::ListAuditRecordsRequest>,
    ) -> Result<Response<cspr_proto::registry::v1::ListAuditRecordsResponse>, Status> {
        let (principal, request) = caller(request)?;
        let page = self
            .store
            .list_audit_records(&principal, &request, rule("ListAuditRecords")?)
            .await?;
        Ok(Response::new(page))
    }

    async fn create_action(
        &self,
        request: Request<pb::CreateActionRequest>,
    ) -> Result<Response<pb::Action>, Status> {
        let (principal, request) = caller(request)?;
        let review: ReviewInfo = self
            .store
            .authorized_review(&principal, &request.review_id, rule("CreateAction")?)
            .await?
            .review;
        let mut violations = Violations::new();
        let today = self.store.clock.today();
        let request_key = RequestKey::field("CreateAction", &request.request_id, &request);
        let reference = field(
            "recommendation_ref",
            required_text(&request.recommendation_ref, 20),
        );
        let description = field("description", required_text(&request.description, 5_000));
        let owner_agency = field("owner_agency", AgencyId::parse(&request.owner_agency));
        let owner_email = field("owner_email", Email::parse(&request.owner_email));
        let due_date = future_date_field("due_date", request.due_date.as_ref(), today);
        let measure = field(
            "measure_of_success",
            required_text(&request.measure_of_success, 2_000),
        );
        if let Ok(reference) = &reference
            && !self
                .store
                .has_recommendation(review.review_id, reference)
                .await
                .map_err(ActionsError::from)?
        {
            violations.add(
                "recommendation_ref",
                "not a recommendation of this review's approved overview report",
            );
        }
        let (request_key, reference, description, owner_agency, owner_email, due_date, measure) =
            violations.finish_with((
                request_key,
                reference,
                description,
                owner_agency,
                owner_email,
                due_date,
                measure,
            ))?;
        let action = self
            .store
            .create(
                &principal,
                &review,
                NewAction {
                    recommendation_ref: reference,
                    description,
                    owner_agency: owner_agency.as_str().to_string(),
                    owner_email: owner_email.as_str().to_string(),
                    due_date,
                    measure_of_success: measure,
                },
                &request_key,
            )
            .await?;
        self.reply(&action).await
    }

    async fn update_action_progress(
        &self,
        request: Request<pb::UpdateActionProgressRequest>,
    ) -> Result<Response<pb::Action>, Status> {
        let (principal, request) = caller(request)?;
        let id = uuid_field("action_id", &request.action_id)?;
        let rule = rule("UpdateActionProgress")?;
        self.store
            .audit_log()
            .gate(&principal, rule, None, format!("actions/{id}"))
            .await?;
        // The partnership admin updates any action of the partnership, an agency only its
        // own (another's is NOT_FOUND to it, as the store finds none it owns).
        let owner = match rule.across(&principal)? {
            Reach::Agency(org) => Some(org),
            Reach::Partnership | Reach::AppointedReviews(_) => None,
        };
        let mut violations = Violations::new();
        let status = ActionStatus::from_proto(request.status).ok_or_else(|| {
            FieldViolation::new(
                "status",
                "required: NOT_STARTED, IN_PROGRESS, COMPLETED or CANCELLED",
            )
        });
        let cancel_reason = field(
            "cancel_reason",
            optional_text(&request.cancel_reason, 2_000),
        );
        if status == Ok(ActionStatus::Cancelled) && request.cancel_reason.trim().is_empty() {
            violations.add("cancel_reason", "required when cancelling");
        }
        let note = field("note", optional_text(&request.note, 5_000));
        let evidence = field(
            "evidence_of_impact",
            optional_text(&request.evidence_of_impact, 10_000),
        );
        let (status, cancel_reason, note, evidence) =
            violations.finish_with((status, cancel_reason, note, evidence))?;
        let action = self
            .store
            .update_progress(
                &principal,
                id,
                owner.as_deref(),
                Progress {
                    status,
                    cancel_reason,
                    note,
                    evidence_of_impact: evidence,
                    based_on_version: request.based_on_version,
                },
            )
            .await?;
        self.reply(&action).await
    }

    async fn verify_action(
        &self,
        request: Request<pb::VerifyActionRequest>,
    ) -> Result<Response<pb::Action>, Status> {
        let (principal, request) = caller(request)?;
        let id = uuid_field("action_id", &request.action_id)?;
        self.store
            .audit_log()
            .gate(
                &principal,
                rule("VerifyAction")?,
                None,
                format!("actions/{id}"),
            )
            .await?;
        let note = optional_text(&request.note, 5_000)
            .map_err(|error| ServiceError::invalid("note", error.to_string()))?;
        let action = self
            .store
            .verify(&principal, id, note, request.based_on_version)
            .await?;
        self.reply(&action).await
    }

    async fn list_actions(
        &self,
        request: Request<pb::ListActionsRequest>,
    ) -> Result<Response<pb::ListActionsResponse>, Status> {
        let (principal, request) = caller(request)?;
        let rule = rule("ListActions")?;
        let (read, reach) = self
            .store
            .review_or_reach::<ReviewInfo>(&principal, &request.review_id, rule)
            .await?;
        let review_id = read.as_ref().map(|read| read.review.review_id);
        let page = PageRequest::parse(request.page_size, &request.page_token, 50, 200)?;
        let owner_agency = reach.agency_filter("owner_agency", &request.owner_agency, "actions")?;
        let status = enum_filter(request.status, "status")?;
        let filter = ActionFilter {
            review_id,
            reviewer_subject: reach.appointed_reviewer(),
            owner_agency,
            status,
            overdue_on: request.overdue_only.then(|| self.store.clock.today()),
        };
        let (actions, next_page_token) = page
            .read(
                |after, limit| {
                    self.store
                        .list(&principal.partnership, &filter, after, limit)
                },
                |action| Cursor::new(action.created_at, action.id),
            )
            .await?;
        let ids: Vec<Uuid> = actions.iter().map(|action| action.id).collect();
        let notes = self.store.notes(&ids).await.map_err(ActionsError::from)?;
        let mut by_action: HashMap<Uuid, Vec<&NoteRow>> = HashMap::new();
        for note in &notes {
            by_action.entry(note.action_id).or_default().push(note);
        }
        if let Some(read) = &read {
            read.record().await?;
        }
        Ok(Response::new(pb::ListActionsResponse {
            actions: actions
                .iter()
                .map(|action| {
                    self.to_proto(
                        action,
                        by_action
                            .get(&action.id)
                            .map(Vec::as_slice)
                            .unwrap_or_default(),
                    )
                })
                .collect(),
            next_page_token,
        }))
    }

    async fn get_action_plan_summary(
        &self,
        request: Request<pb::GetActionPlanSummaryRequest>,
    ) -> Result<Response<pb::ActionPlanSummary>, Status> {
        let (principal, request) = caller(request)?;
        // The whole plan: across reviews only the partnership-wide readers, on one review
        // not an agency's part (the rule refuses both).
        let rule = rule("GetActionPlanSummary")?;
        let review_id = match request.review_id.trim() {
            "" => {
                rule.across(&principal)?;
                None
            }
            raw => {
                let read: ReviewRead<'_, ReviewInfo> =
                    self.store.authorized_review(&principal, raw, rule).await?;
                Some(read.review.review_id)
            }
        };
        let statuses = self
            .store
            .statuses(&principal.partnership, review_id, self.store.clock.today())
            .await
            .map_err(ActionsError::from)?;
        let summary = domain::summarize(&statuses);
        Ok(Response::new(pb::ActionPlanSummary {
            review_id: review_id.map(|id| id.to_string()).unwrap_or_default(),
            total: i32::try_from(summary.total).unwrap_or(i32::MAX),
            by_status: summary
                .by_status
                .iter()
                .map(|(status, count)| pb::StatusCount {
                    status: status.to_proto(),
                    count: i32::try_from(*count).unwrap_or(i32::MAX),
                })
                .collect(),
            overdue: i32::try_from(summary.overdue).unwrap_or(i32::MAX),
            completion_rate: summary.completion_rate,
            verification_rate: summary.verification_rate,
            plan_complete: review_id.is_some() && summary.plan_complete,
        }))
    }
}
