//! What every cspr service shares, and nothing domain-specific.
//!
//! # Layout
//! - [`config`]: typed settings from environment variables, validated at start-up.
//! - [`telemetry`]: JSON logs, OTLP traces and metrics, the platform's instruments.
//! - [`db`]: a service's own database: created if missing, pooled, migrated.
//! - [`bus`]: NATS JetStream naming, the transactional outbox and its relay, consumers with
//!   an inbox and dead letters, trace context in headers.
//! - [`auth`]: bearer token verification into a [`auth::Principal`], roles.
//! - [`access`]: who may read or do what on a review's resources (pure decisions).
//! - [`error`]: the shared error codes, mapped once to `tonic::Status`.
//! - [`server`]: bootstrap (health, reflection, readiness, graceful shutdown).
//! - [`jobs`]: periodic work in pages, safe with replicas.
//! - [`audit`], [`idempotency`], [`pagination`]: helpers used in handlers and stores.
//! - [`clock`], [`calendar`]: injectable time and the England & Wales working-day calendar.
//! - [`values`]: generic input parsers (text limits, emails, agency ids).
//! - [`convert`]: protobuf dates and timestamps to and from chrono.
//! - `testing` (feature `test-support`): fresh databases, tokens, an own NATS server.

#![forbid(unsafe_code)]

pub mod access;
pub mod audit;
pub mod auth;
pub mod bus;
pub mod calendar;
pub mod clock;
pub mod config;
pub mod convert;
pub mod db;
pub mod error;
pub mod idempotency;
pub mod jobs;
pub mod metrics;
pub mod pagination;
pub mod rpc_metrics;
pub mod server;
pub mod telemetry;
#[cfg(feature = "test-support")]
pub mod testing;
pub mod values;
