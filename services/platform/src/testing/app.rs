//! A service's tests start from the same few things, which each service's `tests/common`
//! used to write out again: a struct of the [`TestService`], a gRPC client on it and a store
//! on its database (dereferencing to the service), started on a fixed date; tokens of the
//! test partnership for each role; events of a review as their producer publishes them
//! (and once more, as a redelivery); the registry's announcement of a review and its
//! reviewer, projected before the test goes on; the service's own events read back from its
//! stream, and its audit trail; two replicas' sweeps run at once. They are here, once:
//! [`TestApp`] (started by [`TestSetup::serve_app`]), the methods below on [`TestService`],
//! and the dates and [`swept_together`].

use std::future::Future;
use std::ops::Deref;
use std::time::Duration;

use chrono::NaiveDate;
use cspr_proto::events::v1::event::Body;
use cspr_proto::events::v1::{Event, ReviewCreated, ReviewerAppointed};
use cspr_proto::google::r#type::Date;
use tonic::transport::Channel;

use crate::projection::reviews::{self, Review};
use crate::server::{RunningService, ServiceContext, StartError};
use crate::store::StoreParts;

use super::{TestService, TestSetup};

/// The partnership of the tests' tokens and events.
pub const PARTNERSHIP: &str = "southvale";

/// Another partnership, whose tokens must not reach [`PARTNERSHIP`]'s reviews.
pub const OTHER_PARTNERSHIP: &str = "northmoor";

/// The reference of the reviews the tests announce (the registry's first of 2026).
pub const REVIEW_REFERENCE: &str = "SOUTHVALE-2026-001";

/// The subject of the reviewer [`TestService::appoint_reviewer`] appoints, and of the
/// tests' `reviewer` tokens.
pub const REVIEWER: &str = "isla-reviewer";

/// How long [`TestService::published`] waits for the events it expects.
const STREAM_WAIT: Duration = Duration::from_secs(10);

/// Who holds `role` in the tests' partnership: one subject a role, so the tokens of a role
/// and what the services record of its holder (audit actors, appointed reviewers) agree.
pub fn persona(role: &str) -> &'static str {
    match role {
        "partnership_admin" => "alice-admin",
        "panel_chair" => "tess-chair",
        "panel_member" => "wren",
        "reviewer" => REVIEWER,
        "auditor" => "audrey",
        "family_liaison" => "fay-liaison",
        "operations" => "ops",
        _ => "someone",
    }
}

/// A date written `YYYY-MM-DD`, for the clock of a test.
pub fn date(text: &str) -> NaiveDate {
    match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        Ok(date) => date,
        Err(error) => panic!("{text} is not a date: {error}"),
    }
}

/// [`date`] as a protobuf date, as requests and events carry it.
pub fn pdate(text: &str) -> Option<Date> {
    Some(crate::convert::date_to_proto(date(text)))
}

/// A protobuf date of its parts.
pub fn proto_date(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

/// What two replicas' sweeps raised together: `first` and `second` (each a `sweep_once`)
/// run at once, as two replicas of a service would; panics if either failed.
pub async fn swept_together<E: std::fmt::Debug>(
    first: impl Future<Output = Result<usize, E>>,
    second: impl Future<Output = Result<usize, E>>,
) -> usize {
    match tokio::join!(first, second) {
        (Ok(first), Ok(second)) => first + second,
        (Err(error), _) | (_, Err(error)) => panic!("sweep: {error:?}"),
    }
}

/// One service under test, as its tests use it: the [`TestService`] (which it dereferences
/// to: clock, platform settings, tokens, events), a gRPC `client` on it and a `store` on
/// its database (the service's own store type, to drive its jobs as a second replica would,
/// or only its pool).
pub struct TestApp<C, S> {
    /// The running service, its clock, platform settings and clean-up.
    pub service: TestService,
    /// A client of the service's API on the test's channel.
    pub client: C,
    /// A store on the service's database.
    pub store: S,
}

impl<C, S> Deref for TestApp<C, S> {
    type Target = TestService;

    fn deref(&self) -> &TestService {
        &self.service
    }
}

impl<C, S> TestApp<C, S> {
    /// Stops the service, then removes its database and streams.
    pub async fn stop(self) {
        self.service.stop().await;
    }
}

impl TestSetup {
    /// Starts the service for a test as a [`TestApp`]: `start` (the service's own, with its
    /// config) on this context, waited for until `grpc_name` is SERVING ([`TestSetup::serve`]);
    /// then `client` on the channel to it and `store` on the store parts of its context.
    pub async fn serve_app<C, S, F>(
        self,
        grpc_name: &str,
        start: impl FnOnce(ServiceContext) -> F,
        client: impl FnOnce(Channel) -> C,
        store: impl FnOnce(StoreParts) -> S,
    ) -> TestApp<C, S>
    where
        F: Future<Output = Result<RunningService, StartError>>,
    {
        let store = store(StoreParts::new(&self.context));
        let started = start(self.context.clone());
        let service = self.serve(grpc_name, started).await;
        TestApp {
            client: client(service.channel.clone()),
            store,
            service,
        }
    }
}

impl TestService {
    /// A token of [`PARTNERSHIP`] with `roles` for `subject`, of no organisation.
    pub fn token_as(&self, roles: &[&str], subject: &str) -> String {
        self.token(PARTNERSHIP, roles, None, subject)
    }

    /// A token of [`PARTNERSHIP`] for the holder of `role` ([`persona`]).
    pub fn role_token(&self, role: &str) -> String {
        self.token_as(&[role], persona(role))
    }

    /// A token of [`PARTNERSHIP`]'s agency `org` (role `agency`, subject `<org>-system`).
    pub fn agency_token(&self, org: &str) -> String {
        self.token(
            PARTNERSHIP,
            &["agency"],
            Some(org),
            &format!("{org}-system"),
        )
    }

    /// A token of `role` (of agency `org`, if given) in [`OTHER_PARTNERSHIP`].
    pub fn token_elsewhere(&self, role: &str, org: Option<&str>) -> String {
        self.token(OTHER_PARTNERSHIP, &[role], org, persona(role))
    }

    /// An event of `review_id` in [`PARTNERSHIP`], as its producer would build it (no actor).
    pub fn event(&self, review_id: &str, body: Body) -> Event {
        super::foreign_event(PARTNERSHIP, review_id, body)
    }

    /// Publishes [`TestService::event`] and waits until this service consumed it; the event.
    pub async fn deliver_body(&self, review_id: &str, body: Body) -> Event {
        let event = self.event(review_id, body);
        self.deliver(&event).await;
        event
    }

    /// Publishes `event` again under a fresh message id, so it gets past JetStream's
    /// duplicate window as a redelivery would, and waits until this service's consumer of
    /// its producer has taken it in and acknowledged it.
    pub async fn redeliver(&self, event: &Event) {
        super::publish_event(&self.platform, event, &uuid::Uuid::new_v4().to_string()).await;
        let producer = event
            .body
            .as_ref()
            .map(|body| body.producer())
            .unwrap_or("");
        self.wait_drained(producer).await;
    }

    /// A new review, announced as the registry does (`review_created`, reference
    /// [`REVIEW_REFERENCE`]) and consumed; its id.
    pub async fn create_review(&self) -> String {
        let review_id = uuid::Uuid::now_v7().to_string();
        self.deliver_body(
            &review_id,
            Body::ReviewCreated(ReviewCreated {
                reference: REVIEW_REFERENCE.into(),
                ..Default::default()
            }),
        )
        .await;
        review_id
    }

    /// The registry's `reviewer_appointed` of [`REVIEWER`] (Isla Oakes) to `review_id`,
    /// consumed.
    pub async fn appoint_reviewer(&self, review_id: &str) {
        self.deliver_body(
            review_id,
            Body::ReviewerAppointed(ReviewerAppointed {
                name: "Isla Oakes".into(),
                email: "isla@reviewers.example.org".into(),
                subject: REVIEWER.into(),
                review_reference: REVIEW_REFERENCE.into(),
            }),
        )
        .await;
    }

    /// `review_id` as this service projected it from the registry's events (for a service
    /// that keeps the review projection); panics if it has not.
    pub async fn projected_review(&self, review_id: &str) -> Review {
        let id: uuid::Uuid = match review_id.parse() {
            Ok(id) => id,
            Err(error) => panic!("review id {review_id} is not a UUID: {error}"),
        };
        match reviews::get::<Review>(self.pool(), PARTNERSHIP, id).await {
            Ok(Some(review)) => review,
            Ok(None) => panic!("review {review_id} not projected"),
            Err(error) => panic!("review {review_id} not read: {error}"),
        }
    }

    /// A new review with [`REVIEWER`] appointed ([`TestService::create_review`],
    /// [`TestService::appoint_reviewer`]), the reviewer checked to be projected; its id.
    pub async fn review_with_reviewer(&self) -> String {
        let review_id = self.create_review().await;
        self.appoint_reviewer(&review_id).await;
        let review = self.projected_review(&review_id).await;
        assert!(review.reviewer_subject.is_some(), "reviewer projected");
        review_id
    }

    /// The service's own events on its stream, (subject, event) in order, once at least
    /// `at_least` are there (see [`super::read_stream`]; 10 s at most).
    pub async fn published(&self, at_least: usize) -> Vec<(String, Event)> {
        self.published_within(at_least, STREAM_WAIT).await
    }

    /// [`TestService::published`], waiting up to `timeout`.
    pub async fn published_within(
        &self,
        at_least: usize,
        timeout: Duration,
    ) -> Vec<(String, Event)> {
        super::read_stream(&self.platform.nats_url, &self.stream(), at_least, timeout).await
    }

    /// The types of [`TestService::published`], in order.
    pub async fn published_types(&self, at_least: usize) -> Vec<String> {
        self.published(at_least)
            .await
            .into_iter()
            .map(|(_, event)| event.r#type)
            .collect()
    }

    /// The audit records of `review_id` in [`PARTNERSHIP`], oldest first (`limit` at most).
    pub async fn audit_trail(&self, review_id: &str, limit: i64) -> Vec<crate::audit::AuditRecord> {
        let id: uuid::Uuid = match review_id.parse() {
            Ok(id) => id,
            Err(error) => panic!("review id {review_id} is not a UUID: {error}"),
        };
        let mut connection = match self.pool().acquire().await {
            Ok(connection) => connection,
            Err(error) => panic!("no connection for the audit trail: {error}"),
        };
        match crate::audit::list_for_review(&mut connection, PARTNERSHIP, id, None, limit).await {
            Ok(trail) => trail,
            Err(error) => panic!("audit trail of {review_id} not read: {error}"),
        }
    }
}
