//! The step the services' gRPC handlers on a review's resources take first, once they have
//! their caller ([`crate::auth::caller`]): decide by the RPC's rule ([`crate::access::rules`])
//! whether the caller may call it on the review the request names — the caller's roles
//! before anything is loaded, then the review in the caller's partnership, then its facts —
//! a refusal audited.
//!
//! Each service wrote this as two or three adapters of its own (load, then check and audit)
//! called one after the other in every handler; here it is one call on the service's
//! [`StoreParts`] (which its store dereferences to). It comes back as a [`ReviewRead`], which
//! records the read with the same caller, action and area once the handler has read what it
//! answers with.

use uuid::Uuid;

use crate::access::rules::Rule;
use crate::access::{Access, Area, Reach};
use crate::auth::Principal;
use crate::error::ServiceError;
use crate::projection::reviews::{self, ReviewView};
use crate::store::StoreParts;
use crate::values::uuid_field;

impl StoreParts {
    /// The review a request names in its `review_id` field ([`reviews::load_requested`]):
    /// an invalid id is INVALID_ARGUMENT on that field, a review the caller's partnership
    /// does not have NOT_FOUND. For handlers that decide access themselves.
    pub async fn requested_review<V: ReviewView>(
        &self,
        principal: &Principal,
        raw_review_id: &str,
    ) -> Result<V, ServiceError> {
        reviews::load_requested(&self.pool, &principal.partnership, raw_review_id).await
    }

    /// The review a request names, decided by the RPC's `rule` in its three steps
    /// ([`crate::access::rules`]): the caller's roles before the review is loaded, then the
    /// tenant (NOT_FOUND), then the review's facts; a refusal by roles or facts audited for
    /// the rule's method. The read (for a read) is recorded once the handler has it
    /// ([`ReviewRead::record`]).
    pub async fn authorized_review<'a, V: ReviewView>(
        &'a self,
        principal: &'a Principal,
        raw_review_id: &str,
        rule: &'static Rule,
    ) -> Result<ReviewRead<'a, V>, ServiceError> {
        let review_id = uuid_field("review_id", raw_review_id)?;
        let resource = |review_id: Uuid| {
            rule.area().map_or_else(
                || format!("reviews/{review_id}"),
                |area| area.resource(review_id),
            )
        };
        self.audit
            .gate(principal, rule, Some(review_id), resource(review_id))
            .await?;
        let review: V = reviews::load(&self.pool, &principal.partnership, review_id).await?;
        let access = match rule.on_review(principal, review.common().facts()) {
            Ok(access) => access,
            Err(denied) => {
                self.audit
                    .record_refusal_on_review(
                        principal,
                        rule.method,
                        review_id,
                        resource(review_id),
                        denied.code(),
                    )
                    .await;
                return Err(denied.into());
            }
        };
        Ok(ReviewRead {
            review,
            access,
            parts: self,
            principal,
            area: rule.area(),
            resource: resource(review_id),
            action: rule.method,
        })
    }
}

impl StoreParts {
    /// ListAuditRecords of a service on its review projection, the same in every one: the
    /// caller decided by `rule`, a page of the service's own trail
    /// ([`crate::audit::page`]), the read recorded.
    pub async fn list_audit_records(
        &self,
        principal: &Principal,
        request: &cspr_proto::registry::v1::ListAuditRecordsRequest,
        rule: &'static Rule,
    ) -> Result<cspr_proto::registry::v1::ListAuditRecordsResponse, ServiceError> {
        let read: ReviewRead<'_, reviews::Review> = self
            .authorized_review(principal, &request.review_id, rule)
            .await?;
        let review_id = read.review.common().review_id;
        let page =
            crate::audit::page(&self.pool, &principal.partnership, review_id, request).await?;
        read.record().await?;
        Ok(page)
    }
}

impl StoreParts {
    /// For a list that may name one review or none (`review_id` empty): with a review, the
    /// caller's access to it decides ([`StoreParts::authorized_review`]), not their reach
    /// across reviews — an agency sees its own part, everyone else the review's whole
    /// list; without one, the rule's reach across the partnership's reviews
    /// ([`Rule::across`]).
    pub async fn review_or_reach<'a, V: ReviewView>(
        &'a self,
        principal: &'a Principal,
        raw_review_id: &str,
        rule: &'static Rule,
    ) -> Result<(Option<ReviewRead<'a, V>>, Reach), ServiceError> {
        let read: Option<ReviewRead<'a, V>> = match raw_review_id.trim() {
            "" => None,
            raw => Some(self.authorized_review(principal, raw, rule).await?),
        };
        let reach = match &read {
            None => rule.across(principal)?,
            Some(read) => match &read.access {
                Access::Agency(own) => Reach::Agency(own.clone()),
                Access::Full | Access::Redacted => Reach::Partnership,
            },
        };
        Ok((read, reach))
    }
}

/// A read of one review the caller is allowed ([`StoreParts::authorized_review`]), with
/// what its audit record names: the caller, the action and the area.
#[derive(Debug)]
pub struct ReviewRead<'a, V> {
    /// The review.
    pub review: V,
    /// What the caller may see of the area.
    pub access: Access,
    parts: &'a StoreParts,
    principal: &'a Principal,
    /// The area read, if the rule names one.
    area: Option<Area>,
    /// What the audit record of the read names (the area's resource, or the review's).
    resource: String,
    action: &'a str,
}

impl<V: ReviewView> ReviewRead<'_, V> {
    /// Records the read of the area (`reviews/<id>/<area>`): a read is answered only once its
    /// record is committed ([`crate::audit::AuditLog::record_read`]).
    pub async fn record(&self) -> Result<(), ServiceError> {
        self.record_of(self.resource.clone()).await
    }

    /// The area read, if the rule names one.
    pub fn area(&self) -> Option<Area> {
        self.area
    }

    /// [`ReviewRead::record`] of one resource of the area (one member, one agency's report).
    pub async fn record_of(&self, resource: String) -> Result<(), ServiceError> {
        let review_id = self.review.common().review_id;
        self.parts
            .audit
            .record_read(self.principal, self.action, review_id, resource)
            .await
    }
}
