//! The `ReviewRegistry` gRPC service: decode → authorize → domain → store → map errors.

use std::sync::Arc;

use cspr_platform::access::ReviewFacts;
use cspr_platform::access::rules::{self, Rule};
use cspr_platform::audit::AuditEntry;
use cspr_platform::auth::{Principal, caller};
use cspr_platform::calendar::WorkingDayCalendar;
use cspr_platform::clock::Clock;
use cspr_platform::convert::{
    ProtoEnum, date_field, date_from_proto, date_to_proto, future_date_field,
    optional_date_from_proto, past_date_field, timestamp_field,
};
use cspr_platform::error::{FieldViolation, ServiceError, Violations, field};
use cspr_platform::idempotency::RequestKey;
use cspr_platform::pagination::{Cursor, PageRequest};
use cspr_platform::values::uuid_field;
use cspr_proto::registry::v1 as pb;
use cspr_proto::registry::v1::review_registry_server::ReviewRegistry;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::convert::{
    deadline_to_proto, meeting_to_proto, process_kind_from_proto, process_to_proto,
    review_to_proto, stage_from_proto,
};
use crate::domain::deadlines::{self, DeadlineRules, Timeline};
use crate::domain::meeting::{
    ActionPoint, Arrangements, DecisionKind, MeetingDecision, MeetingRecord, PanelMeeting,
};
use crate::domain::overview::{EnquiryFindings, OverviewComment, ReportSections};
use crate::domain::review::{
    Answer, Change, Decision, InformationRequest, NewPanelMember, NewReview, NewTermsOfReference,
    OverviewReport, PanelResponse, PanelResponseKind, PanelRole, ParallelProcess,
    PublicationOutcome, RapidReview, Recommendation, ReportDraft, Review, ReviewError, Reviewer,
};
use crate::domain::values::{
    AgencyId, ChildAlias, Email, ScopePeriod, optional_text, recommendation_ref, required_text,
};
use crate::error::RegistryError;
use crate::store::{MeetingTarget, ReviewFilter, Store};

/// `rule` decided again on the locked review, before a command runs on it (the review may
/// have changed since the caller was authorized: a new reviewer appointed).
fn decided_again<'a>(
    principal: &'a Principal,
    rule: &'static Rule,
) -> impl FnOnce(&Review) -> Result<(), RegistryError> + 'a {
    move |review: &Review| {
        rule.on_review(principal, facts(review))
            .map(drop)
            .map_err(|denied| RegistryError::Service(denied.into()))
    }
}

/// A request's `meeting_id`.
fn meeting_id_field(raw: &str) -> cspr_platform::error::Field<Uuid> {
    field(
        "meeting_id",
        raw.trim()
            .parse::<Uuid>()
            .map_err(|_| "not a panel meeting id (UUID)"),
    )
}

/// The rule of one of this service's RPCs in the platform's table.
fn rule(method: &str) -> Result<&'static Rule, ServiceError> {
    rules::lookup(rules::REGISTRY, method)
}

/// Longest free texts accepted, in characters.
const SHORT_TEXT: usize = 200;
/// A meeting's place or link, an agenda item.
const PLACE_TEXT: usize = 500;
const LONG_TEXT: usize = 5_000;
const FINDINGS_TEXT: usize = 200_000;
/// A question to the reviewer, or their answer.
const EXCHANGE_TEXT: usize = 10_000;

/// The registry's gRPC handlers.
#[derive(Debug, Clone)]
pub struct RegistryApi {
    store: Store,
    rules: Arc<DeadlineRules>,
    calendar: Arc<WorkingDayCalendar>,
    clock: Arc<dyn Clock>,
}

/// What the registry's audit records name: one review, or the partnership's reviews.
fn resource(review_id: Option<Uuid>) -> String {
    review_id.map_or_else(|| "reviews".to_string(), |id| format!("reviews/{id}"))
}

fn facts(review: &Review) -> ReviewFacts<'_> {
    ReviewFacts {
        partnership_id: &review.partnership_id,
        reviewer_subject: review
            .reviewer
            .as_ref()
            .map(|reviewer| reviewer.subject.as_str()),
    }
}

/// A read's reply, built while the read's audit record is committed: the reply is answered
/// only once the record is durable, as it always was, but building it (or, for a list,
/// running its query) no longer waits for the group commit. `audit` is polled first, so its
/// record is on its way to the writer before `reply` runs. Should `reply` fail after the
/// record was written, the record stands: the caller was allowed the read and asked for it.
async fn audited<T>(
    audit: impl Future<Output = Result<(), sqlx::Error>>,
    reply: impl Future<Output = Result<T, Status>>,
) -> Result<T, Status> {
    let (audited, reply) = futures::future::join(audit, reply).await;
    let reply = reply?;
    audited.map_err(RegistryError::from)?;
    Ok(reply)
}

impl RegistryApi {
    pub fn new(
        store: Store,
        rules: Arc<DeadlineRules>,
        calendar: Arc<WorkingDayCalendar>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            rules,
            calendar,
            clock,
        }
    }

    fn timeline(&self, review: &Review) -> Result<Timeline, RegistryError> {
        Ok(
            deadlines::timeline(review, &self.rules, &self.calendar, self.clock.today())
                .map_err(ReviewError::from)?,
        )
    }

    fn reply(&self, review: &Review) -> Result<Response<pb::Review>, Status> {
        let timeline = self.timeline(review)?;
        Ok(Response::new(review_to_proto(
            review,
            &timeline,
            &self.rules,
        )))
    }

    /// Step 1 of `rule` ([`rules`]): the caller's roles, before anything is loaded; a refusal
    /// audited.
    async fn gate(
        &self,
        principal: &Principal,
        rule: &'static Rule,
        review_id: Option<Uuid>,
    ) -> Result<(), Status> {
        let audit = self.store.audit_log();
        Ok(audit
            .gate(principal, rule, review_id, resource(review_id))
            .await?)
    }

    async fn audit_refusal(&self, principal: &Principal, action: &str, review_id: Option<Uuid>) {
        self.audit_refused(principal, action, review_id, "PERMISSION_DENIED")
            .await;
    }

    /// Audits a command refused with `outcome` (a status code's name).
    async fn audit_refused(
        &self,
        principal: &Principal,
        action: &str,
        review_id: Option<Uuid>,
        outcome: &str,
    ) {
        self.store
            .audit_log()
            .record_refusal(&AuditEntry {
                principal,
                action,
                review_id,
                resource: resource(review_id),
                outcome,
            })
            .await;
    }

    /// A command's refusal by the review's state or rules (FAILED_PRECONDITION, ABORTED,
    /// INVALID_ARGUMENT found on the review, a meeting NOT_FOUND): audited with its code,
    /// then answered.
    async fn refused(
        &self,
        principal: &Principal,
        action: &str,
        review_id: Uuid,
        error: RegistryError,
    ) -> Status {
        let status: Status = error.into();
        if let Some(outcome) = cspr_platform::error::refusal_name(status.code()) {
            self.audit_refused(principal, action, Some(review_id), outcome)
                .await;
        }
        status
    }

    /// The review `id`, if `rule` allows the caller on it: roles, then the tenant
    /// (NOT_FOUND), then the review's facts, a refusal audited. Commands call it before they
    /// validate their body, so a caller who may not is told so whatever they send.
    async fn authorized(
        &self,
        principal: &Principal,
        rule: &'static Rule,
        id: Uuid,
    ) -> Result<Review, Status> {
        self.gate(principal, rule, Some(id)).await?;
        let review = self
            .store
            .get(&principal.partnership, id)
            .await
            .map_err(RegistryError::from)?
            .ok_or_else(|| RegistryError::ReviewNotFound(id.to_string()))?;
        if let Err(denied) = rule.on_review(principal, facts(&review)) {
            self.audit_refusal(principal, rule.method, Some(id)).await;
            return Err(denied.into());
        }
        Ok(review)
    }

    /// Answers a read of the review `id` the caller may read with what `reply` makes of it,
    /// built while the read's audit record is committed ([`audited`]).
    async fn read_review<T>(
        &self,
        principal: &Principal,
        rule: &'static Rule,
        id: Uuid,
        reply: impl FnOnce(&Review) -> Result<T, Status>,
    ) -> Result<Response<T>, Status> {
        let review = self.authorized(principal, rule, id).await?;
        let audit = self
            .store
            .audit_access(principal, rule.method, Some(id), "ok");
        audited(audit, async { reply(&review) })
            .await
            .map(Response::new)
    }

    /// Loads a review the caller may read, auditing the read.
    async fn readable(
        &self,
        principal: &Principal,
        rule: &'static Rule,
        id: Uuid,
    ) -> Result<Review, Status> {
        let review = self.authorized(principal, rule, id).await?;
        self.store
            .audit_access(principal, rule.method, Some(id), "ok")
            .await
            .map_err(RegistryError::from)?;
        Ok(review)
    }

    /// Runs a command on a review the caller was [`RegistryApi::authorized`] on. `rule` is
    /// decided again on the locked review, before an idempotent replay is answered too (the
    /// appointment may have changed since; a replay must not answer a caller the first
    /// request would have refused).
    async fn command(
        &self,
        principal: &Principal,
        rule: &'static Rule,
        id: Uuid,
        key: Option<(RequestKey, Uuid)>,
        command: impl FnOnce(&mut Review) -> Result<Vec<crate::domain::review::Change>, RegistryError>,
    ) -> Result<Response<pb::Review>, Status> {
        let guard = decided_again(principal, rule);
        match self
            .store
            .update(principal, id, rule.method, key, guard, command)
            .await
        {
            Ok(review) => self.reply(&review),
            Err(RegistryError::Service(ServiceError::PermissionDenied(reason))) => {
                self.audit_refusal(principal, rule.method, Some(id)).await;
                Err(ServiceError::PermissionDenied(reason).into())
            }
            Err(error) => Err(self.refused(principal, rule.method, id, error).await),
        }
    }
}

impl RegistryApi {
    /// Version `version` (0: the latest) of the review's overview report.
    async fn version_of(&self, id: Uuid, version: i32) -> Result<OverviewReport, Status> {
        Ok(self
            .store
            .overview_report(id, version)
            .await
            .map_err(RegistryError::from)?
            .ok_or_else(|| {
                ServiceError::FailedPrecondition("no overview report has been submitted yet".into())
            })?)
    }

    /// [`RegistryApi::command`] for a command on one of the review's panel meetings
    /// ([`Store::update_meeting`]), answered with the meeting as the command left it.
    async fn meeting_command(
        &self,
        principal: &Principal,
        rule: &'static Rule,
        id: Uuid,
        target: MeetingTarget,
        command: impl FnOnce(&Review, Option<PanelMeeting>) -> Result<Vec<Change>, RegistryError>,
    ) -> Result<Response<pb::PanelMeeting>, Status> {
        let guard = decided_again(principal, rule);
        match self
            .store
            .update_meeting(principal, id, rule.method, target, guard, command)
            .await
        {
            Ok(meeting) => Ok(Response::new(
                self.meeting_reply(principal, &meeting).await?,
            )),
            Err(RegistryError::Service(ServiceError::PermissionDenied(reason))) => {
                self.audit_refusal(principal, rule.method, Some(id)).await;
                Err(ServiceError::PermissionDenied(reason).into())
            }
            Err(error) => Err(self.refused(principal, rule.method, id, error).await),
        }
    }

    /// A meeting as the API shows it: a held one's decisions with what carried them out.
    async fn meeting_reply(
        &self,
        principal: &Principal,
        meeting: &PanelMeeting,
    ) -> Result<pb::PanelMeeting, Status> {
        let commands = match &meeting.record {
            Some(_) => self
                .store
                .carried_out(&principal.partnership, meeting.review_id)
                .await
                .map_err(RegistryError::from)?,
            None => Vec::new(),
        };
        Ok(meeting_to_proto(meeting, &commands))
    }
}

/// Checks a request's list of texts: each item required and at most `max_chars`, at most
/// `max_items` of them and, when `required`, at least one.
fn text_list(
    violations: &mut Violations,
    name: &str,
    items: &[String],
    (max_items, max_chars): (usize, usize),
    required: bool,
) -> Vec<String> {
    if required && items.is_empty() {
        violations.add(name, "required: at least one");
    }
    if items.len() > max_items {
        violations.add(name, format!("at most {max_items} items"));
    }
    items
        .iter()
        .enumerate()
        .filter_map(|(index, raw)| {
            violations.check(&format!("{name}[{index}]"), required_text(raw, max_chars))
        })
        .collect()
}

#[tonic::async_trait]
impl ReviewRegistry for RegistryApi {
    async fn create_review(
        &self,
        request: Request<pb::CreateReviewRequest>,
    ) -> Result<Response<pb::Review>, Status> {
        let (principal, request) = caller(request)?;
        self.gate(&principal, rule("CreateReview")?, None).await?;
        let today = self.clock.today();
        let violations = Violations::new();
        let request_id = RequestKey::field("CreateReview", &request.request_id, &request);
        let child_alias = field("child_alias", ChildAlias::parse(&request.child_alias));
        let local_authority = field(
            "local_authority",
            required_text(&request.local_authority, SHORT_TEXT),
        );
        let incident_date = past_date_field("incident_date", request.incident_date.as_ref(), today);
        let became_aware_on =
            past_date_field("became_aware_on", request.became_aware_on.as_ref(), today);
        let (request_id, child_alias, local_authority, incident_date, became_aware_on) = violations
            .finish_with((
                request_id,
                child_alias,
                local_authority,
                incident_date,
                became_aware_on,
            ))?;
        let key = (request_id, Uuid::now_v7());
        let now = self.clock.now();
        let partnership = principal.partnership.clone();
        let review = self
            .store
            .create(&principal, key, move |id, reference| {
                Review::open(
                    id,
                    partnership,
                    reference,
                    NewReview {
                        child_alias,
                        local_authority,
                        incident_date,
                        became_aware_on,
                    },
                    now,
                )
            })
            .await?;
        self.reply(&review)
    }

    async fn get_review(
        &self,
        request: Request<pb::GetReviewRequest>,
    ) -> Result<Response<pb::Review>, Status> {
        let (principal, request) = caller(request)?;
        let id = uuid_field("review_id", &request.review_id)?;
        self.read_review(&principal, rule("GetReview")?, id, |review| {
            let timeline = self.timeline(review)?;
            Ok(review_to_proto(review, &timeline, &self.rules))
        })
        .await
    }

    async fn list_reviews(
        &self,
        request: Request<pb::ListReviewsRequest>,
    ) -> Result<Response<pb::ListReviewsResponse>, Status> {
        let (principal, request) = caller(request)?;
        let reach = match rule("ListReviews")?.across(&principal) {
            Ok(reach) => reach,
            Err(denied) => {
                self.audit_refusal(&principal, "ListReviews", None).await;
                return Err(denied.into());
            }
        };
        let page = PageRequest::parse(request.page_size, &request.page_token, 50, 200)?;
        let stage = match request.stage {
            0 => None,
            value => Some(
                pb::Stage::try_from(value)
                    .ok()
                    .and_then(stage_from_proto)
                    .ok_or_else(|| ServiceError::invalid("stage", "unknown stage"))?,
            ),
        };
        let filter = ReviewFilter {
            stage,
            reviewer_subject: reach.appointed_reviewer(),
            overdue_only: request.overdue_only,
            at_risk_only: request.at_risk_only,
        };
        // The caller may list (the reach above), so the read's record is committed while
        // the page is read and built, not after.
        let audit = self
            .store
            .audit_access(&principal, "ListReviews", None, "ok");
        let reply = async {
            let (reviews, next_page_token) = page
                .read(
                    |after, limit| {
                        self.store
                            .list(&principal.partnership, &filter, after, limit)
                    },
                    |review| Cursor::new(review.created_at, review.id),
                )
                .await?;
            let mut page = Vec::with_capacity(reviews.len());
            for review in &reviews {
                let timeline = self.timeline(review)?;
                page.push(review_to_proto(review, &timeline, &self.rules));
            }
            Ok(pb::ListReviewsResponse {
                reviews: page,
                next_page_token,
            })
        };
        audited(audit, reply).await.map(Response::new)
    }

    async fn record_notification_sent(
        &self,
        request: Request<pb::RecordNotificationSentRequest>,
    ) -> Result<Response<pb::Review>, Status> {
        let (principal, request) = caller(request)?;
        let id = uuid_field("review_id", &request.review_id)?;
        let rule = rule("RecordNotificationSent")?;
        self.authorized(&principal, rule, id).await?;
        let violations = Violations::new();
        let sent_on = past_date_field("sent_on", request.sent_on.as_ref(), self.clock.today());
        let reference = field(
            "national_panel_reference",
            optional_text(&request.national_panel_reference, 100),
        );
        let (sent_on, reference) = violations.finish_with((sent_on, reference))?;
        self.command(&principal, rule, id, None, move |review| {
            Ok(review.record_notification_sent(sent_on, reference)?)
        })
        .await
    }

    async fn record_decision(
        &self,
        request: Request<pb::RecordDecisionRequest>,
    ) -> Result<Response<pb::Review>, Status> {
        let (principal, request) = caller(request)?;
        let id = uuid_field("review_id", &request.review_id)?;
        let rule = rule("RecordDecision")?;
        self.authorized(&principal, rule, id).await?;
        let violations = Violations::new();
        let decision = match pb::Decision::try_from(request.decision) {
            Ok(pb::Decision::LocalCspr) => Ok(Decision::LocalCspr),
            Ok(pb::Decision::NoLocalCspr) => Ok(Decision::NoLocalCspr),
            _ => Err(FieldViolation::new(
                "decision",
                "required: LOCAL_CSPR or NO_LOCAL_CSPR",
            )),
        };
        let decided_on = past_date_field(
            "decided_on",
            request.decided_on.as_ref(),
            self.clock.today(),
        );
        let rationale = field("rationale", optional_text(&request.rationale, LONG_TEXT));
        let (decision, decided_on, rationale) =
            violations.finish_with((decision, decided_on, rationale))?;
        self.command(&principal, rule, id, None, move |review| {
            Ok(review.record_decision(decision, decided_on, rationale)?)
        })
        .await
    }

    async fn appoint_panel_member(
        &self,
        request: Request<pb::AppointPanelMemberRequest>,
    ) -> Result<Response<pb::Review>, Status> {
        let (principal, request) = caller(request)?;
        let id = uuid_field("review_id", &request.review_id)?;
        let rule = rule("AppointPanelMember")?;
        self.authorized(&principal, rule, id).await?;
        let violations = Violations::new();
        let request_id = RequestKey::field("AppointPanelMember", &request.request_id, &request);
        let name = field("name", required_text(&request.name, SHORT_TEXT));
        let email = field("email", Email::parse(&request.email));
        let organisation = field(
            "organisation",
            required_text(&request.organisation, SHORT_TEXT),
        );
        let role = match pb::PanelRole::try_from(request.role) {
            Ok(pb::PanelRole::Chair) => Ok(PanelRole::Chair),
            Ok(pb::PanelRole::Member) => Ok(PanelRole::Member),
            _ => Err(FieldViolation::new("role", "required: CHAIR or MEMBER")),
        };
        let statement = field(
            "independence_statement",
            optional_text(&request.independence_statement, LONG_TEXT),
        );
        let (request_id, name, email, organisation, role, statement) =
            violations.finish_with((request_id, name, email, organisation, role, statement))?;
        let involved = self
            .store
            .is_involved_practitioner(id, email.as_str(), &name, &organisation)
            .await
            .map_err(RegistryError::from)?;
        let member_id = Uuid::now_v7();
        let key = (request_id, member_id);
        let now = self.clock.now();
        let declares = request.declares_no_involvement;
        self.command(&principal, rule, id, Some(key), move |review| {
            Ok(review.appoint_panel_member(
                member_id,
                NewPanelMember {
                    name,
                    email,
                    organisation,
                    role,
                    independence_statement: statement,
                },
                declares,
                involved,
                now,
            )?)
        })
        .await
    }

    async fn appoint_reviewer(
        &self,
        request: Request<pb::AppointReviewerRequest>,
    ) -> Result<Response<pb::Review>, Status> {
        let (principal, request) = caller(request)?;
        let id = uuid_field("review_id", &request.review_id)?;
        let rule = rule("AppointReviewer")?;
        self.authorized(&principal, rule, id).await?;
        let violations = Violations::new();
        let name = field("name", required_text(&request.name, SHORT_TEXT));
        let email = field("email", Email::parse(&request.email));
        let subject = field("subject", required_text(&request.subject, SHORT_TEXT));
        let appointed_on = past_date_field(
            "appointed_on",
            request.appointed_on.as_ref(),
            self.clock.today(),
        );
        let (name, email, subject, appointed_on) =
            violations.finish_with((name, email, subject, appointed_on))?;
        self.command(&principal, rule, id, None, move |review| {
            Ok(review.appoint_reviewer(Reviewer {
                name,
                email,
                subject,
                appointed_on,
            })?)
        })
        .await
    }

    async fn set_terms_of_reference(
        &self,
        request: Request<pb::SetTermsOfReferenceRequest>,
    ) -> Result<Response<pb::Review>, Status> {
        let (principal, request) = caller(request)?;
        let id = uuid_field("review_id", &request.review_id)?;
        let rule = rule("SetTermsOfReference")?;
        self.authorized(&principal, rule, id).await?;
        let today = self.clock.today();
        let scope_start = date_field("scope_start", request.scope_start.as_ref());
        let scope_end = date_field("scope_end", request.scope_end.as_ref());
        let scope: Result<ScopePeriod, Vec<FieldViolation>> = match (scope_start, scope_end) {
            (Ok(start), Ok(end)) => {
                field("scope_end", ScopePeriod::new(start, end, today)).map_err(Vec::from)
            }
            (start, end) => Err(start.err().into_iter().chain(end.err()).collect()),
        };
        let mut line_violations = Violations::new();
        if request.key_lines_of_enquiry.is_empty() {
            line_violations.add(
                "key_lines_of_enquiry",
                "at least one line of enquiry is required",
            );
        }
        if request.key_lines_of_enquiry.len() > 50 {
            line_violations.add("key_lines_of_enquiry", "at most 50");
        }
        let mut lines = Vec::with_capacity(request.key_lines_of_enquiry.len());
        for (index, line) in request.key_lines_of_enquiry.iter().enumerate() {
            if let Some(line) = line_violations.check(
                &format!("key_lines_of_enquiry[{index}]"),
                required_text(line, 1_000),
            ) {
                lines.push(line);
            }
        }
        let lines = line_violations.with_value(lines);
        let methodology = field(
            "methodology",
            required_text(&request.methodology, LONG_TEXT),
        );
        let mut agency_violations = Violations::new();
        if request.agencies_in_scope.is_empty() {
            agency_violations.add("agencies_in_scope", "at least one agency is required");
        }
        if request.agencies_in_scope.len() > 100 {
            agency_violations.add("agencies_in_scope", "at most 100");
        }
        let mut agencies = Vec::with_capacity(request.agencies_in_scope.len());
        let mut seen = std::collections::BTreeSet::new();
        for (index, agency) in request.agencies_in_scope.iter().enumerate() {
            let agency_id = agency_violations.check(
                &format!("agencies_in_scope[{index}].id"),
                AgencyId::parse(&agency.id),
            );
            let name = agency_violations.check(
                &format!("agencies_in_scope[{index}].name"),
                required_text(&agency.name, SHORT_TEXT),
            );
            let email = agency_violations.check(
                &format!("agencies_in_scope[{index}].contact_email"),
                Email::parse(&agency.contact_email),
            );
            if let (Some(agency_id), Some(name), Some(email)) = (agency_id, name, email) {
                if !seen.insert(agency_id.clone()) {
                    agency_violations.add(
                        format!("agencies_in_scope[{index}].id"),
                        "duplicate agency id",
                    );
                }
                agencies.push((agency_id, name, email));
            }
        }
        let agencies = agency_violations.with_value(agencies);
        let report_due_date = date_field("report_due_date", request.report_due_date.as_ref());
        let (scope, lines, methodology, agencies, report_due_date) = Violations::new()
            .finish_with((scope, lines, methodology, agencies, report_due_date))?;
        let based_on_version = request.based_on_version;
        let now = self.clock.now();
        self.command(&principal, rule, id, None, move |review| {
            Ok(review.set_terms_of_reference(
                NewTermsOfReference {
                    scope,
                    key_lines_of_enquiry: lines,
                    methodology,
                    agencies_in_scope: agencies,
                    report_due_date,
                    based_on_version,
                },
                today,
                now,
            )?)
        })
        .await
    }

    async fn advance_stage(
        &self,
        request: Request<pb::AdvanceStageRequest>,
    ) -> Result<Response<pb::Review>, Status> {
        let (principal, request) = caller(request)?;
        let id = uuid_field("review_id", &request.review_id)?;
        let rule = rule("AdvanceStage")?;
        self.authorized(&principal, rule, id).await?;
        let to = pb::Stage::try_from(request.to_stage)
            .ok()
            .and_then(stage_from_proto)
            .ok_or_else(|| ServiceError::invalid("to_stage", "required: the stage to move to"))?;
        self.command(&principal, rule, id, None, move |review| {
            Ok(review.advance(to)?)
        })
        .await
    }

    async fn record_parallel_process(
        &self,
        request: Request<pb::RecordParallelProcessRequest>,
    ) -> Result<Response<pb::Review>, Status> {
        let (principal, request) = caller(request)?;
        let id = uuid_field("review_id", &request.review_id)?;
        let rule = rule("RecordParallelProcess")?;
        self.authorized(&principal, rule, id).await?;
        let violations = Violations::new();
        let request_id = RequestKey::field("RecordParallelProcess", &request.request_id, &request);
        let kind = pb::ParallelProcessKind::try_from(request.kind)
            .ok()
            .and_then(process_kind_from_proto)
            .ok_or_else(|| {
                FieldViolation::new(
                    "kind",
                    "required: CRIMINAL_INVESTIGATION, CORONER_INQUEST, FAMILY_PROCEEDINGS or OTHER",
                )
            });
        let description = field(
            "description",
            optional_text(&request.description, LONG_TEXT),
        );
        let started_on = date_field("started_on", request.started_on.as_ref());
        let (request_id, kind, description, started_on) =
            violations.finish_with((request_id, kind, description, started_on))?;
        let process_id = Uuid::now_v7();
        let key = (request_id, process_id);
        let today = self.clock.today();
        self.command(&principal, rule, id, Some(key), move |review| {
            Ok(review.record_parallel_process(
                ParallelProcess {
                    id: process_id,
                    kind,
                    description,
                    started_on,
                    ended_on: None,
                },
                today,
            )?)
        })
        .await
    }

    async fn end_parallel_process(
        &self,
        request: Request<pb::EndParallelProcessRequest>,
    ) -> Result<Response<pb::Review>, Status> {
        let (principal, request) = caller(request)?;
        let id = uuid_field("review_id", &request.review_id)?;
        let rule = rule("EndParallelProcess")?;
        self.authorized(&principal, rule, id).await?;
        let violations = Violations::new();
        let process_id = field(
            "parallel_process_id",
            request
                .parallel_process_id
                .trim()
                .parse::<Uuid>()
                .map_err(|_| "not a parallel process id (UUID)"),
        );
        let ended_on = date_field("ended_on", request.ended_on.as_ref());
        let (process_id, ended_on) = violations.finish_with((process_id, ended_on))?;
        let today = self.clock.today();
        self.command(&principal, rule, id, None, move |review| {
            Ok(review.end_parallel_process(process_id, ended_on, today)?)
        })
        .await
    }

    async fn record_rapid_review(
        &self,
        request: Request<pb::RecordRapidReviewRequest>,
    ) -> Result<Response<pb::Review>, Status> {
        let (principal, request) = caller(request)?;
        let id = uuid_field("review_id", &request.review_id)?;
        let rule = rule("RecordRapidReview")?;
        self.authorized(&principal, rule, id).await?;
        let mut violations = Violations::new();
        let meeting_on = date_field("meeting_on", request.meeting_on.as_ref());
        let mut agencies = Vec::new();
        for (index, raw) in request.contributing_agencies.iter().enumerate() {
            if let Some(agency) = violations.check(
                &format!("contributing_agencies[{index}]"),
                required_text(raw, SHORT_TEXT),
            ) {
                agencies.push(agency);
            }
        }
        if request.contributing_agencies.is_empty() {
            violations.add(
                "contributing_agencies",
                "required: the agencies that contributed to the rapid review",
            );
        }
        let learning = field("learning", required_text(&request.learning, LONG_TEXT));
        let sent_to_panel_on = field(
            "sent_to_panel_on",
            optional_date_from_proto(request.sent_to_panel_on.as_ref()),
        );
        let (meeting_on, learning, sent_to_panel_on) =
            violations.finish_with((meeting_on, learning, sent_to_panel_on))?;
        let today = self.clock.today();
        self.command(&principal, rule, id, None, move |review| {
            Ok(review.record_rapid_review(
                RapidReview {
                    meeting_on,
                    contributing_agencies: agencies,
                    learning,
                    sent_to_panel_on,
                    panel_response: None,
                },
                today,
            )?)
        })
        .await
    }

    async fn record_panel_response(
        &self,
        request: Request<pb::RecordPanelResponseRequest>,
    ) -> Result<Response<pb::Review>, Status> {
        let (principal, request) = caller(request)?;
        let id = uuid_field("review_id", &request.review_id)?;
        let rule = rule("RecordPanelResponse")?;
        self.authorized(&principal, rule, id).await?;
        let violations = Violations::new();
        let kind = PanelResponseKind::from_proto(request.kind).ok_or_else(|| {
            FieldViolation::new("kind", "required: AGREES, ASKS_FOR_MORE or NATIONAL_REVIEW")
        });
        let received_on = date_field("received_on", request.received_on.as_ref());
        let note = field("note", optional_text(&request.note, LONG_TEXT));
        let (kind, received_on, note) = violations.finish_with((kind, received_on, note))?;
        let today = self.clock.today();
        self.command(&principal, rule, id, None, move |review| {
            Ok(review.record_panel_response(
                PanelResponse {
                    kind,
                    received_on,
                    note,
                },
                today,
            )?)
        })
        .await
    }

    async fn summarize_rapid_reviews(
        &self,
        request: Request<pb::SummarizeRapidReviewsRequest>,
    ) -> Result<Response<pb::RapidReviewSummary>, Status> {
        let (principal, request) = caller(request)?;
        self.gate(&principal, rule("SummarizeRapidReviews")?, None)
            .await?;
        let violations = Violations::new();
        let from = field("from", optional_date_from_proto(request.from.as_ref()));
        let to = field("to", optional_date_from_proto(request.to.as_ref()));
        let (from, to) = violations.finish_with((from, to))?;
        let to = to.unwrap_or_else(|| self.clock.today());
        if from.is_some_and(|from| from > to) {
            return Err(ServiceError::invalid("to", "must not be before from").into());
        }
        let audit = self
            .store
            .audit_access(&principal, "SummarizeRapidReviews", None, "ok");
        let reply = async {
            let counts = self
                .store
                .rapid_review_summary(&principal.partnership, from, to)
                .await
                .map_err(RegistryError::from)?;
            let count = |value: i64| i32::try_from(value).unwrap_or(i32::MAX);
            Ok(Response::new(pb::RapidReviewSummary {
                notified: count(counts.notified),
                rapid_reviews_recorded: count(counts.rapid_reviews_recorded),
                became_local_reviews: count(counts.became_local_reviews),
                not_proceeding: count(counts.not_proceeding),
                awaiting_decision: count(counts.awaiting_decision),
                sent_to_panel: count(counts.sent_to_panel),
                panel_agrees: count(counts.panel_agrees),
                panel_asks_for_more: count(counts.panel_asks_for_more),
                panel_national_review: count(counts.panel_national_review),
                awaiting_panel_response: count(counts.awaiting_panel_response),
            }))
        };
        audited(audit, reply).await
    }

    async fn request_information_from_reviewer(
        &self,
        request: Request<pb::RequestInformationFromReviewerRequest>,
    ) -> Result<Response<pb::Review>, Status> {
        let (principal, request) = caller(request)?;
        let id = uuid_field("review_id", &request.review_id)?;
        let rule = rule("RequestInformationFromReviewer")?;
        self.authorized(&principal, rule, id).await?;
        let violations = Violations::new();
        let request_id = RequestKey::field(
            "RequestInformationFromReviewer",
            &request.request_id,
            &request,
        );
        let question = field("question", required_text(&request.question, EXCHANGE_TEXT));
        let respond_by = date_field("respond_by", request.respond_by.as_ref());
        let reply_to = match request.reply_to_email.trim() {
            "" => Ok(None),
            raw => field("reply_to_email", Email::parse(raw)).map(Some),
        };
        let (request_id, question, respond_by, reply_to) =
            violations.finish_with((request_id, question, respond_by, reply_to))?;
        let information_request_id = Uuid::now_v7();
        let key = (request_id, information_request_id);
        let now = self.clock.now();
        let today = self.clock.today();
        let requested_by = principal.subject.clone();
        self.command(&principal, rule, id, Some(key), move |review| {
            Ok(review.request_information(
                InformationRequest {
                    id: information_request_id,
                    question,
                    requested_by,
                    requested_at: now,
                    respond_by,
                    reply_to,
                    answer: None,
                },
                today,
            )?)
        })
        .await
    }

    async fn answer_information_request(
        &self,
        request: Request<pb::AnswerInformationRequestRequest>,
    ) -> Result<Response<pb::Review>, Status> {
        let (principal, request) = caller(request)?;
        let id = uuid_field("review_id", &request.review_id)?;
        let rule = rule("AnswerInformationRequest")?;
        self.authorized(&principal, rule, id).await?;
        let violations = Violations::new();
        let information_request_id = field(
            "information_request_id",
            request
                .information_request_id
                .trim()
                .parse::<Uuid>()
                .map_err(|_| "not an information request id (UUID)"),
        );
        let answer = field("answer", required_text(&request.answer, EXCHANGE_TEXT));
        let (information_request_id, text) =
            violations.finish_with((information_request_id, answer))?;
        let answer = Answer {
            text,
            answered_by: principal.subject.clone(),
            answered_at: self.clock.now(),
        };
        self.command(&principal, rule, id, None, move |review| {
            Ok(review.answer_information_request(information_request_id, answer)?)
        })
        .await
    }

    async fn schedule_panel_meeting(
        &self,
        request: Request<pb::SchedulePanelMeetingRequest>,
    ) -> Result<Response<pb::PanelMeeting>, Status> {
        let (principal, request) = caller(request)?;
        let id = uuid_field("review_id", &request.review_id)?;
        let rule = rule("SchedulePanelMeeting")?;
        self.authorized(&principal, rule, id).await?;
        let mut violations = Violations::new();
        let starts_at = timestamp_field("start_time", request.start_time.as_ref());
        let ends_at = timestamp_field("end_time", request.end_time.as_ref());
        let location = field("location", required_text(&request.location, PLACE_TEXT));
        let agenda = text_list(
            &mut violations,
            "agenda",
            &request.agenda,
            (50, PLACE_TEXT),
            true,
        );
        let target = match request.meeting_id.trim() {
            "" => RequestKey::field("SchedulePanelMeeting", &request.request_id, &request)
                .map(|key| MeetingTarget::New(key, Uuid::now_v7())),
            raw => field(
                "meeting_id",
                raw.parse::<Uuid>()
                    .map_err(|_| "not a panel meeting id (UUID)"),
            )
            .map(MeetingTarget::Existing),
        };
        let (target, starts_at, ends_at, location) =
            violations.finish_with((target, starts_at, ends_at, location))?;
        let arrangements = Arrangements {
            starts_at,
            ends_at,
            location,
            agenda,
        };
        let now = self.clock.now();
        let scheduled_by = principal.subject.clone();
        let new_id = match &target {
            MeetingTarget::New(_, meeting_id) => Some(*meeting_id),
            MeetingTarget::Existing(_) => None,
        };
        self.meeting_command(&principal, rule, id, target, move |review, meeting| {
            Ok(match (meeting, new_id) {
                (Some(meeting), _) => meeting.change(review, arrangements, now)?,
                (None, Some(new_id)) => {
                    PanelMeeting::schedule(review, new_id, arrangements, scheduled_by, now)?
                }
                (None, None) => Vec::new(),
            })
        })
        .await
    }

    async fn cancel_panel_meeting(
        &self,
        request: Request<pb::CancelPanelMeetingRequest>,
    ) -> Result<Response<pb::PanelMeeting>, Status> {
        let (principal, request) = caller(request)?;
        let id = uuid_field("review_id", &request.review_id)?;
        let rule = rule("CancelPanelMeeting")?;
        self.authorized(&principal, rule, id).await?;
        let meeting_id = meeting_id_field(&request.meeting_id);
        let reason = field("reason", required_text(&request.reason, LONG_TEXT));
        let (meeting_id, reason) = Violations::new().finish_with((meeting_id, reason))?;
        let now = self.clock.now();
        self.meeting_command(
            &principal,
            rule,
            id,
            MeetingTarget::Existing(meeting_id),
            move |review, meeting| match meeting {
                Some(meeting) => Ok(meeting.cancel(review, reason, now)?),
                None => Ok(Vec::new()),
            },
        )
        .await
    }

    async fn record_panel_meeting(
        &self,
        request: Request<pb::RecordPanelMeetingRequest>,
    ) -> Result<Response<pb::PanelMeeting>, Status> {
        let (principal, request) = caller(request)?;
        let id = uuid_field("review_id", &request.review_id)?;
        let rule = rule("RecordPanelMeeting")?;
        self.authorized(&principal, rule, id).await?;
        let mut violations = Violations::new();
        let meeting_id = meeting_id_field(&request.meeting_id);
        let attendance = text_list(
            &mut violations,
            "attendance",
            &request.attendance,
            (100, SHORT_TEXT),
            true,
        );
        let apologies = text_list(
            &mut violations,
            "apologies",
            &request.apologies,
            (100, SHORT_TEXT),
            false,
        );
        let minutes = field("minutes", required_text(&request.minutes, FINDINGS_TEXT));
        if request.decisions.len() > 100 {
            violations.add("decisions", "at most 100 decisions");
        }
        let mut decisions = Vec::new();
        for (index, decision) in request.decisions.iter().enumerate() {
            let kind = DecisionKind::from_proto(decision.kind);
            if kind.is_none() {
                violations.add(
                    format!("decisions[{index}].kind"),
                    "required: TERMS_AGREED, REPORTS_ACCEPTED, REPORT_APPROVED or OTHER",
                );
            }
            let text = violations.check(
                &format!("decisions[{index}].text"),
                required_text(&decision.text, LONG_TEXT),
            );
            if let (Some(kind), Some(text)) = (kind, text) {
                decisions.push(MeetingDecision { kind, text });
            }
        }
        if request.action_points.len() > 100 {
            violations.add("action_points", "at most 100 action points");
        }
        let mut action_points = Vec::new();
        for (index, point) in request.action_points.iter().enumerate() {
            let text = violations.check(
                &format!("action_points[{index}].text"),
                required_text(&point.text, LONG_TEXT),
            );
            let owner = violations.check(
                &format!("action_points[{index}].owner"),
                required_text(&point.owner, SHORT_TEXT),
            );
            let due_on = violations.check(
                &format!("action_points[{index}].due_on"),
                date_from_proto(point.due_on.as_ref()),
            );
            if let (Some(text), Some(owner), Some(due_on)) = (text, owner, due_on) {
                action_points.push(ActionPoint {
                    text,
                    owner,
                    due_on,
                });
            }
        }
        let (meeting_id, minutes) = violations.finish_with((meeting_id, minutes))?;
        let record = MeetingRecord {
            attendance,
            apologies,
            minutes,
            decisions,
            action_points,
            recorded_by: principal.subject.clone(),
            recorded_at: self.clock.now(),
        };
        self.meeting_command(
            &principal,
            rule,
            id,
            MeetingTarget::Existing(meeting_id),
            move |_, meeting| match meeting {
                Some(meeting) => Ok(meeting.record(record)?),
                None => Ok(Vec::new()),
            },
        )
        .await
    }

    async fn list_panel_meetings(
        &self,
        request: Request<pb::ListPanelMeetingsRequest>,
    ) -> Result<Response<pb::ListPanelMeetingsResponse>, Status> {
        let (principal, request) = caller(request)?;
        let id = uuid_field("review_id", &request.review_id)?;
        self.readable(&principal, rule("ListPanelMeetings")?, id)
            .await?;
        let page = PageRequest::parse(request.page_size, &request.page_token, 20, 100)?;
        let (meetings, next_page_token) = page
            .read(
                |after, limit| self.store.meetings(id, after, limit),
                |meeting| Cursor::new(meeting.arrangements.starts_at, meeting.id),
            )
            .await?;
        let commands = if meetings.iter().any(|meeting| meeting.record.is_some()) {
            self.store
                .carried_out(&principal.partnership, id)
                .await
                .map_err(RegistryError::from)?
        } else {
            Vec::new()
        };
        Ok(Response::new(pb::ListPanelMeetingsResponse {
            meetings: meetings
                .iter()
                .map(|meeting| meeting_to_proto(meeting, &commands))
                .collect(),
            next_page_token,
        }))
    }

    async fn submit_overview_report(
        &self,
        request: Request<pb::SubmitOverviewReportRequest>,
    ) -> Result<Response<pb::Review>, Status> {
        let (principal, request) = caller(request)?;
        let id = uuid_field("review_id", &request.review_id)?;
        let rule = rule("SubmitOverviewReport")?;
        self.authorized(&principal, rule, id).await?;
        let mut violations = Violations::new();
        let request_id = RequestKey::field("SubmitOverviewReport", &request.request_id, &request);
        let findings = field("findings", required_text(&request.findings, FINDINGS_TEXT));
        if request.recommendations.is_empty() {
            violations.add("recommendations", "at least one recommendation is required");
        }
        let mut recommendations = Vec::with_capacity(request.recommendations.len());
        let mut seen = std::collections::BTreeSet::new();
        for (index, recommendation) in request.recommendations.iter().enumerate() {
            let reference = violations.check(
                &format!("recommendations[{index}].ref"),
                recommendation_ref(&recommendation.r#ref),
            );
            let text = violations.check(
                &format!("recommendations[{index}].text"),
                required_text(&recommendation.text, LONG_TEXT),
            );
            let addressed_to = text_list(
                &mut violations,
                &format!("recommendations[{index}].addressed_to"),
                &recommendation.addressed_to,
                (100, SHORT_TEXT),
                false,
            );
            if let (Some(reference), Some(text)) = (reference, text) {
                if !seen.insert(reference.clone()) {
                    violations.add(
                        format!("recommendations[{index}].ref"),
                        "duplicate reference",
                    );
                }
                recommendations.push(Recommendation {
                    reference,
                    text,
                    addressed_to,
                });
            }
        }
        let mut enquiries = Vec::with_capacity(request.enquiry_findings.len());
        for (index, given) in request.enquiry_findings.iter().enumerate() {
            let line = violations.check(
                &format!("enquiry_findings[{index}].line_of_enquiry"),
                required_text(&given.line_of_enquiry, LONG_TEXT),
            );
            let findings = violations.check(
                &format!("enquiry_findings[{index}].findings"),
                required_text(&given.findings, FINDINGS_TEXT),
            );
            if let (Some(line_of_enquiry), Some(findings)) = (line, findings) {
                enquiries.push(EnquiryFindings {
                    line_of_enquiry,
                    findings,
                });
            }
        }
        let section = |name: &str, text: &str| field(name, required_text(text, FINDINGS_TEXT));
        let standards_met = section("standards_met", &request.standards_met);
        let policies_followed = section("policies_followed", &request.policies_followed);
        let working_together = section("working_together", &request.working_together);
        let good_practice = section("good_practice", &request.good_practice);
        let learning = section("learning", &request.learning);
        if request.answers.len() > 500 {
            violations.add("answers", "at most 500 answers");
        }
        let mut answers = Vec::with_capacity(request.answers.len());
        for (index, answer) in request.answers.iter().enumerate() {
            let comment_id = violations.check(
                &format!("answers[{index}].comment_id"),
                answer
                    .comment_id
                    .trim()
                    .parse::<Uuid>()
                    .map_err(|_| "not a comment id (UUID)"),
            );
            let text = violations.check(
                &format!("answers[{index}].answer"),
                required_text(&answer.answer, EXCHANGE_TEXT),
            );
            if let (Some(comment_id), Some(text)) = (comment_id, text) {
                answers.push((comment_id, text));
            }
        }
        let (
            request_id,
            summary,
            standards_met,
            policies_followed,
            working_together,
            good_practice,
            learning,
        ) = violations.finish_with((
            request_id,
            findings,
            standards_met,
            policies_followed,
            working_together,
            good_practice,
            learning,
        ))?;
        let draft = ReportDraft {
            summary,
            sections: ReportSections {
                enquiries,
                standards_met,
                policies_followed,
                working_together,
                good_practice,
                learning,
            },
            recommendations,
            answers,
            based_on_version: request.based_on_version,
        };
        let key = (request_id, id);
        let now = self.clock.now();
        self.command(&principal, rule, id, Some(key), move |review| {
            Ok(review.submit_overview_report(draft, now)?)
        })
        .await
    }

    async fn approve_overview_report(
        &self,
        request: Request<pb::ApproveOverviewReportRequest>,
    ) -> Result<Response<pb::Review>, Status> {
        let (principal, request) = caller(request)?;
        let id = uuid_field("review_id", &request.review_id)?;
        let rule = rule("ApproveOverviewReport")?;
        self.authorized(&principal, rule, id).await?;
        if request.version <= 0 {
            return Err(
                ServiceError::invalid("version", "required: the version being approved").into(),
            );
        }
        let now = self.clock.now();
        let approver = principal.subject.clone();
        self.command(&principal, rule, id, None, move |review| {
            Ok(review.approve_overview_report(request.version, &approver, now)?)
        })
        .await
    }

    async fn get_overview_report(
        &self,
        request: Request<pb::GetOverviewReportRequest>,
    ) -> Result<Response<pb::OverviewReport>, Status> {
        let (principal, request) = caller(request)?;
        let id = uuid_field("review_id", &request.review_id)?;
        if request.version < 0 {
            return Err(
                ServiceError::invalid("version", "0 for the latest, else 1 or more").into(),
            );
        }
        let review = self
            .readable(&principal, rule("GetOverviewReport")?, id)
            .await?;
        let Some(latest) = review.overview_report.as_ref().map(|report| report.version) else {
            return Err(ServiceError::FailedPrecondition(
                "no overview report has been submitted yet".into(),
            )
            .into());
        };
        if request.version > latest {
            return Err(ServiceError::invalid(
                "version",
                format!(
                    "there is no version {} (the latest is {latest})",
                    request.version
                ),
            )
            .into());
        }
        let report = self.version_of(id, request.version).await?;
        Ok(Response::new(crate::convert::overview_to_proto(
            &report,
            &review.overview_comments,
            latest,
        )))
    }

    async fn comment_on_overview_report(
        &self,
        request: Request<pb::CommentOnOverviewReportRequest>,
    ) -> Result<Response<pb::OverviewReport>, Status> {
        let (principal, request) = caller(request)?;
        let id = uuid_field("review_id", &request.review_id)?;
        let rule = rule("CommentOnOverviewReport")?;
        let review = self.authorized(&principal, rule, id).await?;
        let latest = review
            .overview_report
            .as_ref()
            .map_or(0, |report| report.version);
        let version = if (1..=latest).contains(&request.version) {
            Ok(request.version)
        } else if latest == 0 {
            Err(FieldViolation::new(
                "version",
                "no overview report has been submitted yet",
            ))
        } else {
            Err(FieldViolation::new(
                "version",
                format!("1 to {latest}, the latest"),
            ))
        };
        let section = field("section", required_text(&request.section, SHORT_TEXT));
        let text = field("text", required_text(&request.text, EXCHANGE_TEXT));
        let (version, section, text) = Violations::new().finish_with((version, section, text))?;
        let report = self.version_of(id, version).await?;
        let comment = OverviewComment {
            id: Uuid::now_v7(),
            version,
            section,
            text,
            author: principal.subject.clone(),
            at: self.clock.now(),
            answer: None,
        };
        let guard = decided_again(&principal, rule);
        let review = self
            .store
            .update(&principal, id, rule.method, None, guard, move |review| {
                Ok(review.comment_on_overview_report(&report, comment)?)
            })
            .await?;
        let commented = review
            .overview_report
            .as_ref()
            .map_or(version, |report| report.version);
        let report = self.version_of(id, version).await?;
        Ok(Response::new(crate::convert::overview_to_proto(
            &report,
            &review.overview_comments,
            commented,
        )))
    }

    async fn schedule_publication(
        &self,
        request: Request<pb::SchedulePublicationRequest>,
    ) -> Result<Response<pb::Review>, Status> {
        let (principal, request) = caller(request)?;
        let id = uuid_field("review_id", &request.review_id)?;
        let rule = rule("SchedulePublication")?;
        self.authorized(&principal, rule, id).await?;
        let today = self.clock.today();
        let planned_on = future_date_field("planned_on", request.planned_on.as_ref(), today)?;
        let rules = Arc::clone(&self.rules);
        let calendar = Arc::clone(&self.calendar);
        self.command(&principal, rule, id, None, move |review| {
            Ok(review.schedule_publication(planned_on, &rules, &calendar, today)?)
        })
        .await
    }

    async fn record_pre_publication_notice(
        &self,
        request: Request<pb::RecordPrePublicationNoticeRequest>,
    ) -> Result<Response<pb::Review>, Status> {
        let (principal, request) = caller(request)?;
        let id = uuid_field("review_id", &request.review_id)?;
        let rule = rule("RecordPrePublicationNotice")?;
        self.authorized(&principal, rule, id).await?;
        let (sent_on,) = Violations::new().finish_with((past_date_field(
            "sent_on",
            request.sent_on.as_ref(),
            self.clock.today(),
        ),))?;
        self.command(&principal, rule, id, None, move |review| {
            Ok(review.record_pre_publication_notice(sent_on)?)
        })
        .await
    }

    async fn record_publication(
        &self,
        request: Request<pb::RecordPublicationRequest>,
    ) -> Result<Response<pb::Review>, Status> {
        let (principal, request) = caller(request)?;
        let id = uuid_field("review_id", &request.review_id)?;
        let rule = rule("RecordPublication")?;
        self.authorized(&principal, rule, id).await?;
        let today = self.clock.today();
        let mut violations = Violations::new();
        let outcome: Result<PublicationOutcome, Vec<FieldViolation>> = if request.published {
            let on = past_date_field("published_on", request.published_on.as_ref(), today);
            let location = field("location", required_text(&request.location, 1_000));
            if !request.not_published_justification.trim().is_empty() {
                violations.add(
                    "not_published_justification",
                    "only for a review that is not published",
                );
            }
            match (on, location) {
                (Ok(on), Ok(location)) => Ok(PublicationOutcome::Published { on, location }),
                (on, location) => Err(on.err().into_iter().chain(location.err()).collect()),
            }
        } else {
            if violations
                .check(
                    "published_on",
                    optional_date_from_proto(request.published_on.as_ref()),
                )
                .flatten()
                .is_some()
            {
                violations.add("published_on", "only for a published review");
            }
            field(
                "not_published_justification",
                required_text(&request.not_published_justification, LONG_TEXT),
            )
            .map(|justification| PublicationOutcome::NotPublished { justification })
            .map_err(Vec::from)
        };
        let (outcome,) = violations.finish_with((outcome,))?;
        let rules = Arc::clone(&self.rules);
        let calendar = Arc::clone(&self.calendar);
        self.command(&principal, rule, id, None, move |review| {
            Ok(review.record_publication(outcome, &rules, &calendar, today)?)
        })
        .await
    }

    async fn get_timeline(
        &self,
        request: Request<pb::GetTimelineRequest>,
    ) -> Result<Response<pb::Timeline>, Status> {
        let (principal, request) = caller(request)?;
        let id = uuid_field("review_id", &request.review_id)?;
        self.read_review(&principal, rule("GetTimeline")?, id, |review| {
            let timeline = self.timeline(review)?;
            Ok(pb::Timeline {
                review_id: review.id.to_string(),
                deadlines: timeline.deadlines.iter().map(deadline_to_proto).collect(),
                parallel_process_days: i32::try_from(timeline.parallel_process_days)
                    .unwrap_or(i32::MAX),
                projected_completion: timeline.projected_completion.map(date_to_proto),
                as_of: Some(date_to_proto(timeline.as_of)),
                parallel_processes: review
                    .parallel_processes
                    .iter()
                    .map(|process| {
                        process_to_proto(
                            process,
                            deadlines::days_impact(
                                review,
                                process.started_on,
                                process.ended_on,
                                &self.rules,
                                timeline.as_of,
                            ),
                        )
                    })
                    .collect(),
            })
        })
        .await
    }

    async fn list_audit_records(
        &self,
        request: Request<pb::ListAuditRecordsRequest>,
    ) -> Result<Response<pb::ListAuditRecordsResponse>, Status> {
        let (principal, request) = caller(request)?;
        let id = uuid_field("review_id", &request.review_id)?;
        self.authorized(&principal, rule("ListAuditRecords")?, id)
            .await?;
        let page =
            cspr_platform::audit::page(self.store.pool(), &principal.partnership, id, &request)
                .await?;
        self.store
            .audit_access(&principal, "ListAuditRecords", Some(id), "ok")
            .await
            .map_err(RegistryError::from)?;
        Ok(Response::new(page))
    }
}
