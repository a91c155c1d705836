//! The step the services' gRPC handlers on a review's resources take first, once they have
//! their caller ([`crate::auth::caller`]): load the review the request names, in the caller's
//! partnership, and decide what the caller may read of it or do on it, a refusal audited.
//!
//! Each service wrote this as two or three adapters of its own (load, then check and audit)
//! called one after the other in every handler; here it is one call on the service's
//! [`StoreParts`] (which its store dereferences to), for the service's [`Area`] or [`Work`].

use crate::access::{Access, Area, Work};
use crate::auth::Principal;
use crate::error::ServiceError;
use crate::projection::reviews::{self, ReviewView};
use crate::store::StoreParts;

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

    /// [`StoreParts::requested_review`] for the caller to read `area` of it: the review and
    /// what the caller may see, or the refusal, audited for `action`
    /// ([`crate::audit::AuditLog::read_checked`]).
    pub async fn review_to_read<V: ReviewView>(
        &self,
        principal: &Principal,
        raw_review_id: &str,
        area: Area,
        action: &str,
    ) -> Result<(V, Access), ServiceError> {
        let review: V = self.requested_review(principal, raw_review_id).await?;
        let access = self
            .audit
            .read_checked(principal, review.common(), area, action)
            .await?;
        Ok((review, access))
    }

    /// [`StoreParts::requested_review`] for the caller to do `work` on it: the review, or the
    /// refusal, audited for `action` ([`crate::audit::AuditLog::may_do_checked`]).
    pub async fn review_to_work_on<V: ReviewView>(
        &self,
        principal: &Principal,
        raw_review_id: &str,
        work: Work,
        action: &str,
    ) -> Result<V, ServiceError> {
        let review: V = self.requested_review(principal, raw_review_id).await?;
        self.audit
            .may_do_checked(principal, review.common(), work, action)
            .await?;
        Ok(review)
    }
}
