//! The family engagement rules, free of I/O: relationships and restrictions (who sees
//! personal data in clear is `cspr_platform::access`'s `Area::Family`).

cspr_platform::named_enum! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Relationship {
        Parent => "PARENT",
        Carer => "CARER",
        StepParent => "STEP_PARENT",
        Sibling => "SIBLING",
        Grandparent => "GRANDPARENT",
        AuntUncle => "AUNT_UNCLE",
        OtherExtendedFamily => "OTHER_EXTENDED_FAMILY",
    }
}

impl Relationship {
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
}

cspr_platform::named_enum! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum RestrictionReason {
        CriminalInvestigation => "CRIMINAL_INVESTIGATION",
        Trial => "TRIAL",
        Other => "OTHER",
    }
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
