//! Who may read or do what on a review's resources: one pure decision per question, from the
//! caller's [`Principal`] and what the service knows of the review (its partnership and
//! appointed reviewer), so that a rule such as "a reviewer reads only the reviews they are
//! appointed to" is written once and no service can forget it.
//!
//! The services keep which reviewer is appointed to which review in their own projections
//! and pass plain values ([`ReviewFacts`]); nothing here reads a database, which keeps every
//! rule unit-tested below.
//!
//! Which of these decisions each RPC takes is the table in [`rules`], which api.md shows.
//!
//! The role matrix is api.md's: the partnership and panel read everything of their
//! partnership's reviews, the reviewer the reviews they are appointed to, an agency (claim
//! `org`) only its own reports and actions, family liaison the family engagement (and the
//! review record), the auditor everything read-only with family data redacted.

use std::borrow::Cow;

use uuid::Uuid;

use crate::auth::{Principal, Role};

pub mod rules;
use crate::error::ServiceError;
use crate::values::agency_field;

/// What a service knows of the review a resource belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReviewFacts<'a> {
    /// The partnership (tenant) the review belongs to.
    pub partnership_id: &'a str,
    /// The `sub` of the reviewer appointed to it, once one is.
    pub reviewer_subject: Option<&'a str>,
}

impl<'a> ReviewFacts<'a> {
    /// The facts from a service's projection of the review.
    pub fn new(partnership_id: &'a str, reviewer_subject: Option<&'a str>) -> Self {
        Self {
            partnership_id,
            reviewer_subject,
        }
    }
}

/// A review's resources, each with its own readers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    /// The review record itself: stage, deadlines, panel, terms, overview report (registry).
    Review,
    /// Agency reports, their requests and the combined chronology (submissions).
    AgencyReports,
    /// Practitioners, conversations, deferrals and learning events (practitioners).
    Practitioners,
    /// Family members, contacts and contributions (family).
    Family,
    /// Action plans and their actions (actions).
    Actions,
}

impl Area {
    /// The resource an audit record names for this area of a review (`reviews/<id>/family`).
    pub fn resource(self, review_id: Uuid) -> String {
        let segment = match self {
            Area::Review => return format!("reviews/{review_id}"),
            Area::AgencyReports => "reports",
            Area::Practitioners => "practitioners",
            Area::Family => "family",
            Area::Actions => "actions",
        };
        format!("reviews/{review_id}/{segment}")
    }

    /// The readers who see the whole area in clear, whatever the appointment.
    fn partnership_readers(self) -> &'static [Role] {
        match self {
            // Family liaison needs the review record to run engagement for any review.
            Area::Review => &[
                Role::PartnershipAdmin,
                Role::PanelChair,
                Role::PanelMember,
                Role::Auditor,
                Role::FamilyLiaison,
            ],
            Area::AgencyReports | Area::Practitioners | Area::Actions => &[
                Role::PartnershipAdmin,
                Role::PanelChair,
                Role::PanelMember,
                Role::Auditor,
            ],
            // Family personal data is in clear only for the people who run engagement.
            Area::Family => &[Role::FamilyLiaison],
        }
    }

    /// The readers who see the area without personal data.
    fn redacted_readers(self) -> &'static [Role] {
        match self {
            Area::Family => &[
                Role::PartnershipAdmin,
                Role::PanelChair,
                Role::PanelMember,
                Role::Auditor,
            ],
            _ => &[],
        }
    }

    /// Whether an agency caller sees its own part of the area.
    fn agency_reads_its_own(self) -> bool {
        matches!(self, Area::AgencyReports | Area::Actions)
    }

    fn refusal(self) -> &'static str {
        match self {
            Area::Review => {
                "reading a review needs a partnership role or being its appointed reviewer"
            }
            Area::AgencyReports => {
                "reading agency reports needs a panel or partnership role, being the appointed reviewer, or being the agency"
            }
            Area::Practitioners => {
                "reading practitioner records needs a partnership or panel role, or being the appointed reviewer"
            }
            Area::Family => "family engagement is not open to this role",
            Area::Actions => {
                "actions are for the partnership, the reviewer appointed to the review and the owning agencies"
            }
        }
    }
}

/// What a caller may read of one review's area.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// Everything, in clear.
    Full,
    /// Everything without personal data (family names, contact details, notes).
    Redacted,
    /// Only what belongs to this agency (the caller's `org`).
    Agency(String),
}

/// What a caller may list across the partnership's reviews, when no one review is named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// Every review of the caller's partnership.
    Partnership,
    /// Only the reviews this subject is the appointed reviewer of.
    AppointedReviews(String),
    /// Only this agency's part, across reviews.
    Agency(String),
}

impl Reach {
    /// The reviewer a list across reviews is narrowed to: the caller's own subject when they
    /// reach only the reviews they are appointed to, none when the reach is the partnership's
    /// (or an agency's, narrowed by agency instead).
    pub fn appointed_reviewer(self) -> Option<String> {
        match self {
            Reach::AppointedReviews(subject) => Some(subject),
            Reach::Partnership | Reach::Agency(_) => None,
        }
    }

    /// The agency a list is narrowed to, from the request's `field` (`asked`, empty for
    /// none) and this reach: an agency's caller is narrowed to its own agency whatever it
    /// asks, and asking for another is PERMISSION_DENIED ("an agency sees only its own
    /// {what}"); anyone else gets what they asked. What is asked is checked as an agency id
    /// on `field` first (INVALID_ARGUMENT).
    pub fn agency_filter(
        &self,
        field: &str,
        asked: &str,
        what: &str,
    ) -> Result<Option<String>, ServiceError> {
        let asked = match asked.trim() {
            "" => None,
            raw => Some(agency_field(field, raw)?),
        };
        match self {
            Reach::Agency(own) if asked.as_ref().is_some_and(|asked| asked != own) => Err(
                ServiceError::PermissionDenied(format!("an agency sees only its own {what}")),
            ),
            Reach::Agency(own) => Ok(Some(own.clone())),
            Reach::Partnership | Reach::AppointedReviews(_) => Ok(asked),
        }
    }
}

/// Work on a review that only some callers may do, whatever their roles allow elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// Writing the overview report: the appointed reviewer alone.
    OverviewReport,
    /// Registering practitioners, conversations, deferrals, learning events: the appointed
    /// reviewer and the partnership admin.
    PractitionerEngagement,
    /// Family members, contacts, contributions: the appointed reviewer and family liaison.
    FamilyEngagement,
    /// Answering the partnership's requests for information: the appointed reviewer alone.
    InformationAnswer,
}

impl Work {
    /// The area of a review this work writes to.
    pub const fn area(self) -> Area {
        match self {
            Work::OverviewReport | Work::InformationAnswer => Area::Review,
            Work::PractitionerEngagement => Area::Practitioners,
            Work::FamilyEngagement => Area::Family,
        }
    }

    /// Who besides the appointed reviewer does this work.
    pub const fn doers(self) -> &'static [Role] {
        match self {
            Work::OverviewReport | Work::InformationAnswer => &[],
            Work::PractitionerEngagement => &[Role::PartnershipAdmin],
            Work::FamilyEngagement => &[Role::FamilyLiaison],
        }
    }

    fn refusal(self) -> &'static str {
        match self {
            Work::OverviewReport => {
                "only the reviewer appointed to this review can submit its overview report"
            }
            Work::InformationAnswer => {
                "only the reviewer appointed to this review can answer the partnership's requests for information"
            }
            Work::PractitionerEngagement => {
                "practitioner engagement is run by the reviewer appointed to the review and the partnership"
            }
            Work::FamilyEngagement => {
                "family engagement is run by the reviewer appointed to the review and family liaison"
            }
        }
    }
}

/// Why access was refused; [`Denied::code`] names it for audit records.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// The review belongs to another partnership: answered as if it did not exist.
    #[error("review not found")]
    NotFound,
    /// The caller's roles or appointment do not allow this.
    #[error("{0}")]
    Forbidden(Cow<'static, str>),
}

impl Denied {
    /// The status code name, as audit records store outcomes.
    pub fn code(&self) -> &'static str {
        match self {
            Denied::NotFound => "NOT_FOUND",
            Denied::Forbidden(_) => "PERMISSION_DENIED",
        }
    }
}

impl From<Denied> for ServiceError {
    fn from(denied: Denied) -> Self {
        match denied {
            Denied::NotFound => ServiceError::NotFound("review".into()),
            Denied::Forbidden(reason) => ServiceError::PermissionDenied(reason.into()),
        }
    }
}

impl From<Denied> for tonic::Status {
    fn from(denied: Denied) -> Self {
        ServiceError::from(denied).into()
    }
}

/// Whether the caller is a reviewer and the one appointed to this review. The only place
/// that says what "appointed" means.
pub fn is_appointed_reviewer(principal: &Principal, reviewer_subject: Option<&str>) -> bool {
    principal.has(Role::Reviewer) && reviewer_subject == Some(principal.subject.as_str())
}

fn has_any(principal: &Principal, roles: &[Role]) -> bool {
    roles.iter().any(|role| principal.has(*role))
}

fn same_partnership(principal: &Principal, review: ReviewFacts<'_>) -> Result<(), Denied> {
    if principal.partnership == review.partnership_id {
        Ok(())
    } else {
        Err(Denied::NotFound)
    }
}

fn own_agency(principal: &Principal) -> Option<&str> {
    principal
        .org
        .as_deref()
        .filter(|_| principal.has(Role::Agency))
}

/// What the caller may read of `area` of one review. The widest view wins when a caller
/// holds several roles.
pub fn read(principal: &Principal, review: ReviewFacts<'_>, area: Area) -> Result<Access, Denied> {
    same_partnership(principal, review)?;
    if has_any(principal, area.partnership_readers())
        || is_appointed_reviewer(principal, review.reviewer_subject)
    {
        return Ok(Access::Full);
    }
    if has_any(principal, area.redacted_readers()) {
        return Ok(Access::Redacted);
    }
    if area.agency_reads_its_own()
        && let Some(org) = own_agency(principal)
    {
        return Ok(Access::Agency(org.to_string()));
    }
    Err(Denied::Forbidden(area.refusal().into()))
}

/// What the caller may list of `area` across the partnership's reviews.
pub fn reach(principal: &Principal, area: Area) -> Result<Reach, Denied> {
    if has_any(principal, area.partnership_readers()) || has_any(principal, area.redacted_readers())
    {
        return Ok(Reach::Partnership);
    }
    if principal.has(Role::Reviewer) {
        return Ok(Reach::AppointedReviews(principal.subject.clone()));
    }
    if area.agency_reads_its_own()
        && let Some(org) = own_agency(principal)
    {
        return Ok(Reach::Agency(org.to_string()));
    }
    Err(Denied::Forbidden(area.refusal().into()))
}

/// Whether the caller may do `work` on this review.
pub fn may_do(principal: &Principal, review: ReviewFacts<'_>, work: Work) -> Result<(), Denied> {
    same_partnership(principal, review)?;
    if is_appointed_reviewer(principal, review.reviewer_subject) || has_any(principal, work.doers())
    {
        Ok(())
    } else {
        Err(Denied::Forbidden(work.refusal().into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARTNERSHIP: &str = "southvale";

    fn caller(roles: &[Role], subject: &str) -> Principal {
        Principal {
            subject: subject.into(),
            partnership: PARTNERSHIP.into(),
            roles: roles.to_vec(),
            org: None,
            peer: None,
        }
    }

    fn agency(org: &str) -> Principal {
        Principal {
            org: Some(org.into()),
            ..caller(&[Role::Agency], org)
        }
    }

    fn review(reviewer: Option<&'static str>) -> ReviewFacts<'static> {
        ReviewFacts {
            partnership_id: PARTNERSHIP,
            reviewer_subject: reviewer,
        }
    }

    const AREAS: [Area; 5] = [
        Area::Review,
        Area::AgencyReports,
        Area::Practitioners,
        Area::Family,
        Area::Actions,
    ];

    #[test]
    fn a_reviewer_reads_only_the_reviews_they_are_appointed_to() {
        let isla = caller(&[Role::Reviewer], "isla");
        for area in AREAS {
            assert_eq!(read(&isla, review(Some("isla")), area), Ok(Access::Full));
            assert!(matches!(
                read(&isla, review(Some("other")), area),
                Err(Denied::Forbidden(_))
            ));
            assert!(matches!(
                read(&isla, review(None), area),
                Err(Denied::Forbidden(_))
            ));
            assert_eq!(
                reach(&isla, area),
                Ok(Reach::AppointedReviews("isla".into()))
            );
        }
    }

    #[test]
    fn the_subject_alone_does_not_make_an_appointed_reviewer() {
        let panel_member_named_isla = caller(&[Role::Operations], "isla");
        assert!(!is_appointed_reviewer(
            &panel_member_named_isla,
            Some("isla")
        ));
        assert!(
            read(
                &panel_member_named_isla,
                review(Some("isla")),
                Area::Actions
            )
            .is_err()
        );
    }

    #[test]
    fn another_partnerships_review_is_not_found_for_everyone() {
        let elsewhere = ReviewFacts {
            partnership_id: "northdale",
            reviewer_subject: Some("isla"),
        };
        for principal in [
            caller(&[Role::PartnershipAdmin], "alice"),
            caller(&[Role::Reviewer], "isla"),
            agency("csc"),
        ] {
            for area in AREAS {
                assert_eq!(read(&principal, elsewhere, area), Err(Denied::NotFound));
            }
            assert_eq!(
                may_do(&principal, elsewhere, Work::OverviewReport),
                Err(Denied::NotFound)
            );
        }
    }

    #[test]
    fn partnership_and_panel_read_everything_but_family_in_clear() {
        for role in [
            Role::PartnershipAdmin,
            Role::PanelChair,
            Role::PanelMember,
            Role::Auditor,
        ] {
            let principal = caller(&[role], "x");
            for area in [
                Area::Review,
                Area::AgencyReports,
                Area::Practitioners,
                Area::Actions,
            ] {
                assert_eq!(read(&principal, review(None), area), Ok(Access::Full));
            }
            assert_eq!(
                read(&principal, review(None), Area::Family),
                Ok(Access::Redacted)
            );
            for area in AREAS {
                assert_eq!(reach(&principal, area), Ok(Reach::Partnership));
            }
        }
    }

    #[test]
    fn family_liaison_reads_the_review_and_family_engagement_only() {
        let fay = caller(&[Role::FamilyLiaison], "fay");
        assert_eq!(read(&fay, review(None), Area::Review), Ok(Access::Full));
        assert_eq!(read(&fay, review(None), Area::Family), Ok(Access::Full));
        for area in [Area::AgencyReports, Area::Practitioners, Area::Actions] {
            assert!(read(&fay, review(None), area).is_err());
            assert!(reach(&fay, area).is_err());
        }
    }

    #[test]
    fn an_agency_reads_its_own_reports_and_actions_only() {
        let csc = agency("csc");
        for area in [Area::AgencyReports, Area::Actions] {
            assert_eq!(
                read(&csc, review(None), area),
                Ok(Access::Agency("csc".into()))
            );
            assert_eq!(reach(&csc, area), Ok(Reach::Agency("csc".into())));
        }
        for area in [Area::Review, Area::Practitioners, Area::Family] {
            assert!(read(&csc, review(None), area).is_err());
        }
        let without_org = caller(&[Role::Agency], "csc");
        assert!(read(&without_org, review(None), Area::Actions).is_err());
    }

    #[test]
    fn operations_reads_no_case_content() {
        let ops = caller(&[Role::Operations], "ops");
        for area in AREAS {
            assert!(read(&ops, review(None), area).is_err());
            assert!(reach(&ops, area).is_err());
        }
    }

    #[test]
    fn the_widest_view_wins() {
        let both = Principal {
            org: Some("csc".into()),
            ..caller(&[Role::Agency, Role::PanelMember], "pat")
        };
        assert_eq!(read(&both, review(None), Area::Actions), Ok(Access::Full));
        let liaison_and_member = caller(&[Role::PanelMember, Role::FamilyLiaison], "fay");
        assert_eq!(
            read(&liaison_and_member, review(None), Area::Family),
            Ok(Access::Full)
        );
    }

    #[test]
    fn work_on_a_review_needs_the_appointment_or_the_named_role() {
        let isla = caller(&[Role::Reviewer], "isla");
        let other = caller(&[Role::Reviewer], "other");
        let admin = caller(&[Role::PartnershipAdmin], "alice");
        let fay = caller(&[Role::FamilyLiaison], "fay");
        let appointed = review(Some("isla"));
        for work in [
            Work::OverviewReport,
            Work::PractitionerEngagement,
            Work::FamilyEngagement,
        ] {
            assert_eq!(may_do(&isla, appointed, work), Ok(()));
            assert!(may_do(&other, appointed, work).is_err());
        }
        assert!(may_do(&admin, appointed, Work::OverviewReport).is_err());
        assert_eq!(
            may_do(&admin, appointed, Work::PractitionerEngagement),
            Ok(())
        );
        assert!(may_do(&admin, appointed, Work::FamilyEngagement).is_err());
        assert_eq!(may_do(&fay, appointed, Work::FamilyEngagement), Ok(()));
        assert!(may_do(&fay, appointed, Work::PractitionerEngagement).is_err());
        for role in [Role::PanelChair, Role::PanelMember, Role::Auditor] {
            assert!(may_do(&caller(&[role], "x"), appointed, Work::FamilyEngagement).is_err());
        }
    }

    #[test]
    fn refusals_name_their_code() {
        assert_eq!(Denied::NotFound.code(), "NOT_FOUND");
        assert_eq!(Denied::Forbidden("no".into()).code(), "PERMISSION_DENIED");
    }

    #[test]
    fn an_agency_list_is_narrowed_to_the_callers_agency() {
        let police = Reach::Agency("police".into());
        assert_eq!(
            police.agency_filter("agency_id", "", "reports").unwrap(),
            Some("police".into())
        );
        assert_eq!(
            police
                .agency_filter("agency_id", " police ", "reports")
                .unwrap(),
            Some("police".into())
        );
        let other = police
            .agency_filter("agency_id", "health", "reports")
            .unwrap_err();
        assert!(
            matches!(&other, ServiceError::PermissionDenied(message) if message == "an agency sees only its own reports")
        );
        let invalid = police
            .agency_filter("agency_id", "no such!", "reports")
            .unwrap_err();
        assert!(
            matches!(invalid, ServiceError::InvalidArgument(_)),
            "{invalid:?}"
        );
        for reach in [Reach::Partnership, Reach::AppointedReviews("r".into())] {
            assert_eq!(
                reach.agency_filter("owner_agency", "", "actions").unwrap(),
                None
            );
            assert_eq!(
                reach
                    .agency_filter("owner_agency", "health", "actions")
                    .unwrap(),
                Some("health".into())
            );
            let invalid = reach
                .agency_filter("owner_agency", "no such!", "actions")
                .unwrap_err();
            assert!(
                matches!(invalid, ServiceError::InvalidArgument(_)),
                "{invalid:?}"
            );
        }
    }
}
