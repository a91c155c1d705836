//! The `Notifications` gRPC service: where each email stands, and a retry for failed ones.

use std::sync::Arc;

use cspr_platform::access::rules::{self, Rule};
use cspr_platform::audit::{AuditEntry, AuditLog};
use cspr_platform::auth::caller;
use cspr_platform::clock::Clock;
use cspr_platform::convert::{enum_filter, enum_to_proto, timestamp_to_proto};
use cspr_platform::error::ServiceError;
use cspr_platform::pagination::{Cursor, PageRequest};
use cspr_platform::proto_enum;
use cspr_platform::values::{optional_filter, uuid_field};
use cspr_proto::notifications::v1 as pb;
use cspr_proto::notifications::v1::notifications_server::Notifications;
use sqlx::PgPool;
use tonic::{Request, Response, Status};

use crate::store::{self, DeliveryFilter, DeliveryRecord, DeliveryStatus};

/// The rule of one of this service's RPCs in the platform's table.
fn rule(method: &str) -> Result<&'static Rule, ServiceError> {
    rules::lookup(rules::NOTIFICATIONS, method)
}

proto_enum!(DeliveryStatus => pb::DeliveryStatus { Pending, Sent, Retrying, Failed });

fn to_proto(delivery: &DeliveryRecord) -> pb::Delivery {
    pb::Delivery {
        id: delivery.id.to_string(),
        review_id: delivery
            .review_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        review_reference: delivery.review_reference.clone(),
        event_id: delivery.event_id.to_string(),
        event_type: delivery.event_type.clone(),
        template: delivery.template.clone(),
        recipient: delivery.recipient.clone(),
        subject: delivery.subject.clone(),
        status: enum_to_proto(DeliveryStatus::parse(&delivery.status)),
        attempts: delivery.attempts,
        last_error: delivery.last_error.clone(),
        next_attempt_time: Some(timestamp_to_proto(delivery.next_attempt_at)),
        sent_time: delivery.sent_at.map(timestamp_to_proto),
        create_time: Some(timestamp_to_proto(delivery.created_at)),
    }
}

#[derive(Debug, Clone)]
pub struct NotificationsApi {
    pool: PgPool,
    clock: Arc<dyn Clock>,
    /// The service's writer of read and refusal audits.
    audit: AuditLog,
}

impl NotificationsApi {
    pub fn new(pool: PgPool, clock: Arc<dyn Clock>, audit: AuditLog) -> Self {
        Self { pool, clock, audit }
    }
}

#[tonic::async_trait]
impl Notifications for NotificationsApi {
    async fn list_deliveries(
        &self,
        request: Request<pb::ListDeliveriesRequest>,
    ) -> Result<Response<pb::ListDeliveriesResponse>, Status> {
        let (principal, request) = caller(request)?;
        self.audit
            .gate(
                &principal,
                rule("ListDeliveries")?,
                None,
                "deliveries".into(),
            )
            .await?;
        let page = PageRequest::parse(request.page_size, &request.page_token, 50, 200)?;
        let review_id = match request.review_id.trim() {
            "" => None,
            raw => Some(uuid_field("review_id", raw)?),
        };
        let status = enum_filter(request.status, "status")?;
        let filter = DeliveryFilter {
            review_id,
            recipient: optional_filter("recipient", &request.recipient, 320)?,
            status,
        };
        let (deliveries, next_page_token) = page
            .read(
                |after, limit| {
                    store::list(&self.pool, &principal.partnership, &filter, after, limit)
                },
                |delivery| Cursor::new(delivery.created_at, delivery.id),
            )
            .await?;
        Ok(Response::new(pb::ListDeliveriesResponse {
            deliveries: deliveries.iter().map(to_proto).collect(),
            next_page_token,
        }))
    }

    async fn get_delivery(
        &self,
        request: Request<pb::GetDeliveryRequest>,
    ) -> Result<Response<pb::Delivery>, Status> {
        let (principal, request) = caller(request)?;
        let id = uuid_field("delivery_id", &request.delivery_id)?;
        self.audit
            .gate(
                &principal,
                rule("GetDelivery")?,
                None,
                format!("deliveries/{id}"),
            )
            .await?;
        let delivery = store::get(&self.pool, &principal.partnership, id)
            .await
            .map_err(ServiceError::from)?
            .ok_or_else(|| ServiceError::NotFound(format!("delivery {id}")))?;
        Ok(Response::new(to_proto(&delivery)))
    }

    async fn retry_delivery(
        &self,
        request: Request<pb::RetryDeliveryRequest>,
    ) -> Result<Response<pb::Delivery>, Status> {
        let (principal, request) = caller(request)?;
        let id = uuid_field("delivery_id", &request.delivery_id)?;
        let resource = format!("deliveries/{id}");
        self.audit
            .gate(&principal, rule("RetryDelivery")?, None, resource.clone())
            .await?;
        if let Some(delivery) = store::requeue_failed(&self.pool, &principal, id, self.clock.now())
            .await
            .map_err(ServiceError::from)?
        {
            tracing::info!(delivery_id = %id, by = %principal.subject, "failed delivery re-queued");
            return Ok(Response::new(to_proto(&delivery)));
        }
        let (refusal, outcome) = match store::get(&self.pool, &principal.partnership, id)
            .await
            .map_err(ServiceError::from)?
        {
            Some(delivery) => (
                ServiceError::FailedPrecondition(format!(
                    "delivery {id} is {}, not FAILED; only failed deliveries are retried",
                    delivery.status
                )),
                "FAILED_PRECONDITION",
            ),
            None => (
                ServiceError::NotFound(format!("delivery {id}")),
                "NOT_FOUND",
            ),
        };
        self.audit
            .record_refusal(&AuditEntry {
                principal: &principal,
                action: "RetryDelivery",
                review_id: None,
                resource,
                outcome,
            })
            .await;
        Err(refusal.into())
    }
}
