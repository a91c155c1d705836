//! The `FamilyEngagement` gRPC service: decode → authorize (full or redacted view) → seal →
//! store → open for the caller's view. Personal fields never reach logs: errors name fields,
//! not their values.

use std::sync::Arc;

use chrono::DateTime;
use cspr_platform::access::Access;
use cspr_platform::access::rules::{self, Rule};
use cspr_platform::auth::caller;
use cspr_platform::convert::{
    ProtoEnum, date_to_proto, enum_to_proto, future_date_field, timestamp_to_proto,
};
use cspr_platform::error::{FieldViolation, Fields, ServiceError, Violations, field};
use cspr_platform::handler::ReviewRead;
use cspr_platform::idempotency::RequestKey;
use cspr_platform::pagination::{Cursor, PageRequest};
use cspr_platform::proto_enum;
use cspr_platform::values::{Email, optional_text, required_text, uuid_field};
use cspr_proto::family::v1 as pb;
use cspr_proto::family::v1::family_engagement_server::FamilyEngagement;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::crypto::FieldCipher;
use crate::domain::{Relationship, RestrictionReason};
use crate::error::FamilyError;
use crate::store::{HISTORY_LIMIT, MemberRow, NewMember, ReviewInfo, Route, Store};

proto_enum!(Relationship => pb::Relationship {
    Parent, Carer, StepParent, Sibling, Grandparent, AuntUncle, OtherExtendedFamily
});
proto_enum!(RestrictionReason => pb::RestrictionReason { CriminalInvestigation, Trial, Other });

/// The rule of one of this service's RPCs in the platform's table.
fn rule(method: &str) -> Result<&'static Rule, ServiceError> {
    rules::lookup(rules::FAMILY, method)
}

/// The family gRPC handlers, over the service's store (which holds its clock) and the cipher
/// of the personal fields.
#[derive(Debug, Clone)]
pub struct FamilyApi {
    store: Store,
    cipher: Arc<FieldCipher>,
}

impl FamilyApi {
    pub fn new(store: Store, cipher: Arc<FieldCipher>) -> Self {
        Self { store, cipher }
    }

    fn seal(&self, row: Uuid, field: &str, text: &str) -> Result<Vec<u8>, Status> {
        Ok(self
            .cipher
            .seal(row, field, text)
            .map_err(FamilyError::from)?)
    }

    fn open(&self, row: Uuid, field: &str, sealed: Option<&[u8]>) -> Result<String, Status> {
        match sealed {
            Some(sealed) => Ok(self
                .cipher
                .open(row, field, sealed)
                .map_err(FamilyError::from)?),
            None => Ok(String::new()),
        }
    }

    /// The member as the caller may see it.
    fn to_proto(&self, member: &MemberRow, view: &Access) -> Result<pb::FamilyMember, Status> {
        // Family access is never an agency's: anything but Full is redacted.
        let full = *view == Access::Full;
        let clear = |field: &str, sealed: Option<&[u8]>| -> Result<String, Status> {
            if full {
                self.open(member.id, field, sealed)
            } else {
                Ok(String::new())
            }
        };
        let route = if member.route == "KNOWN_PROFESSIONAL" {
            Some(pb::family_member::Route::KnownProfessional(
                pb::KnownProfessional {
                    name: member.professional_name.clone(),
                    agency: member.professional_agency.clone(),
                    email: member.professional_email.clone(),
                },
            ))
        } else {
            Some(pb::family_member::Route::Direct(pb::DirectContact {
                contact_details: clear("direct_contact", member.direct_contact_sealed.as_deref())?,
                reason: clear("direct_reason", member.direct_reason_sealed.as_deref())?,
            }))
        };
        Ok(pb::FamilyMember {
            id: member.id.to_string(),
            review_id: member.review_id.to_string(),
            relationship: enum_to_proto(member.relationship()),
            name: clear("name", Some(&member.name_sealed))?,
            contact_decision_note: clear("decision_note", Some(&member.decision_note_sealed))?,
            route,
            restriction: match member.restriction() {
                Some(reason) => Some(pb::Restriction {
                    reason: reason.to_proto(),
                    detail: clear(
                        "restriction_detail",
                        member.restriction_detail_sealed.as_deref(),
                    )?,
                    authorised_by: member.restriction_authorised_by.clone(),
                    review_date: member.restriction_review_date.map(date_to_proto),
                    restrict_time: member.restricted_at.map(timestamp_to_proto),
                }),
                None => None,
            },
            contact_count: i32::try_from(member.contact_count).unwrap_or(i32::MAX),
            contribution_count: i32::try_from(member.contribution_count).unwrap_or(i32::MAX),
            publication_consultation: member
                .consultation_sent_at
                .map(|sent| -> Result<pb::PublicationConsultation, Status> {
                    Ok(pb::PublicationConsultation {
                        sent_time: Some(timestamp_to_proto(sent)),
                        response_due: member.consultation_due.map(date_to_proto),
                        response: clear("response", member.response_sealed.as_deref())?,
                        responded: member.response_sealed.is_some(),
                        direct: member.route != "KNOWN_PROFESSIONAL",
                    })
                })
                .transpose()?,
            held_reason: held_reason(member),
            held_requests: member.held_kinds.clone(),
            redacted: !full,
            create_time: Some(timestamp_to_proto(member.created_at)),
            update_time: Some(timestamp_to_proto(member.updated_at)),
            version: member.version,
            // Only GetFamilyMember fills them, for a caller who sees family data in clear.
            contacts: Vec::new(),
            contributions: Vec::new(),
        })
    }

    /// The member's contact log and contributions (the latest, newest first), opened: only
    /// for a caller whose view is `Full`; anyone else gets none (redacted).
    async fn history(
        &self,
        member: &MemberRow,
        view: &Access,
    ) -> Result<(Vec<pb::Contact>, Vec<pb::Contribution>), Status> {
        if *view != Access::Full {
            return Ok((Vec::new(), Vec::new()));
        }
        let (contacts, contributions) = futures::try_join!(
            self.store.contacts(member.id, HISTORY_LIMIT),
            self.store.contributions(member.id, HISTORY_LIMIT),
        )
        .map_err(FamilyError::from)?;
        let contacts = contacts
            .into_iter()
            .map(|contact| -> Result<pb::Contact, Status> {
                Ok(pb::Contact {
                    id: contact.id.to_string(),
                    contact_time: Some(timestamp_to_proto(contact.contacted_at)),
                    made_by: contact.made_by,
                    route: contact.route,
                    summary: self.open(
                        member.id,
                        "contact_summary",
                        Some(&contact.summary_sealed),
                    )?,
                    record_time: Some(timestamp_to_proto(contact.created_at)),
                })
            })
            .collect::<Result<_, _>>()?;
        let contributions = contributions
            .into_iter()
            .map(|contribution| -> Result<pb::Contribution, Status> {
                Ok(pb::Contribution {
                    id: contribution.id.to_string(),
                    views: self.open(contribution.id, "views", Some(&contribution.views_sealed))?,
                    record_time: Some(timestamp_to_proto(contribution.created_at)),
                    recorded_by: contribution.recorded_by,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok((contacts, contributions))
    }

    fn member_id(&self, raw: &str) -> Result<Uuid, Status> {
        Ok(uuid_field("member_id", raw)?)
    }
}

#[tonic::async_trait]
impl FamilyEngagement for FamilyApi {
    async fn list_audit_records(
        &self,
        request: Request<cspr_proto::registry::v1::ListAuditRecordsRequest>,
    ) -> Result<Response<cspr_proto::registry::v1::ListAuditRecordsResponse>, Status> {
        let (principal, request) = caller(request)?;
        let page = self
            .store
            .list_audit_records(&principal, &request, rule("ListAuditRecords")?)
            .await?;
        Ok(Response::new(page))
    }

    async fn add_family_member(
        &self,
        request: Request<pb::AddFamilyMemberRequest>,
    ) -> Result<Response<pb::FamilyMember>, Status> {
        let (principal, request) = caller(request)?;
        let review: ReviewInfo = self
            .store
            .authorized_review(&principal, &request.review_id, rule("AddFamilyMember")?)
            .await?
            .review;
        let member_id = Uuid::now_v7();
        let request_key = RequestKey::field("AddFamilyMember", &request.request_id, &request);
        let relationship = Relationship::from_proto(request.relationship)
            .ok_or_else(|| FieldViolation::new("relationship", "required"));
        let name = field("name", required_text(&request.name, 200));
        let note = field(
            "contact_decision_note",
            optional_text(&request.contact_decision_note, 5_000),
        );
        let route: Result<RouteInput, Vec<FieldViolation>> = match &request.route {
            Some(pb::add_family_member_request::Route::KnownProfessional(professional)) => (
                field(
                    "known_professional.name",
                    required_text(&professional.name, 200),
                ),
                field(
                    "known_professional.agency",
                    required_text(&professional.agency, 200),
                ),
                field(
                    "known_professional.email",
                    Email::parse(&professional.email),
                ),
            )
                .values()
                .map(|(name, agency, email)| {
                    RouteInput::Professional(name, agency, email.as_str().to_string())
                }),
            Some(pb::add_family_member_request::Route::Direct(direct)) => (
                field(
                    "direct.contact_details",
                    required_text(&direct.contact_details, 1_000),
                ),
                field("direct.reason", required_text(&direct.reason, 2_000)),
            )
                .values()
                .map(|(details, reason)| RouteInput::Direct(details, reason)),
            None => Err(vec![FieldViolation::new(
                "route",
                "required: known_professional (preferred) or direct with a reason",
            )]),
        };
        let request_contact: Result<Option<String>, Vec<FieldViolation>> =
            if request.request_contact {
                let mut route_check = Violations::new();
                if !matches!(
                    request.route,
                    Some(pb::add_family_member_request::Route::KnownProfessional(_))
                ) {
                    route_check.add(
                        "request_contact",
                        "a request to approach the member needs a known professional",
                    );
                }
                (
                    route_check.with_value(()),
                    field(
                        "contact_purpose",
                        required_text(&request.contact_purpose, 2_000),
                    ),
                )
                    .values()
                    .map(|((), purpose)| Some(purpose))
            } else {
                Ok(None)
            };
        let (request_key, relationship, name, note, route, request_contact) = Violations::new()
            .finish_with((
                request_key,
                relationship,
                name,
                note,
                route,
                request_contact,
            ))?;
        let route = match route {
            RouteInput::Professional(name, agency, email) => Route::KnownProfessional {
                name,
                agency,
                email,
            },
            RouteInput::Direct(details, reason) => Route::Direct {
                contact_sealed: self.seal(member_id, "direct_contact", &details)?,
                reason_sealed: self.seal(member_id, "direct_reason", &reason)?,
            },
        };
        let member = self
            .store
            .add_member(
                &principal,
                &review,
                NewMember {
                    id: member_id,
                    relationship,
                    name_sealed: self.seal(member_id, "name", &name)?,
                    decision_note_sealed: self.seal(member_id, "decision_note", &note)?,
                    route,
                    request_contact,
                },
                request_key,
            )
            .await?;
        Ok(Response::new(self.to_proto(&member, &Access::Full)?))
    }

    async fn list_family_members(
        &self,
        request: Request<pb::ListFamilyMembersRequest>,
    ) -> Result<Response<pb::ListFamilyMembersResponse>, Status> {
        let (principal, request) = caller(request)?;
        let read: ReviewRead<'_, ReviewInfo> = self
            .store
            .authorized_review(&principal, &request.review_id, rule("ListFamilyMembers")?)
            .await?;
        let review = &read.review;
        let page = PageRequest::parse(request.page_size, &request.page_token, 50, 200)?;
        let (members, next_page_token) = page
            .read(
                |after, limit| self.store.list(review.review_id, after, limit),
                |member| Cursor::new(member.created_at, member.id),
            )
            .await?;
        read.record().await?;
        let mut page = Vec::with_capacity(members.len());
        for member in &members {
            page.push(self.to_proto(member, &read.access)?);
        }
        Ok(Response::new(pb::ListFamilyMembersResponse {
            members: page,
            next_page_token,
            parallel_processes: review
                .extra
                .parallel_processes
                .0
                .values()
                .cloned()
                .collect(),
        }))
    }

    async fn get_family_member(
        &self,
        request: Request<pb::GetFamilyMemberRequest>,
    ) -> Result<Response<pb::FamilyMember>, Status> {
        let (principal, request) = caller(request)?;
        let read: ReviewRead<'_, ReviewInfo> = self
            .store
            .authorized_review(&principal, &request.review_id, rule("GetFamilyMember")?)
            .await?;
        let member_id = self.member_id(&request.member_id)?;
        let member = self
            .store
            .member(read.review.review_id, member_id)
            .await
            .map_err(FamilyError::from)?
            .ok_or_else(|| FamilyError::MemberNotFound(member_id.to_string()))?;
        let (contacts, contributions) = self.history(&member, &read.access).await?;
        read.record_of(format!("family-members/{member_id}"))
            .await?;
        let mut reply = self.to_proto(&member, &read.access)?;
        reply.contacts = contacts;
        reply.contributions = contributions;
        Ok(Response::new(reply))
    }

    async fn restrict_contact(
        &self,
        request: Request<pb::RestrictContactRequest>,
    ) -> Result<Response<pb::FamilyMember>, Status> {
        let (principal, request) = caller(request)?;
        let review: ReviewInfo = self
            .store
            .authorized_review(&principal, &request.review_id, rule("RestrictContact")?)
            .await?
            .review;
        let member_id = self.member_id(&request.member_id)?;
        let reason = RestrictionReason::from_proto(request.reason).ok_or_else(|| {
            FieldViolation::new("reason", "required: CRIMINAL_INVESTIGATION, TRIAL or OTHER")
        });
        let detail = field("detail", optional_text(&request.detail, 2_000));
        let authorised_by = field("authorised_by", required_text(&request.authorised_by, 200));
        let review_date = future_date_field(
            "review_date",
            request.review_date.as_ref(),
            self.store.clock.today(),
        );
        let (reason, detail, authorised_by, review_date) =
            Violations::new().finish_with((reason, detail, authorised_by, review_date))?;
        let detail_sealed = self.seal(member_id, "restriction_detail", &detail)?;
        let member = self
            .store
            .restrict(
                &principal,
                &review,
                member_id,
                reason,
                detail_sealed,
                authorised_by,
                review_date,
                request.based_on_version,
            )
            .await?;
        Ok(Response::new(self.to_proto(&member, &Access::Full)?))
    }

    async fn lift_restriction(
        &self,
        request: Request<pb::LiftRestrictionRequest>,
    ) -> Result<Response<pb::FamilyMember>, Status> {
        let (principal, request) = caller(request)?;
        let review: ReviewInfo = self
            .store
            .authorized_review(&principal, &request.review_id, rule("LiftRestriction")?)
            .await?
            .review;
        let member_id = self.member_id(&request.member_id)?;
        let member = self
            .store
            .lift(&principal, &review, member_id, request.based_on_version)
            .await?;
        Ok(Response::new(self.to_proto(&member, &Access::Full)?))
    }

    async fn record_contact(
        &self,
        request: Request<pb::RecordContactRequest>,
    ) -> Result<Response<pb::FamilyMember>, Status> {
        let (principal, request) = caller(request)?;
        let review: ReviewInfo = self
            .store
            .authorized_review(&principal, &request.review_id, rule("RecordContact")?)
            .await?
            .review;
        let member_id = self.member_id(&request.member_id)?;
        let request_key = RequestKey::field("RecordContact", &request.request_id, &request);
        let contacted_at = match &request.contacted_at {
            Some(timestamp) => match DateTime::from_timestamp(timestamp.seconds, 0) {
                Some(instant) if instant <= self.store.clock.now() => Ok(instant),
                _ => Err(FieldViolation::new(
                    "contacted_at",
                    "must be a time in the past",
                )),
            },
            None => Err(FieldViolation::new("contacted_at", "required")),
        };
        let made_by = field("made_by", required_text(&request.made_by, 200));
        let route = field("route", required_text(&request.route, 100));
        let summary = field("summary", required_text(&request.summary, 10_000));
        let (request_key, contacted_at, made_by, route, summary) =
            Violations::new().finish_with((request_key, contacted_at, made_by, route, summary))?;
        let summary_sealed = self.seal(member_id, "contact_summary", &summary)?;
        let member = self
            .store
            .record_contact(
                &principal,
                &review,
                member_id,
                contacted_at,
                made_by,
                route,
                summary_sealed,
                request_key,
            )
            .await?;
        Ok(Response::new(self.to_proto(&member, &Access::Full)?))
    }

    async fn record_contribution(
        &self,
        request: Request<pb::RecordContributionRequest>,
    ) -> Result<Response<pb::FamilyMember>, Status> {
        let (principal, request) = caller(request)?;
        let review: ReviewInfo = self
            .store
            .authorized_review(&principal, &request.review_id, rule("RecordContribution")?)
            .await?
            .review;
        let member_id = self.member_id(&request.member_id)?;
        let request_key = RequestKey::field("RecordContribution", &request.request_id, &request);
        let views = field("views", required_text(&request.views, 50_000));
        let (request_key, views) = Violations::new().finish_with((request_key, views))?;
        let contribution_id = Uuid::now_v7();
        let views_sealed = self.seal(contribution_id, "views", &views)?;
        let member = self
            .store
            .record_contribution(
                &principal,
                &review,
                member_id,
                contribution_id,
                views_sealed,
                request_key,
            )
            .await?;
        Ok(Response::new(self.to_proto(&member, &Access::Full)?))
    }

    async fn consult_on_publication(
        &self,
        request: Request<pb::ConsultOnPublicationRequest>,
    ) -> Result<Response<pb::FamilyMember>, Status> {
        let (principal, request) = caller(request)?;
        let review: ReviewInfo = self
            .store
            .authorized_review(
                &principal,
                &request.review_id,
                rule("ConsultOnPublication")?,
            )
            .await?
            .review;
        let member_id = self.member_id(&request.member_id)?;
        let request_key = RequestKey::field("ConsultOnPublication", &request.request_id, &request)?;
        let response_due = future_date_field(
            "response_due",
            request.response_due.as_ref(),
            self.store.clock.today(),
        )?;
        let member = self
            .store
            .consult(&principal, &review, member_id, response_due, request_key)
            .await?;
        Ok(Response::new(self.to_proto(&member, &Access::Full)?))
    }

    async fn record_publication_response(
        &self,
        request: Request<pb::RecordPublicationResponseRequest>,
    ) -> Result<Response<pb::FamilyMember>, Status> {
        let (principal, request) = caller(request)?;
        let review: ReviewInfo = self
            .store
            .authorized_review(
                &principal,
                &request.review_id,
                rule("RecordPublicationResponse")?,
            )
            .await?
            .review;
        let member_id = self.member_id(&request.member_id)?;
        let response = required_text(&request.response, 10_000)
            .map_err(|error| ServiceError::invalid("response", error.to_string()))?;
        let response_sealed = self.seal(member_id, "response", &response)?;
        let member = self
            .store
            .record_response(
                &principal,
                &review,
                member_id,
                response_sealed,
                request.based_on_version,
            )
            .await?;
        Ok(Response::new(self.to_proto(&member, &Access::Full)?))
    }
}

/// A validated route before sealing.
enum RouteInput {
    Professional(String, String, String),
    Direct(String, String),
}

/// Why a member's requests wait, for the family liaison (no one is named: the professional's
/// name is in the member's route).
fn held_reason(member: &MemberRow) -> String {
    if member.held_kinds.is_empty() {
        return String::new();
    }
    "Requests through their known professional are held: the professional's own contact in \
     this review is deferred (for example as a police witness). They are sent when the \
     deferral is released."
        .to_string()
}
