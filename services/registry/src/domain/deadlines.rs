//! Statutory deadlines: the rule set (configuration, defaults from the guidance) and the
//! timeline of one review as of a given day.

use chrono::{Days, Months, NaiveDate};

use super::review::{Decision, Review};
use cspr_platform::calendar::{OutsideCalendar, WorkingDayCalendar};

/// The timescales, all configurable because guidance changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadlineRules {
    /// Notification to the national Panel, from becoming aware (working days).
    pub notification_working_days: u32,
    /// Rapid review to the Panel with the decision (working days), from
    /// [`DeadlineRules::rapid_review_from`].
    pub rapid_review_working_days: u32,
    /// What starts the rapid review's clock: the notification (the default), or becoming
    /// aware of the incident, as some partnerships read the guidance.
    pub rapid_review_from: RapidReviewClock,
    /// Local CSPR completed and published, from the decision (calendar months).
    pub completion_months: u32,
    /// Pre-publication notice, before the publication (working days).
    pub pre_publication_working_days: u32,
    /// Published report kept available, from publication (calendar months).
    pub keep_public_months: u32,
    /// Working-day deadlines turn AT_RISK this many working days before they are due.
    pub at_risk_working_days: u32,
    /// The completion deadline turns AT_RISK this many calendar days before it is due.
    pub completion_at_risk_days: u32,
}

cspr_platform::named_enum! {
    /// The event that starts the rapid review's clock.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum RapidReviewClock {
        /// The serious incident notification was sent to the national Panel.
        Notification => "notification",
        /// The local authority became aware of the incident.
        BecomingAware => "aware",
    }
}

impl Default for DeadlineRules {
    fn default() -> Self {
        Self {
            notification_working_days: 5,
            rapid_review_working_days: 15,
            rapid_review_from: RapidReviewClock::Notification,
            completion_months: 6,
            pre_publication_working_days: 7,
            keep_public_months: 12,
            at_risk_working_days: 2,
            completion_at_risk_days: 28,
        }
    }
}

cspr_platform::named_enum! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
    pub enum DeadlineKind {
        Notification => "NOTIFICATION",
        RapidReview => "RAPID_REVIEW",
        Completion => "COMPLETION",
        PrePublicationNotice => "PRE_PUBLICATION_NOTICE",
        KeepPublic => "KEEP_PUBLIC",
    }
}

cspr_platform::named_enum! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum DeadlineStatus {
        Pending => "PENDING",
        AtRisk => "AT_RISK",
        Met => "MET",
        Missed => "MISSED",
    }
}

/// One deadline as of a day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deadline {
    pub kind: DeadlineKind,
    /// None while its clock has not started.
    pub due_on: Option<NaiveDate>,
    pub status: DeadlineStatus,
    pub done_on: Option<NaiveDate>,
    /// Working days from today to the due date (negative when past; 0 when unknown).
    pub working_days_left: i64,
}

/// A review's deadlines and the effect of parallel processes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeline {
    pub as_of: NaiveDate,
    pub deadlines: Vec<Deadline>,
    /// Days of the six-month window covered by parallel processes (overlaps counted once).
    pub parallel_process_days: i64,
    /// The six-month due date pushed back by those days.
    pub projected_completion: Option<NaiveDate>,
}

/// The day the notification is due.
pub fn notification_due(
    became_aware_on: NaiveDate,
    rules: &DeadlineRules,
    calendar: &WorkingDayCalendar,
) -> Result<NaiveDate, OutsideCalendar> {
    calendar.add_working_days(became_aware_on, rules.notification_working_days)
}

/// The day the rapid review is due, from the day its clock started
/// ([`DeadlineRules::rapid_review_from`]).
pub fn rapid_review_due(
    clock_started_on: NaiveDate,
    rules: &DeadlineRules,
    calendar: &WorkingDayCalendar,
) -> Result<NaiveDate, OutsideCalendar> {
    calendar.add_working_days(clock_started_on, rules.rapid_review_working_days)
}

/// The day a local CSPR is due to be completed and published.
pub fn completion_due(decided_on: NaiveDate, rules: &DeadlineRules) -> NaiveDate {
    decided_on
        .checked_add_months(Months::new(rules.completion_months))
        .unwrap_or(NaiveDate::MAX)
}

/// The latest day the pre-publication notice may be sent for a planned publication.
pub fn pre_publication_notice_due(
    planned_on: NaiveDate,
    rules: &DeadlineRules,
    calendar: &WorkingDayCalendar,
) -> Result<NaiveDate, OutsideCalendar> {
    calendar.subtract_working_days(planned_on, rules.pre_publication_working_days)
}

/// Calendar days of `[window_start, window_end]` covered by at least one interval.
pub fn covered_days(
    intervals: &[(NaiveDate, NaiveDate)],
    window_start: NaiveDate,
    window_end: NaiveDate,
) -> i64 {
    let mut clipped: Vec<(NaiveDate, NaiveDate)> = intervals
        .iter()
        .map(|(start, end)| ((*start).max(window_start), (*end).min(window_end)))
        .filter(|(start, end)| start <= end)
        .collect();
    clipped.sort();
    let mut total = 0;
    let mut current: Option<(NaiveDate, NaiveDate)> = None;
    for (start, end) in clipped {
        current = match current {
            Some((current_start, current_end)) if start <= current_end + Days::new(1) => {
                Some((current_start, current_end.max(end)))
            }
            Some((current_start, current_end)) => {
                total += (current_end - current_start).num_days() + 1;
                Some((start, end))
            }
            None => Some((start, end)),
        };
    }
    if let Some((start, end)) = current {
        total += (end - start).num_days() + 1;
    }
    total
}

/// Days of one process's interval inside the six-month window of `review` (0 before the
/// decision, or for a review that is not a local CSPR).
pub fn days_impact(
    review: &Review,
    started_on: NaiveDate,
    ended_on: Option<NaiveDate>,
    rules: &DeadlineRules,
    today: NaiveDate,
) -> i64 {
    match completion_window(review, rules) {
        Some((window_start, window_end)) => covered_days(
            &[(started_on, ended_on.unwrap_or(today))],
            window_start,
            window_end,
        ),
        None => 0,
    }
}

fn completion_window(review: &Review, rules: &DeadlineRules) -> Option<(NaiveDate, NaiveDate)> {
    let decision = review.decision.as_ref()?;
    if decision.decision != Decision::LocalCspr {
        return None;
    }
    Some((
        decision.decided_on,
        completion_due(decision.decided_on, rules),
    ))
}

fn working_days_left(
    calendar: &WorkingDayCalendar,
    today: NaiveDate,
    due_on: NaiveDate,
) -> Option<i64> {
    calendar.working_days_between(today, due_on).ok()
}

fn working_day_status(
    calendar: &WorkingDayCalendar,
    rules: &DeadlineRules,
    today: NaiveDate,
    due_on: NaiveDate,
    done_on: Option<NaiveDate>,
) -> (DeadlineStatus, i64) {
    let left = working_days_left(calendar, today, due_on).unwrap_or(0);
    let status = match done_on {
        Some(done) if done <= due_on => DeadlineStatus::Met,
        Some(_) => DeadlineStatus::Missed,
        None if today > due_on => DeadlineStatus::Missed,
        None if left <= i64::from(rules.at_risk_working_days) => DeadlineStatus::AtRisk,
        None => DeadlineStatus::Pending,
    };
    (status, left)
}

/// Every deadline of `review` as of `today`.
pub fn timeline(
    review: &Review,
    rules: &DeadlineRules,
    calendar: &WorkingDayCalendar,
    today: NaiveDate,
) -> Result<Timeline, OutsideCalendar> {
    let mut deadlines = Vec::with_capacity(5);

    let notification_due_on = notification_due(review.became_aware_on, rules, calendar)?;
    let notification_done = review
        .notification
        .as_ref()
        .map(|notification| notification.sent_on);
    let (status, left) = working_day_status(
        calendar,
        rules,
        today,
        notification_due_on,
        notification_done,
    );
    deadlines.push(Deadline {
        kind: DeadlineKind::Notification,
        due_on: Some(notification_due_on),
        status,
        done_on: notification_done,
        working_days_left: left,
    });

    let decision_done = review.decision.as_ref().map(|decision| decision.decided_on);
    let rapid_review_start = match rules.rapid_review_from {
        RapidReviewClock::Notification => notification_done,
        RapidReviewClock::BecomingAware => Some(review.became_aware_on),
    };
    deadlines.push(match rapid_review_start {
        Some(started_on) => {
            let due_on = rapid_review_due(started_on, rules, calendar)?;
            let (status, left) = working_day_status(calendar, rules, today, due_on, decision_done);
            Deadline {
                kind: DeadlineKind::RapidReview,
                due_on: Some(due_on),
                status,
                done_on: decision_done,
                working_days_left: left,
            }
        }
        None => Deadline {
            kind: DeadlineKind::RapidReview,
            due_on: None,
            status: DeadlineStatus::Pending,
            done_on: None,
            working_days_left: 0,
        },
    });

    let mut parallel_process_days = 0;
    let mut projected_completion = None;
    if let Some((window_start, due_on)) = completion_window(review, rules) {
        let intervals: Vec<_> = review
            .parallel_processes
            .iter()
            .map(|process| (process.started_on, process.ended_on.unwrap_or(today)))
            .collect();
        parallel_process_days = covered_days(&intervals, window_start, due_on);
        let projected = due_on + Days::new(parallel_process_days.unsigned_abs());
        projected_completion = Some(projected);
        let done_on = review.publication.outcome_recorded_on;
        let days_left = (due_on - today).num_days();
        let status = match done_on {
            Some(done) if done <= due_on => DeadlineStatus::Met,
            Some(_) => DeadlineStatus::Missed,
            None if today > due_on => DeadlineStatus::Missed,
            None if projected > due_on || days_left <= i64::from(rules.completion_at_risk_days) => {
                DeadlineStatus::AtRisk
            }
            None => DeadlineStatus::Pending,
        };
        deadlines.push(Deadline {
            kind: DeadlineKind::Completion,
            due_on: Some(due_on),
            status,
            done_on,
            working_days_left: working_days_left(calendar, today, due_on).unwrap_or(0),
        });
    }

    if let Some(planned_on) = review.publication.planned_on {
        let due_on = pre_publication_notice_due(planned_on, rules, calendar)?;
        let (status, left) = working_day_status(
            calendar,
            rules,
            today,
            due_on,
            review.publication.notice_sent_on,
        );
        deadlines.push(Deadline {
            kind: DeadlineKind::PrePublicationNotice,
            due_on: Some(due_on),
            status,
            done_on: review.publication.notice_sent_on,
            working_days_left: left,
        });
    }

    if let Some(published_on) = review
        .publication
        .published_on
        .filter(|_| review.publication.published)
    {
        let due_on = published_on
            .checked_add_months(Months::new(rules.keep_public_months))
            .unwrap_or(NaiveDate::MAX);
        deadlines.push(Deadline {
            kind: DeadlineKind::KeepPublic,
            due_on: Some(due_on),
            status: if today >= due_on {
                DeadlineStatus::Met
            } else {
                DeadlineStatus::Pending
            },
            done_on: (today >= due_on).then_some(due_on),
            working_days_left: working_days_left(calendar, today, due_on).unwrap_or(0),
        });
    }

    Ok(Timeline {
        as_of: today,
        deadlines,
        parallel_process_days,
        projected_completion,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::review::{NewReview, ParallelProcess, ParallelProcessKind};
    use crate::domain::values::ChildAlias;
    use chrono::Utc;
    use uuid::Uuid;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("test date")
    }

    fn review(became_aware_on: &str) -> Review {
        let input = NewReview {
            child_alias: ChildAlias::parse("Child Q").expect("alias"),
            local_authority: "Southvale Council".into(),
            incident_date: date("2026-03-09"),
            became_aware_on: date(became_aware_on),
        };
        Review::open(
            Uuid::nil(),
            "southvale".into(),
            "SOUTHVALE-2026-001".into(),
            input,
            Utc::now(),
        )
        .expect("opens")
        .0
    }

    fn find(timeline: &Timeline, kind: DeadlineKind) -> Deadline {
        timeline
            .deadlines
            .iter()
            .find(|deadline| deadline.kind == kind)
            .cloned()
            .expect("deadline present")
    }

    #[test]
    fn the_rapid_review_clock_can_start_on_becoming_aware() {
        let calendar = WorkingDayCalendar::england_and_wales();
        let rules = DeadlineRules {
            rapid_review_from: RapidReviewClock::BecomingAware,
            ..DeadlineRules::default()
        };
        // Aware Tuesday 2026-03-10: 15 working days → Tuesday 2026-03-31 (three weeks, no
        // bank holiday between), known before any notification is sent.
        let review = review("2026-03-10");
        let timeline = timeline(&review, &rules, &calendar, date("2026-03-11")).expect("timeline");
        assert_eq!(
            find(&timeline, DeadlineKind::RapidReview).due_on,
            Some(date("2026-03-31"))
        );
        assert_eq!(
            RapidReviewClock::parse("aware"),
            Some(RapidReviewClock::BecomingAware)
        );
    }

    #[test]
    fn notification_and_rapid_review_clocks() {
        let calendar = WorkingDayCalendar::england_and_wales();
        let rules = DeadlineRules::default();
        // Child Q: aware Tuesday 2026-03-10 → notification due Tuesday 2026-03-17.
        let mut review = review("2026-03-10");
        let timeline =
            timeline(&review, &rules, &calendar, date("2026-03-11")).expect("in calendar");
        let notification = find(&timeline, DeadlineKind::Notification);
        assert_eq!(notification.due_on, Some(date("2026-03-17")));
        assert_eq!(notification.status, DeadlineStatus::Pending);
        assert_eq!(find(&timeline, DeadlineKind::RapidReview).due_on, None);

        review
            .record_notification_sent(date("2026-03-13"), "NP-1".into())
            .expect("recorded");
        let timeline =
            super::timeline(&review, &rules, &calendar, date("2026-03-13")).expect("in calendar");
        assert_eq!(
            find(&timeline, DeadlineKind::Notification).status,
            DeadlineStatus::Met
        );
        // 15 working days from Friday 2026-03-13 crosses Good Friday and Easter Monday.
        assert_eq!(
            find(&timeline, DeadlineKind::RapidReview).due_on,
            Some(date("2026-04-07"))
        );
    }

    #[test]
    fn statuses_move_with_the_clock() {
        let calendar = WorkingDayCalendar::england_and_wales();
        let rules = DeadlineRules::default();
        let review = review("2026-03-10");
        let at = |day: &str| {
            find(
                &timeline(&review, &rules, &calendar, date(day)).expect("ok"),
                DeadlineKind::Notification,
            )
            .status
        };
        assert_eq!(at("2026-03-12"), DeadlineStatus::Pending); // 3 working days left
        assert_eq!(at("2026-03-13"), DeadlineStatus::AtRisk); // 2 left
        assert_eq!(at("2026-03-17"), DeadlineStatus::AtRisk); // due today
        assert_eq!(at("2026-03-18"), DeadlineStatus::Missed);
    }

    #[test]
    fn late_notification_is_missed() {
        let calendar = WorkingDayCalendar::england_and_wales();
        let mut review = review("2026-03-10");
        review
            .record_notification_sent(date("2026-03-18"), String::new())
            .expect("recorded");
        let timeline = timeline(
            &review,
            &DeadlineRules::default(),
            &calendar,
            date("2026-03-20"),
        )
        .expect("ok");
        assert_eq!(
            find(&timeline, DeadlineKind::Notification).status,
            DeadlineStatus::Missed
        );
    }

    #[test]
    fn parallel_processes_push_the_projected_completion() {
        let calendar = WorkingDayCalendar::england_and_wales();
        let rules = DeadlineRules::default();
        let mut review = review("2026-03-10");
        review
            .record_notification_sent(date("2026-03-12"), String::new())
            .expect("ok");
        review
            .record_decision(Decision::LocalCspr, date("2026-03-30"), String::new())
            .expect("ok");
        // Two overlapping processes: 2026-04-01..2026-04-10 and 2026-04-05..2026-04-20 → 20 days.
        for (start, end) in [("2026-04-01", "2026-04-10"), ("2026-04-05", "2026-04-20")] {
            review.parallel_processes.push(ParallelProcess {
                id: Uuid::new_v4(),
                kind: ParallelProcessKind::CriminalInvestigation,
                description: String::new(),
                started_on: date(start),
                ended_on: Some(date(end)),
            });
        }
        let timeline = timeline(&review, &rules, &calendar, date("2026-05-01")).expect("ok");
        let completion = find(&timeline, DeadlineKind::Completion);
        assert_eq!(completion.due_on, Some(date("2026-09-30")));
        assert_eq!(timeline.parallel_process_days, 20);
        assert_eq!(timeline.projected_completion, Some(date("2026-10-20")));
        assert_eq!(completion.status, DeadlineStatus::AtRisk);
    }

    #[test]
    fn covered_days_merges_and_clips() {
        let window = (date("2026-01-10"), date("2026-01-31"));
        assert_eq!(covered_days(&[], window.0, window.1), 0);
        assert_eq!(
            covered_days(
                &[(date("2026-01-01"), date("2026-01-12"))],
                window.0,
                window.1
            ),
            3
        );
        assert_eq!(
            covered_days(
                &[
                    (date("2026-01-15"), date("2026-01-16")),
                    (date("2026-01-17"), date("2026-01-18"))
                ],
                window.0,
                window.1
            ),
            4
        );
        assert_eq!(
            covered_days(
                &[(date("2026-02-01"), date("2026-02-05"))],
                window.0,
                window.1
            ),
            0
        );
    }

    #[test]
    fn pre_publication_notice_counts_back_over_holidays() {
        let calendar = WorkingDayCalendar::england_and_wales();
        // Publishing Tuesday 2026-12-29: 7 working days back skips 25 and 28 December.
        assert_eq!(
            pre_publication_notice_due(date("2026-12-29"), &DeadlineRules::default(), &calendar),
            Ok(date("2026-12-16"))
        );
    }
}
