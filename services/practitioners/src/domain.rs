//! The practitioner engagement rules, free of I/O: who may be contacted, who is invited to a
//! learning event, and the learning themes (system learning, never a rating of a person).

use std::collections::BTreeSet;

use chrono::NaiveDate;
use uuid::Uuid;

cspr_platform::named_enum! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum PractitionerStatus {
        Suggested => "SUGGESTED",
        Confirmed => "CONFIRMED",
    }
}

cspr_platform::named_enum! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum DeferralReason {
        PoliceInvestigationWitness => "POLICE_INVESTIGATION_WITNESS",
        Other => "OTHER",
    }
}

cspr_platform::named_enum! {
    /// Themes of system learning.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
    #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
    pub enum LearningTheme {
        InformationSharing => "INFORMATION_SHARING",
        Assessment => "ASSESSMENT",
        VoiceOfTheChild => "VOICE_OF_THE_CHILD",
        Supervision => "SUPERVISION",
        MultiAgencyWorking => "MULTI_AGENCY_WORKING",
        RecognisingRisk => "RECOGNISING_RISK",
        WorkloadAndCapacity => "WORKLOAD_AND_CAPACITY",
        Other => "OTHER",
    }
}

/// One learning point: a theme and what the system learnt.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LearningPoint {
    pub theme: LearningTheme,
    pub description: String,
}

/// What the rules need to know of a practitioner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub id: Uuid,
    pub status: PractitionerStatus,
    pub deferred: bool,
    pub involvement: Option<(NaiveDate, NaiveDate)>,
}

/// The review's scope period, as the platform's review projection keeps it.
pub use cspr_platform::projection::reviews::ScopePeriod;

/// Why something cannot be scheduled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngagementError {
    #[error("the methodology is not agreed yet: the review's terms of reference are not set")]
    MethodologyNotAgreed,
    #[error("practitioner {0} is a suggestion; confirm them (RegisterPractitioner) first")]
    NotConfirmed(Uuid),
    #[error("contact with practitioner {0} is deferred; release it first")]
    Deferred(Uuid),
    #[error("practitioner {0} is not part of this review")]
    Unknown(Uuid),
    #[error("contact with practitioner {0} is not deferred")]
    NotDeferred(Uuid),
}

/// A practitioner may be contacted: confirmed and not deferred.
pub fn may_contact(candidate: &Candidate) -> Result<(), EngagementError> {
    if candidate.status != PractitionerStatus::Confirmed {
        return Err(EngagementError::NotConfirmed(candidate.id));
    }
    if candidate.deferred {
        return Err(EngagementError::Deferred(candidate.id));
    }
    Ok(())
}

fn overlaps(involvement: Option<(NaiveDate, NaiveDate)>, scope: ScopePeriod) -> bool {
    involvement.is_some_and(|(start, end)| start <= scope.end && end >= scope.start)
}

/// A learning event's invitees: every confirmed practitioner whose involvement overlaps the
/// scope period and whose contact is not deferred, plus `add` (each must be contactable),
/// minus `remove`. Sorted, no repeats.
pub fn invitees(
    candidates: &[Candidate],
    scope: ScopePeriod,
    add: &[Uuid],
    remove: &[Uuid],
) -> Result<Vec<Uuid>, EngagementError> {
    let mut invited: BTreeSet<Uuid> = candidates
        .iter()
        .filter(|candidate| {
            candidate.status == PractitionerStatus::Confirmed && !candidate.deferred
        })
        .filter(|candidate| overlaps(candidate.involvement, scope))
        .map(|candidate| candidate.id)
        .collect();
    for id in add {
        let candidate = candidates
            .iter()
            .find(|candidate| candidate.id == *id)
            .ok_or(EngagementError::Unknown(*id))?;
        may_contact(candidate)?;
        invited.insert(*id);
    }
    for id in remove {
        if !candidates.iter().any(|candidate| candidate.id == *id) {
            return Err(EngagementError::Unknown(*id));
        }
        invited.remove(id);
    }
    Ok(invited.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("date")
    }

    fn candidate(
        status: PractitionerStatus,
        deferred: bool,
        involvement: Option<(&str, &str)>,
    ) -> Candidate {
        Candidate {
            id: Uuid::now_v7(),
            status,
            deferred,
            involvement: involvement.map(|(start, end)| (date(start), date(end))),
        }
    }

    fn scope() -> ScopePeriod {
        ScopePeriod {
            start: date("2024-09-15"),
            end: date("2026-03-09"),
        }
    }

    #[test]
    fn default_invitees_are_confirmed_in_scope_and_not_deferred() {
        let eligible = candidate(
            PractitionerStatus::Confirmed,
            false,
            Some(("2025-01-01", "2025-06-30")),
        );
        let edge = candidate(
            PractitionerStatus::Confirmed,
            false,
            Some(("2026-03-09", "2026-04-01")),
        );
        let before_scope = candidate(
            PractitionerStatus::Confirmed,
            false,
            Some(("2023-01-01", "2024-09-14")),
        );
        let deferred = candidate(
            PractitionerStatus::Confirmed,
            true,
            Some(("2025-01-01", "2025-06-30")),
        );
        let suggested = candidate(PractitionerStatus::Suggested, false, None);
        let all = [
            eligible.clone(),
            edge.clone(),
            before_scope.clone(),
            deferred.clone(),
            suggested.clone(),
        ];
        let mut expected = vec![eligible.id, edge.id];
        expected.sort();
        assert_eq!(invitees(&all, scope(), &[], &[]), Ok(expected));
    }

    #[test]
    fn additions_must_be_contactable_and_removals_known() {
        let outside = candidate(
            PractitionerStatus::Confirmed,
            false,
            Some(("2020-01-01", "2020-02-01")),
        );
        let deferred = candidate(PractitionerStatus::Confirmed, true, None);
        let suggested = candidate(PractitionerStatus::Suggested, false, None);
        let all = [outside.clone(), deferred.clone(), suggested.clone()];
        assert_eq!(
            invitees(&all, scope(), &[outside.id], &[]),
            Ok(vec![outside.id])
        );
        assert_eq!(
            invitees(&all, scope(), &[deferred.id], &[]),
            Err(EngagementError::Deferred(deferred.id))
        );
        assert_eq!(
            invitees(&all, scope(), &[suggested.id], &[]),
            Err(EngagementError::NotConfirmed(suggested.id))
        );
        let stranger = Uuid::now_v7();
        assert_eq!(
            invitees(&all, scope(), &[], &[stranger]),
            Err(EngagementError::Unknown(stranger))
        );
        assert_eq!(
            invitees(&all, scope(), &[outside.id], &[outside.id]),
            Ok(vec![])
        );
    }

    #[test]
    fn names_round_trip() {
        for theme in LearningTheme::ALL {
            let json = serde_json::to_string(&theme).expect("json");
            assert_eq!(json, format!("\"{}\"", theme.as_str()));
        }
        assert_eq!(DeferralReason::parse("OTHER"), Some(DeferralReason::Other));
        assert_eq!(
            PractitionerStatus::parse("CONFIRMED"),
            Some(PractitionerStatus::Confirmed)
        );
    }
}
