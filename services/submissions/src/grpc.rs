//! The `AgencySubmissions` gRPC service: decode → authorize → domain → store → map errors.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use cspr_platform::access::rules::{self, Rule};
use cspr_platform::access::{Access, Reach};
use cspr_platform::auth::{Principal, caller};
use cspr_platform::convert::{
    date_from_proto, date_to_proto, enum_to_proto, future_date_field, timestamp_to_proto,
};
use cspr_platform::error::{FieldViolation, ServiceError, Violations, field};
use cspr_platform::handler::ReviewRead;
use cspr_platform::idempotency::MAX_REQUEST_ID;
use cspr_platform::pagination::{Cursor, PageRequest};
use cspr_platform::proto_enum;
use cspr_platform::values::{AgencyId, Email, agency_field, required_text, uuid_field};
use cspr_proto::submissions::v1 as pb;
use cspr_proto::submissions::v1::agency_submissions_server::AgencySubmissions;
use cspr_proto::submissions::v1::submit_agency_report_request::Item;
use futures::Stream;
use prost::Message;
use tonic::{Request, Response, Status, Streaming};
use uuid::Uuid;

use crate::admission::{StreamSlot, StreamSlots};
use crate::domain::{self, ContentHasher, EntryInput, Limits, NarrativeInput, ReportStatus};
use crate::error::SubmissionsError;
use crate::store::{
    AgencyAsk, ChronologyRow, PanelDecision, ReportRecord, RequestRecord, ReviewInfo, Store,
    SubmissionStart,
};

/// The rule of one of this service's RPCs in the platform's table.
fn rule(method: &str) -> Result<&'static Rule, ServiceError> {
    rules::lookup(rules::SUBMISSIONS, method)
}

/// How long a submission may wait for its header, and then between messages.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
const IDLE_TIMEOUT: Duration = Duration::from_secs(120);

proto_enum!(ReportStatus => pb::ReportStatus { Requested, Submitted, Accepted, Returned, Waived });

/// The proto status of a stored report or request status.
fn status_to_proto(status: &str) -> i32 {
    enum_to_proto(ReportStatus::parse(status))
}

fn request_to_proto(request: &RequestRecord) -> pb::ReportRequest {
    pb::ReportRequest {
        review_id: request.review_id.to_string(),
        agency_id: request.agency_id.clone(),
        agency_name: request.agency_name.clone(),
        contact_email: request.contact_email.clone(),
        due_date: Some(date_to_proto(request.due_date)),
        status: status_to_proto(&request.status),
        latest_version: request.latest_version,
        scope_start: request.scope_start.map(date_to_proto),
        scope_end: request.scope_end.map(date_to_proto),
        decision_note: request.decision_note.clone(),
        review_reference: request.reference.clone(),
        create_time: Some(timestamp_to_proto(request.created_at)),
        update_time: Some(timestamp_to_proto(request.updated_at)),
    }
}

fn report_to_proto(report: &ReportRecord) -> pb::AgencyReport {
    pb::AgencyReport {
        review_id: report.review_id.to_string(),
        agency_id: report.agency_id.clone(),
        agency_name: report.agency_name.clone(),
        version: report.version,
        author_name: report.author_name.clone(),
        author_role: report.author_role.clone(),
        narrative: Some(pb::Narrative {
            summary: report.summary.clone(),
            analysis_of_involvement: report.analysis_of_involvement.clone(),
            what_went_well: report.what_went_well.clone(),
            what_could_have_been_better: report.what_could_have_been_better.clone(),
            learning: report.learning.clone(),
        }),
        entry_count: report.entry_count,
        content_hash: report.content_hash.clone(),
        status: status_to_proto(&report.status),
        decision_note: report.decision_note.clone(),
        submit_time: Some(timestamp_to_proto(report.submitted_at)),
        submitted_by: report.submitted_by.clone(),
    }
}

fn chronology_to_proto(row: ChronologyRow) -> pb::CombinedChronologyEntry {
    pb::CombinedChronologyEntry {
        agency_id: row.agency_id,
        agency_name: row.agency_name,
        version: row.version,
        report_status: status_to_proto(&row.report_status),
        entry: Some(row.entry.into()),
    }
}

/// The submissions gRPC handlers, over the service's store (which holds its clock), the
/// limits of a submission and the count of each agency's open submission streams.
#[derive(Debug, Clone)]
pub struct SubmissionsApi {
    store: Store,
    limits: Arc<Limits>,
    streams: Arc<StreamSlots>,
}

impl SubmissionsApi {
    /// `max_streams_per_agency`: SubmitAgencyReport streams one agency may have open at once.
    pub fn new(store: Store, limits: Limits, max_streams_per_agency: u32) -> Self {
        Self {
            store,
            limits: Arc::new(limits),
            streams: StreamSlots::new(max_streams_per_agency),
        }
    }

    /// A place for one more submission stream of the caller's agency, or RESOURCE_EXHAUSTED
    /// saying the limit. A token without an agency takes none: its header is refused.
    fn stream_slot(&self, principal: &Principal) -> Result<Option<StreamSlot>, ServiceError> {
        let Some(agency_id) = principal.org.as_deref() else {
            return Ok(None);
        };
        match self.streams.take(&principal.partnership, agency_id) {
            Some(slot) => Ok(Some(slot)),
            None => {
                let limit = self.streams.limit();
                tracing::warn!(partnership = %principal.partnership, agency_id, limit, "submission stream refused: the agency has its limit open");
                Err(ServiceError::ResourceExhausted(format!(
                    "agency {agency_id} already has {limit} SubmitAgencyReport streams open, the most one agency may have at once on a server (CSPR_SUBMISSIONS_MAX_STREAMS_PER_AGENCY); finish or cancel one, then retry"
                )))
            }
        }
    }

    /// The review a panel decision is on, if the caller may decide ([`Rule`] of `method`),
    /// before the body is validated.
    async fn decision_on(
        &self,
        principal: &Principal,
        raw_review_id: &str,
        method: &str,
    ) -> Result<Uuid, Status> {
        let read: ReviewRead<'_, ReviewInfo> = self
            .store
            .authorized_review(principal, raw_review_id, rule(method)?)
            .await?;
        Ok(read.review.review_id)
    }

    async fn decide(
        &self,
        principal: &Principal,
        review_id: Uuid,
        agency_id: &str,
        decision: PanelDecision,
    ) -> Result<Response<pb::ReportRequest>, Status> {
        let agency_id = agency_field("agency_id", agency_id)?;
        let request = self
            .store
            .decide(principal, review_id, &agency_id, decision)
            .await?;
        Ok(Response::new(request_to_proto(&request)))
    }

    /// Reads the header: first, exactly one, valid, the caller's own agency.
    async fn read_header(
        &self,
        stream: &mut Streaming<pb::SubmitAgencyReportRequest>,
    ) -> Result<(pb::SubmissionHeader, SubmissionStart), Status> {
        let first = tokio::time::timeout(HEADER_TIMEOUT, stream.message())
            .await
            .map_err(|_| ServiceError::invalid("header", "no header within 30 seconds"))??;
        let header = match first.and_then(|message| message.item) {
            Some(Item::Header(header)) => header,
            Some(Item::Entry(_)) => {
                return Err(ServiceError::invalid(
                    "header",
                    "the first message must be the header",
                )
                .into());
            }
            None => {
                return Err(
                    ServiceError::invalid("header", "the stream ended before its header").into(),
                );
            }
        };
        let limits = &self.limits;
        let mut violations = Violations::new();
        let request_id = field(
            "header.request_id",
            required_text(&header.request_id, MAX_REQUEST_ID),
        );
        let review_id = field(
            "header.review_id",
            uuid_field("header.review_id", &header.review_id)
                .map_err(|_| "required: the review id (UUID)"),
        );
        let agency_id = field("header.agency_id", AgencyId::parse(&header.agency_id));
        let author_name = field(
            "header.author_name",
            required_text(&header.author_name, 200),
        );
        let author_role = field(
            "header.author_role",
            required_text(&header.author_role, 200),
        );
        if header.entry_count < 0 || header.entry_count as u64 > limits.max_entries {
            violations.add(
                "header.entry_count",
                format!(
                    "the number of entries that follow, 0 to {}",
                    limits.max_entries
                ),
            );
        }
        let narrative = header.narrative.clone().unwrap_or_default();
        let mut narrative_violations: Vec<FieldViolation> = Vec::new();
        let narrative = domain::parse_narrative(
            NarrativeInput {
                summary: &narrative.summary,
                analysis_of_involvement: &narrative.analysis_of_involvement,
                what_went_well: &narrative.what_went_well,
                what_could_have_been_better: &narrative.what_could_have_been_better,
                learning: &narrative.learning,
            },
            limits,
            &mut narrative_violations,
        );
        for violation in narrative_violations {
            violations.add(violation.field, violation.description);
        }
        let (request_id, review_id, agency_id, author_name, author_role) =
            violations.finish_with((request_id, review_id, agency_id, author_name, author_role))?;
        Ok((
            header,
            SubmissionStart {
                request_id,
                review_id,
                agency_id: agency_id.as_str().to_string(),
                author_name,
                author_role,
                narrative,
            },
        ))
    }
}

type ChronologyStream =
    Pin<Box<dyn Stream<Item = Result<pb::CombinedChronologyEntry, Status>> + Send>>;

#[tonic::async_trait]
impl AgencySubmissions for SubmissionsApi {
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

    async fn request_agency_report(
        &self,
        request: Request<pb::RequestAgencyReportRequest>,
    ) -> Result<Response<pb::ReportRequest>, Status> {
        let (principal, request) = caller(request)?;
        let read: ReviewRead<'_, ReviewInfo> = self
            .store
            .authorized_review(&principal, &request.review_id, rule("RequestAgencyReport")?)
            .await?;
        let review_id = read.review.review_id;
        let agency_id = field("agency_id", AgencyId::parse(&request.agency_id));
        let agency_name = field("agency_name", required_text(&request.agency_name, 200));
        let contact_email = field("contact_email", Email::parse(&request.contact_email));
        let due_date = future_date_field(
            "due_date",
            request.due_date.as_ref(),
            self.store.clock.today(),
        );
        let (agency_id, agency_name, contact_email, due_date) =
            Violations::new().finish_with((agency_id, agency_name, contact_email, due_date))?;
        let record = self
            .store
            .request_report(
                &principal,
                review_id,
                AgencyAsk {
                    agency_id: agency_id.as_str().to_string(),
                    agency_name,
                    contact_email: contact_email.as_str().to_string(),
                    due_date,
                },
            )
            .await?;
        Ok(Response::new(request_to_proto(&record)))
    }

    async fn list_report_requests(
        &self,
        request: Request<pb::ListReportRequestsRequest>,
    ) -> Result<Response<pb::ListReportRequestsResponse>, Status> {
        let (principal, request) = caller(request)?;
        let rule = rule("ListReportRequests")?;
        let (read, reach) = self
            .store
            .review_or_reach::<ReviewInfo>(&principal, &request.review_id, rule)
            .await?;
        let review_id = read.as_ref().map(|read| read.review.review_id);
        let page = PageRequest::parse(request.page_size, &request.page_token, 50, 200)?;
        // Only across reviews: on one review an appointed reviewer reads in full.
        if let Reach::AppointedReviews(_) = reach {
            return Err(ServiceError::invalid("review_id", "required for a reviewer").into());
        }
        let agency_id = reach.agency_filter("agency_id", &request.agency_id, "report requests")?;
        if review_id.is_none() && agency_id.is_none() {
            return Err(ServiceError::invalid("review_id", "give review_id or agency_id").into());
        }
        let (records, next_page_token) = page
            .read(
                |after, limit| {
                    self.store.list_requests(
                        &principal.partnership,
                        review_id,
                        agency_id.as_deref(),
                        after,
                        limit,
                    )
                },
                |record| Cursor::new(record.created_at, record.id),
            )
            .await?;
        if let (Some(read), Some(review_id)) = (&read, review_id) {
            read.record_of(format!("reviews/{review_id}/requests"))
                .await?;
        }
        Ok(Response::new(pb::ListReportRequestsResponse {
            report_requests: records.iter().map(request_to_proto).collect(),
            next_page_token,
        }))
    }

    async fn submit_agency_report(
        &self,
        request: Request<Streaming<pb::SubmitAgencyReportRequest>>,
    ) -> Result<Response<pb::SubmissionReceipt>, Status> {
        let (principal, mut stream) = caller(request)?;
        let rule = rule("SubmitAgencyReport")?;
        self.store
            .audit_log()
            .gate(&principal, rule, None, "reports".into())
            .await?;
        // Held until the call ends, however it ends.
        let _slot = self.stream_slot(&principal)?;
        // The review and the agency are in the header, the stream's first message.
        let (header, start) = self.read_header(&mut stream).await?;
        let read: ReviewRead<'_, ReviewInfo> = self
            .store
            .authorized_review(&principal, &header.review_id, rule)
            .await?;
        if let Err(denied) = rule.owner(&read.access, &start.agency_id) {
            self.store
                .audit_log()
                .record_refusal_on_review(
                    &principal,
                    rule.method,
                    start.review_id,
                    format!("reviews/{}/reports/{}", start.review_id, start.agency_id),
                    denied.code(),
                )
                .await;
            return Err(denied.into());
        }
        let review = read.review;
        let mut hasher = ContentHasher::new();
        hasher.add(&header.encode_to_vec());
        let scope = review.scope().ok_or_else(|| {
            ServiceError::FailedPrecondition(
                "terms of reference not set for this review: there is no scope period yet".into(),
            )
        })?;
        let mut writer = self.store.begin_submission(&principal, start).await?;
        let mut index: u64 = 0;
        loop {
            let next = tokio::time::timeout(IDLE_TIMEOUT, stream.message())
                .await
                .map_err(|_| {
                    ServiceError::invalid(
                        format!("entries[{index}]"),
                        "no message for 120 seconds; nothing was stored",
                    )
                })?;
            let message = match next {
                Ok(Some(message)) => message,
                Ok(None) => break,
                // The client cancelled or the connection broke: the writer is dropped and
                // deletes its stage.
                Err(status) => return Err(status),
            };
            let entry = match message.item {
                Some(Item::Entry(entry)) => entry,
                Some(Item::Header(_)) => {
                    return Err(ServiceError::invalid(
                        format!("entries[{index}]"),
                        "a second header; the header comes once, first",
                    )
                    .into());
                }
                None => {
                    return Err(ServiceError::invalid(
                        format!("entries[{index}]"),
                        "an empty message",
                    )
                    .into());
                }
            };
            if index >= header.entry_count as u64 {
                return Err(ServiceError::invalid(
                    format!("entries[{index}]"),
                    format!(
                        "more entries than the {} the header announced; nothing was stored",
                        header.entry_count
                    ),
                )
                .into());
            }
            hasher.add(&entry.encode_to_vec());
            let parsed = domain::parse_entry(index, entry_input(&entry), scope, &self.limits)
                .map_err(ServiceError::InvalidArgument)?;
            writer.push(parsed).await?;
            index += 1;
        }
        if index as i64 != header.entry_count {
            return Err(ServiceError::invalid(
                "header.entry_count",
                format!(
                    "the stream ended after {index} entries but the header announced {}; nothing was stored",
                    header.entry_count
                ),
            )
            .into());
        }
        let receipt = writer.finish(&principal, hasher.finish()).await?;
        tracing::info!(review_id = %receipt.review_id, agency_id = %receipt.agency_id, version = receipt.version, entries = receipt.entry_count, "agency report stored");
        Ok(Response::new(pb::SubmissionReceipt {
            review_id: receipt.review_id.to_string(),
            agency_id: receipt.agency_id,
            version: receipt.version,
            entry_count: receipt.entry_count,
            content_hash: receipt.content_hash,
            submit_time: Some(timestamp_to_proto(receipt.submitted_at)),
        }))
    }

    async fn get_agency_report(
        &self,
        request: Request<pb::GetAgencyReportRequest>,
    ) -> Result<Response<pb::AgencyReport>, Status> {
        let (principal, request) = caller(request)?;
        let rule = rule("GetAgencyReport")?;
        let read: ReviewRead<'_, ReviewInfo> = self
            .store
            .authorized_review(&principal, &request.review_id, rule)
            .await?;
        let review_id = read.review.review_id;
        let agency_id = agency_field("agency_id", &request.agency_id)?;
        if request.version < 0 {
            return Err(
                ServiceError::invalid("version", "0 for the latest, or a version number").into(),
            );
        }
        let resource = format!("reviews/{review_id}/reports/{agency_id}");
        if rule.owner(&read.access, &agency_id).is_err() {
            self.store
                .audit_log()
                .record_refusal_on_review(
                    &principal,
                    "GetAgencyReport",
                    review_id,
                    resource,
                    "NOT_FOUND",
                )
                .await;
            return Err(SubmissionsError::RequestNotFound(agency_id).into());
        }
        let version = (request.version > 0).then_some(request.version);
        let report = self
            .store
            .report(review_id, &agency_id, version)
            .await
            .map_err(SubmissionsError::from)?
            .ok_or_else(|| {
                ServiceError::NotFound(format!(
                    "report of agency {agency_id} (version {})",
                    request.version
                ))
            })?;
        read.record_of(resource).await?;
        Ok(Response::new(report_to_proto(&report)))
    }

    async fn list_agency_reports(
        &self,
        request: Request<pb::ListAgencyReportsRequest>,
    ) -> Result<Response<pb::ListAgencyReportsResponse>, Status> {
        let (principal, request) = caller(request)?;
        let read: ReviewRead<'_, ReviewInfo> = self
            .store
            .authorized_review(&principal, &request.review_id, rule("ListAgencyReports")?)
            .await?;
        let review_id = read.review.review_id;
        let page = PageRequest::parse(request.page_size, &request.page_token, 50, 200)?;
        let only_agency = match &read.access {
            Access::Full | Access::Redacted => None,
            Access::Agency(own) => Some(own.as_str()),
        };
        let (reports, next_page_token) = page
            .read(
                |after, limit| {
                    self.store
                        .latest_reports(review_id, only_agency, after, limit)
                },
                |report| Cursor::new(report.submitted_at, report.id),
            )
            .await?;
        read.record().await?;
        Ok(Response::new(pb::ListAgencyReportsResponse {
            reports: reports.iter().map(report_to_proto).collect(),
            next_page_token,
        }))
    }

    async fn accept_agency_report(
        &self,
        request: Request<pb::AcceptAgencyReportRequest>,
    ) -> Result<Response<pb::ReportRequest>, Status> {
        let (principal, request) = caller(request)?;
        let review_id = self
            .decision_on(&principal, &request.review_id, "AcceptAgencyReport")
            .await?;
        if request.version <= 0 {
            return Err(
                ServiceError::invalid("version", "required: the version the panel read").into(),
            );
        }
        self.decide(
            &principal,
            review_id,
            &request.agency_id,
            PanelDecision::Accept {
                version: request.version,
            },
        )
        .await
    }

    async fn return_agency_report(
        &self,
        request: Request<pb::ReturnAgencyReportRequest>,
    ) -> Result<Response<pb::ReportRequest>, Status> {
        let (principal, request) = caller(request)?;
        let review_id = self
            .decision_on(&principal, &request.review_id, "ReturnAgencyReport")
            .await?;
        let version = if request.version <= 0 {
            Err(FieldViolation::new(
                "version",
                "required: the version the panel read",
            ))
        } else {
            Ok(request.version)
        };
        let missing = field("missing", required_text(&request.missing, 10_000));
        let (_, missing) = Violations::new().finish_with((version, missing))?;
        self.decide(
            &principal,
            review_id,
            &request.agency_id,
            PanelDecision::Return {
                version: request.version,
                missing,
            },
        )
        .await
    }

    async fn waive_agency_report(
        &self,
        request: Request<pb::WaiveAgencyReportRequest>,
    ) -> Result<Response<pb::ReportRequest>, Status> {
        let (principal, request) = caller(request)?;
        let review_id = self
            .decision_on(&principal, &request.review_id, "WaiveAgencyReport")
            .await?;
        let reason = required_text(&request.reason, 10_000)
            .map_err(|error| ServiceError::invalid("reason", error.to_string()))?;
        self.decide(
            &principal,
            review_id,
            &request.agency_id,
            PanelDecision::Waive { reason },
        )
        .await
    }

    type StreamCombinedChronologyStream = ChronologyStream;

    async fn stream_combined_chronology(
        &self,
        request: Request<pb::StreamCombinedChronologyRequest>,
    ) -> Result<Response<Self::StreamCombinedChronologyStream>, Status> {
        use futures::StreamExt;

        let (principal, request) = caller(request)?;
        // The whole area: an agency's own part is not a combined chronology.
        let read: ReviewRead<'_, ReviewInfo> = self
            .store
            .authorized_review(
                &principal,
                &request.review_id,
                rule("StreamCombinedChronology")?,
            )
            .await?;
        let review_id = read.review.review_id;
        let agency_id = match request.agency_id.trim() {
            "" => None,
            raw => Some(agency_field("agency_id", raw)?),
        };
        let limit = match usize::try_from(request.limit) {
            Ok(0) => usize::MAX,
            Ok(limit) => limit,
            Err(_) => {
                return Err(ServiceError::invalid("limit", "must not be negative").into());
            }
        };
        read.record_of(format!("reviews/{review_id}/chronology"))
            .await?;
        let rows = self.store.stream_chronology(
            review_id,
            request.include_pending,
            agency_id,
            (limit != usize::MAX).then_some(limit),
        );
        // Past the limit the stream ends; the store's reader stops at its next send (the
        // receiver is gone) and its read-only transaction rolls back.
        let stream = tokio_stream::wrappers::ReceiverStream::new(rows)
            .take(limit)
            .map(|row| match row {
                Ok(row) => Ok(chronology_to_proto(row)),
                Err(error) => Err(Status::from(ServiceError::from(error))),
            });
        Ok(Response::new(Box::pin(stream)))
    }
}

/// A streamed chronology entry as the domain's parser reads it (the stream and the fuzz
/// target's property read entries the same way).
pub(crate) fn entry_input(entry: &pb::ChronologyEntry) -> EntryInput<'_> {
    EntryInput {
        occurred_on: date_from_proto(entry.occurred_on.as_ref()),
        time_of_day: &entry.time_of_day,
        service: &entry.service,
        practitioner_name: &entry.practitioner_name,
        practitioner_role: &entry.practitioner_role,
        description: &entry.description,
        outcome: &entry.outcome,
    }
}
