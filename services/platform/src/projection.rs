//! Projections of other services' facts that several consuming services keep alike.
//!
//! # Layout
//! - [`reviews`]: the registry's reviews (partnership, reference, appointed reviewer, scope
//!   period), kept by every service whose data hangs off a review.

pub mod reviews;
