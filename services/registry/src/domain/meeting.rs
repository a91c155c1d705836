//! The panel's meetings: scheduled, changed, cancelled and recorded as held, and the link
//! from the decisions a meeting took to the commands that carried them out.
//!
//! A meeting is its own record beside the review (a review is read far more often than its
//! meetings, so they are not loaded with it); its commands still run on the locked review,
//! whose stage and panel they need, and each change carries the meeting whole so the store
//! and the events need nothing else.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::review::{Change, Review, ReviewError};

cspr_platform::named_enum! {
    /// What a panel decision was about; the first three are carried out by a command.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    pub enum DecisionKind {
        TermsAgreed => "TERMS_AGREED",
        ReportsAccepted => "REPORTS_ACCEPTED",
        ReportApproved => "REPORT_APPROVED",
        Other => "OTHER",
    }
}

cspr_platform::named_enum! {
    /// Where a meeting stands.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum MeetingStatus {
        Scheduled => "SCHEDULED",
        Held => "HELD",
        Cancelled => "CANCELLED",
    }
}

/// When and where a meeting is, and what it is for: what scheduling sets and a change
/// replaces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Arrangements {
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// A place, or an online meeting link.
    pub location: String,
    pub agenda: Vec<String>,
}

/// A decision taken at a meeting, as minuted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeetingDecision {
    pub kind: DecisionKind,
    pub text: String,
}

/// An action point: what, who, by when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionPoint {
    pub text: String,
    pub owner: String,
    pub due_on: NaiveDate,
}

/// What happened at a meeting that was held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeetingRecord {
    pub attendance: Vec<String>,
    pub apologies: Vec<String>,
    pub minutes: String,
    pub decisions: Vec<MeetingDecision>,
    pub action_points: Vec<ActionPoint>,
    /// The `sub` of who recorded it.
    pub recorded_by: String,
    pub recorded_at: DateTime<Utc>,
}

/// A meeting of a review's panel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PanelMeeting {
    pub id: Uuid,
    pub review_id: Uuid,
    pub arrangements: Arrangements,
    /// Changes and the cancellation since scheduling: the calendar entry's SEQUENCE, so a
    /// calendar replaces its copy with each newer one.
    pub sequence: i32,
    pub cancel_reason: Option<String>,
    pub record: Option<MeetingRecord>,
    /// The `sub` of who scheduled it.
    pub scheduled_by: String,
    pub updated_at: DateTime<Utc>,
}

/// How a command changed a meeting (the event it raises follows from it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeetingChange {
    Scheduled,
    Changed,
    Cancelled,
    Recorded,
}

/// The longest meeting accepted: a panel meeting is part of a day, not a week.
const LONGEST: Duration = Duration::hours(24);

impl PanelMeeting {
    pub fn status(&self) -> MeetingStatus {
        if self.record.is_some() {
            MeetingStatus::Held
        } else if self.cancel_reason.is_some() {
            MeetingStatus::Cancelled
        } else {
            MeetingStatus::Scheduled
        }
    }

    /// Schedules a new meeting of `review`'s panel, starting no earlier than `now`.
    pub fn schedule(
        review: &Review,
        id: Uuid,
        arrangements: Arrangements,
        scheduled_by: String,
        now: DateTime<Utc>,
    ) -> Result<Vec<Change>, ReviewError> {
        review.require_open("scheduling a panel meeting")?;
        check(&arrangements)?;
        if arrangements.starts_at < now {
            return Err(ReviewError::Field {
                field: "start_time",
                message: "a new meeting must not start in the past".into(),
            });
        }
        let meeting = PanelMeeting {
            id,
            review_id: review.id,
            arrangements,
            sequence: 0,
            cancel_reason: None,
            record: None,
            scheduled_by,
            updated_at: now,
        };
        Ok(vec![Change::PanelMeeting(
            Box::new(meeting),
            MeetingChange::Scheduled,
        )])
    }

    /// Replaces the arrangements of a meeting not yet held or cancelled; the same
    /// arrangements change nothing (and so send no update).
    pub fn change(
        mut self,
        review: &Review,
        arrangements: Arrangements,
        now: DateTime<Utc>,
    ) -> Result<Vec<Change>, ReviewError> {
        review.require_open("changing a panel meeting")?;
        self.require_scheduled("changed")?;
        check(&arrangements)?;
        if arrangements == self.arrangements {
            return Ok(Vec::new());
        }
        self.arrangements = arrangements;
        self.sequence += 1;
        self.updated_at = now;
        Ok(vec![Change::PanelMeeting(
            Box::new(self),
            MeetingChange::Changed,
        )])
    }

    /// Cancels a meeting not yet held, with the reason.
    pub fn cancel(
        mut self,
        review: &Review,
        reason: String,
        now: DateTime<Utc>,
    ) -> Result<Vec<Change>, ReviewError> {
        review.require_open("cancelling a panel meeting")?;
        self.require_scheduled("cancelled")?;
        self.cancel_reason = Some(reason);
        self.sequence += 1;
        self.updated_at = now;
        Ok(vec![Change::PanelMeeting(
            Box::new(self),
            MeetingChange::Cancelled,
        )])
    }

    /// Records a meeting as held, once, from its start on. The review may have ended since
    /// (the minutes of its last meeting are still written up).
    pub fn record(mut self, record: MeetingRecord) -> Result<Vec<Change>, ReviewError> {
        self.require_scheduled("recorded")?;
        if record.recorded_at < self.arrangements.starts_at {
            return Err(ReviewError::Rule(format!(
                "this meeting starts {}: it can be recorded once it has started",
                self.arrangements.starts_at.format("%-d %B %Y at %H:%M UTC")
            )));
        }
        self.updated_at = record.recorded_at;
        self.record = Some(record);
        Ok(vec![Change::PanelMeeting(
            Box::new(self),
            MeetingChange::Recorded,
        )])
    }

    fn require_scheduled(&self, what: &str) -> Result<(), ReviewError> {
        match (&self.record, &self.cancel_reason) {
            (Some(record), _) => Err(ReviewError::Rule(format!(
                "this meeting was held and recorded on {}: it cannot be {what}",
                record.recorded_at.format("%-d %B %Y")
            ))),
            (None, Some(_)) => Err(ReviewError::Rule(format!(
                "this meeting was cancelled: it cannot be {what} (schedule a new one)"
            ))),
            (None, None) => Ok(()),
        }
    }
}

fn check(arrangements: &Arrangements) -> Result<(), ReviewError> {
    if arrangements.ends_at <= arrangements.starts_at {
        return Err(ReviewError::Field {
            field: "end_time",
            message: "must be after the start".into(),
        });
    }
    if arrangements.ends_at - arrangements.starts_at > LONGEST {
        return Err(ReviewError::Field {
            field: "end_time",
            message: "a meeting must end within 24 hours of its start".into(),
        });
    }
    Ok(())
}

/// A command carried out on the review, as the audit trail (registry commands) or the
/// events (another service's) know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CarriedOut {
    pub service: &'static str,
    pub action: String,
    pub actor: String,
    pub at: DateTime<Utc>,
    /// What it was carried out on (an agency id), if anything in particular.
    pub detail: String,
}

/// The commands that carried out a decision of `kind` minuted at `recorded_at`, among the
/// review's `commands` (oldest first): for the terms and the approval, the last such
/// command up to the record or, if none, the first after it (the decision was carried out
/// before it was minuted, or after); for the reports, the latest acceptance or waiver of
/// each agency's report.
pub fn carried_out(
    kind: DecisionKind,
    recorded_at: DateTime<Utc>,
    commands: &[CarriedOut],
) -> Vec<CarriedOut> {
    let one = |action: &str| {
        let matching = || {
            commands
                .iter()
                .filter(move |command| command.action == action)
        };
        matching()
            .rfind(|command| command.at <= recorded_at)
            .or_else(|| matching().find(|command| command.at > recorded_at))
            .cloned()
            .into_iter()
            .collect()
    };
    match kind {
        DecisionKind::TermsAgreed => one("SetTermsOfReference"),
        DecisionKind::ReportApproved => one("ApproveOverviewReport"),
        DecisionKind::ReportsAccepted => {
            let mut latest: Vec<CarriedOut> = Vec::new();
            for command in commands.iter().filter(|command| {
                command.action == "AcceptAgencyReport" || command.action == "WaiveAgencyReport"
            }) {
                match latest.iter_mut().find(|seen| seen.detail == command.detail) {
                    Some(seen) if seen.at <= command.at => *seen = command.clone(),
                    Some(_) => {}
                    None => latest.push(command.clone()),
                }
            }
            latest
        }
        DecisionKind::Other => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::review::NewReview;
    use crate::domain::values::ChildAlias;
    use chrono::TimeZone;

    fn at(text: &str) -> DateTime<Utc> {
        let naive = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").expect("time");
        Utc.from_utc_datetime(&naive)
    }

    fn review() -> Review {
        let date = |text| NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("date");
        Review::open(
            Uuid::nil(),
            "southvale".into(),
            "SOUTHVALE-2026-001".into(),
            NewReview {
                child_alias: ChildAlias::parse("Child Q").expect("alias"),
                local_authority: "Southvale Council".into(),
                incident_date: date("2026-03-09"),
                became_aware_on: date("2026-03-10"),
            },
            at("2026-03-10 09:00"),
        )
        .expect("opens")
        .0
    }

    fn arrangements(start: &str, end: &str) -> Arrangements {
        Arrangements {
            starts_at: at(start),
            ends_at: at(end),
            location: "Civic Centre, room 2".into(),
            agenda: vec!["Agree the terms of reference".into()],
        }
    }

    fn scheduled() -> PanelMeeting {
        let changes = PanelMeeting::schedule(
            &review(),
            Uuid::now_v7(),
            arrangements("2026-04-01 10:00", "2026-04-01 12:00"),
            "bu-lead".into(),
            at("2026-03-20 09:00"),
        )
        .expect("scheduled");
        match changes.into_iter().next() {
            Some(Change::PanelMeeting(meeting, MeetingChange::Scheduled)) => *meeting,
            other => panic!("{other:?}"),
        }
    }

    fn record(on: &str) -> MeetingRecord {
        MeetingRecord {
            attendance: vec!["Dr A Shah (chair)".into()],
            apologies: vec![],
            minutes: "The panel met.".into(),
            decisions: vec![],
            action_points: vec![],
            recorded_by: "bu-lead".into(),
            recorded_at: at(on),
        }
    }

    #[test]
    fn a_meeting_starts_in_the_future_and_ends_after_it_starts_the_same_day() {
        let review = review();
        let now = at("2026-03-20 09:00");
        let schedule = |start, end| {
            PanelMeeting::schedule(
                &review,
                Uuid::nil(),
                arrangements(start, end),
                "bu".into(),
                now,
            )
        };
        assert!(matches!(
            schedule("2026-03-19 10:00", "2026-03-19 11:00"),
            Err(ReviewError::Field {
                field: "start_time",
                ..
            })
        ));
        assert!(matches!(
            schedule("2026-04-01 10:00", "2026-04-01 10:00"),
            Err(ReviewError::Field {
                field: "end_time",
                ..
            })
        ));
        assert!(matches!(
            schedule("2026-04-01 10:00", "2026-04-02 10:01"),
            Err(ReviewError::Field {
                field: "end_time",
                ..
            })
        ));
        assert!(schedule("2026-04-01 10:00", "2026-04-02 10:00").is_ok());
    }

    #[test]
    fn each_change_and_the_cancellation_raise_the_sequence_and_the_same_change_is_none() {
        let review = review();
        let meeting = scheduled();
        assert_eq!(meeting.sequence, 0);
        let same = meeting.arrangements.clone();
        assert_eq!(
            meeting
                .clone()
                .change(&review, same, at("2026-03-21 09:00")),
            Ok(vec![])
        );
        let Ok(changes) = meeting.change(
            &review,
            arrangements("2026-04-02 10:00", "2026-04-02 12:00"),
            at("2026-03-21 09:00"),
        ) else {
            panic!("changed");
        };
        let Some(Change::PanelMeeting(changed, MeetingChange::Changed)) =
            changes.into_iter().next()
        else {
            panic!("a change");
        };
        assert_eq!(changed.sequence, 1);
        let Ok(changes) =
            changed.cancel(&review, "The chair is ill".into(), at("2026-03-22 09:00"))
        else {
            panic!("cancelled");
        };
        let Some(Change::PanelMeeting(cancelled, MeetingChange::Cancelled)) =
            changes.into_iter().next()
        else {
            panic!("a cancellation");
        };
        assert_eq!(cancelled.sequence, 2);
        assert_eq!(cancelled.status(), MeetingStatus::Cancelled);
        let again = cancelled
            .clone()
            .cancel(&review, "again".into(), at("2026-03-22 10:00"));
        assert_eq!(
            again,
            Err(ReviewError::Rule(
                "this meeting was cancelled: it cannot be cancelled (schedule a new one)".into()
            ))
        );
        assert!(cancelled.record(record("2026-04-02 13:00")).is_err());
    }

    #[test]
    fn a_meeting_is_recorded_once_from_its_start() {
        let meeting = scheduled();
        let early = meeting.clone().record(record("2026-04-01 09:59"));
        assert_eq!(
            early,
            Err(ReviewError::Rule(
                "this meeting starts 1 April 2026 at 10:00 UTC: it can be recorded once it has started"
                    .into()
            ))
        );
        let Ok(changes) = meeting.record(record("2026-04-01 12:30")) else {
            panic!("recorded");
        };
        let Some(Change::PanelMeeting(held, MeetingChange::Recorded)) = changes.into_iter().next()
        else {
            panic!("a record");
        };
        assert_eq!(held.status(), MeetingStatus::Held);
        assert_eq!(held.sequence, 0, "a record sends no calendar update");
        assert_eq!(
            held.clone().record(record("2026-04-01 13:00")),
            Err(ReviewError::Rule(
                "this meeting was held and recorded on 1 April 2026: it cannot be recorded".into()
            ))
        );
        let review = review();
        assert!(
            held.change(
                &review,
                arrangements("2026-04-03 10:00", "2026-04-03 11:00"),
                at("2026-04-02 09:00")
            )
            .is_err()
        );
    }

    fn command(action: &str, on: &str, detail: &str) -> CarriedOut {
        CarriedOut {
            service: "registry",
            action: action.into(),
            actor: "someone".into(),
            at: at(on),
            detail: detail.into(),
        }
    }

    #[test]
    fn a_decision_links_the_last_command_before_its_record_or_else_the_first_after() {
        let commands = vec![
            command("SetTermsOfReference", "2026-04-01 09:00", ""),
            command("SetTermsOfReference", "2026-04-01 11:00", ""),
            command("SetTermsOfReference", "2026-04-05 11:00", ""),
            command("ApproveOverviewReport", "2026-09-02 11:00", ""),
            command("ApproveOverviewReport", "2026-09-03 11:00", ""),
        ];
        let recorded = at("2026-04-01 12:00");
        assert_eq!(
            carried_out(DecisionKind::TermsAgreed, recorded, &commands),
            vec![commands[1].clone()]
        );
        assert_eq!(
            carried_out(DecisionKind::ReportApproved, recorded, &commands),
            vec![commands[3].clone()]
        );
        assert_eq!(
            carried_out(DecisionKind::TermsAgreed, at("2026-03-01 12:00"), &[]),
            vec![]
        );
        assert_eq!(
            carried_out(DecisionKind::Other, recorded, &commands),
            vec![]
        );
    }

    #[test]
    fn reports_accepted_links_the_latest_settling_of_each_agency() {
        let commands = vec![
            command("AcceptAgencyReport", "2026-05-01 09:00", "csc"),
            command("WaiveAgencyReport", "2026-05-02 09:00", "police"),
            command("AcceptAgencyReport", "2026-05-03 09:00", "csc"),
            command("SetTermsOfReference", "2026-05-03 10:00", ""),
        ];
        assert_eq!(
            carried_out(
                DecisionKind::ReportsAccepted,
                at("2026-05-01 12:00"),
                &commands
            ),
            vec![commands[2].clone(), commands[1].clone()]
        );
    }
}
