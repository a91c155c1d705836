//! The review aggregate and its commands. Each command checks the stage and its own rules,
//! changes the review in memory, and returns the [`Change`]s it made; the store persists the
//! review and turns the changes into events, in one transaction.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::deadlines::{self, DeadlineRules};
use super::meeting::{MeetingChange, PanelMeeting};
use super::overview::{CommentAnswer, OverviewComment, ReportSections, SECTIONS};
use super::stage::{self, Stage, StageError, StageFacts};
use super::values::{AgencyId, ChildAlias, Email, ScopePeriod};
use cspr_platform::calendar::{OutsideCalendar, WorkingDayCalendar};

cspr_platform::named_enum! {
    /// The rapid review's decision.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    pub enum Decision {
        LocalCspr => "LOCAL_CSPR",
        NoLocalCspr => "NO_LOCAL_CSPR",
    }
}

cspr_platform::named_enum! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum PanelRole {
        Chair => "CHAIR",
        Member => "MEMBER",
    }
}

cspr_platform::named_enum! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum ParallelProcessKind {
        CriminalInvestigation => "CRIMINAL_INVESTIGATION",
        CoronerInquest => "CORONER_INQUEST",
        FamilyProceedings => "FAMILY_PROCEEDINGS",
        Other => "OTHER",
    }
}

cspr_platform::named_enum! {
    /// What the national Panel answered to a rapid review.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
    pub enum PanelResponseKind {
        Agrees => "AGREES",
        AsksForMore => "ASKS_FOR_MORE",
        NationalReview => "NATIONAL_REVIEW",
    }
}

/// The national Panel's response to a rapid review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PanelResponse {
    pub kind: PanelResponseKind,
    pub received_on: NaiveDate,
    pub note: String,
}

/// The rapid review as a record (stored as one document): its meeting, who contributed,
/// the learning so far, when it went to the national Panel and what the Panel answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RapidReview {
    pub meeting_on: NaiveDate,
    pub contributing_agencies: Vec<String>,
    pub learning: String,
    pub sent_to_panel_on: Option<NaiveDate>,
    pub panel_response: Option<PanelResponse>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub sent_on: NaiveDate,
    pub national_panel_reference: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RapidReviewDecision {
    pub decision: Decision,
    pub decided_on: NaiveDate,
    pub rationale: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PanelMember {
    pub id: Uuid,
    pub name: String,
    pub email: Email,
    pub organisation: String,
    pub role: PanelRole,
    pub independence_statement: String,
    pub appointed_at: DateTime<Utc>,
    /// How the member was found involved in the case after their appointment, if they were.
    pub found_involved: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reviewer {
    pub name: String,
    pub email: Email,
    pub subject: String,
    pub appointed_on: NaiveDate,
}

/// An agency in scope of the terms of reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agency {
    pub id: String,
    pub name: String,
    pub contact_email: String,
}

/// The terms of reference (stored as one document per version).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TermsOfReference {
    pub version: i32,
    pub scope_start: NaiveDate,
    pub scope_end: NaiveDate,
    pub key_lines_of_enquiry: Vec<String>,
    pub methodology: String,
    pub agencies_in_scope: Vec<Agency>,
    pub report_due_date: NaiveDate,
    pub set_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParallelProcess {
    pub id: Uuid,
    pub kind: ParallelProcessKind,
    pub description: String,
    pub started_on: NaiveDate,
    pub ended_on: Option<NaiveDate>,
}

/// A request of the partnership to the reviewer for information, in writing, and the
/// reviewer's answer: timestamped both ways, so the time a reviewer takes is on record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InformationRequest {
    pub id: Uuid,
    pub question: String,
    /// The `sub` of who asked.
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    pub respond_by: NaiveDate,
    /// Where the answer is announced, if anywhere.
    pub reply_to: Option<Email>,
    pub answer: Option<Answer>,
}

/// The reviewer's answer to an [`InformationRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub text: String,
    /// The `sub` of the reviewer who answered.
    pub answered_by: String,
    pub answered_at: DateTime<Utc>,
}

cspr_platform::named_enum! {
    /// Where an information request stands on a day.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum InformationRequestStatus {
        Open => "OPEN",
        Overdue => "OVERDUE",
        Answered => "ANSWERED",
        AnsweredLate => "ANSWERED_LATE",
    }
}

impl InformationRequest {
    /// Its status on `today`: open until the day asked for has passed, overdue after; once
    /// answered, late if the answer came after that day (by its UTC date).
    pub fn status(&self, today: NaiveDate) -> InformationRequestStatus {
        match &self.answer {
            Some(_) if self.answered_late() => InformationRequestStatus::AnsweredLate,
            Some(_) => InformationRequestStatus::Answered,
            None if today > self.respond_by => InformationRequestStatus::Overdue,
            None => InformationRequestStatus::Open,
        }
    }

    /// Answered, after the day asked for (by the answer's UTC date).
    pub fn answered_late(&self) -> bool {
        self.answer
            .as_ref()
            .is_some_and(|answer| answer.answered_at.date_naive() > self.respond_by)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recommendation {
    pub reference: String,
    pub text: String,
    /// The agencies (ids in the terms of reference) or `partnership` it is addressed to;
    /// empty in reports from before recommendations were addressed.
    #[serde(default)]
    pub addressed_to: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverviewReport {
    pub version: i32,
    /// The summary.
    pub findings: String,
    pub sections: ReportSections,
    pub recommendations: Vec<Recommendation>,
    pub submitted_at: DateTime<Utc>,
    pub approved_at: Option<DateTime<Utc>>,
    pub approved_by: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Publication {
    pub planned_on: Option<NaiveDate>,
    pub notice_due_by: Option<NaiveDate>,
    pub notice_sent_on: Option<NaiveDate>,
    /// Set once the outcome (published or not) is recorded.
    pub outcome_recorded_on: Option<NaiveDate>,
    pub published: bool,
    pub published_on: Option<NaiveDate>,
    pub location: String,
    pub not_published_justification: String,
}

cspr_platform::named_enum! {
    /// Where an agency's report stands, as learnt from the submissions service's events.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum AgencyReportStatus {
        Requested => "REQUESTED",
        Submitted => "SUBMITTED",
        Returned => "RETURNED",
        Accepted => "ACCEPTED",
        Waived => "WAIVED",
    }
}

impl AgencyReportStatus {
    /// Accepted or waived: no longer holding the review back.
    pub fn is_settled(self) -> bool {
        matches!(
            self,
            AgencyReportStatus::Accepted | AgencyReportStatus::Waived
        )
    }
}

/// A review, whole.
#[derive(Debug, Clone, PartialEq)]
pub struct Review {
    pub id: Uuid,
    pub partnership_id: String,
    pub reference: String,
    pub child_alias: String,
    pub local_authority: String,
    pub incident_date: NaiveDate,
    pub became_aware_on: NaiveDate,
    pub stage: Stage,
    pub notification: Option<Notification>,
    pub decision: Option<RapidReviewDecision>,
    /// The rapid review's record, once recorded.
    pub rapid_review: Option<RapidReview>,
    pub panel: Vec<PanelMember>,
    pub reviewer: Option<Reviewer>,
    pub terms_of_reference: Option<TermsOfReference>,
    pub parallel_processes: Vec<ParallelProcess>,
    /// The partnership's requests to the reviewer, oldest first.
    pub information_requests: Vec<InformationRequest>,
    pub overview_report: Option<OverviewReport>,
    /// The panel's comments on every version of the overview report, oldest first.
    pub overview_comments: Vec<OverviewComment>,
    pub publication: Publication,
    /// Agency id → status of its report; agencies in scope without one are outstanding.
    pub agency_report_statuses: BTreeMap<String, AgencyReportStatus>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The actions service made the review's action plan active (publication).
    pub action_plan_active: bool,
    /// Every action of the plan is verified or cancelled.
    pub action_plan_completed: bool,
}

/// What a command changed; each becomes an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Created,
    NotificationSent,
    DecisionRecorded,
    RapidReviewRecorded,
    PanelResponseRecorded,
    PanelMemberAppointed(Uuid),
    PanelMemberFoundInvolved(Uuid),
    ReviewerAppointed,
    TermsOfReferenceSet,
    StageChanged {
        from: Stage,
        to: Stage,
    },
    ParallelProcessStarted(Uuid),
    ParallelProcessEnded(Uuid),
    InformationRequested(Uuid),
    InformationRequestAnswered(Uuid),
    OverviewReportSubmitted,
    /// A panel member commented on a section of a version.
    OverviewCommented(Uuid),
    /// The reviewer answered a comment with the version just submitted.
    OverviewCommentAnswered(Uuid),
    OverviewReportApproved,
    PublicationScheduled,
    PrePublicationNoticeRecorded,
    Published,
    Closed(Stage),
    /// A panel meeting, as the command left it (meetings are kept beside the review).
    PanelMeeting(Box<PanelMeeting>, MeetingChange),
}

/// A command the review's state does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReviewError {
    #[error(transparent)]
    Stage(#[from] StageError),
    #[error("{action} is not possible while the review is at {}", .stage.words())]
    WrongStage { action: &'static str, stage: Stage },
    #[error("{0}")]
    Rule(String),
    /// A field-level problem only visible with the review's data (e.g. a date before
    /// another of the review's dates).
    #[error("{field}: {message}")]
    Field {
        field: &'static str,
        message: String,
    },
    #[error(transparent)]
    Calendar(#[from] OutsideCalendar),
    /// A document was changed by someone else since the version the command was made from.
    #[error("{what} {stale}")]
    Stale {
        what: &'static str,
        stale: cspr_platform::error::Stale,
    },
}

/// Refuses a command made from version `given` of `what` ("the terms of reference were")
/// now at `current` (0: none yet), when the caller said which.
pub fn require_current(
    what: &'static str,
    given: Option<i32>,
    current: i32,
) -> Result<(), ReviewError> {
    cspr_platform::error::require_current(given, current)
        .map_err(|stale| ReviewError::Stale { what, stale })
}

fn field(field: &'static str, message: impl Into<String>) -> ReviewError {
    ReviewError::Field {
        field,
        message: message.into(),
    }
}

/// Who a recommendation may be addressed to besides the agencies in scope.
pub const PARTNERSHIP_ADDRESSEE: &str = "partnership";

/// A version of the overview report as the reviewer submits it.
#[derive(Debug, Clone)]
pub struct ReportDraft {
    pub summary: String,
    pub sections: ReportSections,
    pub recommendations: Vec<Recommendation>,
    /// Answers to open comments on earlier versions: (comment id, answer).
    pub answers: Vec<(Uuid, String)>,
    /// The version the draft was made from (0: none), when the reviewer's client says.
    pub based_on_version: Option<i32>,
}

/// The validated input of CreateReview.
#[derive(Debug, Clone)]
pub struct NewReview {
    pub child_alias: ChildAlias,
    pub local_authority: String,
    pub incident_date: NaiveDate,
    pub became_aware_on: NaiveDate,
}

/// The validated input of AppointPanelMember.
#[derive(Debug, Clone)]
pub struct NewPanelMember {
    pub name: String,
    pub email: Email,
    pub organisation: String,
    pub role: PanelRole,
    pub independence_statement: String,
}

/// The validated input of SetTermsOfReference.
#[derive(Debug, Clone)]
pub struct NewTermsOfReference {
    pub scope: ScopePeriod,
    pub key_lines_of_enquiry: Vec<String>,
    pub methodology: String,
    pub agencies_in_scope: Vec<(AgencyId, String, Email)>,
    pub report_due_date: NaiveDate,
    /// The version of the terms this revision was made from (0: none), when the client
    /// says.
    pub based_on_version: Option<i32>,
}

/// The validated input of RecordPublication.
#[derive(Debug, Clone)]
pub enum PublicationOutcome {
    Published { on: NaiveDate, location: String },
    NotPublished { justification: String },
}

impl Review {
    /// Opens a review at NOTIFIED.
    pub fn open(
        id: Uuid,
        partnership_id: String,
        reference: String,
        input: NewReview,
        now: DateTime<Utc>,
    ) -> Result<(Self, Vec<Change>), ReviewError> {
        if input.became_aware_on < input.incident_date {
            return Err(field(
                "became_aware_on",
                "must be on or after the incident date",
            ));
        }
        let review = Self {
            id,
            partnership_id,
            reference,
            child_alias: input.child_alias.as_str().to_string(),
            local_authority: input.local_authority,
            incident_date: input.incident_date,
            became_aware_on: input.became_aware_on,
            stage: Stage::Notified,
            notification: None,
            decision: None,
            rapid_review: None,
            panel: Vec::new(),
            reviewer: None,
            terms_of_reference: None,
            parallel_processes: Vec::new(),
            information_requests: Vec::new(),
            overview_report: None,
            overview_comments: Vec::new(),
            publication: Publication::default(),
            agency_report_statuses: BTreeMap::new(),
            created_at: now,
            updated_at: now,
            action_plan_active: false,
            action_plan_completed: false,
        };
        Ok((review, vec![Change::Created]))
    }

    /// The facts the stage guards look at.
    pub fn stage_facts(&self) -> StageFacts {
        StageFacts {
            notification_sent: self.notification.is_some(),
            local_cspr_decided: self
                .decision
                .as_ref()
                .map(|decision| decision.decision == Decision::LocalCspr),
            terms_of_reference_set: self.terms_of_reference.is_some(),
            reviewer_appointed: self.reviewer.is_some(),
            panel_chair_appointed: self
                .panel
                .iter()
                .any(|member| member.role == PanelRole::Chair),
            outstanding_agency_reports: self.outstanding_agency_reports(),
            overview_report_submitted: self.overview_report.is_some(),
            overview_report_approved: self
                .overview_report
                .as_ref()
                .is_some_and(|report| report.approved_at.is_some()),
            publication_outcome_recorded: self.publication.outcome_recorded_on.is_some(),
            action_plan_active: self.action_plan_active,
            action_plan_completed: self.action_plan_completed,
        }
    }

    /// Agencies whose report is neither accepted nor waived: those in scope of the terms of
    /// reference first, then any requested by hand.
    pub fn outstanding_agency_reports(&self) -> Vec<String> {
        let settled = |agency_id: &str| {
            self.agency_report_statuses
                .get(agency_id)
                .is_some_and(|status| status.is_settled())
        };
        let mut outstanding: Vec<String> = self
            .terms_of_reference
            .iter()
            .flat_map(|terms| terms.agencies_in_scope.iter())
            .filter(|agency| !settled(&agency.id))
            .map(|agency| agency.id.clone())
            .collect();
        for (agency_id, status) in &self.agency_report_statuses {
            if !status.is_settled() && !outstanding.contains(agency_id) {
                outstanding.push(agency_id.clone());
            }
        }
        outstanding
    }

    fn move_to(&mut self, to: Stage, changes: &mut Vec<Change>) -> Result<(), ReviewError> {
        let from = self.stage;
        stage::transition(from, to, &self.stage_facts())?;
        self.stage = to;
        changes.push(Change::StageChanged { from, to });
        if to.is_terminal() {
            changes.push(Change::Closed(to));
        }
        Ok(())
    }

    fn require_stage(&self, action: &'static str, allowed: &[Stage]) -> Result<(), ReviewError> {
        if allowed.contains(&self.stage) {
            Ok(())
        } else {
            Err(ReviewError::WrongStage {
                action,
                stage: self.stage,
            })
        }
    }

    pub(crate) fn require_open(&self, action: &'static str) -> Result<(), ReviewError> {
        if self.stage.is_terminal() {
            Err(ReviewError::WrongStage {
                action,
                stage: self.stage,
            })
        } else {
            Ok(())
        }
    }

    pub fn record_notification_sent(
        &mut self,
        sent_on: NaiveDate,
        national_panel_reference: String,
    ) -> Result<Vec<Change>, ReviewError> {
        self.require_stage("recording the notification", &[Stage::Notified])?;
        if sent_on < self.became_aware_on {
            return Err(field(
                "sent_on",
                "must not be before the local authority became aware",
            ));
        }
        self.notification = Some(Notification {
            sent_on,
            national_panel_reference,
        });
        let mut changes = vec![Change::NotificationSent];
        self.move_to(Stage::RapidReview, &mut changes)?;
        Ok(changes)
    }

    pub fn record_decision(
        &mut self,
        decision: Decision,
        decided_on: NaiveDate,
        rationale: String,
    ) -> Result<Vec<Change>, ReviewError> {
        self.require_stage("recording the rapid review decision", &[Stage::RapidReview])?;
        if let Some(notification) = &self.notification
            && decided_on < notification.sent_on
        {
            return Err(field(
                "decided_on",
                "must not be before the notification was sent",
            ));
        }
        if decision == Decision::NoLocalCspr && rationale.is_empty() {
            return Err(field("rationale", "required when no local CSPR is held"));
        }
        self.decision = Some(RapidReviewDecision {
            decision,
            decided_on,
            rationale,
        });
        let mut changes = vec![Change::DecisionRecorded];
        let to = match decision {
            Decision::LocalCspr => Stage::Scoping,
            Decision::NoLocalCspr => Stage::NotProceeding,
        };
        self.move_to(to, &mut changes)?;
        Ok(changes)
    }

    /// Adds a panel member. `involved_practitioner` says whether the person is recorded as a
    /// practitioner involved in the case (the store looks it up).
    pub fn appoint_panel_member(
        &mut self,
        id: Uuid,
        member: NewPanelMember,
        declares_no_involvement: bool,
        involved_practitioner: bool,
        now: DateTime<Utc>,
    ) -> Result<Vec<Change>, ReviewError> {
        self.require_open("appointing a panel member")?;
        if !declares_no_involvement {
            return Err(ReviewError::Rule(
                "a panel member must declare they were not directly involved in the case".into(),
            ));
        }
        if involved_practitioner {
            return Err(ReviewError::Rule(format!(
                "{} is recorded as a practitioner involved in this case and cannot sit on its panel",
                member.email
            )));
        }
        let email = member.email.as_str().to_ascii_lowercase();
        if self
            .panel
            .iter()
            .any(|existing| existing.email.as_str().to_ascii_lowercase() == email)
        {
            return Err(ReviewError::Rule(format!(
                "{} is already on the panel",
                member.email
            )));
        }
        if member.role == PanelRole::Chair
            && self
                .panel
                .iter()
                .any(|existing| existing.role == PanelRole::Chair)
        {
            return Err(ReviewError::Rule("the panel already has a chair".into()));
        }
        self.panel.push(PanelMember {
            id,
            name: member.name,
            email: member.email,
            organisation: member.organisation,
            role: member.role,
            independence_statement: member.independence_statement,
            appointed_at: now,
            found_involved: None,
        });
        Ok(vec![Change::PanelMemberAppointed(id)])
    }

    /// Members of the panel found involved in the case after their appointment (`found`:
    /// member id and how): each flagged once, the first finding kept. Nothing on an ended
    /// review, whose panel no longer sits.
    pub fn flag_involved_panel_members(&mut self, found: &[(Uuid, String)]) -> Vec<Change> {
        if self.stage.is_terminal() {
            return Vec::new();
        }
        let mut changes = Vec::new();
        for (member_id, how) in found {
            if let Some(member) = self
                .panel
                .iter_mut()
                .find(|member| member.id == *member_id && member.found_involved.is_none())
            {
                member.found_involved = Some(how.clone());
                changes.push(Change::PanelMemberFoundInvolved(member.id));
            }
        }
        changes
    }

    pub fn appoint_reviewer(&mut self, reviewer: Reviewer) -> Result<Vec<Change>, ReviewError> {
        self.require_open("appointing the reviewer")?;
        if !self.stage.is_at_least(Stage::Scoping) {
            return Err(ReviewError::WrongStage {
                action: "appointing the reviewer",
                stage: self.stage,
            });
        }
        if let Some(decision) = &self.decision
            && reviewer.appointed_on < decision.decided_on
        {
            return Err(field(
                "appointed_on",
                "must not be before the decision to hold the review",
            ));
        }
        self.reviewer = Some(reviewer);
        Ok(vec![Change::ReviewerAppointed])
    }

    pub fn set_terms_of_reference(
        &mut self,
        terms: NewTermsOfReference,
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<Vec<Change>, ReviewError> {
        self.require_stage(
            "setting the terms of reference",
            &[
                Stage::Scoping,
                Stage::InformationGathering,
                Stage::Engagement,
            ],
        )?;
        require_current(
            "the terms of reference were",
            terms.based_on_version,
            self.terms_of_reference
                .as_ref()
                .map_or(0, |current| current.version),
        )?;
        if terms.report_due_date <= today {
            return Err(field("report_due_date", "must be in the future"));
        }
        if terms.scope.start > self.incident_date {
            return Err(field(
                "scope_start",
                "must be on or before the incident date",
            ));
        }
        let version = self
            .terms_of_reference
            .as_ref()
            .map_or(1, |current| current.version + 1);
        self.terms_of_reference = Some(TermsOfReference {
            version,
            scope_start: terms.scope.start,
            scope_end: terms.scope.end,
            key_lines_of_enquiry: terms.key_lines_of_enquiry,
            methodology: terms.methodology,
            agencies_in_scope: terms
                .agencies_in_scope
                .into_iter()
                .map(|(id, name, email)| Agency {
                    id: id.as_str().to_string(),
                    name,
                    contact_email: email.as_str().to_string(),
                })
                .collect(),
            report_due_date: terms.report_due_date,
            set_at: now,
        });
        Ok(vec![Change::TermsOfReferenceSet])
    }

    /// AdvanceStage: only to the next stage, only when its guard holds. Asking for the
    /// current stage changes nothing (a retry of a successful call).
    pub fn advance(&mut self, to: Stage) -> Result<Vec<Change>, ReviewError> {
        if to == self.stage {
            return Ok(Vec::new());
        }
        let mut changes = Vec::new();
        self.move_to(to, &mut changes)?;
        Ok(changes)
    }

    pub fn record_parallel_process(
        &mut self,
        process: ParallelProcess,
        today: NaiveDate,
    ) -> Result<Vec<Change>, ReviewError> {
        self.require_open("recording a parallel process")?;
        if process.started_on > today {
            return Err(field("started_on", "must not be in the future"));
        }
        let id = process.id;
        self.parallel_processes.push(process);
        Ok(vec![Change::ParallelProcessStarted(id)])
    }

    pub fn end_parallel_process(
        &mut self,
        id: Uuid,
        ended_on: NaiveDate,
        today: NaiveDate,
    ) -> Result<Vec<Change>, ReviewError> {
        self.require_open("ending a parallel process")?;
        let process = self
            .parallel_processes
            .iter_mut()
            .find(|process| process.id == id)
            .ok_or_else(|| {
                field(
                    "parallel_process_id",
                    "no such parallel process on this review",
                )
            })?;
        if process.ended_on.is_some() {
            return Err(ReviewError::Rule(
                "this parallel process has already ended".into(),
            ));
        }
        if ended_on < process.started_on {
            return Err(field("ended_on", "must not be before it started"));
        }
        if ended_on > today {
            return Err(field("ended_on", "must not be in the future"));
        }
        process.ended_on = Some(ended_on);
        Ok(vec![Change::ParallelProcessEnded(id)])
    }

    /// The rapid review's record, from RAPID_REVIEW on and after the decision too (a review
    /// decided NOT_PROCEEDING still goes to the national Panel), until the review is closed.
    fn require_rapid_review_stage(&self, action: &'static str) -> Result<(), ReviewError> {
        if matches!(self.stage, Stage::Notified | Stage::Closed) {
            return Err(ReviewError::WrongStage {
                action,
                stage: self.stage,
            });
        }
        Ok(())
    }

    /// Records (or replaces) the rapid review's record; a Panel response already recorded
    /// is kept, so the day it was sent must stay.
    pub fn record_rapid_review(
        &mut self,
        mut record: RapidReview,
        today: NaiveDate,
    ) -> Result<Vec<Change>, ReviewError> {
        self.require_rapid_review_stage("recording the rapid review")?;
        if let Some(notification) = &self.notification
            && record.meeting_on < notification.sent_on
        {
            return Err(field(
                "meeting_on",
                format!(
                    "must not be before the notification was sent ({})",
                    notification.sent_on.format("%-d %B %Y")
                ),
            ));
        }
        if record.meeting_on > today {
            return Err(field("meeting_on", "must not be in the future"));
        }
        if let Some(sent_on) = record.sent_to_panel_on {
            if sent_on < record.meeting_on {
                return Err(field(
                    "sent_to_panel_on",
                    "must not be before the rapid review meeting",
                ));
            }
            if sent_on > today {
                return Err(field("sent_to_panel_on", "must not be in the future"));
            }
        }
        let kept = self
            .rapid_review
            .as_ref()
            .and_then(|existing| existing.panel_response.clone());
        if let Some(response) = &kept {
            match record.sent_to_panel_on {
                None => {
                    return Err(ReviewError::Rule(
                        "the national Panel's response is recorded, so the day the rapid review was sent to it is needed".into(),
                    ));
                }
                Some(sent_on) if sent_on > response.received_on => {
                    return Err(field(
                        "sent_to_panel_on",
                        "must not be after the national Panel's response was received",
                    ));
                }
                Some(_) => {}
            }
        }
        record.panel_response = kept;
        self.rapid_review = Some(record);
        Ok(vec![Change::RapidReviewRecorded])
    }

    /// Records (or replaces) the national Panel's response to the rapid review.
    pub fn record_panel_response(
        &mut self,
        response: PanelResponse,
        today: NaiveDate,
    ) -> Result<Vec<Change>, ReviewError> {
        self.require_rapid_review_stage("recording the national Panel's response")?;
        let Some(sent_on) = self
            .rapid_review
            .as_ref()
            .and_then(|record| record.sent_to_panel_on)
        else {
            return Err(ReviewError::Rule(
                "the rapid review is not recorded as sent to the national Panel yet: record the day it was sent first".into(),
            ));
        };
        if response.received_on < sent_on {
            return Err(field(
                "received_on",
                "must not be before the rapid review was sent to the national Panel",
            ));
        }
        if response.received_on > today {
            return Err(field("received_on", "must not be in the future"));
        }
        if let Some(record) = &mut self.rapid_review {
            record.panel_response = Some(response);
        }
        Ok(vec![Change::PanelResponseRecorded])
    }

    /// The partnership asks the appointed reviewer for information, to be answered by
    /// `request.respond_by` (not before `today`).
    pub fn request_information(
        &mut self,
        request: InformationRequest,
        today: NaiveDate,
    ) -> Result<Vec<Change>, ReviewError> {
        self.require_open("asking the reviewer for information")?;
        if self.reviewer.is_none() {
            return Err(ReviewError::Rule(
                "no reviewer is appointed to this review yet: appoint one before asking them for information".into(),
            ));
        }
        if request.respond_by < today {
            return Err(field("respond_by", "must not be before today"));
        }
        let id = request.id;
        self.information_requests.push(request);
        Ok(vec![Change::InformationRequested(id)])
    }

    /// The appointed reviewer answers request `id`, once.
    pub fn answer_information_request(
        &mut self,
        id: Uuid,
        answer: Answer,
    ) -> Result<Vec<Change>, ReviewError> {
        self.require_open("answering an information request")?;
        let request = self
            .information_requests
            .iter_mut()
            .find(|request| request.id == id)
            .ok_or_else(|| {
                field(
                    "information_request_id",
                    "no such information request on this review",
                )
            })?;
        if let Some(given) = &request.answer {
            return Err(ReviewError::Rule(format!(
                "this request was already answered on {}",
                given.answered_at.format("%-d %B %Y at %H:%M UTC")
            )));
        }
        request.answer = Some(answer);
        Ok(vec![Change::InformationRequestAnswered(id)])
    }

    /// The reviewer submits a version of the overview report: its sections must give
    /// findings on every key line of enquiry of the terms of reference, its recommendations
    /// be addressed to agencies in scope (or the partnership), and `answers` answer open
    /// comments on earlier versions.
    pub fn submit_overview_report(
        &mut self,
        draft: ReportDraft,
        now: DateTime<Utc>,
    ) -> Result<Vec<Change>, ReviewError> {
        if !self.stage.is_terminal() && !self.stage.is_at_least(Stage::OverviewDrafting) {
            // What the reviewer can act on: the reports still awaited, or the move to drafting.
            let outstanding = self.outstanding_agency_reports();
            return Err(ReviewError::Rule(if outstanding.is_empty() {
                format!(
                    "the overview report can be submitted once the review has moved on to overview drafting (it is at {})",
                    self.stage.words()
                )
            } else {
                format!(
                    "the overview report can be submitted once every agency report is accepted or waived; still outstanding: {}",
                    outstanding.join(", ")
                )
            }));
        }
        self.require_stage(
            "submitting the overview report",
            &[Stage::OverviewDrafting, Stage::PanelApproval],
        )?;
        require_current(
            "the overview report was",
            draft.based_on_version,
            self.overview_report
                .as_ref()
                .map_or(0, |report| report.version),
        )?;
        let lines = self
            .terms_of_reference
            .as_ref()
            .map(|terms| terms.key_lines_of_enquiry.clone())
            .unwrap_or_default();
        let sections = draft.sections.answering(&lines)?;
        let agencies: Vec<&str> = self
            .terms_of_reference
            .iter()
            .flat_map(|terms| &terms.agencies_in_scope)
            .map(|agency| agency.id.as_str())
            .collect();
        for (index, recommendation) in draft.recommendations.iter().enumerate() {
            if let Some(unknown) = recommendation.addressed_to.iter().find(|addressee| {
                addressee.as_str() != PARTNERSHIP_ADDRESSEE
                    && !agencies.contains(&addressee.as_str())
            }) {
                return Err(field(
                    "recommendations",
                    format!(
                        "[{index}]: {unknown:?} is neither an agency in the terms of reference ({}) nor \"{PARTNERSHIP_ADDRESSEE}\"",
                        agencies.join(", ")
                    ),
                ));
            }
        }
        let version = self
            .overview_report
            .as_ref()
            .map_or(1, |report| report.version + 1);
        let mut answered = Vec::with_capacity(draft.answers.len());
        for (index, (comment_id, text)) in draft.answers.into_iter().enumerate() {
            let comment = self
                .overview_comments
                .iter_mut()
                .find(|comment| comment.id == comment_id)
                .ok_or_else(|| {
                    field(
                        "answers",
                        format!("[{index}]: no comment {comment_id} on this review's report"),
                    )
                })?;
            if let Some(answer) = &comment.answer {
                return Err(field(
                    "answers",
                    format!(
                        "[{index}]: comment {comment_id} was answered in version {}",
                        answer.version
                    ),
                ));
            }
            comment.answer = Some(CommentAnswer { text, version });
            answered.push(Change::OverviewCommentAnswered(comment_id));
        }
        self.overview_report = Some(OverviewReport {
            version,
            findings: draft.summary,
            sections,
            recommendations: draft.recommendations,
            submitted_at: now,
            approved_at: None,
            approved_by: None,
        });
        let mut changes = vec![Change::OverviewReportSubmitted];
        changes.extend(answered);
        if self.stage == Stage::OverviewDrafting {
            self.move_to(Stage::PanelApproval, &mut changes)?;
        }
        Ok(changes)
    }

    /// A panel member comments on `section` of `report` (one of this review's versions)
    /// while the panel considers the report.
    pub fn comment_on_overview_report(
        &mut self,
        report: &OverviewReport,
        comment: OverviewComment,
    ) -> Result<Vec<Change>, ReviewError> {
        self.require_stage("commenting on the overview report", &[Stage::PanelApproval])?;
        if !report.sections.has_section(&comment.section) {
            return Err(field(
                "section",
                format!(
                    "version {} has no section {:?}: one of {}, or enquiry:1 to enquiry:{}",
                    report.version,
                    comment.section,
                    SECTIONS.join(", "),
                    report.sections.enquiries.len()
                ),
            ));
        }
        let id = comment.id;
        self.overview_comments.push(comment);
        Ok(vec![Change::OverviewCommented(id)])
    }

    pub fn approve_overview_report(
        &mut self,
        version: i32,
        approved_by: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<Change>, ReviewError> {
        self.require_stage("approving the overview report", &[Stage::PanelApproval])?;
        let report = self
            .overview_report
            .as_mut()
            .ok_or_else(|| ReviewError::Rule("no overview report submitted".into()))?;
        if version != report.version {
            return Err(ReviewError::Rule(format!(
                "version {version} is not the latest overview report (version {})",
                report.version
            )));
        }
        report.approved_at = Some(now);
        report.approved_by = Some(approved_by.to_string());
        let mut changes = vec![Change::OverviewReportApproved];
        self.move_to(Stage::PrePublication, &mut changes)?;
        Ok(changes)
    }

    pub fn schedule_publication(
        &mut self,
        planned_on: NaiveDate,
        rules: &DeadlineRules,
        calendar: &WorkingDayCalendar,
        today: NaiveDate,
    ) -> Result<Vec<Change>, ReviewError> {
        self.require_stage("scheduling publication", &[Stage::PrePublication])?;
        let notice_due_by = deadlines::pre_publication_notice_due(planned_on, rules, calendar)?;
        match self.publication.notice_sent_on {
            Some(sent_on) if sent_on > notice_due_by => {
                return Err(ReviewError::Rule(format!(
                    "the pre-publication notice was sent on {sent_on}, fewer than {} working days before {planned_on}; plan publication on or after {}",
                    rules.pre_publication_working_days,
                    calendar.add_working_days(sent_on, rules.pre_publication_working_days)?
                )));
            }
            None if notice_due_by < today => {
                return Err(ReviewError::Rule(format!(
                    "the pre-publication notice must be sent at least {} working days before publication, by {notice_due_by}, which has passed; the earliest possible publication date is {}",
                    rules.pre_publication_working_days,
                    calendar.add_working_days(today, rules.pre_publication_working_days)?
                )));
            }
            _ => {}
        }
        self.publication.planned_on = Some(planned_on);
        self.publication.notice_due_by = Some(notice_due_by);
        Ok(vec![Change::PublicationScheduled])
    }

    pub fn record_pre_publication_notice(
        &mut self,
        sent_on: NaiveDate,
    ) -> Result<Vec<Change>, ReviewError> {
        self.require_stage(
            "recording the pre-publication notice",
            &[Stage::PrePublication],
        )?;
        if let Some(report) = &self.overview_report
            && let Some(approved_at) = report.approved_at
            && sent_on < approved_at.date_naive()
        {
            return Err(field(
                "sent_on",
                "must not be before the overview report was approved",
            ));
        }
        self.publication.notice_sent_on = Some(sent_on);
        Ok(vec![Change::PrePublicationNoticeRecorded])
    }

    pub fn record_publication(
        &mut self,
        outcome: PublicationOutcome,
        rules: &DeadlineRules,
        calendar: &WorkingDayCalendar,
        today: NaiveDate,
    ) -> Result<Vec<Change>, ReviewError> {
        self.require_stage("recording publication", &[Stage::PrePublication])?;
        let Some(notice_sent_on) = self.publication.notice_sent_on else {
            return Err(ReviewError::Rule(
                "the pre-publication notice to the national Panel, Secretary of State and Ofsted is not recorded".into(),
            ));
        };
        match outcome {
            PublicationOutcome::Published { on, location } => {
                let notice_days = calendar.working_days_between(notice_sent_on, on)?;
                if notice_days < i64::from(rules.pre_publication_working_days) {
                    return Err(ReviewError::Rule(format!(
                        "publication on {on} is only {notice_days} working days after the pre-publication notice ({notice_sent_on}); at least {} are required",
                        rules.pre_publication_working_days
                    )));
                }
                self.publication.published = true;
                self.publication.published_on = Some(on);
                self.publication.location = location;
                self.publication.outcome_recorded_on = Some(on);
            }
            PublicationOutcome::NotPublished { justification } => {
                self.publication.published = false;
                self.publication.not_published_justification = justification;
                self.publication.outcome_recorded_on = Some(today);
            }
        }
        let mut changes = vec![Change::Published];
        self.move_to(Stage::Published, &mut changes)?;
        Ok(changes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::values::ChildAlias;
    use chrono::TimeZone;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("test date")
    }

    fn at(text: &str) -> DateTime<Utc> {
        let naive = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").expect("time");
        Utc.from_utc_datetime(&naive)
    }

    fn review() -> Review {
        let input = NewReview {
            child_alias: ChildAlias::parse("Child Q").expect("alias"),
            local_authority: "Southvale Council".into(),
            incident_date: date("2026-03-09"),
            became_aware_on: date("2026-03-10"),
        };
        Review::open(
            Uuid::nil(),
            "southvale".into(),
            "SOUTHVALE-2026-001".into(),
            input,
            at("2026-03-10 09:00"),
        )
        .expect("opens")
        .0
    }

    fn request(respond_by: &str) -> InformationRequest {
        InformationRequest {
            id: Uuid::now_v7(),
            question: "When will the draft be ready?".into(),
            requested_by: "bu-lead".into(),
            requested_at: at("2026-06-01 10:00"),
            respond_by: date(respond_by),
            reply_to: None,
            answer: None,
        }
    }

    fn answer(on: &str) -> Answer {
        Answer {
            text: "By the end of the month.".into(),
            answered_by: "isla".into(),
            answered_at: at(on),
        }
    }

    #[test]
    fn information_is_asked_of_an_appointed_reviewer_by_a_day_not_past() {
        let mut review = review();
        let today = date("2026-06-01");
        let refused = review.request_information(request("2026-06-12"), today);
        assert!(
            matches!(&refused, Err(ReviewError::Rule(message)) if message.starts_with("no reviewer is appointed")),
            "{refused:?}"
        );
        review.reviewer = Some(Reviewer {
            name: "Isla Oakes".into(),
            email: Email::parse("isla@reviewers.example.org").expect("email"),
            subject: "isla".into(),
            appointed_on: date("2026-04-01"),
        });
        let past = review.request_information(request("2026-05-31"), today);
        assert!(
            matches!(
                past,
                Err(ReviewError::Field {
                    field: "respond_by",
                    ..
                })
            ),
            "{past:?}"
        );
        let asked = request("2026-06-12");
        let id = asked.id;
        assert_eq!(
            review.request_information(asked, today),
            Ok(vec![Change::InformationRequested(id)])
        );
        assert_eq!(review.information_requests.len(), 1);
    }

    fn rapid_review(meeting: &str, sent: Option<&str>) -> RapidReview {
        RapidReview {
            meeting_on: date(meeting),
            contributing_agencies: vec!["Southvale Police".into(), "Southvale Health".into()],
            learning: "Information about neglect was not shared.".into(),
            sent_to_panel_on: sent.map(date),
            panel_response: None,
        }
    }

    #[test]
    fn the_rapid_review_is_recorded_in_order_and_the_panel_responds_after_it_was_sent() {
        let mut review = review();
        let today = date("2026-03-30");
        let early = review.record_rapid_review(rapid_review("2026-03-20", None), today);
        assert!(
            matches!(early, Err(ReviewError::WrongStage { .. })),
            "{early:?}"
        );
        review.stage = Stage::RapidReview;
        review.notification = Some(Notification {
            sent_on: date("2026-03-12"),
            national_panel_reference: String::new(),
        });
        let before = review.record_rapid_review(rapid_review("2026-03-11", None), today);
        assert_eq!(
            before,
            Err(ReviewError::Field {
                field: "meeting_on",
                message: "must not be before the notification was sent (12 March 2026)".into()
            })
        );
        let sent_first =
            review.record_rapid_review(rapid_review("2026-03-20", Some("2026-03-19")), today);
        assert!(
            matches!(
                sent_first,
                Err(ReviewError::Field {
                    field: "sent_to_panel_on",
                    ..
                })
            ),
            "{sent_first:?}"
        );
        review
            .record_rapid_review(rapid_review("2026-03-20", None), today)
            .expect("recorded");
        let response = PanelResponse {
            kind: PanelResponseKind::Agrees,
            received_on: date("2026-03-27"),
            note: String::new(),
        };
        let unsent = review.record_panel_response(response.clone(), today);
        assert!(matches!(unsent, Err(ReviewError::Rule(_))), "{unsent:?}");
        review
            .record_rapid_review(rapid_review("2026-03-20", Some("2026-03-24")), today)
            .expect("sent");
        assert_eq!(
            review.record_panel_response(response.clone(), today),
            Ok(vec![Change::PanelResponseRecorded])
        );
        // Recording the rapid review again keeps the response, and its order.
        review
            .record_rapid_review(rapid_review("2026-03-21", Some("2026-03-25")), today)
            .expect("replaced");
        assert_eq!(
            review
                .rapid_review
                .as_ref()
                .and_then(|record| record.panel_response.clone()),
            Some(response)
        );
        let unsent_now = review.record_rapid_review(rapid_review("2026-03-21", None), today);
        assert!(
            matches!(unsent_now, Err(ReviewError::Rule(_))),
            "{unsent_now:?}"
        );
        let after =
            review.record_rapid_review(rapid_review("2026-03-21", Some("2026-03-28")), today);
        assert!(matches!(after, Err(ReviewError::Field { .. })), "{after:?}");
        // A review decided NOT_PROCEEDING still records the Panel's answer; a closed one not.
        review.stage = Stage::NotProceeding;
        assert!(
            review
                .record_rapid_review(rapid_review("2026-03-21", Some("2026-03-25")), today)
                .is_ok()
        );
        review.stage = Stage::Closed;
        assert!(
            review
                .record_rapid_review(rapid_review("2026-03-21", Some("2026-03-25")), today)
                .is_err()
        );
    }

    #[test]
    fn a_request_is_answered_once_and_its_status_follows_the_day_asked_for() {
        let mut review = review();
        review.reviewer = Some(Reviewer {
            name: "Isla Oakes".into(),
            email: Email::parse("isla@reviewers.example.org").expect("email"),
            subject: "isla".into(),
            appointed_on: date("2026-04-01"),
        });
        let asked = request("2026-06-12");
        let id = asked.id;
        review
            .request_information(asked, date("2026-06-01"))
            .expect("asked");
        let open = &review.information_requests[0];
        assert_eq!(
            open.status(date("2026-06-12")),
            InformationRequestStatus::Open
        );
        assert_eq!(
            open.status(date("2026-06-13")),
            InformationRequestStatus::Overdue
        );

        let unknown = review.answer_information_request(Uuid::nil(), answer("2026-06-10 12:00"));
        assert!(
            matches!(
                unknown,
                Err(ReviewError::Field {
                    field: "information_request_id",
                    ..
                })
            ),
            "{unknown:?}"
        );
        assert_eq!(
            review.answer_information_request(id, answer("2026-06-13 08:30")),
            Ok(vec![Change::InformationRequestAnswered(id)])
        );
        let answered = &review.information_requests[0];
        assert_eq!(
            answered.status(date("2026-06-20")),
            InformationRequestStatus::AnsweredLate
        );
        let again = review.answer_information_request(id, answer("2026-06-14 08:30"));
        assert_eq!(
            again,
            Err(ReviewError::Rule(
                "this request was already answered on 13 June 2026 at 08:30 UTC".into()
            ))
        );

        let mut on_time = request("2026-06-12");
        on_time.answer = Some(answer("2026-06-12 23:59"));
        assert_eq!(
            on_time.status(date("2026-07-01")),
            InformationRequestStatus::Answered
        );
    }
}
