//! What every cspr service shares: its plumbing, and one thing that names the domain, the
//! metrics catalog ([`metrics`]: every instrument of every service, reviews by stage and
//! overdue reports included). The catalog lives here, not in the services, so there is one
//! list, which a test keeps equal to `infra/metrics.txt` (the names the Grafana dashboards
//! and alert rules may use), and services make their instruments from it instead of typing
//! names of their own.
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
//! - [`handler`]: a handler's first step on a review: loaded, access decided, refusal audited.
//! - [`server`]: the start-up builder (health, reflection, readiness, graceful shutdown),
//!   with `connections` (timeouts of the connections, the calls shutdown cuts off) and
//!   `size_limit` (an oversized message answered RESOURCE_EXHAUSTED), both `call_hook`s.
//! - [`supervision`]: a service's tasks watched; one that dies turns health NOT_SERVING.
//! - [`metrics`], [`rpc_metrics`]: the metrics catalog and the RPC instruments.
//! - [`jobs`]: periodic work in pages, safe with replicas: every service's sweep
//!   ([`jobs::Sweep`]).
//! - [`audit`], [`idempotency`], [`pagination`]: helpers used in handlers and stores.
//! - [`store`]: the parts every service's store is built from (and `service_store!`), its
//!   command audits, its keyed row reads and its sweeps' pages.
//! - [`projection`]: the review projection the consuming services keep alike (their own
//!   columns declared with `review_columns!`).
//! - [`clock`], [`calendar`]: injectable time and the England & Wales working-day calendar.
//! - [`values`]: generic input parsers (text limits, emails, agency ids), and
//!   `named_enum!` for the enums whose values have stored names.
//! - [`convert`]: protobuf dates and timestamps to and from chrono, date fields, enums
//!   ([`proto_enum!`]).
//! - `testing` (feature `test-support`): a service started for a test (own database and
//!   subject prefix, removed even after a panic) with its client and store, tokens by role,
//!   events published and waited for until consumed, an RPC's expected reply or refusal in
//!   one call, `eventually` instead of sleeps, an own NATS server, and (from
//!   `testing_smtp`) an in-process SMTP server that keeps what it accepts.

pub mod access;
pub mod audit;
pub mod auth;
pub mod bus;
pub mod calendar;
mod call_hook;
pub mod chronology;
pub mod clock;
pub mod config;
mod connections;
pub mod convert;
pub mod db;
pub mod error;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod handler;
pub mod idempotency;
pub mod jobs;
pub mod metrics;
pub mod pagination;
pub mod projection;
pub mod rpc_metrics;
pub mod server;
mod size_limit;
pub mod store;
pub mod supervision;
pub mod telemetry;
#[cfg(feature = "test-support")]
pub mod testing;
#[cfg(feature = "test-support")]
mod testing_smtp;
pub mod tls;
pub mod values;
