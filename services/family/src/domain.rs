//! The family engagement rules, free of I/O: relationships, restrictions, who sees personal
//! data in clear.

use cspr_platform::auth::{Principal, Role};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relationship {
    Parent,
    Carer,
    StepParent,
    Sibling,
    Grandparent,
    AuntUncle,
    OtherExtendedFamily,
}

impl Relationship {
    pub const ALL: [Relationship; 7] = [
        Relationship::Parent,
        Relationship::Carer,
        Relationship::StepParent,
        Relationship::Sibling,
        Relationship::Grandparent,
        Relationship::AuntUncle,
        Relationship::OtherExtendedFamily,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Relationship::Parent => "PARENT",
            Relationship::Carer => "CARER",
            Relationship::StepParent => "STEP_PARENT",
            Relationship::Sibling => "SIBLING",
            Relationship::Grandparent => "GRANDPARENT",
            Relationship::AuntUncle => "AUNT_UNCLE",
            Relationship::OtherExtendedFamily => "OTHER_EXTENDED_FAMILY",
        }
    }

    /// How emails to professionals name the member: the relationship, never the name.
    pub fn in_words(self) -> &'static str {
        match self {
            Relationship::Parent => "a parent",
            Relationship::Carer => "a carer",
            Relationship::StepParent => "a step-parent",
            Relationship::Sibling => "a sibling",
            Relationship::Grandparent => "a grandparent",
            Relationship::AuntUncle => "an aunt or uncle",
            Relationship::OtherExtendedFamily => "a member of the extended family",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|relationship| relationship.as_str() == name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestrictionReason {
    CriminalInvestigation,
    Trial,
    Other,
}

impl RestrictionReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RestrictionReason::CriminalInvestigation => "CRIMINAL_INVESTIGATION",
            RestrictionReason::Trial => "TRIAL",
            RestrictionReason::Other => "OTHER",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [
            RestrictionReason::CriminalInvestigation,
            RestrictionReason::Trial,
            RestrictionReason::Other,
        ]
        .into_iter()
        .find(|reason| reason.as_str() == name)
    }
}

/// What a caller may see of family members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// Names, contact details, notes and contributions in clear.
    Full,
    /// Relationship, status and counts only.
    Redacted,
}

/// The caller's view of a review's family members, or None for no access at all. Only the
/// appointed reviewer and family liaison see personal data in clear.
pub fn view(principal: &Principal, reviewer_subject: Option<&str>) -> Option<View> {
    let appointed_reviewer =
        principal.has(Role::Reviewer) && reviewer_subject == Some(principal.subject.as_str());
    if appointed_reviewer || principal.has(Role::FamilyLiaison) {
        return Some(View::Full);
    }
    if [
        Role::PartnershipAdmin,
        Role::PanelChair,
        Role::PanelMember,
        Role::Auditor,
    ]
    .iter()
    .any(|role| principal.has(*role))
    {
        return Some(View::Redacted);
    }
    None
}

/// Who may change family engagement: the appointed reviewer and family liaison.
pub fn may_write(principal: &Principal, reviewer_subject: Option<&str>) -> bool {
    view(principal, reviewer_subject) == Some(View::Full)
}

/// Why a contact cannot happen now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContactError {
    #[error("contact with this family member is restricted ({0}); it must be lifted first")]
    Restricted(&'static str),
    #[error("this family member has no known professional to route the request through")]
    NoKnownProfessional,
    #[error("contact with this family member is not restricted")]
    NotRestricted,
}

/// Contact, contributions and consultation wait while a restriction is active.
pub fn may_contact(restriction: Option<RestrictionReason>) -> Result<(), ContactError> {
    match restriction {
        Some(reason) => Err(ContactError::Restricted(reason.as_str())),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(roles: &[Role], subject: &str) -> Principal {
        Principal {
            subject: subject.into(),
            partnership: "southvale".into(),
            roles: roles.to_vec(),
            org: None,
            peer: None,
        }
    }

    #[test]
    fn only_the_appointed_reviewer_and_family_liaison_see_in_clear() {
        let reviewer = Some("isla");
        assert_eq!(
            view(&principal(&[Role::Reviewer], "isla"), reviewer),
            Some(View::Full)
        );
        assert_eq!(
            view(&principal(&[Role::FamilyLiaison], "fay"), reviewer),
            Some(View::Full)
        );
        assert_eq!(view(&principal(&[Role::Reviewer], "other"), reviewer), None);
        for role in [
            Role::PartnershipAdmin,
            Role::PanelChair,
            Role::PanelMember,
            Role::Auditor,
        ] {
            assert_eq!(
                view(&principal(&[role], "x"), reviewer),
                Some(View::Redacted),
                "{role}"
            );
            assert!(!may_write(&principal(&[role], "x"), reviewer));
        }
        for role in [Role::Agency, Role::Operations] {
            assert_eq!(view(&principal(&[role], "x"), reviewer), None);
        }
    }

    #[test]
    fn restrictions_block_contact() {
        assert!(may_contact(None).is_ok());
        assert_eq!(
            may_contact(Some(RestrictionReason::Trial)),
            Err(ContactError::Restricted("TRIAL"))
        );
    }

    #[test]
    fn names_round_trip() {
        for relationship in Relationship::ALL {
            assert_eq!(
                Relationship::parse(relationship.as_str()),
                Some(relationship)
            );
        }
    }
}
