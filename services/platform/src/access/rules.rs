//! Who may call each RPC, as one table: [`RULES`] names every method of every service (by
//! its gRPC service and method name, as in the proto) with the callers it allows, and the
//! handlers decide from it, so no handler keeps a role list of its own. The same table is
//! api.md's per-RPC role table ([`markdown`]) and each service's authorization matrix test.
//!
//! A call is decided in three steps, always in this order:
//! 1. **roles** ([`Rule::gate`]): a caller without any role the rule could ever allow is
//!    PERMISSION_DENIED, before anything is loaded (so the answer says nothing of whether
//!    the named review exists);
//! 2. **tenant**: a review (or resource) of another partnership is NOT_FOUND;
//! 3. **the review's facts** ([`Rule::on_review`]): the appointment of a reviewer, the
//!    caller's own agency ([`Rule::owner`] for a resource one agency owns).
//!
//! [`decide`] is the three steps at once on plain facts, which the matrix tests use to
//! predict every answer; handlers take the steps as they load what they need.

use std::borrow::Cow;

use crate::auth::{Principal, Role};
use crate::error::ServiceError;

use super::{
    Access, Area, Denied, Reach, ReviewFacts, Work, has_any, own_agency, same_partnership,
};

/// The registry's gRPC service.
pub const REGISTRY: &str = "cspr.registry.v1.ReviewRegistry";
/// The submissions gRPC service.
pub const SUBMISSIONS: &str = "cspr.submissions.v1.AgencySubmissions";
/// The practitioners gRPC service.
pub const PRACTITIONERS: &str = "cspr.practitioners.v1.PractitionerEngagement";
/// The family gRPC service.
pub const FAMILY: &str = "cspr.family.v1.FamilyEngagement";
/// The actions gRPC service.
pub const ACTIONS: &str = "cspr.actions.v1.ActionMonitoring";
/// The notifications gRPC service.
pub const NOTIFICATIONS: &str = "cspr.notifications.v1.Notifications";

/// The services the table covers, in api.md's order.
pub const SERVICES: [&str; 6] = [
    REGISTRY,
    SUBMISSIONS,
    PRACTITIONERS,
    FAMILY,
    ACTIONS,
    NOTIFICATIONS,
];

const ADMIN: &[Role] = &[Role::PartnershipAdmin];
const DECIDERS: &[Role] = &[Role::PartnershipAdmin, Role::PanelChair];
const CHAIR: &[Role] = &[Role::PanelChair];
const PANEL: &[Role] = &[Role::PanelChair, Role::PanelMember];
const AUDIT_READERS: &[Role] = &[Role::Auditor, Role::PartnershipAdmin];
const REPORT_READERS: &[Role] = &[Role::PartnershipAdmin, Role::PanelChair, Role::Auditor];
const OPERATORS: &[Role] = &[Role::Operations, Role::PartnershipAdmin];

/// Who may call an RPC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// Holders of one of these roles, on any review of their partnership.
    Roles(&'static [Role]),
    /// The readers of an area ([`super::read`] of one review, [`super::reach`] across
    /// reviews): partnership and panel roles, the appointed reviewer, an agency its own part
    /// where the area has one.
    Readers(Area),
    /// The readers of an area as a whole: as [`Who::Readers`], but not an agency's part, and
    /// across reviews only the partnership-wide readers.
    WholeArea(Area),
    /// Those who may do this work on the review ([`super::may_do`]).
    Work(Work),
    /// An agency, for its own `org` only.
    OwnAgency,
    /// Holders of these roles, and an agency on what it owns.
    RolesOrOwnAgency(&'static [Role]),
}

/// What a call names, which decides whether the tenant rule applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Nothing of one partnership: it creates or lists in the caller's own.
    Partnership,
    /// One review, or one resource of the partnership (an action, a report, a delivery).
    Resource,
    /// A list the caller may narrow to one review, which is then a [`Scope::Resource`].
    Either,
}

/// One RPC's rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// The gRPC service, fully qualified (`cspr.registry.v1.ReviewRegistry`).
    pub service: &'static str,
    /// The method, as in the proto (`GetReview`); audit records name it as the action.
    pub method: &'static str,
    /// Who may call it.
    pub who: Who,
    /// What it names.
    pub scope: Scope,
}

const fn rule(service: &'static str, method: &'static str, who: Who, scope: Scope) -> Rule {
    Rule {
        service,
        method,
        who,
        scope,
    }
}

use Scope::{Either, Partnership, Resource};

/// The table: every RPC of every service, once.
pub static RULES: &[Rule] = &[
    rule(REGISTRY, "CreateReview", Who::Roles(ADMIN), Partnership),
    rule(REGISTRY, "GetReview", Who::Readers(Area::Review), Resource),
    rule(
        REGISTRY,
        "ListReviews",
        Who::Readers(Area::Review),
        Partnership,
    ),
    rule(
        REGISTRY,
        "RecordNotificationSent",
        Who::Roles(ADMIN),
        Resource,
    ),
    rule(REGISTRY, "RecordDecision", Who::Roles(DECIDERS), Resource),
    rule(REGISTRY, "AppointPanelMember", Who::Roles(ADMIN), Resource),
    rule(REGISTRY, "AppointReviewer", Who::Roles(ADMIN), Resource),
    rule(
        REGISTRY,
        "SetTermsOfReference",
        Who::Roles(DECIDERS),
        Resource,
    ),
    rule(REGISTRY, "AdvanceStage", Who::Roles(ADMIN), Resource),
    rule(
        REGISTRY,
        "RecordParallelProcess",
        Who::Roles(ADMIN),
        Resource,
    ),
    rule(REGISTRY, "EndParallelProcess", Who::Roles(ADMIN), Resource),
    rule(
        REGISTRY,
        "SubmitOverviewReport",
        Who::Work(Work::OverviewReport),
        Resource,
    ),
    rule(
        REGISTRY,
        "ApproveOverviewReport",
        Who::Roles(CHAIR),
        Resource,
    ),
    rule(
        REGISTRY,
        "GetOverviewReport",
        Who::Readers(Area::Review),
        Resource,
    ),
    rule(
        REGISTRY,
        "CommentOnOverviewReport",
        Who::Roles(PANEL),
        Resource,
    ),
    rule(REGISTRY, "SchedulePublication", Who::Roles(ADMIN), Resource),
    rule(
        REGISTRY,
        "RecordPrePublicationNotice",
        Who::Roles(ADMIN),
        Resource,
    ),
    rule(REGISTRY, "RecordPublication", Who::Roles(ADMIN), Resource),
    rule(
        REGISTRY,
        "GetTimeline",
        Who::Readers(Area::Review),
        Resource,
    ),
    rule(
        REGISTRY,
        "ListAuditRecords",
        Who::Roles(AUDIT_READERS),
        Resource,
    ),
    rule(
        REGISTRY,
        "RecordRapidReview",
        Who::Roles(DECIDERS),
        Resource,
    ),
    rule(REGISTRY, "RecordPanelResponse", Who::Roles(ADMIN), Resource),
    rule(
        REGISTRY,
        "SummarizeRapidReviews",
        Who::Roles(REPORT_READERS),
        Partnership,
    ),
    rule(
        REGISTRY,
        "RequestInformationFromReviewer",
        Who::Roles(DECIDERS),
        Resource,
    ),
    rule(
        REGISTRY,
        "AnswerInformationRequest",
        Who::Work(Work::InformationAnswer),
        Resource,
    ),
    rule(
        REGISTRY,
        "SchedulePanelMeeting",
        Who::Roles(DECIDERS),
        Resource,
    ),
    rule(
        REGISTRY,
        "CancelPanelMeeting",
        Who::Roles(DECIDERS),
        Resource,
    ),
    rule(
        REGISTRY,
        "RecordPanelMeeting",
        Who::Roles(DECIDERS),
        Resource,
    ),
    rule(
        REGISTRY,
        "ListPanelMeetings",
        Who::Readers(Area::Review),
        Resource,
    ),
    rule(
        SUBMISSIONS,
        "RequestAgencyReport",
        Who::Roles(ADMIN),
        Resource,
    ),
    rule(
        SUBMISSIONS,
        "ListReportRequests",
        Who::Readers(Area::AgencyReports),
        Either,
    ),
    rule(SUBMISSIONS, "SubmitAgencyReport", Who::OwnAgency, Resource),
    rule(
        SUBMISSIONS,
        "GetAgencyReport",
        Who::Readers(Area::AgencyReports),
        Resource,
    ),
    rule(
        SUBMISSIONS,
        "ListAgencyReports",
        Who::Readers(Area::AgencyReports),
        Resource,
    ),
    rule(
        SUBMISSIONS,
        "AcceptAgencyReport",
        Who::Roles(DECIDERS),
        Resource,
    ),
    rule(
        SUBMISSIONS,
        "ReturnAgencyReport",
        Who::Roles(DECIDERS),
        Resource,
    ),
    rule(
        SUBMISSIONS,
        "WaiveAgencyReport",
        Who::Roles(DECIDERS),
        Resource,
    ),
    rule(
        SUBMISSIONS,
        "StreamCombinedChronology",
        Who::WholeArea(Area::AgencyReports),
        Resource,
    ),
    rule(
        PRACTITIONERS,
        "RegisterPractitioner",
        PRACTITIONER_WORK,
        Resource,
    ),
    rule(
        PRACTITIONERS,
        "ListPractitioners",
        Who::Readers(Area::Practitioners),
        Resource,
    ),
    rule(PRACTITIONERS, "DeferContact", PRACTITIONER_WORK, Resource),
    rule(PRACTITIONERS, "ReleaseContact", PRACTITIONER_WORK, Resource),
    rule(
        PRACTITIONERS,
        "ScheduleConversation",
        PRACTITIONER_WORK,
        Resource,
    ),
    rule(
        PRACTITIONERS,
        "ScheduleLearningEvent",
        PRACTITIONER_WORK,
        Resource,
    ),
    rule(
        PRACTITIONERS,
        "RecordAttendance",
        PRACTITIONER_WORK,
        Resource,
    ),
    rule(PRACTITIONERS, "RecordLearning", PRACTITIONER_WORK, Resource),
    rule(FAMILY, "AddFamilyMember", FAMILY_WORK, Resource),
    rule(
        FAMILY,
        "ListFamilyMembers",
        Who::Readers(Area::Family),
        Resource,
    ),
    rule(
        FAMILY,
        "GetFamilyMember",
        Who::Readers(Area::Family),
        Resource,
    ),
    rule(FAMILY, "RestrictContact", FAMILY_WORK, Resource),
    rule(FAMILY, "LiftRestriction", FAMILY_WORK, Resource),
    rule(FAMILY, "RecordContact", FAMILY_WORK, Resource),
    rule(FAMILY, "RecordContribution", FAMILY_WORK, Resource),
    rule(FAMILY, "ConsultOnPublication", FAMILY_WORK, Resource),
    rule(FAMILY, "RecordPublicationResponse", FAMILY_WORK, Resource),
    rule(ACTIONS, "CreateAction", Who::Roles(ADMIN), Resource),
    rule(
        ACTIONS,
        "UpdateActionProgress",
        Who::RolesOrOwnAgency(ADMIN),
        Resource,
    ),
    rule(ACTIONS, "VerifyAction", Who::Roles(ADMIN), Resource),
    rule(ACTIONS, "ListActions", Who::Readers(Area::Actions), Either),
    rule(
        ACTIONS,
        "GetActionPlanSummary",
        Who::WholeArea(Area::Actions),
        Either,
    ),
    rule(
        NOTIFICATIONS,
        "ListDeliveries",
        Who::Roles(OPERATORS),
        Partnership,
    ),
    rule(
        NOTIFICATIONS,
        "GetDelivery",
        Who::Roles(OPERATORS),
        Resource,
    ),
    rule(
        NOTIFICATIONS,
        "RetryDelivery",
        Who::Roles(OPERATORS),
        Resource,
    ),
    rule(
        SUBMISSIONS,
        "ListAuditRecords",
        Who::Roles(AUDIT_READERS),
        Resource,
    ),
    rule(
        PRACTITIONERS,
        "ListAuditRecords",
        Who::Roles(AUDIT_READERS),
        Resource,
    ),
    rule(
        FAMILY,
        "ListAuditRecords",
        Who::Roles(AUDIT_READERS),
        Resource,
    ),
    rule(
        ACTIONS,
        "ListAuditRecords",
        Who::Roles(AUDIT_READERS),
        Resource,
    ),
];

const PRACTITIONER_WORK: Who = Who::Work(Work::PractitionerEngagement);
const FAMILY_WORK: Who = Who::Work(Work::FamilyEngagement);

/// The rule of `service`'s `method`. A method without one is refused (INTERNAL, logged):
/// nothing is allowed that the table does not name, and a unit test keeps the table
/// complete.
pub fn lookup(service: &str, method: &str) -> Result<&'static Rule, ServiceError> {
    RULES
        .iter()
        .find(|rule| rule.service == service && rule.method == method)
        .ok_or_else(|| {
            ServiceError::Internal(format!("no authorization rule for {service}/{method}").into())
        })
}

/// The rules of one service, in the table's order.
pub fn of_service(service: &str) -> impl Iterator<Item = &'static Rule> + '_ {
    RULES.iter().filter(move |rule| rule.service == service)
}

/// What a call touches, as a matrix test (or [`decide`]) states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts<'a> {
    /// The review (or resource of a partnership) the call names; `None` for a call across
    /// the caller's partnership.
    pub review: Option<ReviewFacts<'a>>,
    /// The agency that owns the resource named (a report, an action), if one does.
    pub owner_agency: Option<&'a str>,
}

/// What a call was allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    /// On one review: what of it.
    Review(Access),
    /// Across the partnership: how far.
    Across(Reach),
}

/// The three steps of the module doc at once.
pub fn decide(rule: &Rule, principal: &Principal, facts: Facts<'_>) -> Result<Grant, Denied> {
    match facts.review {
        Some(review) => {
            let access = rule.on_review(principal, review)?;
            if let Some(owner) = facts.owner_agency {
                rule.owner(&access, owner)?;
            }
            Ok(Grant::Review(access))
        }
        None => rule.across(principal).map(Grant::Across),
    }
}

impl Who {
    /// The roles one of which a caller must hold to be allowed at all.
    pub fn roles(self) -> Vec<Role> {
        let mut roles: Vec<Role> = match self {
            Who::Roles(roles) => roles.to_vec(),
            Who::Readers(area) | Who::WholeArea(area) => {
                let mut roles = area.partnership_readers().to_vec();
                roles.extend_from_slice(area.redacted_readers());
                roles.push(Role::Reviewer);
                if matches!(self, Who::Readers(_)) && area.agency_reads_its_own() {
                    roles.push(Role::Agency);
                }
                roles
            }
            Who::Work(work) => {
                let mut roles = work.doers().to_vec();
                roles.push(Role::Reviewer);
                roles
            }
            Who::OwnAgency => vec![Role::Agency],
            Who::RolesOrOwnAgency(roles) => {
                let mut roles = roles.to_vec();
                roles.push(Role::Agency);
                roles
            }
        };
        // In the order of [`Role::ALL`], once each: the table reads the same everywhere.
        roles.sort_by_key(|role| Role::ALL.iter().position(|known| known == role));
        roles.dedup();
        roles
    }

    fn refusal(self) -> Cow<'static, str> {
        match self {
            Who::Readers(area) | Who::WholeArea(area) => area.refusal().into(),
            Who::Work(work) => work.refusal().into(),
            Who::Roles(_) | Who::OwnAgency | Who::RolesOrOwnAgency(_) => format!(
                "this needs one of the roles: {}",
                self.roles()
                    .iter()
                    .map(|role| role.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
            .into(),
        }
    }
}

impl Rule {
    /// Step 1: PERMISSION_DENIED unless the caller holds a role the rule could allow.
    pub fn gate(&self, principal: &Principal) -> Result<(), Denied> {
        if has_any(principal, &self.who.roles()) {
            Ok(())
        } else {
            Err(Denied::Forbidden(self.who.refusal()))
        }
    }

    /// Steps 1 to 3 on one review: what of it the caller may read or act on
    /// ([`Access::Full`] for a command allowed on the whole review).
    pub fn on_review(
        &self,
        principal: &Principal,
        review: ReviewFacts<'_>,
    ) -> Result<Access, Denied> {
        self.gate(principal)?;
        same_partnership(principal, review)?;
        match self.who {
            Who::Roles(_) => Ok(Access::Full),
            Who::Readers(area) => super::read(principal, review, area),
            Who::WholeArea(area) => match super::read(principal, review, area)? {
                Access::Agency(_) => Err(Denied::Forbidden(area.refusal().into())),
                access => Ok(access),
            },
            Who::Work(work) => super::may_do(principal, review, work).map(|()| Access::Full),
            Who::OwnAgency => own_agency(principal)
                .map(|org| Access::Agency(org.to_string()))
                .ok_or_else(|| Denied::Forbidden(self.who.refusal())),
            Who::RolesOrOwnAgency(roles) => {
                if has_any(principal, roles) {
                    Ok(Access::Full)
                } else {
                    own_agency(principal)
                        .map(|org| Access::Agency(org.to_string()))
                        .ok_or_else(|| Denied::Forbidden(self.who.refusal()))
                }
            }
        }
    }

    /// Steps 1 and 3 of a call across the caller's partnership: how far it reaches.
    pub fn across(&self, principal: &Principal) -> Result<Reach, Denied> {
        self.gate(principal)?;
        match self.who {
            Who::Roles(_) => Ok(Reach::Partnership),
            Who::Readers(area) => super::reach(principal, area),
            Who::WholeArea(area) => match super::reach(principal, area)? {
                Reach::Partnership => Ok(Reach::Partnership),
                Reach::AppointedReviews(_) | Reach::Agency(_) => {
                    Err(Denied::Forbidden(area.refusal().into()))
                }
            },
            Who::Work(work) => Err(Denied::Forbidden(work.refusal().into())),
            Who::OwnAgency | Who::RolesOrOwnAgency(_) => {
                if let Who::RolesOrOwnAgency(roles) = self.who
                    && has_any(principal, roles)
                {
                    return Ok(Reach::Partnership);
                }
                own_agency(principal)
                    .map(|org| Reach::Agency(org.to_string()))
                    .ok_or_else(|| Denied::Forbidden(self.who.refusal()))
            }
        }
    }

    /// Step 3 for a resource `owner_agency` owns: an agency's access covers only its own.
    /// Another agency's resource is NOT_FOUND to it (it does not learn that it exists),
    /// except where the agency acts on its own behalf ([`Who::OwnAgency`]): there naming
    /// another agency is PERMISSION_DENIED.
    pub fn owner(&self, access: &Access, owner_agency: &str) -> Result<(), Denied> {
        match access {
            Access::Full | Access::Redacted => Ok(()),
            Access::Agency(own) if own == owner_agency => Ok(()),
            Access::Agency(_) if self.who == Who::OwnAgency => Err(Denied::Forbidden(
                "an agency acts only on its own behalf (the token's org)".into(),
            )),
            Access::Agency(_) => Err(Denied::NotFound),
        }
    }

    /// The area of a review the RPC reads or writes, if it is one.
    pub fn area(&self) -> Option<Area> {
        match self.who {
            Who::Readers(area) | Who::WholeArea(area) => Some(area),
            Who::Work(work) => Some(work.area()),
            Who::Roles(_) | Who::OwnAgency | Who::RolesOrOwnAgency(_) => None,
        }
    }
}

fn role_list(roles: &[Role]) -> String {
    roles
        .iter()
        .map(|role| format!("`{role}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn describe(who: Who) -> String {
    match who {
        Who::Roles(roles) => role_list(roles),
        Who::Readers(area) | Who::WholeArea(area) => {
            let mut parts = vec![role_list(area.partnership_readers())];
            if !area.redacted_readers().is_empty() {
                parts.push(format!(
                    "{} (personal data redacted)",
                    role_list(area.redacted_readers())
                ));
            }
            parts.push("the appointed `reviewer`".into());
            if matches!(who, Who::Readers(_)) && area.agency_reads_its_own() {
                parts.push("an `agency` its own part".into());
            }
            let text = parts.join("; ");
            if matches!(who, Who::WholeArea(_)) {
                format!("{text} (the whole area: not an agency's part)")
            } else {
                text
            }
        }
        Who::Work(work) => {
            let mut text = "the appointed `reviewer`".to_string();
            if !work.doers().is_empty() {
                text = format!("{text}; {}", role_list(work.doers()));
            }
            text
        }
        Who::OwnAgency => "`agency`, for its own `org` only".into(),
        Who::RolesOrOwnAgency(roles) => {
            format!("{}; an `agency` on what it owns", role_list(roles))
        }
    }
}

/// The marker lines around the generated table in docs/api.md.
pub const MARKDOWN_BEGIN: &str =
    "<!-- BEGIN generated from cspr_platform::access::rules::RULES; do not edit -->";
/// See [`MARKDOWN_BEGIN`].
pub const MARKDOWN_END: &str = "<!-- END generated from cspr_platform::access::rules::RULES -->";

/// The table as api.md shows it, one section per service.
pub fn markdown() -> String {
    let mut text = String::new();
    for service in SERVICES {
        text.push_str(&format!("\n#### `{service}`\n\n"));
        text.push_str("| RPC | Who may call it | Names |\n| --- | --- | --- |\n");
        for rule in of_service(service) {
            let scope = match rule.scope {
                Scope::Partnership => "the caller's partnership",
                Scope::Resource => "one review or resource",
                Scope::Either => "one review, or across the partnership",
            };
            text.push_str(&format!(
                "| `{}` | {} | {scope} |\n",
                rule.method,
                describe(rule.who)
            ));
        }
    }
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use prost::Message;

    use super::*;

    const PARTNERSHIP: &str = "southvale";

    fn caller(roles: &[Role], subject: &str, org: Option<&str>) -> Principal {
        Principal {
            subject: subject.into(),
            partnership: PARTNERSHIP.into(),
            roles: roles.to_vec(),
            org: org.map(str::to_string),
            peer: None,
        }
    }

    /// Every (service, method) the protos define, but the benchmark's echo, which is no
    /// cspr service.
    fn proto_methods() -> BTreeSet<(String, String)> {
        let set = prost_types::FileDescriptorSet::decode(cspr_proto::FILE_DESCRIPTOR_SET)
            .expect("descriptor set decodes");
        let mut methods = BTreeSet::new();
        for file in set.file {
            for service in &file.service {
                let name = format!("{}.{}", file.package(), service.name());
                if name == "cspr.bench.v1.Echo" {
                    continue;
                }
                for method in &service.method {
                    methods.insert((name.clone(), method.name().to_string()));
                }
            }
        }
        methods
    }

    /// The roles a proto's comment promises for each RPC that says ("Roles: …", or
    /// "Roles: as <Rpc>"), by (service, method).
    fn promised_roles() -> BTreeMap<(String, String), BTreeSet<Role>> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../proto/cspr");
        let mut promised = BTreeMap::new();
        for package in std::fs::read_dir(&root).expect("proto folder") {
            let folder = package.expect("entry").path().join("v1");
            for file in std::fs::read_dir(&folder).into_iter().flatten() {
                let text = std::fs::read_to_string(file.expect("file").path()).expect("proto");
                let package = text
                    .lines()
                    .find_map(|line| line.strip_prefix("package "))
                    .map(|name| name.trim_end_matches(';').to_string())
                    .unwrap_or_default();
                let mut service = String::new();
                let mut comment: Vec<&str> = Vec::new();
                let mut by_method: BTreeMap<String, BTreeSet<Role>> = BTreeMap::new();
                for line in text.lines().map(str::trim) {
                    if let Some(name) = line.strip_prefix("service ") {
                        service = format!("{package}.{}", name.trim_end_matches(" {"));
                    } else if let Some(text) = line.strip_prefix("//") {
                        comment.push(text.trim());
                        continue;
                    } else if let Some(rest) = line.strip_prefix("rpc ") {
                        let method = rest.split('(').next().unwrap_or_default().to_string();
                        let joined = comment.join(" ");
                        if let Some((_, roles)) = joined.split_once("Roles:") {
                            let roles = roles.trim();
                            let named = match roles.strip_prefix("as ") {
                                Some(other) => by_method
                                    .get(other.split([' ', '.', ',']).next().unwrap_or_default())
                                    .cloned()
                                    .unwrap_or_default(),
                                None => roles
                                    .split(|character: char| {
                                        !(character.is_ascii_lowercase() || character == '_')
                                    })
                                    .filter_map(Role::parse)
                                    .collect(),
                            };
                            by_method.insert(method.clone(), named.clone());
                            promised.insert((service.clone(), method), named);
                        }
                    }
                    comment.clear();
                }
            }
        }
        promised
    }

    #[test]
    fn the_roles_each_proto_comment_promises_are_the_tables() {
        let promised = promised_roles();
        assert!(promised.len() > 20, "the protos name roles: {promised:?}");
        let mut wrong = Vec::new();
        for ((service, method), roles) in &promised {
            let rule = lookup(service, method).expect("a rule");
            let table: BTreeSet<Role> = rule.who.roles().into_iter().collect();
            if &table != roles {
                wrong.push(format!(
                    "{service}/{method}: the proto says {roles:?}, the table {table:?}"
                ));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn every_rpc_of_every_service_has_exactly_one_rule() {
        let methods = proto_methods();
        assert!(methods.len() > 40, "the descriptors hold the services");
        let mut ruled = BTreeSet::new();
        for rule in RULES {
            let key = (rule.service.to_string(), rule.method.to_string());
            assert!(
                methods.contains(&key),
                "rule for {}/{}, which no proto defines",
                rule.service,
                rule.method
            );
            assert!(
                ruled.insert(key),
                "two rules for {}/{}",
                rule.service,
                rule.method
            );
        }
        let missing: Vec<_> = methods.difference(&ruled).collect();
        assert!(missing.is_empty(), "RPCs without a rule: {missing:?}");
        let services: BTreeSet<_> = methods
            .iter()
            .map(|(service, _)| service.as_str())
            .collect();
        assert_eq!(services, SERVICES.into_iter().collect());
    }

    #[test]
    fn a_method_without_a_rule_is_refused() {
        assert!(lookup(REGISTRY, "GetReview").is_ok());
        assert!(matches!(
            lookup(REGISTRY, "DeleteEverything"),
            Err(ServiceError::Internal(_))
        ));
    }

    #[test]
    fn roles_come_first_then_the_tenant_then_the_review() {
        let rule = lookup(REGISTRY, "GetReview").expect("rule");
        let elsewhere = ReviewFacts::new("northmoor", Some("isla"));
        let here = ReviewFacts::new(PARTNERSHIP, Some("isla"));
        let ops = caller(&[Role::Operations], "ops", None);
        assert!(matches!(
            rule.on_review(&ops, elsewhere),
            Err(Denied::Forbidden(_))
        ));
        let other_reviewer = caller(&[Role::Reviewer], "other", None);
        assert_eq!(
            rule.on_review(&other_reviewer, elsewhere),
            Err(Denied::NotFound)
        );
        assert!(matches!(
            rule.on_review(&other_reviewer, here),
            Err(Denied::Forbidden(_))
        ));
        let isla = caller(&[Role::Reviewer], "isla", None);
        assert_eq!(rule.on_review(&isla, here), Ok(Access::Full));
    }

    #[test]
    fn an_agency_sees_its_own_resources_and_acts_only_for_itself() {
        let police = caller(&[Role::Agency], "police-system", Some("police"));
        let review = ReviewFacts::new(PARTNERSHIP, None);
        let facts = |owner| Facts {
            review: Some(review),
            owner_agency: Some(owner),
        };
        let get = lookup(SUBMISSIONS, "GetAgencyReport").expect("rule");
        assert!(decide(get, &police, facts("police")).is_ok());
        assert_eq!(decide(get, &police, facts("health")), Err(Denied::NotFound));
        let submit = lookup(SUBMISSIONS, "SubmitAgencyReport").expect("rule");
        assert!(decide(submit, &police, facts("police")).is_ok());
        assert!(matches!(
            decide(submit, &police, facts("health")),
            Err(Denied::Forbidden(_))
        ));
        let chronology = lookup(SUBMISSIONS, "StreamCombinedChronology").expect("rule");
        assert!(matches!(
            decide(chronology, &police, facts("police")),
            Err(Denied::Forbidden(_))
        ));
        let progress = lookup(ACTIONS, "UpdateActionProgress").expect("rule");
        assert_eq!(
            decide(progress, &police, facts("police")),
            Ok(Grant::Review(Access::Agency("police".into())))
        );
        assert_eq!(
            decide(progress, &police, facts("health")),
            Err(Denied::NotFound)
        );
    }

    #[test]
    fn across_reviews_the_whole_area_is_for_the_partnership_readers() {
        let summary = lookup(ACTIONS, "GetActionPlanSummary").expect("rule");
        let across = Facts {
            review: None,
            owner_agency: None,
        };
        let member = caller(&[Role::PanelMember], "wren", None);
        assert_eq!(
            decide(summary, &member, across),
            Ok(Grant::Across(Reach::Partnership))
        );
        let isla = caller(&[Role::Reviewer], "isla", None);
        assert!(decide(summary, &isla, across).is_err());
        let list = lookup(ACTIONS, "ListActions").expect("rule");
        assert_eq!(
            decide(list, &isla, across),
            Ok(Grant::Across(Reach::AppointedReviews("isla".into())))
        );
    }

    #[test]
    fn the_gate_lets_through_exactly_the_roles_a_rule_can_allow() {
        // Whatever the review's facts, a role outside the gate is never allowed, and every
        // role inside it is allowed on some review (the gate is not wider than the rule).
        let reviews = [
            ReviewFacts::new(PARTNERSHIP, None),
            ReviewFacts::new(PARTNERSHIP, Some("someone")),
        ];
        for rule in RULES {
            for role in Role::ALL {
                let principal = caller(&[role], "someone", Some("police"));
                let allowed_somewhere = reviews.iter().any(|review| {
                    decide(
                        rule,
                        &principal,
                        Facts {
                            review: Some(*review),
                            owner_agency: Some("police"),
                        },
                    )
                    .is_ok()
                });
                assert_eq!(
                    allowed_somewhere,
                    rule.who.roles().contains(&role),
                    "{}/{} for {role}",
                    rule.service,
                    rule.method
                );
            }
        }
    }

    /// api.md's section between the markers is [`markdown`]; `CSPR_BLESS=1` rewrites it.
    #[test]
    fn api_md_shows_the_table() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/api.md");
        let text = std::fs::read_to_string(&path).expect("docs/api.md");
        let (before, rest) = text
            .split_once(MARKDOWN_BEGIN)
            .expect("docs/api.md has the begin marker");
        let (current, after) = rest
            .split_once(MARKDOWN_END)
            .expect("docs/api.md has the end marker");
        let generated = markdown();
        if current == generated {
            return;
        }
        if std::env::var_os("CSPR_BLESS").is_some() {
            std::fs::write(
                &path,
                format!("{before}{MARKDOWN_BEGIN}{generated}{MARKDOWN_END}{after}"),
            )
            .expect("docs/api.md written");
            return;
        }
        panic!(
            "docs/api.md's per-RPC role table differs from access::rules::RULES; regenerate it with \
             `CSPR_BLESS=1 cargo test -p cspr-platform --lib access::rules`"
        );
    }
}
