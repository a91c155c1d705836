//! The `PractitionerEngagement` gRPC service: decode → authorize → domain → store.

use chrono::{DateTime, Utc};
use cspr_platform::access::rules::{self, Rule};
use cspr_platform::auth::caller;
use cspr_platform::convert::{
    ProtoEnum, date_from_proto, date_to_proto, enum_to_proto, future_date_field, timestamp_to_proto,
};
use cspr_platform::error::{Field, FieldViolation, ServiceError, Violations, field};
use cspr_platform::handler::ReviewRead;
use cspr_platform::idempotency::RequestKey;
use cspr_platform::pagination::{PageRequest, TextCursor};
use cspr_platform::proto_enum;
use cspr_platform::values::{AgencyId, Email, optional_text, required_text, uuid_field};
use cspr_proto::practitioners::v1 as pb;
use cspr_proto::practitioners::v1::practitioner_engagement_server::PractitionerEngagement;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::domain::{DeferralReason, LearningPoint, LearningTheme, PractitionerStatus};
use crate::store::{
    ConversationRecord, LearningEventRecord, LearningRecordRow, PractitionerRecord, Registration,
    ReviewInfo, Store,
};

proto_enum!(PractitionerStatus => pb::PractitionerStatus { Suggested, Confirmed });
proto_enum!(DeferralReason => pb::DeferralReason { PoliceInvestigationWitness, Other });
proto_enum!(LearningTheme => pb::LearningTheme {
    InformationSharing, Assessment, VoiceOfTheChild, Supervision, MultiAgencyWorking,
    RecognisingRisk, WorkloadAndCapacity, Other
});

fn timestamp_field(
    field: &str,
    timestamp: Option<&prost_types::Timestamp>,
    now: DateTime<Utc>,
) -> Field<DateTime<Utc>> {
    let instant = cspr_platform::convert::timestamp_field(field, timestamp)?;
    if instant <= now {
        return Err(FieldViolation::new(field, "must be in the future"));
    }
    Ok(instant)
}

fn practitioner_to_proto(record: &PractitionerRecord) -> pb::Practitioner {
    let deferral = record
        .deferral_reason
        .as_deref()
        .map(|reason| pb::Deferral {
            reason: enum_to_proto(DeferralReason::parse(reason)),
            detail: record.deferral_detail.clone(),
            authorised_by: record.deferral_authorised_by.clone(),
            review_date: record.deferral_review_date.map(date_to_proto),
            defer_time: record.deferred_at.map(timestamp_to_proto),
        });
    pb::Practitioner {
        id: record.id.to_string(),
        review_id: record.review_id.to_string(),
        name: record.name.clone(),
        role: record.role.clone(),
        agency_id: record.agency_id.clone(),
        email: record.email.clone(),
        involvement_start: record.involvement_start.map(date_to_proto),
        involvement_end: record.involvement_end.map(date_to_proto),
        status: enum_to_proto(PractitionerStatus::parse(&record.status)),
        deferral,
        create_time: Some(timestamp_to_proto(record.created_at)),
        update_time: Some(timestamp_to_proto(record.updated_at)),
    }
}

fn conversation_to_proto(record: &ConversationRecord) -> pb::Conversation {
    pb::Conversation {
        id: record.id.to_string(),
        review_id: record.review_id.to_string(),
        practitioner_id: record.practitioner_id.to_string(),
        scheduled_at: Some(timestamp_to_proto(record.scheduled_at)),
        location: record.location.clone(),
        advance_information: record.advance_information.clone(),
        key_lines_of_enquiry: record.key_lines_of_enquiry.0.clone(),
        create_time: Some(timestamp_to_proto(record.created_at)),
    }
}

fn learning_event_to_proto(record: &LearningEventRecord) -> pb::LearningEvent {
    pb::LearningEvent {
        id: record.id.to_string(),
        review_id: record.review_id.to_string(),
        scheduled_at: Some(timestamp_to_proto(record.scheduled_at)),
        location: record.location.clone(),
        agenda: record.agenda.clone(),
        invitee_ids: record.invitee_ids.iter().map(Uuid::to_string).collect(),
        attendee_ids: record.attendee_ids.iter().map(Uuid::to_string).collect(),
        create_time: Some(timestamp_to_proto(record.created_at)),
    }
}

fn learning_record_to_proto(record: &LearningRecordRow) -> pb::LearningRecord {
    pb::LearningRecord {
        id: record.id.to_string(),
        review_id: record.review_id.to_string(),
        learning_event_id: record
            .learning_event_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        conversation_id: record
            .conversation_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        points: record
            .points
            .0
            .iter()
            .map(|point| pb::LearningPoint {
                theme: point.theme.to_proto(),
                description: point.description.clone(),
            })
            .collect(),
        create_time: Some(timestamp_to_proto(record.created_at)),
    }
}

/// The rule of one of this service's RPCs in the platform's table.
fn rule(method: &str) -> Result<&'static Rule, ServiceError> {
    rules::lookup(rules::PRACTITIONERS, method)
}

/// The practitioners gRPC handlers, over the service's store (which holds its clock).
#[derive(Debug, Clone)]
pub struct PractitionersApi {
    store: Store,
}

impl PractitionersApi {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

#[tonic::async_trait]
impl PractitionerEngagement for PractitionersApi {
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

    async fn register_practitioner(
        &self,
        request: Request<pb::RegisterPractitionerRequest>,
    ) -> Result<Response<pb::Practitioner>, Status> {
        let (principal, request) = caller(request)?;
        let review: ReviewInfo = self
            .store
            .authorized_review(
                &principal,
                &request.review_id,
                rule("RegisterPractitioner")?,
            )
            .await?
            .review;
        let mut violations = Violations::new();
        let request_key = RequestKey::field("RegisterPractitioner", &request.request_id, &request);
        let practitioner_id = match request.practitioner_id.trim() {
            "" => Ok(None),
            raw => field(
                "practitioner_id",
                raw.parse::<Uuid>()
                    .map(Some)
                    .map_err(|_| "not an id (UUID)"),
            ),
        };
        let name = field("name", required_text(&request.name, 200));
        let role = field("role", required_text(&request.role, 200));
        let agency_id = field("agency_id", AgencyId::parse(&request.agency_id));
        let agency_name = field("agency_name", optional_text(&request.agency_name, 200));
        let email = field("email", Email::parse(&request.email));
        let start = field(
            "involvement_start",
            date_from_proto(request.involvement_start.as_ref()),
        );
        let end = field(
            "involvement_end",
            date_from_proto(request.involvement_end.as_ref()),
        );
        if let (Ok(start), Ok(end)) = (&start, &end)
            && start > end
        {
            violations.add("involvement_end", "must be on or after the start");
        }
        let (request_key, practitioner_id, name, role, agency_id, agency_name, email, start, end) =
            violations.finish_with((
                request_key,
                practitioner_id,
                name,
                role,
                agency_id,
                agency_name,
                email,
                start,
                end,
            ))?;
        let record = self
            .store
            .register(
                &principal,
                &review,
                Registration {
                    practitioner_id,
                    name,
                    role,
                    agency_id: agency_id.as_str().to_string(),
                    agency_name,
                    email: email.as_str().to_string(),
                    involvement_start: start,
                    involvement_end: end,
                },
                request_key,
            )
            .await?;
        Ok(Response::new(practitioner_to_proto(&record)))
    }

    async fn list_practitioners(
        &self,
        request: Request<pb::ListPractitionersRequest>,
    ) -> Result<Response<pb::ListPractitionersResponse>, Status> {
        let (principal, request) = caller(request)?;
        let read: ReviewRead<'_, ReviewInfo> = self
            .store
            .authorized_review(&principal, &request.review_id, rule("ListPractitioners")?)
            .await?;
        let review = &read.review;
        let page = PageRequest::parse(request.page_size, &request.page_token, 100, 500)?;
        let (records, next_page_token) = page
            .read(
                |after, limit| {
                    self.store
                        .list(review.review_id, request.include_suggested, after, limit)
                },
                |record| TextCursor {
                    key: record.name.to_lowercase(),
                    id: record.id,
                },
            )
            .await?;
        read.record().await?;
        Ok(Response::new(pb::ListPractitionersResponse {
            practitioners: records.iter().map(practitioner_to_proto).collect(),
            next_page_token,
        }))
    }

    async fn defer_contact(
        &self,
        request: Request<pb::DeferContactRequest>,
    ) -> Result<Response<pb::Practitioner>, Status> {
        let (principal, request) = caller(request)?;
        let review: ReviewInfo = self
            .store
            .authorized_review(&principal, &request.review_id, rule("DeferContact")?)
            .await?
            .review;
        let practitioner_id = field(
            "practitioner_id",
            uuid_field("practitioner_id", &request.practitioner_id)
                .map_err(|_| "required: a practitioner id (UUID)"),
        );
        let reason = DeferralReason::from_proto(request.reason).ok_or_else(|| {
            FieldViolation::new("reason", "required: POLICE_INVESTIGATION_WITNESS or OTHER")
        });
        let detail = field("detail", optional_text(&request.detail, 2_000)).and_then(|detail| {
            if reason == Ok(DeferralReason::Other) && detail.is_empty() {
                Err(FieldViolation::new(
                    "detail",
                    "required when the reason is OTHER",
                ))
            } else {
                Ok(detail)
            }
        });
        let authorised_by = field("authorised_by", required_text(&request.authorised_by, 200));
        let today = self.store.clock.today();
        let review_date = future_date_field("review_date", request.review_date.as_ref(), today);
        let (practitioner_id, reason, detail, authorised_by, review_date) = Violations::new()
            .finish_with((practitioner_id, reason, detail, authorised_by, review_date))?;
        let record = self
            .store
            .set_deferral(
                &principal,
                review.review_id,
                practitioner_id,
                Some((reason, detail, authorised_by, review_date)),
            )
            .await?;
        Ok(Response::new(practitioner_to_proto(&record)))
    }

    async fn release_contact(
        &self,
        request: Request<pb::ReleaseContactRequest>,
    ) -> Result<Response<pb::Practitioner>, Status> {
        let (principal, request) = caller(request)?;
        let review: ReviewInfo = self
            .store
            .authorized_review(&principal, &request.review_id, rule("ReleaseContact")?)
            .await?
            .review;
        let practitioner_id = uuid_field("practitioner_id", &request.practitioner_id)?;
        let record = self
            .store
            .set_deferral(&principal, review.review_id, practitioner_id, None)
            .await?;
        Ok(Response::new(practitioner_to_proto(&record)))
    }

    async fn schedule_conversation(
        &self,
        request: Request<pb::ScheduleConversationRequest>,
    ) -> Result<Response<pb::Conversation>, Status> {
        let (principal, request) = caller(request)?;
        let review: ReviewInfo = self
            .store
            .authorized_review(
                &principal,
                &request.review_id,
                rule("ScheduleConversation")?,
            )
            .await?
            .review;
        let violations = Violations::new();
        let request_key = RequestKey::field("ScheduleConversation", &request.request_id, &request);
        let practitioner_id = field(
            "practitioner_id",
            uuid_field("practitioner_id", &request.practitioner_id)
                .map_err(|_| "required: a practitioner id (UUID)"),
        );
        let scheduled_at = timestamp_field(
            "scheduled_at",
            request.scheduled_at.as_ref(),
            self.store.clock.now(),
        );
        let location = field("location", required_text(&request.location, 500));
        let advance_information = field(
            "advance_information",
            required_text(&request.advance_information, 10_000),
        );
        let (request_key, practitioner_id, scheduled_at, location, advance_information) =
            violations.finish_with((
                request_key,
                practitioner_id,
                scheduled_at,
                location,
                advance_information,
            ))?;
        let record = self
            .store
            .schedule_conversation(
                &principal,
                &review,
                practitioner_id,
                scheduled_at,
                location,
                advance_information,
                request_key,
            )
            .await?;
        Ok(Response::new(conversation_to_proto(&record)))
    }

    async fn schedule_learning_event(
        &self,
        request: Request<pb::ScheduleLearningEventRequest>,
    ) -> Result<Response<pb::LearningEvent>, Status> {
        let (principal, request) = caller(request)?;
        let review: ReviewInfo = self
            .store
            .authorized_review(
                &principal,
                &request.review_id,
                rule("ScheduleLearningEvent")?,
            )
            .await?
            .review;
        let mut violations = Violations::new();
        let request_key = RequestKey::field("ScheduleLearningEvent", &request.request_id, &request);
        let scheduled_at = timestamp_field(
            "scheduled_at",
            request.scheduled_at.as_ref(),
            self.store.clock.now(),
        );
        let location = field("location", required_text(&request.location, 500));
        let agenda = field("agenda", required_text(&request.agenda, 10_000));
        let mut parse_ids = |field: &str, raw: &[String]| -> Vec<Uuid> {
            raw.iter()
                .enumerate()
                .filter_map(|(index, id)| {
                    violations.check(
                        &format!("{field}[{index}]"),
                        id.trim()
                            .parse::<Uuid>()
                            .map_err(|_| "not a practitioner id (UUID)"),
                    )
                })
                .collect()
        };
        let add = parse_ids("add_practitioner_ids", &request.add_practitioner_ids);
        let remove = parse_ids("remove_practitioner_ids", &request.remove_practitioner_ids);
        let (request_key, scheduled_at, location, agenda) =
            violations.finish_with((request_key, scheduled_at, location, agenda))?;
        let record = self
            .store
            .schedule_learning_event(
                &principal,
                &review,
                scheduled_at,
                location,
                agenda,
                add,
                remove,
                request_key,
            )
            .await?;
        Ok(Response::new(learning_event_to_proto(&record)))
    }

    async fn record_attendance(
        &self,
        request: Request<pb::RecordAttendanceRequest>,
    ) -> Result<Response<pb::LearningEvent>, Status> {
        let (principal, request) = caller(request)?;
        let review: ReviewInfo = self
            .store
            .authorized_review(&principal, &request.review_id, rule("RecordAttendance")?)
            .await?
            .review;
        let learning_event_id = uuid_field("learning_event_id", &request.learning_event_id)?;
        let mut violations = Violations::new();
        let attended: Vec<Uuid> = request
            .attended_practitioner_ids
            .iter()
            .enumerate()
            .filter_map(|(index, id)| {
                violations.check(
                    &format!("attended_practitioner_ids[{index}]"),
                    id.trim()
                        .parse::<Uuid>()
                        .map_err(|_| "not a practitioner id (UUID)"),
                )
            })
            .collect();
        violations.finish()?;
        let record = self
            .store
            .record_attendance(&principal, review.review_id, learning_event_id, attended)
            .await?;
        Ok(Response::new(learning_event_to_proto(&record)))
    }

    async fn record_learning(
        &self,
        request: Request<pb::RecordLearningRequest>,
    ) -> Result<Response<pb::LearningRecord>, Status> {
        let (principal, request) = caller(request)?;
        let review: ReviewInfo = self
            .store
            .authorized_review(&principal, &request.review_id, rule("RecordLearning")?)
            .await?
            .review;
        let mut violations = Violations::new();
        let request_key = RequestKey::field("RecordLearning", &request.request_id, &request);
        let learning_event_id = match request.learning_event_id.trim() {
            "" => None,
            raw => violations.check(
                "learning_event_id",
                raw.parse::<Uuid>().map_err(|_| "not an id (UUID)"),
            ),
        };
        let conversation_id = match request.conversation_id.trim() {
            "" => None,
            raw => violations.check(
                "conversation_id",
                raw.parse::<Uuid>().map_err(|_| "not an id (UUID)"),
            ),
        };
        if request.learning_event_id.trim().is_empty() == request.conversation_id.trim().is_empty()
        {
            violations.add(
                "learning_event_id",
                "give exactly one of learning_event_id and conversation_id",
            );
        }
        if request.points.is_empty() {
            violations.add("points", "at least one learning point");
        }
        let mut points = Vec::with_capacity(request.points.len());
        for (index, point) in request.points.iter().enumerate() {
            let theme = LearningTheme::from_proto(point.theme);
            if theme.is_none() {
                violations.add(
                    format!("points[{index}].theme"),
                    "required: a learning theme",
                );
            }
            let description = violations.check(
                &format!("points[{index}].description"),
                required_text(&point.description, 5_000),
            );
            if let (Some(theme), Some(description)) = (theme, description) {
                points.push(LearningPoint { theme, description });
            }
        }
        let (request_key,) = violations.finish_with((request_key,))?;
        let record = self
            .store
            .record_learning(
                &principal,
                review.review_id,
                (learning_event_id, conversation_id),
                points,
                request_key,
            )
            .await?;
        Ok(Response::new(learning_record_to_proto(&record)))
    }
}
