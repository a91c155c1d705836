//! The review lifecycle as a state machine: which stage follows which, and what must be true
//! before a review may move on.

use std::fmt;

cspr_platform::named_enum! {
    /// Where a review is. Reviews only move forward; `NotProceeding` and `Closed` end them.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
    pub enum Stage {
        Notified => "NOTIFIED",
        RapidReview => "RAPID_REVIEW",
        NotProceeding => "NOT_PROCEEDING",
        Scoping => "SCOPING",
        InformationGathering => "INFORMATION_GATHERING",
        Engagement => "ENGAGEMENT",
        OverviewDrafting => "OVERVIEW_DRAFTING",
        PanelApproval => "PANEL_APPROVAL",
        PrePublication => "PRE_PUBLICATION",
        Published => "PUBLISHED",
        ActionMonitoring => "ACTION_MONITORING",
        Closed => "CLOSED",
    }
}

impl Stage {
    /// The stage in words, for messages people read ("information gathering").
    pub fn words(self) -> String {
        self.as_str().to_lowercase().replace('_', " ")
    }

    /// Whether the review has ended.
    pub fn is_terminal(self) -> bool {
        matches!(self, Stage::NotProceeding | Stage::Closed)
    }

    /// The linear order of a local CSPR (NOT_PROCEEDING sits beside SCOPING).
    fn rank(self) -> u8 {
        match self {
            Stage::Notified => 0,
            Stage::RapidReview => 1,
            Stage::NotProceeding | Stage::Scoping => 2,
            Stage::InformationGathering => 3,
            Stage::Engagement => 4,
            Stage::OverviewDrafting => 5,
            Stage::PanelApproval => 6,
            Stage::PrePublication => 7,
            Stage::Published => 8,
            Stage::ActionMonitoring => 9,
            Stage::Closed => 10,
        }
    }

    /// Whether the review has reached `other` (or gone past it) on the local CSPR path.
    pub fn is_at_least(self, other: Stage) -> bool {
        self != Stage::NotProceeding && self.rank() >= other.rank()
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// What the guards look at: the facts of a review that decide whether it may move on.
#[derive(Debug, Clone, Default)]
pub struct StageFacts {
    pub notification_sent: bool,
    /// `Some(true)` for a local CSPR, `Some(false)` for no local CSPR.
    pub local_cspr_decided: Option<bool>,
    pub terms_of_reference_set: bool,
    pub reviewer_appointed: bool,
    pub panel_chair_appointed: bool,
    /// Agencies in scope whose report is neither accepted nor waived.
    pub outstanding_agency_reports: Vec<String>,
    pub overview_report_submitted: bool,
    pub overview_report_approved: bool,
    pub publication_outcome_recorded: bool,
    /// The actions service has an active action plan for the review.
    pub action_plan_active: bool,
    /// Every action is verified or cancelled.
    pub action_plan_completed: bool,
}

/// A refused transition.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StageError {
    #[error("the review has ended ({0})")]
    Ended(Stage),
    #[error("{to} does not follow {from}; the next stage is {}", next_names(.allowed))]
    NotNext {
        from: Stage,
        to: Stage,
        allowed: Vec<Stage>,
    },
    #[error("cannot move to {to} yet: {}", .missing.join("; "))]
    Missing { to: Stage, missing: Vec<String> },
}

fn next_names(stages: &[Stage]) -> String {
    if stages.is_empty() {
        return "none".to_string();
    }
    stages
        .iter()
        .map(|stage| stage.as_str())
        .collect::<Vec<_>>()
        .join(" or ")
}

/// The stages that may follow `from`.
pub fn next_stages(from: Stage) -> Vec<Stage> {
    match from {
        Stage::Notified => vec![Stage::RapidReview],
        Stage::RapidReview => vec![Stage::Scoping, Stage::NotProceeding],
        Stage::Scoping => vec![Stage::InformationGathering],
        Stage::InformationGathering => vec![Stage::Engagement],
        Stage::Engagement => vec![Stage::OverviewDrafting],
        Stage::OverviewDrafting => vec![Stage::PanelApproval],
        Stage::PanelApproval => vec![Stage::PrePublication],
        Stage::PrePublication => vec![Stage::Published],
        Stage::Published => vec![Stage::ActionMonitoring],
        Stage::ActionMonitoring => vec![Stage::Closed],
        Stage::NotProceeding | Stage::Closed => vec![],
    }
}

/// Checks that `from → to` is a step of the lifecycle and that its guard holds; the error
/// names everything missing, so the caller can fix it in one go.
pub fn transition(from: Stage, to: Stage, facts: &StageFacts) -> Result<Stage, StageError> {
    if from.is_terminal() {
        return Err(StageError::Ended(from));
    }
    let allowed = next_stages(from);
    if !allowed.contains(&to) {
        return Err(StageError::NotNext { from, to, allowed });
    }
    let mut missing = Vec::new();
    match to {
        Stage::RapidReview if !facts.notification_sent => {
            missing.push("the notification to the national Panel is not recorded".to_string());
        }
        Stage::Scoping if facts.local_cspr_decided != Some(true) => {
            missing.push("no decision to hold a local CSPR is recorded".to_string());
        }
        Stage::NotProceeding if facts.local_cspr_decided != Some(false) => {
            missing.push("no decision against a local CSPR is recorded".to_string());
        }
        Stage::InformationGathering => {
            if !facts.terms_of_reference_set {
                missing.push("terms of reference not set".to_string());
            }
            if !facts.reviewer_appointed {
                missing.push("no independent reviewer appointed".to_string());
            }
            if !facts.panel_chair_appointed {
                missing.push("no panel chair appointed".to_string());
            }
        }
        Stage::OverviewDrafting if !facts.outstanding_agency_reports.is_empty() => {
            missing.push(format!(
                "agency reports not yet accepted or waived: {}",
                facts.outstanding_agency_reports.join(", ")
            ));
        }
        Stage::PanelApproval if !facts.overview_report_submitted => {
            missing.push("no overview report submitted".to_string());
        }
        Stage::PrePublication if !facts.overview_report_approved => {
            missing.push("the overview report is not approved".to_string());
        }
        Stage::Published if !facts.publication_outcome_recorded => {
            missing
                .push("publication (or the decision not to publish) is not recorded".to_string());
        }
        Stage::ActionMonitoring if !facts.action_plan_active => {
            missing.push("the action plan is not active yet".to_string());
        }
        Stage::Closed if !facts.action_plan_completed => {
            missing.push(
                "the action plan is not complete: every action must be verified or cancelled"
                    .to_string(),
            );
        }
        _ => {}
    }
    if missing.is_empty() {
        Ok(to)
    } else {
        Err(StageError::Missing { to, missing })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_facts() -> StageFacts {
        StageFacts {
            notification_sent: true,
            local_cspr_decided: Some(true),
            terms_of_reference_set: true,
            reviewer_appointed: true,
            panel_chair_appointed: true,
            outstanding_agency_reports: vec![],
            overview_report_submitted: true,
            overview_report_approved: true,
            publication_outcome_recorded: true,
            action_plan_active: true,
            action_plan_completed: true,
        }
    }

    #[test]
    fn every_pair_is_allowed_only_along_the_lifecycle() {
        let facts = all_facts();
        for from in Stage::ALL {
            for to in Stage::ALL {
                let allowed = next_stages(from).contains(&to);
                let result = transition(from, to, &facts);
                if to == Stage::NotProceeding && allowed {
                    // Needs the opposite decision.
                    assert!(matches!(result, Err(StageError::Missing { .. })));
                    continue;
                }
                assert_eq!(result.is_ok(), allowed, "{from} -> {to}");
            }
        }
    }

    #[test]
    fn the_full_local_cspr_path_is_walkable() {
        let facts = all_facts();
        let path = [
            Stage::Notified,
            Stage::RapidReview,
            Stage::Scoping,
            Stage::InformationGathering,
            Stage::Engagement,
            Stage::OverviewDrafting,
            Stage::PanelApproval,
            Stage::PrePublication,
            Stage::Published,
            Stage::ActionMonitoring,
            Stage::Closed,
        ];
        for pair in path.windows(2) {
            assert_eq!(transition(pair[0], pair[1], &facts), Ok(pair[1]));
        }
    }

    #[test]
    fn terminal_stages_refuse_everything() {
        for to in Stage::ALL {
            assert_eq!(
                transition(Stage::Closed, to, &all_facts()),
                Err(StageError::Ended(Stage::Closed))
            );
            assert!(transition(Stage::NotProceeding, to, &all_facts()).is_err());
        }
    }

    #[test]
    fn guards_name_everything_missing() {
        let facts = StageFacts::default();
        let error =
            transition(Stage::Scoping, Stage::InformationGathering, &facts).expect_err("guarded");
        let StageError::Missing { missing, .. } = &error else {
            panic!("expected missing, got {error:?}");
        };
        assert_eq!(missing.len(), 3);
        assert!(error.to_string().contains("terms of reference not set"));

        let facts = StageFacts {
            outstanding_agency_reports: vec!["police".into(), "gp".into()],
            ..all_facts()
        };
        let error =
            transition(Stage::Engagement, Stage::OverviewDrafting, &facts).expect_err("guarded");
        assert!(error.to_string().contains("police, gp"), "{error}");
    }

    #[test]
    fn no_local_cspr_needs_that_decision() {
        let facts = StageFacts {
            local_cspr_decided: Some(false),
            ..all_facts()
        };
        assert_eq!(
            transition(Stage::RapidReview, Stage::NotProceeding, &facts),
            Ok(Stage::NotProceeding)
        );
        assert!(transition(Stage::RapidReview, Stage::Scoping, &facts).is_err());
    }

    #[test]
    fn names_round_trip() {
        for stage in Stage::ALL {
            assert_eq!(Stage::parse(stage.as_str()), Some(stage));
        }
    }
}
