//! Domain values to and from the registry's protobuf types (used by the gRPC API and the
//! events alike).

use cspr_platform::convert::{ProtoEnum, date_to_proto, timestamp_to_proto};
use cspr_platform::proto_enum;
use cspr_proto::registry::v1 as pb;

use crate::domain::deadlines::{Deadline, DeadlineKind, DeadlineStatus, Timeline};
use crate::domain::meeting::{CarriedOut, DecisionKind, MeetingStatus, PanelMeeting, carried_out};
use crate::domain::overview::OverviewComment;
use crate::domain::review::{
    Decision, InformationRequest, InformationRequestStatus, OverviewReport, PanelResponseKind,
    PanelRole, ParallelProcess, ParallelProcessKind, RapidReview, Recommendation, Review,
};
use crate::domain::stage::Stage;

pub fn stage_to_proto(stage: Stage) -> pb::Stage {
    match stage {
        Stage::Notified => pb::Stage::Notified,
        Stage::RapidReview => pb::Stage::RapidReview,
        Stage::NotProceeding => pb::Stage::NotProceeding,
        Stage::Scoping => pb::Stage::Scoping,
        Stage::InformationGathering => pb::Stage::InformationGathering,
        Stage::Engagement => pb::Stage::Engagement,
        Stage::OverviewDrafting => pb::Stage::OverviewDrafting,
        Stage::PanelApproval => pb::Stage::PanelApproval,
        Stage::PrePublication => pb::Stage::PrePublication,
        Stage::Published => pb::Stage::Published,
        Stage::ActionMonitoring => pb::Stage::ActionMonitoring,
        Stage::Closed => pb::Stage::Closed,
    }
}

pub fn stage_from_proto(stage: pb::Stage) -> Option<Stage> {
    Stage::ALL
        .into_iter()
        .find(|candidate| stage_to_proto(*candidate) == stage)
}

pub fn decision_to_proto(decision: Decision) -> pb::Decision {
    match decision {
        Decision::LocalCspr => pb::Decision::LocalCspr,
        Decision::NoLocalCspr => pb::Decision::NoLocalCspr,
    }
}

pub fn panel_role_to_proto(role: PanelRole) -> pb::PanelRole {
    match role {
        PanelRole::Chair => pb::PanelRole::Chair,
        PanelRole::Member => pb::PanelRole::Member,
    }
}

pub fn process_kind_to_proto(kind: ParallelProcessKind) -> pb::ParallelProcessKind {
    match kind {
        ParallelProcessKind::CriminalInvestigation => {
            pb::ParallelProcessKind::CriminalInvestigation
        }
        ParallelProcessKind::CoronerInquest => pb::ParallelProcessKind::CoronerInquest,
        ParallelProcessKind::FamilyProceedings => pb::ParallelProcessKind::FamilyProceedings,
        ParallelProcessKind::Other => pb::ParallelProcessKind::Other,
    }
}

pub fn process_kind_from_proto(kind: pb::ParallelProcessKind) -> Option<ParallelProcessKind> {
    ParallelProcessKind::ALL
        .into_iter()
        .find(|candidate| process_kind_to_proto(*candidate) == kind)
}

pub fn deadline_kind_to_proto(kind: DeadlineKind) -> pb::DeadlineKind {
    match kind {
        DeadlineKind::Notification => pb::DeadlineKind::Notification,
        DeadlineKind::RapidReview => pb::DeadlineKind::RapidReview,
        DeadlineKind::Completion => pb::DeadlineKind::Completion,
        DeadlineKind::PrePublicationNotice => pb::DeadlineKind::PrePublicationNotice,
        DeadlineKind::KeepPublic => pb::DeadlineKind::KeepPublic,
    }
}

fn deadline_status_to_proto(status: DeadlineStatus) -> pb::DeadlineStatus {
    match status {
        DeadlineStatus::Pending => pb::DeadlineStatus::Pending,
        DeadlineStatus::AtRisk => pb::DeadlineStatus::AtRisk,
        DeadlineStatus::Met => pb::DeadlineStatus::Met,
        DeadlineStatus::Missed => pb::DeadlineStatus::Missed,
    }
}

pub fn deadline_to_proto(deadline: &Deadline) -> pb::Deadline {
    pb::Deadline {
        kind: deadline_kind_to_proto(deadline.kind) as i32,
        due_on: deadline.due_on.map(date_to_proto),
        status: deadline_status_to_proto(deadline.status) as i32,
        done_on: deadline.done_on.map(date_to_proto),
        working_days_left: i32::try_from(deadline.working_days_left).unwrap_or(i32::MAX),
    }
}

/// One version of the overview report.
/// A version of the report as the API shows it, with the review's comments on it and the
/// versions before it, and the review's latest version.
pub fn overview_to_proto(
    report: &OverviewReport,
    comments: &[OverviewComment],
    latest_version: i32,
) -> pb::OverviewReport {
    let sections = &report.sections;
    pb::OverviewReport {
        version: report.version,
        findings: report.findings.clone(),
        recommendations: report
            .recommendations
            .iter()
            .map(recommendation_to_proto)
            .collect(),
        submit_time: Some(timestamp_to_proto(report.submitted_at)),
        approve_time: report.approved_at.map(timestamp_to_proto),
        approved_by: report.approved_by.clone().unwrap_or_default(),
        enquiry_findings: sections
            .enquiries
            .iter()
            .map(|given| pb::EnquiryFindings {
                line_of_enquiry: given.line_of_enquiry.clone(),
                findings: given.findings.clone(),
            })
            .collect(),
        standards_met: sections.standards_met.clone(),
        policies_followed: sections.policies_followed.clone(),
        working_together: sections.working_together.clone(),
        good_practice: sections.good_practice.clone(),
        learning: sections.learning.clone(),
        comments: comments
            .iter()
            .filter(|comment| comment.version <= report.version)
            .map(|comment| pb::OverviewComment {
                id: comment.id.to_string(),
                version: comment.version,
                section: comment.section.clone(),
                text: comment.text.clone(),
                author: comment.author.clone(),
                comment_time: Some(timestamp_to_proto(comment.at)),
                answer: comment
                    .answer
                    .as_ref()
                    .map(|answer| answer.text.clone())
                    .unwrap_or_default(),
                answered_in_version: comment.answer.as_ref().map_or(0, |answer| answer.version),
            })
            .collect(),
        latest_version,
    }
}

pub fn recommendation_to_proto(recommendation: &Recommendation) -> pb::Recommendation {
    pb::Recommendation {
        r#ref: recommendation.reference.clone(),
        text: recommendation.text.clone(),
        addressed_to: recommendation.addressed_to.clone(),
    }
}

pub fn process_to_proto(process: &ParallelProcess, days_impact: i64) -> pb::ParallelProcess {
    pb::ParallelProcess {
        id: process.id.to_string(),
        kind: process_kind_to_proto(process.kind) as i32,
        description: process.description.clone(),
        started_on: Some(date_to_proto(process.started_on)),
        ended_on: process.ended_on.map(date_to_proto),
        days_impact: i32::try_from(days_impact).unwrap_or(i32::MAX),
    }
}

proto_enum!(PanelResponseKind => pb::PanelResponseKind { Agrees, AsksForMore, NationalReview });

/// The rapid review's record as the API shows it.
pub fn rapid_review_to_proto(record: &RapidReview) -> pb::RapidReview {
    pb::RapidReview {
        meeting_on: Some(date_to_proto(record.meeting_on)),
        contributing_agencies: record.contributing_agencies.clone(),
        learning: record.learning.clone(),
        sent_to_panel_on: record.sent_to_panel_on.map(date_to_proto),
        panel_response: record
            .panel_response
            .as_ref()
            .map(|response| pb::PanelResponse {
                kind: response.kind.to_proto(),
                received_on: Some(date_to_proto(response.received_on)),
                note: response.note.clone(),
            }),
    }
}

proto_enum!(InformationRequestStatus => pb::InformationRequestStatus {
    Open, Overdue, Answered, AnsweredLate
});

/// A request for information with its status on `today`.
pub fn information_request_to_proto(
    request: &InformationRequest,
    today: chrono::NaiveDate,
) -> pb::InformationRequest {
    let answer = request.answer.as_ref();
    pb::InformationRequest {
        id: request.id.to_string(),
        question: request.question.clone(),
        requested_by: request.requested_by.clone(),
        request_time: Some(timestamp_to_proto(request.requested_at)),
        respond_by: Some(date_to_proto(request.respond_by)),
        reply_to_email: request
            .reply_to
            .as_ref()
            .map(|email| email.as_str().to_string())
            .unwrap_or_default(),
        answer: answer.map(|answer| answer.text.clone()).unwrap_or_default(),
        answered_by: answer
            .map(|answer| answer.answered_by.clone())
            .unwrap_or_default(),
        answer_time: answer.map(|answer| timestamp_to_proto(answer.answered_at)),
        status: request.status(today).to_proto(),
    }
}

pub fn agency_to_proto(agency: &crate::domain::review::Agency) -> pb::Agency {
    pb::Agency {
        id: agency.id.clone(),
        name: agency.name.clone(),
        contact_email: agency.contact_email.clone(),
    }
}

/// The whole review as the API shows it, with its timeline as of that day.
pub fn review_to_proto(
    review: &Review,
    timeline: &Timeline,
    rules: &crate::domain::deadlines::DeadlineRules,
) -> pb::Review {
    pb::Review {
        id: review.id.to_string(),
        reference: review.reference.clone(),
        partnership_id: review.partnership_id.clone(),
        child_alias: review.child_alias.clone(),
        local_authority: review.local_authority.clone(),
        incident_date: Some(date_to_proto(review.incident_date)),
        became_aware_on: Some(date_to_proto(review.became_aware_on)),
        stage: stage_to_proto(review.stage) as i32,
        notification: review
            .notification
            .as_ref()
            .map(|notification| pb::Notification {
                sent_on: Some(date_to_proto(notification.sent_on)),
                national_panel_reference: notification.national_panel_reference.clone(),
            }),
        decision: review
            .decision
            .as_ref()
            .map(|decision| pb::RapidReviewDecision {
                decision: decision_to_proto(decision.decision) as i32,
                decided_on: Some(date_to_proto(decision.decided_on)),
                rationale: decision.rationale.clone(),
            }),
        rapid_review: review.rapid_review.as_ref().map(rapid_review_to_proto),
        panel: review
            .panel
            .iter()
            .map(|member| pb::PanelMember {
                id: member.id.to_string(),
                name: member.name.clone(),
                email: member.email.as_str().to_string(),
                organisation: member.organisation.clone(),
                role: panel_role_to_proto(member.role) as i32,
                independence_statement: member.independence_statement.clone(),
                appoint_time: Some(timestamp_to_proto(member.appointed_at)),
                found_involved: member.found_involved.clone().unwrap_or_default(),
            })
            .collect(),
        reviewer: review.reviewer.as_ref().map(|reviewer| pb::Reviewer {
            name: reviewer.name.clone(),
            email: reviewer.email.as_str().to_string(),
            subject: reviewer.subject.clone(),
            appointed_on: Some(date_to_proto(reviewer.appointed_on)),
        }),
        terms_of_reference: review
            .terms_of_reference
            .as_ref()
            .map(|terms| pb::TermsOfReference {
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
                version: terms.version,
                set_time: Some(timestamp_to_proto(terms.set_at)),
            }),
        parallel_processes: review
            .parallel_processes
            .iter()
            .map(|process| {
                let impact = crate::domain::deadlines::days_impact(
                    review,
                    process.started_on,
                    process.ended_on,
                    rules,
                    timeline.as_of,
                );
                process_to_proto(process, impact)
            })
            .collect(),
        information_requests: review
            .information_requests
            .iter()
            .map(|request| information_request_to_proto(request, timeline.as_of))
            .collect(),
        overview_report: review
            .overview_report
            .as_ref()
            .map(|report| overview_to_proto(report, &review.overview_comments, report.version)),
        publication: Some(pb::Publication {
            planned_on: review.publication.planned_on.map(date_to_proto),
            notice_due_by: review.publication.notice_due_by.map(date_to_proto),
            notice_sent_on: review.publication.notice_sent_on.map(date_to_proto),
            published: review.publication.published,
            published_on: review.publication.published_on.map(date_to_proto),
            location: review.publication.location.clone(),
            not_published_justification: review.publication.not_published_justification.clone(),
            outcome_recorded: review.publication.outcome_recorded_on.is_some(),
        }),
        deadlines: timeline.deadlines.iter().map(deadline_to_proto).collect(),
        outstanding_agency_reports: review.outstanding_agency_reports(),
        create_time: Some(timestamp_to_proto(review.created_at)),
        update_time: Some(timestamp_to_proto(review.updated_at)),
        next_stages: crate::domain::stage::next_stages(review.stage)
            .into_iter()
            .map(|stage| stage_to_proto(stage) as i32)
            .collect(),
    }
}

proto_enum!(DecisionKind => pb::PanelDecisionKind {
    TermsAgreed, ReportsAccepted, ReportApproved, Other
});
proto_enum!(MeetingStatus => pb::PanelMeetingStatus { Scheduled, Held, Cancelled });

/// A panel meeting as the API shows it, each decision linked to what carried it out among
/// the review's `commands` (oldest first).
pub fn meeting_to_proto(meeting: &PanelMeeting, commands: &[CarriedOut]) -> pb::PanelMeeting {
    let arrangements = &meeting.arrangements;
    pb::PanelMeeting {
        id: meeting.id.to_string(),
        start_time: Some(timestamp_to_proto(arrangements.starts_at)),
        end_time: Some(timestamp_to_proto(arrangements.ends_at)),
        location: arrangements.location.clone(),
        agenda: arrangements.agenda.clone(),
        status: meeting.status().to_proto(),
        sequence: meeting.sequence,
        cancel_reason: meeting.cancel_reason.clone().unwrap_or_default(),
        record: meeting
            .record
            .as_ref()
            .map(|record| pb::PanelMeetingRecord {
                attendance: record.attendance.clone(),
                apologies: record.apologies.clone(),
                minutes: record.minutes.clone(),
                decisions: record
                    .decisions
                    .iter()
                    .map(|decision| pb::PanelMeetingDecision {
                        kind: decision.kind.to_proto(),
                        text: decision.text.clone(),
                        carried_out_by: carried_out(decision.kind, record.recorded_at, commands)
                            .into_iter()
                            .map(|command| pb::CommandLink {
                                service: command.service.to_string(),
                                action: command.action,
                                actor: command.actor,
                                time: Some(timestamp_to_proto(command.at)),
                                detail: command.detail,
                            })
                            .collect(),
                    })
                    .collect(),
                action_points: record
                    .action_points
                    .iter()
                    .map(|point| pb::ActionPoint {
                        text: point.text.clone(),
                        owner: point.owner.clone(),
                        due_on: Some(date_to_proto(point.due_on)),
                    })
                    .collect(),
                recorded_by: record.recorded_by.clone(),
                record_time: Some(timestamp_to_proto(record.recorded_at)),
            }),
        scheduled_by: meeting.scheduled_by.clone(),
        update_time: Some(timestamp_to_proto(meeting.updated_at)),
    }
}
