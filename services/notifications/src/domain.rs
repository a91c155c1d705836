//! What to send, to whom, and when to try again — free of I/O.
//!
//! [`plan`] turns one event into the emails it causes (template, recipient, the facts the
//! template needs, a panel meeting's calendar entry); [`Templates`] renders them (subject,
//! plain text, HTML) from the files in `templates/`; [`RetryPolicy`] spaces out attempts.

use std::time::Duration;

use chrono::{Datelike, NaiveDate};
use cspr_proto::events::v1::{Event, event::Body};
use cspr_proto::google::r#type::Date;
use cspr_proto::registry::v1::{DeadlineKind, PanelRole};
use serde_json::{Value, json};

use crate::calendar::{Attendee, Meeting, Method};

/// Every email the service sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Template {
    ReportRequested,
    ReportDueSoon,
    ReportOverdue,
    ReportReturned,
    PanelMemberAppointed,
    ReviewerAppointed,
    DeadlineAtRisk,
    DeadlineMissed,
    ConversationInvitation,
    LearningEventInvitation,
    FamilyContactRequest,
    PublicationConsultation,
    ActionAssigned,
    ActionDueSoon,
    ActionOverdue,
    InformationRequested,
    InformationAnswered,
    InformationOverdue,
    OverviewCommented,
    PanelMemberFoundInvolved,
    PanelMeetingInvitation,
    PanelMeetingCancelled,
}

impl Template {
    pub const ALL: [Template; 22] = [
        Template::ReportRequested,
        Template::ReportDueSoon,
        Template::ReportOverdue,
        Template::ReportReturned,
        Template::PanelMemberAppointed,
        Template::ReviewerAppointed,
        Template::DeadlineAtRisk,
        Template::DeadlineMissed,
        Template::ConversationInvitation,
        Template::LearningEventInvitation,
        Template::FamilyContactRequest,
        Template::PublicationConsultation,
        Template::ActionAssigned,
        Template::ActionDueSoon,
        Template::ActionOverdue,
        Template::InformationRequested,
        Template::InformationAnswered,
        Template::InformationOverdue,
        Template::OverviewCommented,
        Template::PanelMemberFoundInvolved,
        Template::PanelMeetingInvitation,
        Template::PanelMeetingCancelled,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Template::ReportRequested => "report_requested",
            Template::ReportDueSoon => "report_due_soon",
            Template::ReportOverdue => "report_overdue",
            Template::ReportReturned => "report_returned",
            Template::PanelMemberAppointed => "panel_member_appointed",
            Template::ReviewerAppointed => "reviewer_appointed",
            Template::DeadlineAtRisk => "deadline_at_risk",
            Template::DeadlineMissed => "deadline_missed",
            Template::ConversationInvitation => "conversation_invitation",
            Template::LearningEventInvitation => "learning_event_invitation",
            Template::FamilyContactRequest => "family_contact_request",
            Template::PublicationConsultation => "publication_consultation",
            Template::ActionAssigned => "action_assigned",
            Template::ActionDueSoon => "action_due_soon",
            Template::ActionOverdue => "action_overdue",
            Template::InformationRequested => "information_requested",
            Template::InformationAnswered => "information_answered",
            Template::InformationOverdue => "information_overdue",
            Template::OverviewCommented => "overview_commented",
            Template::PanelMemberFoundInvolved => "panel_member_found_involved",
            Template::PanelMeetingInvitation => "panel_meeting_invitation",
            Template::PanelMeetingCancelled => "panel_meeting_cancelled",
        }
    }

    /// The plain-text file: first line the subject, a blank line, then the body.
    fn text_source(self) -> &'static str {
        match self {
            Template::ReportRequested => include_str!("../templates/report_requested.txt"),
            Template::ReportDueSoon => include_str!("../templates/report_due_soon.txt"),
            Template::ReportOverdue => include_str!("../templates/report_overdue.txt"),
            Template::ReportReturned => include_str!("../templates/report_returned.txt"),
            Template::PanelMemberAppointed => {
                include_str!("../templates/panel_member_appointed.txt")
            }
            Template::ReviewerAppointed => include_str!("../templates/reviewer_appointed.txt"),
            Template::DeadlineAtRisk => include_str!("../templates/deadline_at_risk.txt"),
            Template::DeadlineMissed => include_str!("../templates/deadline_missed.txt"),
            Template::ConversationInvitation => {
                include_str!("../templates/conversation_invitation.txt")
            }
            Template::LearningEventInvitation => {
                include_str!("../templates/learning_event_invitation.txt")
            }
            Template::FamilyContactRequest => {
                include_str!("../templates/family_contact_request.txt")
            }
            Template::PublicationConsultation => {
                include_str!("../templates/publication_consultation.txt")
            }
            Template::ActionAssigned => include_str!("../templates/action_assigned.txt"),
            Template::ActionDueSoon => include_str!("../templates/action_due_soon.txt"),
            Template::ActionOverdue => include_str!("../templates/action_overdue.txt"),
            Template::InformationRequested => {
                include_str!("../templates/information_requested.txt")
            }
            Template::InformationAnswered => include_str!("../templates/information_answered.txt"),
            Template::InformationOverdue => include_str!("../templates/information_overdue.txt"),
            Template::OverviewCommented => include_str!("../templates/overview_commented.txt"),
            Template::PanelMemberFoundInvolved => {
                include_str!("../templates/panel_member_found_involved.txt")
            }
            Template::PanelMeetingInvitation => {
                include_str!("../templates/panel_meeting_invitation.txt")
            }
            Template::PanelMeetingCancelled => {
                include_str!("../templates/panel_meeting_cancelled.txt")
            }
        }
    }

    fn html_source(self) -> &'static str {
        match self {
            Template::ReportRequested => include_str!("../templates/report_requested.html"),
            Template::ReportDueSoon => include_str!("../templates/report_due_soon.html"),
            Template::ReportOverdue => include_str!("../templates/report_overdue.html"),
            Template::ReportReturned => include_str!("../templates/report_returned.html"),
            Template::PanelMemberAppointed => {
                include_str!("../templates/panel_member_appointed.html")
            }
            Template::ReviewerAppointed => include_str!("../templates/reviewer_appointed.html"),
            Template::DeadlineAtRisk => include_str!("../templates/deadline_at_risk.html"),
            Template::DeadlineMissed => include_str!("../templates/deadline_missed.html"),
            Template::ConversationInvitation => {
                include_str!("../templates/conversation_invitation.html")
            }
            Template::LearningEventInvitation => {
                include_str!("../templates/learning_event_invitation.html")
            }
            Template::FamilyContactRequest => {
                include_str!("../templates/family_contact_request.html")
            }
            Template::PublicationConsultation => {
                include_str!("../templates/publication_consultation.html")
            }
            Template::ActionAssigned => include_str!("../templates/action_assigned.html"),
            Template::ActionDueSoon => include_str!("../templates/action_due_soon.html"),
            Template::ActionOverdue => include_str!("../templates/action_overdue.html"),
            Template::InformationRequested => {
                include_str!("../templates/information_requested.html")
            }
            Template::InformationAnswered => {
                include_str!("../templates/information_answered.html")
            }
            Template::InformationOverdue => include_str!("../templates/information_overdue.html"),
            Template::OverviewCommented => include_str!("../templates/overview_commented.html"),
            Template::PanelMemberFoundInvolved => {
                include_str!("../templates/panel_member_found_involved.html")
            }
            Template::PanelMeetingInvitation => {
                include_str!("../templates/panel_meeting_invitation.html")
            }
            Template::PanelMeetingCancelled => {
                include_str!("../templates/panel_meeting_cancelled.html")
            }
        }
    }
}

/// One email an event causes.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedEmail {
    pub template: Template,
    /// The recipient's work address, from the event (or the review's projection).
    pub recipient: String,
    /// The facts the template shows.
    pub facts: Value,
    /// A panel meeting's calendar entry to send with it (the same for every invitee).
    pub calendar: Option<Meeting>,
}

/// The chair of a review's panel, as learnt from earlier events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chair {
    pub name: String,
    pub email: String,
}

/// "Friday 1 May 2026", as people read dates in letters.
pub fn long_date(date: NaiveDate) -> String {
    date.format("%A %-d %B %Y").to_string()
}

fn date_text(date: &Option<Date>) -> String {
    date.as_ref()
        .and_then(|date| {
            NaiveDate::from_ymd_opt(
                date.year,
                u32::try_from(date.month).ok()?,
                u32::try_from(date.day).ok()?,
            )
        })
        .map(long_date)
        .unwrap_or_else(|| "(not set)".to_string())
}

/// An event's time as an instant (to the second), if it has a valid one.
fn instant(timestamp: &Option<prost_types::Timestamp>) -> Option<chrono::DateTime<chrono::Utc>> {
    timestamp
        .as_ref()
        .and_then(|timestamp| chrono::DateTime::from_timestamp(timestamp.seconds, 0))
}

/// "Tuesday 12 May 2026 at 10:00" (UK time), for meetings.
fn when_text(timestamp: &Option<prost_types::Timestamp>) -> String {
    match instant(timestamp) {
        Some(instant) => {
            let local = uk_time(instant);
            format!("{} at {}", long_date(local.date()), local.format("%H:%M"))
        }
        None => "(to be confirmed)".to_string(),
    }
}

/// When a meeting that starts at `start` ends: "12:30" (UK time) on the same day, else as
/// [`when_text`].
fn until_text(
    start: &Option<prost_types::Timestamp>,
    end: &Option<prost_types::Timestamp>,
) -> String {
    match (instant(start), instant(end)) {
        (Some(start), Some(end)) if uk_time(start).date() == uk_time(end).date() => {
            uk_time(end).format("%H:%M").to_string()
        }
        _ => when_text(end),
    }
}

/// The UK clock time of `instant`.
fn uk_time(instant: chrono::DateTime<chrono::Utc>) -> chrono::NaiveDateTime {
    // Meetings are in England: show UK clock time (BST from the last Sunday of March to the
    // last Sunday of October, 01:00 UTC).
    let year = instant.year();
    let last_sunday = |month: u32| {
        let last_day = NaiveDate::from_ymd_opt(year, month, 31).unwrap_or_default();
        last_day - chrono::Days::new(u64::from(last_day.weekday().num_days_from_sunday()))
    };
    let summer_start = last_sunday(3)
        .and_hms_opt(1, 0, 0)
        .unwrap_or_default()
        .and_utc();
    let summer_end = last_sunday(10)
        .and_hms_opt(1, 0, 0)
        .unwrap_or_default()
        .and_utc();
    let offset_hours = if instant >= summer_start && instant < summer_end {
        1
    } else {
        0
    };
    instant.naive_utc() + chrono::Duration::hours(offset_hours)
}

/// What the panel meeting events both tell.
struct PanelMeetingFacts<'a> {
    meeting_id: &'a str,
    review_reference: String,
    start_time: &'a Option<prost_types::Timestamp>,
    end_time: &'a Option<prost_types::Timestamp>,
    location: &'a str,
    sequence: i32,
    invitees: &'a [cspr_proto::events::v1::MeetingInvitee],
}

impl PanelMeetingFacts<'_> {
    /// The calendar entry's content, when the event gives the meeting's start and end.
    fn calendar(&self, method: Method) -> Option<Meeting> {
        Some(Meeting {
            meeting_id: self.meeting_id.to_string(),
            review_reference: self.review_reference.clone(),
            start: instant(self.start_time)?,
            end: instant(self.end_time)?,
            location: self.location.to_string(),
            sequence: u32::try_from(self.sequence).unwrap_or(0),
            method,
            attendees: self
                .invitees
                .iter()
                .map(|invitee| Attendee {
                    name: invitee.name.clone(),
                    email: invitee.email.clone(),
                })
                .collect(),
        })
    }
}

/// A section of the overview report, as a comment names it, in words.
fn section_words(section: &str) -> String {
    match section {
        "summary" => "the summary".into(),
        "standards_met" => "whether expected standards of practice were met".into(),
        "policies_followed" => "whether policies and procedures were followed".into(),
        "working_together" => "how organisations work together".into(),
        "good_practice" => "good practice".into(),
        "learning" => "the learning".into(),
        "recommendations" => "the recommendations".into(),
        other => match other.strip_prefix("enquiry:") {
            Some(number) => format!("the findings on key line of enquiry {number}"),
            None => format!("the section {other:?}"),
        },
    }
}

fn deadline_name(kind: i32) -> &'static str {
    match DeadlineKind::try_from(kind) {
        Ok(DeadlineKind::Notification) => "the serious incident notification",
        Ok(DeadlineKind::RapidReview) => "the rapid review",
        Ok(DeadlineKind::Completion) => "completing and publishing the review",
        Ok(DeadlineKind::PrePublicationNotice) => "the pre-publication notice",
        Ok(DeadlineKind::KeepPublic) => "keeping the report public",
        _ => "a statutory step",
    }
}

/// Who a review's emails may go to besides the people its events name: its panel chair
/// (deadline alerts), learnt from earlier events, and its partnership's business unit
/// (panel independence), from the deployment's settings.
#[derive(Debug, Clone, Copy, Default)]
pub struct Known<'a> {
    pub chair: Option<&'a Chair>,
    pub business_unit: Option<&'a str>,
}

/// The emails `event` causes, to the people it names and those `known` of its review; an
/// email to someone not known (no chair yet, no business unit configured) is not planned.
pub fn plan(event: &Event, reference: &str, known: &Known<'_>) -> Vec<PlannedEmail> {
    let chair = known.chair;
    let Some(body) = &event.body else {
        return Vec::new();
    };
    let base = |extra: Value| {
        let mut facts = json!({
            "partnership_id": event.partnership_id,
            "review_id": event.review_id,
            "review_reference": reference,
        });
        if let (Some(facts), Value::Object(extra)) = (facts.as_object_mut(), extra) {
            facts.extend(extra);
        }
        facts
    };
    // The reference an event names, else the one of the review's projection.
    let reference_of = |named: &str| {
        if named.is_empty() {
            reference.to_string()
        } else {
            named.to_string()
        }
    };
    let email = |template, recipient: &str, facts| PlannedEmail {
        template,
        recipient: recipient.trim().to_string(),
        facts,
        calendar: None,
    };
    // A panel meeting's invitation, change or cancellation: to each invitee, every one
    // with the same calendar entry.
    let meeting_emails = |template, method, meeting: PanelMeetingFacts<'_>| {
        let calendar = meeting.calendar(method);
        meeting
            .invitees
            .iter()
            .map(|invitee| PlannedEmail {
                calendar: calendar.clone(),
                ..email(
                    template,
                    &invitee.email,
                    base(json!({
                        "review_reference": meeting.review_reference,
                        "name": invitee.name,
                        "when": when_text(meeting.start_time),
                        "until": until_text(meeting.start_time, meeting.end_time),
                        "location": meeting.location,
                        "changed": meeting.sequence > 0,
                    })),
                )
            })
            .collect::<Vec<_>>()
    };
    let planned = match body {
        Body::AgencyReportRequested(requested) => vec![email(
            Template::ReportRequested,
            &requested.contact_email,
            base(json!({
                "review_reference": reference_of(&requested.review_reference),
                "agency_id": requested.agency_id,
                "agency_name": requested.agency_name,
                "due_date": date_text(&requested.due_date),
                "scope_start": date_text(&requested.scope_start),
                "scope_end": date_text(&requested.scope_end),
            })),
        )],
        Body::ReportDueSoon(due) => vec![email(
            Template::ReportDueSoon,
            &due.contact_email,
            base(json!({"agency_id": due.agency_id, "due_date": date_text(&due.due_date)})),
        )],
        Body::ReportOverdue(overdue) => vec![email(
            Template::ReportOverdue,
            &overdue.contact_email,
            base(json!({"agency_id": overdue.agency_id, "due_date": date_text(&overdue.due_date)})),
        )],
        Body::AgencyReportReturned(returned) => vec![email(
            Template::ReportReturned,
            &returned.contact_email,
            base(json!({
                "agency_id": returned.agency_id,
                "version": returned.version,
                "missing": returned.missing,
                "due_date": date_text(&returned.due_date),
            })),
        )],
        Body::PanelMemberAppointed(member) => vec![email(
            Template::PanelMemberAppointed,
            &member.email,
            base(json!({
                "name": member.name,
                "role": if member.role == PanelRole::Chair as i32 { "chair" } else { "a member" },
            })),
        )],
        Body::ReviewerAppointed(reviewer) => vec![email(
            Template::ReviewerAppointed,
            &reviewer.email,
            base(json!({"name": reviewer.name, "subject": reviewer.subject})),
        )],
        Body::DeadlineAtRisk(alert) => chair
            .map(|chair| {
                vec![email(
                    Template::DeadlineAtRisk,
                    &chair.email,
                    base(json!({
                        "name": chair.name,
                        "deadline": deadline_name(alert.kind),
                        "due_date": date_text(&alert.due_on),
                        "working_days_left": alert.working_days_left,
                    })),
                )]
            })
            .unwrap_or_default(),
        Body::DeadlineMissed(alert) => chair
            .map(|chair| {
                vec![email(
                    Template::DeadlineMissed,
                    &chair.email,
                    base(json!({
                        "name": chair.name,
                        "deadline": deadline_name(alert.kind),
                        "due_date": date_text(&alert.due_on),
                    })),
                )]
            })
            .unwrap_or_default(),
        Body::ConversationScheduled(conversation) => vec![email(
            Template::ConversationInvitation,
            &conversation.practitioner_email,
            base(json!({
                "name": conversation.practitioner_name,
                "when": when_text(&conversation.scheduled_at),
                "location": conversation.location,
                "advance_information": conversation.advance_information,
                "key_lines_of_enquiry": conversation.key_lines_of_enquiry,
            })),
        )],
        Body::LearningEventScheduled(learning_event) => learning_event
            .invitees
            .iter()
            .map(|invitee| {
                email(
                    Template::LearningEventInvitation,
                    &invitee.email,
                    base(json!({
                        "name": invitee.name,
                        "when": when_text(&learning_event.scheduled_at),
                        "location": learning_event.location,
                        "agenda": learning_event.agenda,
                    })),
                )
            })
            .collect(),
        Body::FamilyContactRequested(contact) => vec![email(
            Template::FamilyContactRequest,
            &contact.professional_email,
            base(json!({
                "name": contact.professional_name,
                "relationship": contact.relationship,
                "purpose": contact.purpose,
                "family_member_id": contact.family_member_id,
            })),
        )],
        // The family liaison asks a member with direct contact themselves.
        Body::PublicationConsultationSent(consultation) if consultation.direct => vec![],
        Body::PublicationConsultationSent(consultation) => vec![email(
            Template::PublicationConsultation,
            &consultation.professional_email,
            base(json!({
                "name": consultation.professional_name,
                "relationship": consultation.relationship,
                "family_member_id": consultation.family_member_id,
                "response_due": date_text(&consultation.response_due),
            })),
        )],
        Body::ActionAssigned(action) => vec![email(
            Template::ActionAssigned,
            &action.owner_email,
            base(json!({
                "action_id": action.action_id,
                "recommendation_ref": action.recommendation_ref,
                "description": action.description,
                "owner_agency": action.owner_agency,
                "due_date": date_text(&action.due_date),
                "measure_of_success": action.measure_of_success,
            })),
        )],
        Body::ActionDueSoon(action) => vec![email(
            Template::ActionDueSoon,
            &action.owner_email,
            base(json!({
                "action_id": action.action_id,
                "description": action.description,
                "due_date": date_text(&action.due_date),
            })),
        )],
        Body::ActionOverdue(action) => vec![email(
            Template::ActionOverdue,
            &action.owner_email,
            base(json!({
                "action_id": action.action_id,
                "description": action.description,
                "due_date": date_text(&action.due_date),
            })),
        )],
        Body::PanelMemberFoundInvolved(found) => known
            .business_unit
            .map(|business_unit| {
                vec![email(
                    Template::PanelMemberFoundInvolved,
                    business_unit,
                    base(json!({
                        "review_reference": reference_of(&found.review_reference),
                        "name": found.name,
                        "organisation": found.organisation,
                        "found": found.found,
                    })),
                )]
            })
            .unwrap_or_default(),
        Body::InformationRequestedFromReviewer(asked) => vec![email(
            Template::InformationRequested,
            &asked.reviewer_email,
            base(json!({
                "review_reference": reference_of(&asked.review_reference),
                "name": asked.reviewer_name,
                "respond_by": date_text(&asked.respond_by),
            })),
        )],
        Body::OverviewReportCommented(commented) => vec![email(
            Template::OverviewCommented,
            &commented.reviewer_email,
            base(json!({
                "review_reference": reference_of(&commented.review_reference),
                "name": commented.reviewer_name,
                "version": commented.version,
                "section": section_words(&commented.section),
            })),
        )],
        Body::InformationRequestOverdue(overdue) => vec![email(
            Template::InformationOverdue,
            &overdue.reviewer_email,
            base(json!({
                "review_reference": reference_of(&overdue.review_reference),
                "name": overdue.reviewer_name,
                "respond_by": date_text(&overdue.respond_by),
            })),
        )],
        Body::InformationRequestAnswered(answered) => vec![email(
            Template::InformationAnswered,
            &answered.reply_to_email,
            base(json!({
                "review_reference": reference_of(&answered.review_reference),
                "respond_by": date_text(&answered.respond_by),
                "answered_on": when_text(&answered.answer_time),
                "late": answered.late,
            })),
        )],
        Body::PanelMeetingScheduled(scheduled) => meeting_emails(
            Template::PanelMeetingInvitation,
            Method::Request,
            PanelMeetingFacts {
                meeting_id: &scheduled.meeting_id,
                review_reference: reference_of(&scheduled.review_reference),
                start_time: &scheduled.start_time,
                end_time: &scheduled.end_time,
                location: &scheduled.location,
                sequence: scheduled.sequence,
                invitees: &scheduled.invitees,
            },
        ),
        Body::PanelMeetingCancelled(cancelled) => meeting_emails(
            Template::PanelMeetingCancelled,
            Method::Cancel,
            PanelMeetingFacts {
                meeting_id: &cancelled.meeting_id,
                review_reference: reference_of(&cancelled.review_reference),
                start_time: &cancelled.start_time,
                end_time: &cancelled.end_time,
                location: &cancelled.location,
                sequence: cancelled.sequence,
                invitees: &cancelled.invitees,
            },
        ),
        // The record of a meeting held (its minutes stay in the registry) emails no one.
        Body::PanelMeetingRecorded(_) => Vec::new(),
        _ => Vec::new(),
    };
    planned
        .into_iter()
        .filter(|planned| !planned.recipient.is_empty())
        .collect()
}

/// A rendered email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// A template that failed to render (a bug in a template file; caught by the tests).
#[derive(Debug, thiserror::Error)]
#[error("template {template}: {source}")]
pub struct RenderError {
    template: &'static str,
    #[source]
    source: minijinja::Error,
}

/// The template files, parsed once.
#[derive(Debug)]
pub struct Templates {
    environment: minijinja::Environment<'static>,
}

impl Templates {
    pub fn load() -> Result<Self, RenderError> {
        let mut environment = minijinja::Environment::new();
        environment.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        environment
            .add_template("layout.html", include_str!("../templates/layout.html"))
            .map_err(|source| RenderError {
                template: "layout.html",
                source,
            })?;
        for template in Template::ALL {
            let name = template.name();
            environment
                .add_template_owned(format!("{name}.txt"), template.text_source())
                .map_err(|source| RenderError {
                    template: name,
                    source,
                })?;
            environment
                .add_template_owned(format!("{name}.html"), template.html_source())
                .map_err(|source| RenderError {
                    template: name,
                    source,
                })?;
        }
        Ok(Self { environment })
    }

    pub fn render(&self, template: Template, facts: &Value) -> Result<Rendered, RenderError> {
        let name = template.name();
        let failed = |source| RenderError {
            template: name,
            source,
        };
        let text = self
            .environment
            .get_template(&format!("{name}.txt"))
            .and_then(|compiled| compiled.render(facts))
            .map_err(failed)?;
        let html = self
            .environment
            .get_template(&format!("{name}.html"))
            .and_then(|compiled| compiled.render(facts))
            .map_err(failed)?;
        let (subject, body) = text.split_once('\n').unwrap_or((text.as_str(), ""));
        Ok(Rendered {
            subject: subject.trim().to_string(),
            text: body.trim_start_matches('\n').to_string(),
            html,
        })
    }
}

/// When to try a failed delivery again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all before FAILED.
    pub max_attempts: i32,
    /// Delay after the first failure; doubled after each.
    pub base: Duration,
    /// The longest delay.
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            base: Duration::from_secs(30),
            cap: Duration::from_secs(3600),
        }
    }
}

impl RetryPolicy {
    /// The delay before the next attempt after `attempts` failed ones (with up to 20 %
    /// jitter so a burst does not retry in lockstep), or None when out of attempts.
    pub fn next_delay(&self, attempts: i32, jitter_fraction: f64) -> Option<Duration> {
        if attempts >= self.max_attempts {
            return None;
        }
        let exponent = u32::try_from(attempts.saturating_sub(1))
            .unwrap_or(0)
            .min(20);
        let delay = self
            .base
            .saturating_mul(2u32.saturating_pow(exponent))
            .min(self.cap);
        Some(delay + delay.mul_f64(jitter_fraction.clamp(0.0, 1.0) * 0.2))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cspr_proto::events::v1::{
        ActionAssigned, ActionDueSoon, ActionOverdue, AgencyReportRequested, ConversationScheduled,
        DeadlineMissed, FamilyContactRequested, InformationRequestAnswered,
        InformationRequestOverdue, InformationRequestedFromReviewer, Invitee,
        LearningEventScheduled, MeetingInvitee, OverviewReportCommented, PanelMeetingCancelled,
        PanelMeetingRecorded, PanelMeetingScheduled, PanelMemberFoundInvolved,
        PublicationConsultationSent,
    };

    fn event(body: Body) -> Event {
        Event {
            id: "e1".into(),
            r#type: body.type_name().into(),
            occurred_at: None,
            partnership_id: "southvale".into(),
            review_id: "r1".into(),
            actor: None,
            body: Some(body),
        }
    }

    fn date(year: i32, month: i32, day: i32) -> Option<Date> {
        Some(Date { year, month, day })
    }

    fn timestamp(seconds: i64) -> Option<prost_types::Timestamp> {
        Some(prost_types::Timestamp { seconds, nanos: 0 })
    }

    /// 2026-05-12 10:00 to 12:30 UTC (11:00 to 13:30 in BST), at Southvale House.
    fn meeting_scheduled(sequence: i32, invitees: Vec<MeetingInvitee>) -> PanelMeetingScheduled {
        PanelMeetingScheduled {
            meeting_id: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b".into(),
            review_reference: "SOUTHVALE-2026-001".into(),
            start_time: timestamp(1_778_580_000),
            end_time: timestamp(1_778_589_000),
            location: "Southvale House, room 2".into(),
            sequence,
            invitees,
        }
    }

    fn invitee(name: &str, email: &str) -> MeetingInvitee {
        MeetingInvitee {
            name: name.into(),
            email: email.into(),
        }
    }

    #[test]
    fn every_template_renders_with_its_facts() {
        let templates = Templates::load().expect("templates parse");
        let chair = Chair {
            name: "Tess Holroyd".into(),
            email: "tess@panel.example.org".into(),
        };
        let known = Known {
            chair: Some(&chair),
            business_unit: Some("business.unit@southvale.example.org"),
        };
        let bodies = [
            Body::AgencyReportRequested(AgencyReportRequested {
                agency_id: "police".into(),
                agency_name: "Southvale Police".into(),
                contact_email: "lead@police.example.org".into(),
                due_date: date(2026, 5, 1),
                review_reference: "SOUTHVALE-2026-001".into(),
                scope_start: date(2024, 9, 15),
                scope_end: date(2026, 3, 9),
            }),
            Body::ReportDueSoon(Default::default()),
            Body::ReportOverdue(Default::default()),
            Body::AgencyReportReturned(Default::default()),
            Body::PanelMemberAppointed(Default::default()),
            Body::ReviewerAppointed(Default::default()),
            Body::DeadlineAtRisk(Default::default()),
            Body::DeadlineMissed(DeadlineMissed {
                kind: DeadlineKind::Notification as i32,
                due_on: date(2026, 3, 17),
                review_reference: "SOUTHVALE-2026-001".into(),
            }),
            Body::ConversationScheduled(ConversationScheduled {
                practitioner_email: "alex@hv.example.org".into(),
                key_lines_of_enquiry: vec!["Information sharing".into()],
                ..Default::default()
            }),
            Body::LearningEventScheduled(LearningEventScheduled {
                invitees: vec![Invitee {
                    email: "alex@hv.example.org".into(),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            Body::FamilyContactRequested(FamilyContactRequested {
                professional_email: "hv@example.org".into(),
                ..Default::default()
            }),
            Body::PublicationConsultationSent(PublicationConsultationSent {
                professional_email: "hv@example.org".into(),
                ..Default::default()
            }),
            Body::ActionAssigned(ActionAssigned {
                owner_email: "owner@example.org".into(),
                ..Default::default()
            }),
            Body::ActionDueSoon(ActionDueSoon {
                owner_email: "owner@example.org".into(),
                ..Default::default()
            }),
            Body::ActionOverdue(ActionOverdue {
                owner_email: "owner@example.org".into(),
                ..Default::default()
            }),
            Body::InformationRequestedFromReviewer(InformationRequestedFromReviewer {
                reviewer_email: "isla@reviewers.example.org".into(),
                reviewer_name: "Isla Oakes".into(),
                respond_by: date(2026, 6, 12),
                ..Default::default()
            }),
            Body::InformationRequestOverdue(InformationRequestOverdue {
                reviewer_email: "isla@reviewers.example.org".into(),
                reviewer_name: "Isla Oakes".into(),
                respond_by: date(2026, 6, 12),
                ..Default::default()
            }),
            Body::OverviewReportCommented(OverviewReportCommented {
                reviewer_email: "isla@reviewers.example.org".into(),
                reviewer_name: "Isla Oakes".into(),
                version: 1,
                section: "enquiry:2".into(),
                ..Default::default()
            }),
            Body::PanelMemberFoundInvolved(PanelMemberFoundInvolved {
                name: "Tess Holroyd".into(),
                organisation: "Southvale Police".into(),
                found: "named in Southvale Police's chronology".into(),
                ..Default::default()
            }),
            Body::InformationRequestAnswered(InformationRequestAnswered {
                reply_to_email: "business.unit@southvale.example.org".into(),
                respond_by: date(2026, 6, 12),
                late: true,
                ..Default::default()
            }),
            Body::PanelMeetingScheduled(meeting_scheduled(
                0,
                vec![invitee("Tess Holroyd", "tess@panel.example.org")],
            )),
            Body::PanelMeetingCancelled(PanelMeetingCancelled {
                meeting_id: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b".into(),
                start_time: timestamp(1_778_580_000),
                end_time: timestamp(1_778_589_000),
                location: "Online".into(),
                sequence: 2,
                invitees: vec![invitee("Isla Oakes", "isla@reviewers.example.org")],
                ..Default::default()
            }),
        ];
        let mut seen = std::collections::HashSet::new();
        for body in bodies {
            let mut event = event(body);
            // Give every email a recipient so the plan is not empty.
            match event.body.as_mut() {
                Some(Body::ReportDueSoon(due)) => due.contact_email = "lead@gp.example.org".into(),
                Some(Body::ReportOverdue(overdue)) => {
                    overdue.contact_email = "lead@gp.example.org".into()
                }
                Some(Body::AgencyReportReturned(returned)) => {
                    returned.contact_email = "lead@gp.example.org".into()
                }
                Some(Body::PanelMemberAppointed(member)) => {
                    member.email = "wren@panel.example.org".into()
                }
                Some(Body::ReviewerAppointed(reviewer)) => {
                    reviewer.email = "isla@reviewers.example.org".into()
                }
                _ => {}
            }
            let planned = plan(&event, "SOUTHVALE-2026-001", &known);
            assert_eq!(planned.len(), 1, "{}", event.r#type);
            let rendered = templates
                .render(planned[0].template, &planned[0].facts)
                .expect("renders");
            assert!(
                rendered.subject.contains("SOUTHVALE-2026-001"),
                "{}: {}",
                event.r#type,
                rendered.subject
            );
            assert!(!rendered.text.is_empty() && rendered.html.contains("SOUTHVALE-2026-001"));
            seen.insert(planned[0].template);
        }
        assert_eq!(seen.len(), Template::ALL.len(), "every template is used");
    }

    #[test]
    fn report_requests_say_what_when_and_how() {
        let templates = Templates::load().expect("templates");
        let event = event(Body::AgencyReportRequested(AgencyReportRequested {
            agency_id: "police".into(),
            agency_name: "Southvale Police".into(),
            contact_email: " lead@police.example.org ".into(),
            due_date: date(2026, 5, 1),
            review_reference: "SOUTHVALE-2026-001".into(),
            scope_start: date(2024, 9, 15),
            scope_end: date(2026, 3, 9),
        }));
        let planned = plan(&event, "", &Known::default());
        assert_eq!(planned[0].recipient, "lead@police.example.org");
        let rendered = templates
            .render(planned[0].template, &planned[0].facts)
            .expect("renders");
        assert_eq!(
            rendered.subject,
            "Report requested for review SOUTHVALE-2026-001: due Friday 1 May 2026"
        );
        assert!(
            rendered
                .text
                .contains("Sunday 15 September 2024 to Monday 9 March 2026")
        );
        assert!(rendered.text.contains("SubmitAgencyReport"));
        assert!(rendered.text.contains("not blame"));
    }

    #[test]
    fn html_is_escaped() {
        let templates = Templates::load().expect("templates");
        let facts = json!({
            "partnership_id": "southvale", "review_id": "r", "review_reference": "REF",
            "agency_id": "gp", "version": 1, "missing": "<script>alert(1)</script>", "due_date": "soon",
        });
        let rendered = templates
            .render(Template::ReportReturned, &facts)
            .expect("renders");
        assert!(!rendered.html.contains("<script>"));
        assert!(rendered.html.contains("&lt;script&gt;"));
    }

    #[test]
    fn practitioner_invitations_carry_the_advance_information_and_say_no_blame() {
        let templates = Templates::load().expect("templates");
        let event = event(Body::ConversationScheduled(ConversationScheduled {
            conversation_id: "c1".into(),
            practitioner_id: "p1".into(),
            practitioner_name: "Alex Smith".into(),
            practitioner_email: "alex@hv.example.org".into(),
            scheduled_at: Some(prost_types::Timestamp {
                seconds: 1_778_580_000,
                nanos: 0,
            }),
            location: "Online (link to follow)".into(),
            advance_information: "Bring your case notes from 2025.".into(),
            key_lines_of_enquiry: vec!["How was neglect recognised?".into()],
            review_reference: "SOUTHVALE-2026-001".into(),
        }));
        let planned = plan(&event, "SOUTHVALE-2026-001", &Known::default());
        let rendered = templates
            .render(planned[0].template, &planned[0].facts)
            .expect("renders");
        assert!(rendered.text.contains("Bring your case notes from 2025."));
        assert!(rendered.text.contains("- How was neglect recognised?"));
        assert!(rendered.text.contains("not about blame"));
        // 1778580000 = 2026-05-12 10:00 UTC, 11:00 in BST.
        assert!(
            rendered.text.contains("Tuesday 12 May 2026 at 11:00"),
            "{}",
            rendered.text
        );
    }

    #[test]
    fn family_emails_go_to_the_professional_with_the_relationship_only() {
        let templates = Templates::load().expect("templates");
        let event = event(Body::FamilyContactRequested(FamilyContactRequested {
            family_member_id: "fm-1".into(),
            relationship: "grandparent".into(),
            professional_name: "Dana Health Visitor".into(),
            professional_email: "dana@hv.example.org".into(),
            professional_agency: "health-visiting".into(),
            purpose: "To hear their view of the support the family received.".into(),
            review_reference: "SOUTHVALE-2026-001".into(),
        }));
        let planned = plan(&event, "SOUTHVALE-2026-001", &Known::default());
        assert_eq!(planned[0].recipient, "dana@hv.example.org");
        let rendered = templates
            .render(planned[0].template, &planned[0].facts)
            .expect("renders");
        assert!(rendered.text.contains("(grandparent)"));
        assert!(
            rendered
                .text
                .contains("do not forward this email to the family")
        );
    }

    #[test]
    fn a_direct_consultation_is_made_by_the_liaison_and_emails_no_one() {
        let event = event(Body::PublicationConsultationSent(
            PublicationConsultationSent {
                family_member_id: "fm-2".into(),
                relationship: "parent".into(),
                response_due: date(2026, 7, 1),
                review_reference: "SOUTHVALE-2026-001".into(),
                direct: true,
                ..Default::default()
            },
        ));
        assert!(plan(&event, "SOUTHVALE-2026-001", &Known::default()).is_empty());
    }

    #[test]
    fn a_comment_on_the_overview_report_tells_the_reviewer_which_section_without_the_comment() {
        let event = event(Body::OverviewReportCommented(OverviewReportCommented {
            comment_id: "c1".into(),
            version: 2,
            section: "enquiry:3".into(),
            reviewer_name: "Isla Oakes".into(),
            reviewer_email: "isla@reviewers.example.org".into(),
            review_reference: "SOUTHVALE-2026-001".into(),
        }));
        let planned = plan(&event, "REF", &Known::default());
        assert_eq!(planned.len(), 1);
        assert_eq!(planned[0].recipient, "isla@reviewers.example.org");
        let rendered = Templates::load()
            .expect("templates")
            .render(planned[0].template, &planned[0].facts)
            .expect("renders");
        assert_eq!(
            rendered.subject,
            "The panel commented on version 2 of the overview report of review SOUTHVALE-2026-001"
        );
        assert!(
            rendered
                .text
                .contains("has commented on the findings on key line of enquiry 3 in version 2"),
            "{}",
            rendered.text
        );
    }

    #[test]
    fn learning_events_invite_each_invitee() {
        let event = event(Body::LearningEventScheduled(LearningEventScheduled {
            invitees: vec![
                Invitee {
                    email: "a@x.example.org".into(),
                    ..Default::default()
                },
                Invitee {
                    email: "b@x.example.org".into(),
                    ..Default::default()
                },
                Invitee {
                    email: String::new(),
                    ..Default::default()
                },
            ],
            ..Default::default()
        }));
        let recipients: Vec<_> = plan(&event, "REF", &Known::default())
            .into_iter()
            .map(|planned| planned.recipient)
            .collect();
        assert_eq!(recipients, ["a@x.example.org", "b@x.example.org"]);
    }

    #[test]
    fn panel_meetings_invite_each_invitee_with_one_calendar_entry() {
        let templates = Templates::load().expect("templates");
        let invitees = vec![
            invitee("Tess Holroyd", "tess@panel.example.org"),
            invitee("Isla Oakes", " isla@reviewers.example.org "),
            invitee("No address", ""),
        ];
        let planned = plan(
            &event(Body::PanelMeetingScheduled(meeting_scheduled(
                0,
                invitees.clone(),
            ))),
            "REF",
            &Known::default(),
        );
        let recipients: Vec<_> = planned
            .iter()
            .map(|email| email.recipient.as_str())
            .collect();
        assert_eq!(
            recipients,
            ["tess@panel.example.org", "isla@reviewers.example.org"]
        );
        let calendar = planned[0].calendar.clone().expect("a calendar entry");
        assert_eq!(
            planned[1].calendar.as_ref(),
            Some(&calendar),
            "the same for everyone"
        );
        assert_eq!(calendar.method, Method::Request);
        assert_eq!(calendar.sequence, 0);
        assert_eq!(
            calendar.attendees.len(),
            3,
            "every invitee (the entry leaves out one without an address)"
        );
        assert_eq!(calendar.start.to_rfc3339(), "2026-05-12T10:00:00+00:00");
        let rendered = templates
            .render(planned[1].template, &planned[1].facts)
            .expect("renders");
        assert_eq!(
            rendered.subject,
            "Invitation: panel meeting for review SOUTHVALE-2026-001, Tuesday 12 May 2026 at 11:00"
        );
        for shown in [
            "Dear Isla Oakes,",
            "When: Tuesday 12 May 2026 at 11:00 to 13:30 (UK time)",
            "Where: Southvale House, room 2",
            "The agenda and papers are in cspr.",
            "adds it to your calendar",
        ] {
            assert!(rendered.text.contains(shown), "{shown}: {}", rendered.text);
        }
        assert!(rendered.html.contains("The agenda and papers are in cspr."));

        // A change says so.
        let changed = plan(
            &event(Body::PanelMeetingScheduled(meeting_scheduled(
                1,
                invitees.clone(),
            ))),
            "REF",
            &Known::default(),
        );
        assert_eq!(
            changed[0].calendar.as_ref().map(|entry| entry.sequence),
            Some(1)
        );
        let rendered = templates
            .render(changed[0].template, &changed[0].facts)
            .expect("renders");
        assert_eq!(
            rendered.subject,
            "Changed: panel meeting for review SOUTHVALE-2026-001, now Tuesday 12 May 2026 at 11:00"
        );
        assert!(
            rendered.text.contains("has changed")
                && rendered
                    .text
                    .contains("updates the meeting in your calendar")
        );
        assert!(rendered.html.contains("has changed"));

        // A cancellation cancels the same entry.
        let cancelled = plan(
            &event(Body::PanelMeetingCancelled(PanelMeetingCancelled {
                meeting_id: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b".into(),
                review_reference: String::new(),
                start_time: timestamp(1_778_580_000),
                end_time: timestamp(1_778_589_000),
                location: "Online".into(),
                sequence: 2,
                invitees,
            })),
            "SOUTHVALE-2026-001",
            &Known::default(),
        );
        assert_eq!(cancelled.len(), 2);
        let entry = cancelled[0].calendar.clone().expect("a calendar entry");
        assert_eq!((entry.method, entry.sequence), (Method::Cancel, 2));
        assert_eq!(entry.meeting_id, calendar.meeting_id);
        let rendered = templates
            .render(cancelled[0].template, &cancelled[0].facts)
            .expect("renders");
        assert_eq!(
            rendered.subject,
            "Cancelled: panel meeting for review SOUTHVALE-2026-001, Tuesday 12 May 2026 at 11:00"
        );
        assert!(rendered.text.contains("is cancelled"), "{}", rendered.text);

        // Its record emails no one.
        assert!(
            plan(
                &event(Body::PanelMeetingRecorded(PanelMeetingRecorded::default())),
                "REF",
                &Known::default()
            )
            .is_empty()
        );
    }

    #[test]
    fn a_meeting_without_its_times_is_emailed_without_a_calendar_entry() {
        let mut scheduled = meeting_scheduled(0, vec![invitee("Tess", "tess@panel.example.org")]);
        scheduled.end_time = None;
        let planned = plan(
            &event(Body::PanelMeetingScheduled(scheduled)),
            "REF",
            &Known::default(),
        );
        assert_eq!(planned.len(), 1);
        assert!(planned[0].calendar.is_none());
    }

    #[test]
    fn a_meeting_over_midnight_ends_on_its_own_day() {
        assert_eq!(
            until_text(
                &timestamp(1_778_580_000),
                &timestamp(1_778_580_000 + 86_400)
            ),
            "Wednesday 13 May 2026 at 11:00"
        );
    }

    #[test]
    fn alerts_without_a_known_chair_send_nothing() {
        let event = event(Body::DeadlineMissed(Default::default()));
        assert!(plan(&event, "REF", &Known::default()).is_empty());
    }

    #[test]
    fn retries_back_off_and_stop() {
        let policy = RetryPolicy {
            max_attempts: 4,
            base: Duration::from_secs(10),
            cap: Duration::from_secs(25),
        };
        assert_eq!(policy.next_delay(1, 0.0), Some(Duration::from_secs(10)));
        assert_eq!(policy.next_delay(2, 0.0), Some(Duration::from_secs(20)));
        assert_eq!(policy.next_delay(3, 0.0), Some(Duration::from_secs(25)));
        assert_eq!(policy.next_delay(4, 0.0), None);
        assert_eq!(policy.next_delay(1, 1.0), Some(Duration::from_secs(12)));
    }

    #[test]
    fn dates_read_like_a_letter() {
        let date = NaiveDate::from_ymd_opt(2026, 5, 1).expect("date");
        assert_eq!(long_date(date), "Friday 1 May 2026");
    }
}
