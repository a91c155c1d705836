//! Events the registry publishes (built from a command's changes) and consumes (agency
//! report decisions from submissions, involved practitioners from practitioners).

use chrono::NaiveDate;
use cspr_platform::bus::consumer::{self, Consumed, HandlerError, review_id};
use cspr_platform::convert::{ProtoEnum, date_to_proto, timestamp_to_proto};
use cspr_proto::events::v1::{self as ev, event::Body};

use crate::convert::{
    agency_to_proto, deadline_kind_to_proto, decision_to_proto, panel_role_to_proto,
    process_kind_to_proto, recommendation_to_proto, stage_to_proto,
};
use crate::domain::deadlines::{self, Deadline, DeadlineKind, DeadlineRules, Timeline};
use crate::domain::meeting::{MeetingChange, PanelMeeting};
use crate::domain::review::{AgencyReportStatus, Change, InformationRequest, Review};
use crate::store;

fn due(timeline: &Timeline, kind: DeadlineKind) -> Option<cspr_proto::google::r#type::Date> {
    timeline
        .deadlines
        .iter()
        .find(|deadline| deadline.kind == kind)
        .and_then(|deadline| deadline.due_on)
        .map(date_to_proto)
}

/// The event bodies for what a command changed, in order.
pub fn bodies(
    review: &Review,
    changes: &[Change],
    timeline: &Timeline,
    rules: &DeadlineRules,
    today: NaiveDate,
) -> Vec<Body> {
    let mut bodies = Vec::with_capacity(changes.len());
    for change in changes {
        let body = match change {
            Change::Created => Body::ReviewCreated(ev::ReviewCreated {
                reference: review.reference.clone(),
                local_authority: review.local_authority.clone(),
                became_aware_on: Some(date_to_proto(review.became_aware_on)),
                notification_due_on: due(timeline, DeadlineKind::Notification),
            }),
            Change::NotificationSent => Body::NotificationSent(ev::NotificationSent {
                sent_on: review
                    .notification
                    .as_ref()
                    .map(|notification| date_to_proto(notification.sent_on)),
                rapid_review_due_on: due(timeline, DeadlineKind::RapidReview),
            }),
            Change::DecisionRecorded => {
                let Some(decision) = &review.decision else {
                    continue;
                };
                Body::DecisionRecorded(ev::DecisionRecorded {
                    decision: decision_to_proto(decision.decision) as i32,
                    decided_on: Some(date_to_proto(decision.decided_on)),
                    completion_due_on: due(timeline, DeadlineKind::Completion),
                })
            }
            Change::PanelMemberAppointed(member_id) => {
                let Some(member) = review.panel.iter().find(|member| member.id == *member_id)
                else {
                    continue;
                };
                Body::PanelMemberAppointed(ev::PanelMemberAppointed {
                    panel_member_id: member.id.to_string(),
                    name: member.name.clone(),
                    email: member.email.as_str().to_string(),
                    organisation: member.organisation.clone(),
                    role: panel_role_to_proto(member.role) as i32,
                    review_reference: review.reference.clone(),
                })
            }
            Change::RapidReviewRecorded => {
                let Some(record) = &review.rapid_review else {
                    continue;
                };
                Body::RapidReviewRecorded(ev::RapidReviewRecorded {
                    meeting_on: Some(date_to_proto(record.meeting_on)),
                    contributing_agency_count: i32::try_from(record.contributing_agencies.len())
                        .unwrap_or(i32::MAX),
                    sent_to_panel_on: record.sent_to_panel_on.map(date_to_proto),
                })
            }
            Change::PanelResponseRecorded => {
                let Some(response) = review
                    .rapid_review
                    .as_ref()
                    .and_then(|record| record.panel_response.as_ref())
                else {
                    continue;
                };
                Body::PanelResponseRecorded(ev::PanelResponseRecorded {
                    kind: response.kind.to_proto(),
                    received_on: Some(date_to_proto(response.received_on)),
                })
            }
            Change::PanelMemberFoundInvolved(member_id) => {
                let Some(member) = review.panel.iter().find(|member| member.id == *member_id)
                else {
                    continue;
                };
                Body::PanelMemberFoundInvolved(ev::PanelMemberFoundInvolved {
                    panel_member_id: member.id.to_string(),
                    name: member.name.clone(),
                    organisation: member.organisation.clone(),
                    found: member.found_involved.clone().unwrap_or_default(),
                    review_reference: review.reference.clone(),
                })
            }
            Change::ReviewerAppointed => {
                let Some(reviewer) = &review.reviewer else {
                    continue;
                };
                Body::ReviewerAppointed(ev::ReviewerAppointed {
                    name: reviewer.name.clone(),
                    email: reviewer.email.as_str().to_string(),
                    subject: reviewer.subject.clone(),
                    review_reference: review.reference.clone(),
                })
            }
            Change::TermsOfReferenceSet => {
                let Some(terms) = &review.terms_of_reference else {
                    continue;
                };
                Body::TermsOfReferenceSet(ev::TermsOfReferenceSet {
                    version: terms.version,
                    scope_start: Some(date_to_proto(terms.scope_start)),
                    scope_end: Some(date_to_proto(terms.scope_end)),
                    key_lines_of_enquiry: terms.key_lines_of_enquiry.clone(),
                    methodology: terms.methodology.clone(),
                    agencies_in_scope: terms
                        .agencies_in_scope
                        .iter()
                        .map(agency_to_proto)
                        .collect(),
                    report_due_date: Some(date_to_proto(terms.report_due_date)),
                    review_reference: review.reference.clone(),
                })
            }
            Change::StageChanged { from, to } => Body::StageChanged(ev::StageChanged {
                from: stage_to_proto(*from) as i32,
                to: stage_to_proto(*to) as i32,
            }),
            Change::ParallelProcessStarted(process_id) => {
                let Some(process) = review
                    .parallel_processes
                    .iter()
                    .find(|process| process.id == *process_id)
                else {
                    continue;
                };
                Body::ParallelProcessStarted(ev::ParallelProcessStarted {
                    parallel_process_id: process.id.to_string(),
                    kind: process_kind_to_proto(process.kind) as i32,
                    started_on: Some(date_to_proto(process.started_on)),
                })
            }
            Change::ParallelProcessEnded(process_id) => {
                let Some(process) = review
                    .parallel_processes
                    .iter()
                    .find(|process| process.id == *process_id)
                else {
                    continue;
                };
                Body::ParallelProcessEnded(ev::ParallelProcessEnded {
                    parallel_process_id: process.id.to_string(),
                    kind: process_kind_to_proto(process.kind) as i32,
                    ended_on: process.ended_on.map(date_to_proto),
                    days_impact: i32::try_from(deadlines::days_impact(
                        review,
                        process.started_on,
                        process.ended_on,
                        rules,
                        today,
                    ))
                    .unwrap_or(i32::MAX),
                })
            }
            Change::InformationRequested(request_id) => {
                let (Some(request), Some(reviewer)) = (
                    review
                        .information_requests
                        .iter()
                        .find(|request| request.id == *request_id),
                    &review.reviewer,
                ) else {
                    continue;
                };
                Body::InformationRequestedFromReviewer(ev::InformationRequestedFromReviewer {
                    information_request_id: request.id.to_string(),
                    respond_by: Some(date_to_proto(request.respond_by)),
                    reviewer_name: reviewer.name.clone(),
                    reviewer_email: reviewer.email.as_str().to_string(),
                    review_reference: review.reference.clone(),
                })
            }
            Change::InformationRequestAnswered(request_id) => {
                let Some((request, answer)) = review
                    .information_requests
                    .iter()
                    .find(|request| request.id == *request_id)
                    .and_then(|request| Some((request, request.answer.as_ref()?)))
                else {
                    continue;
                };
                Body::InformationRequestAnswered(ev::InformationRequestAnswered {
                    information_request_id: request.id.to_string(),
                    respond_by: Some(date_to_proto(request.respond_by)),
                    answer_time: Some(timestamp_to_proto(answer.answered_at)),
                    reply_to_email: request
                        .reply_to
                        .as_ref()
                        .map(|email| email.as_str().to_string())
                        .unwrap_or_default(),
                    review_reference: review.reference.clone(),
                    late: request.answered_late(),
                })
            }
            Change::OverviewReportSubmitted => {
                let Some(report) = &review.overview_report else {
                    continue;
                };
                Body::OverviewReportSubmitted(ev::OverviewReportSubmitted {
                    version: report.version,
                    recommendation_count: i32::try_from(report.recommendations.len())
                        .unwrap_or(i32::MAX),
                })
            }
            Change::OverviewCommented(comment_id) => {
                let (Some(comment), Some(reviewer)) = (
                    review
                        .overview_comments
                        .iter()
                        .find(|comment| comment.id == *comment_id),
                    &review.reviewer,
                ) else {
                    continue;
                };
                Body::OverviewReportCommented(ev::OverviewReportCommented {
                    comment_id: comment.id.to_string(),
                    version: comment.version,
                    section: comment.section.clone(),
                    reviewer_name: reviewer.name.clone(),
                    reviewer_email: reviewer.email.as_str().to_string(),
                    review_reference: review.reference.clone(),
                })
            }
            // The answers show with the version they came with (its OverviewReportSubmitted).
            Change::OverviewCommentAnswered(_) => continue,
            Change::OverviewReportApproved => {
                let Some(report) = &review.overview_report else {
                    continue;
                };
                Body::OverviewReportApproved(ev::OverviewReportApproved {
                    version: report.version,
                    recommendations: report
                        .recommendations
                        .iter()
                        .map(recommendation_to_proto)
                        .collect(),
                })
            }
            Change::PublicationScheduled => Body::PublicationScheduled(ev::PublicationScheduled {
                planned_on: review.publication.planned_on.map(date_to_proto),
                notice_due_by: review.publication.notice_due_by.map(date_to_proto),
            }),
            Change::PrePublicationNoticeRecorded => {
                Body::PrePublicationNoticeRecorded(ev::PrePublicationNoticeRecorded {
                    sent_on: review.publication.notice_sent_on.map(date_to_proto),
                })
            }
            Change::Published => Body::ReviewPublished(ev::ReviewPublished {
                published: review.publication.published,
                published_on: review.publication.published_on.map(date_to_proto),
                location: review.publication.location.clone(),
            }),
            Change::Closed(stage) => Body::ReviewClosed(ev::ReviewClosed {
                final_stage: stage_to_proto(*stage) as i32,
            }),
            Change::PanelMeeting(meeting, change) => meeting_body(review, meeting, *change),
        };
        bodies.push(body);
    }
    bodies
}

/// The event of a meeting's change: the invitation, its update or its cancellation to the
/// panel and the reviewer as they are now (a member appointed later is invited by the next
/// change), or the record's summary. Neither the agenda nor the minutes go on the bus.
fn meeting_body(review: &Review, meeting: &PanelMeeting, change: MeetingChange) -> Body {
    let arrangements = &meeting.arrangements;
    let invitees = || {
        review
            .panel
            .iter()
            .map(|member| (member.name.clone(), member.email.as_str().to_string()))
            .chain(
                review
                    .reviewer
                    .iter()
                    .map(|reviewer| (reviewer.name.clone(), reviewer.email.as_str().to_string())),
            )
            .map(|(name, email)| ev::MeetingInvitee { name, email })
            .collect()
    };
    let start_time = Some(timestamp_to_proto(arrangements.starts_at));
    let end_time = Some(timestamp_to_proto(arrangements.ends_at));
    match change {
        MeetingChange::Scheduled | MeetingChange::Changed => {
            Body::PanelMeetingScheduled(ev::PanelMeetingScheduled {
                meeting_id: meeting.id.to_string(),
                review_reference: review.reference.clone(),
                start_time,
                end_time,
                location: arrangements.location.clone(),
                sequence: meeting.sequence,
                invitees: invitees(),
            })
        }
        MeetingChange::Cancelled => Body::PanelMeetingCancelled(ev::PanelMeetingCancelled {
            meeting_id: meeting.id.to_string(),
            review_reference: review.reference.clone(),
            start_time,
            end_time,
            location: arrangements.location.clone(),
            sequence: meeting.sequence,
            invitees: invitees(),
        }),
        MeetingChange::Recorded => Body::PanelMeetingRecorded(ev::PanelMeetingRecorded {
            meeting_id: meeting.id.to_string(),
            start_time,
            decisions: meeting
                .record
                .iter()
                .flat_map(|record| &record.decisions)
                .map(|decision| decision.kind.to_proto())
                .collect(),
            action_points: meeting.record.as_ref().map_or(0, |record| {
                i32::try_from(record.action_points.len()).unwrap_or(i32::MAX)
            }),
        }),
    }
}

/// The reminder to the reviewer of a request for information past the day asked for (none
/// without a reviewer to remind).
pub fn information_overdue(review: &Review, request: &InformationRequest) -> Option<Body> {
    let reviewer = review.reviewer.as_ref()?;
    Some(Body::InformationRequestOverdue(
        ev::InformationRequestOverdue {
            information_request_id: request.id.to_string(),
            respond_by: Some(date_to_proto(request.respond_by)),
            reviewer_name: reviewer.name.clone(),
            reviewer_email: reviewer.email.as_str().to_string(),
            review_reference: review.reference.clone(),
        },
    ))
}

/// The event for a deadline entering its at-risk window or being missed.
pub fn deadline_alert(review: &Review, deadline: &Deadline, missed: bool) -> Body {
    if missed {
        Body::DeadlineMissed(ev::DeadlineMissed {
            kind: deadline_kind_to_proto(deadline.kind) as i32,
            due_on: deadline.due_on.map(date_to_proto),
            review_reference: review.reference.clone(),
        })
    } else {
        Body::DeadlineAtRisk(ev::DeadlineAtRisk {
            kind: deadline_kind_to_proto(deadline.kind) as i32,
            due_on: deadline.due_on.map(date_to_proto),
            working_days_left: i32::try_from(deadline.working_days_left).unwrap_or(i32::MAX),
            review_reference: review.reference.clone(),
        })
    }
}

/// Keeps the registry's projections of other services' facts: agency report statuses (the
/// OVERVIEW_DRAFTING guard), involved practitioners (panel independence) and the action plan
/// (ACTION_MONITORING follows its activation; CLOSED waits for its completion), with the
/// store for the stage change an active action plan causes.
#[derive(Debug)]
pub struct EventHandler(pub store::Store);

impl consumer::EventHandler for EventHandler {
    async fn handle(&self, consumed: Consumed<'_>) -> Result<(), HandlerError> {
        let report_status = match consumed.body {
            Body::AgencyReportRequested(report) => {
                Some((&report.agency_id, AgencyReportStatus::Requested))
            }
            Body::AgencyReportSubmitted(report) => {
                Some((&report.agency_id, AgencyReportStatus::Submitted))
            }
            Body::AgencyReportReturned(report) => {
                Some((&report.agency_id, AgencyReportStatus::Returned))
            }
            Body::AgencyReportAccepted(report) => {
                Some((&report.agency_id, AgencyReportStatus::Accepted))
            }
            Body::AgencyReportWaived(report) => {
                Some((&report.agency_id, AgencyReportStatus::Waived))
            }
            _ => None,
        };
        if let Body::AgencyReportSubmitted(report) = consumed.body {
            // The people its chronology names are involved too (panel independence), though
            // the reviewer may never register them as practitioners.
            store::record_named_practitioners(
                consumed.connection,
                review_id(consumed.event)?,
                &report.agency_id,
                &report.practitioners,
            )
            .await?;
            self.panel_independence(&mut *consumed.connection, consumed.event)
                .await?;
        }
        if let Some((agency_id, status)) = report_status {
            // When and by whom, as the submissions service did it: a panel's "reports
            // accepted" decision links to it.
            let changed_at = consumed
                .event
                .occurred_at
                .as_ref()
                .and_then(|at| {
                    chrono::DateTime::from_timestamp(
                        at.seconds,
                        u32::try_from(at.nanos).unwrap_or(0),
                    )
                })
                .unwrap_or_else(|| self.0.now());
            let changed_by = consumed
                .event
                .actor
                .as_ref()
                .map(|actor| actor.subject.as_str())
                .unwrap_or_default();
            store::record_agency_report_status(
                consumed.connection,
                review_id(consumed.event)?,
                agency_id,
                status,
                changed_at,
                changed_by,
            )
            .await?;
            return Ok(());
        }
        if let Body::ActionPlanActivated(_) | Body::ActionPlanCompleted(_) = consumed.body {
            let completed = matches!(consumed.body, Body::ActionPlanCompleted(_));
            self.0
                .record_action_plan(
                    consumed.connection,
                    &consumed.event.partnership_id,
                    review_id(consumed.event)?,
                    completed,
                )
                .await
                .map_err(|error| HandlerError(Box::new(error)))?;
            return Ok(());
        }
        if let Body::PractitionerRegistered(practitioner) = consumed.body {
            store::record_involved_practitioner(
                consumed.connection,
                review_id(consumed.event)?,
                practitioner,
            )
            .await?;
            self.panel_independence(&mut *consumed.connection, consumed.event)
                .await?;
        }
        Ok(())
    }
}

impl EventHandler {
    /// After learning of more practitioners involved in the case: flags the members of the
    /// panel who turn out to be among them (and tells the business unit, by the event).
    async fn panel_independence(
        &self,
        connection: &mut sqlx::PgConnection,
        event: &ev::Event,
    ) -> Result<(), HandlerError> {
        self.0
            .flag_involved_panel_members(connection, &event.partnership_id, review_id(event)?)
            .await
            .map_err(|error| HandlerError(Box::new(error)))
    }
}
