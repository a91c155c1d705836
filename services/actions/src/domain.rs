//! The action rules, free of I/O: statuses and what may follow what, verification needs
//! evidence, overdue, and the plan summary's arithmetic.

use chrono::NaiveDate;

cspr_platform::named_enum! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub enum ActionStatus {
        NotStarted => "NOT_STARTED",
        InProgress => "IN_PROGRESS",
        Completed => "COMPLETED",
        Verified => "VERIFIED",
        Cancelled => "CANCELLED",
    }
}

impl ActionStatus {
    /// Verified or cancelled: nothing more to do.
    pub fn is_settled(self) -> bool {
        matches!(self, ActionStatus::Verified | ActionStatus::Cancelled)
    }

    /// Still to be done (counts towards overdue).
    pub fn is_open(self) -> bool {
        matches!(self, ActionStatus::NotStarted | ActionStatus::InProgress)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    #[error("the action is {0}; it cannot change any more")]
    Settled(&'static str),
    #[error("only the partnership verifies an action (VerifyAction)")]
    VerifyThroughVerifyAction,
    #[error("only a completed action can be verified (this one is {0})")]
    NotCompleted(&'static str),
    #[error("verification needs evidence of impact: record what shows practice changed first")]
    NoEvidence,
    /// Changed by someone else since the version the update was made from.
    #[error("this action was {0}")]
    Stale(#[from] cspr_platform::error::Stale),
}

/// Whether an update may move an action from `current` to `next`.
pub fn may_update(current: ActionStatus, next: ActionStatus) -> Result<(), ActionError> {
    if current.is_settled() {
        return Err(ActionError::Settled(current.as_str()));
    }
    if next == ActionStatus::Verified {
        return Err(ActionError::VerifyThroughVerifyAction);
    }
    Ok(())
}

/// Whether the partnership may verify: completed, with evidence of impact.
pub fn may_verify(current: ActionStatus, evidence_of_impact: &str) -> Result<(), ActionError> {
    if current != ActionStatus::Completed {
        return Err(ActionError::NotCompleted(current.as_str()));
    }
    if evidence_of_impact.trim().is_empty() {
        return Err(ActionError::NoEvidence);
    }
    Ok(())
}

/// Past its due date and still open.
pub fn is_overdue(status: ActionStatus, due_date: NaiveDate, today: NaiveDate) -> bool {
    status.is_open() && due_date < today
}

/// The figures of a plan.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    pub total: i64,
    pub by_status: Vec<(ActionStatus, i64)>,
    pub overdue: i64,
    pub completion_rate: f64,
    pub verification_rate: f64,
    pub plan_complete: bool,
}

/// The summary of actions given as (status, overdue) pairs.
pub fn summarize(actions: &[(ActionStatus, bool)]) -> Summary {
    let count = |status: ActionStatus| {
        actions
            .iter()
            .filter(|(candidate, _)| *candidate == status)
            .count() as i64
    };
    let total = actions.len() as i64;
    let cancelled = count(ActionStatus::Cancelled);
    let verified = count(ActionStatus::Verified);
    let completed = count(ActionStatus::Completed);
    let countable = total - cancelled;
    let rate = |numerator: i64| {
        if countable > 0 {
            numerator as f64 / countable as f64
        } else {
            0.0
        }
    };
    Summary {
        total,
        by_status: ActionStatus::ALL
            .into_iter()
            .map(|status| (status, count(status)))
            .collect(),
        overdue: actions.iter().filter(|(_, overdue)| *overdue).count() as i64,
        completion_rate: rate(completed + verified),
        verification_rate: rate(verified),
        plan_complete: total > 0 && actions.iter().all(|(status, _)| status.is_settled()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settled_actions_do_not_change_and_verification_has_its_own_door() {
        assert!(may_update(ActionStatus::NotStarted, ActionStatus::Completed).is_ok());
        assert!(
            may_update(ActionStatus::Completed, ActionStatus::InProgress).is_ok(),
            "reopened"
        );
        assert_eq!(
            may_update(ActionStatus::Verified, ActionStatus::InProgress),
            Err(ActionError::Settled("VERIFIED"))
        );
        assert_eq!(
            may_update(ActionStatus::InProgress, ActionStatus::Verified),
            Err(ActionError::VerifyThroughVerifyAction)
        );
    }

    #[test]
    fn verification_needs_completion_and_evidence() {
        assert_eq!(
            may_verify(ActionStatus::InProgress, "evidence"),
            Err(ActionError::NotCompleted("IN_PROGRESS"))
        );
        assert_eq!(
            may_verify(ActionStatus::Completed, "  "),
            Err(ActionError::NoEvidence)
        );
        assert!(may_verify(ActionStatus::Completed, "Audit shows change").is_ok());
    }

    #[test]
    fn summaries_add_up() {
        let summary = summarize(&[
            (ActionStatus::Verified, false),
            (ActionStatus::Completed, false),
            (ActionStatus::InProgress, true),
            (ActionStatus::Cancelled, false),
        ]);
        assert_eq!(summary.total, 4);
        assert_eq!(summary.overdue, 1);
        assert!((summary.completion_rate - 2.0 / 3.0).abs() < 1e-9);
        assert!((summary.verification_rate - 1.0 / 3.0).abs() < 1e-9);
        assert!(!summary.plan_complete);
        assert!(
            summarize(&[
                (ActionStatus::Verified, false),
                (ActionStatus::Cancelled, false)
            ])
            .plan_complete
        );
        assert!(!summarize(&[]).plan_complete);
    }

    #[test]
    fn overdue_is_open_and_past_due() {
        let day = |d| NaiveDate::from_ymd_opt(2026, 9, d).expect("date");
        assert!(is_overdue(ActionStatus::InProgress, day(1), day(2)));
        assert!(!is_overdue(ActionStatus::Completed, day(1), day(2)));
        assert!(!is_overdue(ActionStatus::NotStarted, day(2), day(2)));
    }
}
