//! The practitioners service started for real through the platform's test harness, fed
//! with the registry's and submissions' events as they would publish them.

#![allow(dead_code, unreachable_pub, unused_imports)]

use cspr_platform::projection::reviews;
use cspr_practitioners::store::ReviewInfo;
use std::time::Duration;

use chrono::NaiveDate;
use cspr_platform::store::StoreParts;
use cspr_platform::testing::{self, TestService, TestSetup};
use cspr_practitioners::PractitionersConfig;
use cspr_practitioners::store::Store;
use cspr_proto::events::v1::{
    Actor, Event, ReviewCreated, ReviewerAppointed, TermsOfReferenceSet, event::Body,
};
use cspr_proto::google::r#type::Date;
use cspr_proto::practitioners::v1 as pb;
use cspr_proto::practitioners::v1::practitioner_engagement_client::PractitionerEngagementClient;
use tonic::transport::Channel;

pub use testing::{authed, violated_fields};

pub const PARTNERSHIP: &str = "southvale";
pub const REVIEWER: &str = "isla-reviewer";

pub fn date(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

pub struct TestPractitioners {
    /// The running service, its clock, platform settings and clean-up.
    pub service: TestService,
    pub client: PractitionerEngagementClient<Channel>,
    pub store: Store,
}

impl std::ops::Deref for TestPractitioners {
    type Target = TestService;

    fn deref(&self) -> &TestService {
        &self.service
    }
}

impl TestPractitioners {
    pub async fn start() -> Self {
        let today = NaiveDate::from_ymd_opt(2026, 4, 20).expect("date");
        let setup = TestSetup::new(cspr_practitioners::SERVICE_NAME, today).await;
        let store = Store::new(StoreParts::new(&setup.context));
        let started = cspr_practitioners::start(
            setup.context.clone(),
            PractitionersConfig {
                sweep_interval: Duration::from_secs(3600),
            },
        );
        let service = setup.serve(cspr_practitioners::GRPC_NAME, started).await;
        Self {
            client: PractitionerEngagementClient::new(service.channel.clone()),
            store,
            service,
        }
    }

    pub fn token(&self, roles: &[&str], subject: &str) -> String {
        self.service.token(PARTNERSHIP, roles, None, subject)
    }

    pub fn reviewer(&self) -> String {
        self.token(&["reviewer"], REVIEWER)
    }

    /// Publishes an event of `review_id` as its producer would and waits until the service
    /// consumed it.
    pub async fn publish(&self, review_id: &str, body: Body) -> Event {
        let mut event = testing::foreign_event(PARTNERSHIP, review_id, body);
        event.actor = Some(Actor {
            subject: "someone".into(),
            roles: vec![],
        });
        self.service.deliver(&event).await;
        event
    }

    /// A review with its reviewer appointed and, if asked, terms of reference set (scope
    /// 2024-09-15 to 2026-03-09).
    pub async fn review(&self, with_terms: bool) -> String {
        let review_id = uuid::Uuid::now_v7().to_string();
        self.publish(
            &review_id,
            Body::ReviewCreated(ReviewCreated {
                reference: "SOUTHVALE-2026-001".into(),
                ..Default::default()
            }),
        )
        .await;
        self.publish(
            &review_id,
            Body::ReviewerAppointed(ReviewerAppointed {
                name: "Isla Oakes".into(),
                email: "isla@reviewers.example.org".into(),
                subject: REVIEWER.into(),
                review_reference: "SOUTHVALE-2026-001".into(),
            }),
        )
        .await;
        if with_terms {
            self.terms(&review_id).await;
        }
        self.assert_projected(&review_id, with_terms).await;
        review_id
    }

    pub async fn terms(&self, review_id: &str) {
        self.publish(
            review_id,
            Body::TermsOfReferenceSet(TermsOfReferenceSet {
                version: 1,
                scope_start: date(2024, 9, 15),
                scope_end: date(2026, 3, 9),
                key_lines_of_enquiry: vec!["How was neglect recognised?".into()],
                methodology: "Systems approach".into(),
                report_due_date: date(2026, 5, 1),
                review_reference: "SOUTHVALE-2026-001".into(),
                ..Default::default()
            }),
        )
        .await;
    }

    /// Checks the projection has the review (and its reviewer; its scope if asked).
    pub async fn assert_projected(&self, review_id: &str, with_terms: bool) {
        let id: uuid::Uuid = review_id.parse().expect("uuid");
        let review = reviews::get::<ReviewInfo>(self.store.pool(), PARTNERSHIP, id)
            .await
            .expect("review read")
            .expect("review projected");
        assert!(review.reviewer_subject.is_some(), "reviewer projected");
        assert!(!with_terms || review.scope().is_some(), "scope projected");
    }

    pub async fn register(
        &self,
        review_id: &str,
        name: &str,
        email: &str,
        involvement: (Option<Date>, Option<Date>),
    ) -> pb::Practitioner {
        let mut client = self.client.clone();
        client
            .register_practitioner(authed(
                pb::RegisterPractitionerRequest {
                    request_id: format!("register-{email}"),
                    review_id: review_id.into(),
                    practitioner_id: String::new(),
                    name: name.into(),
                    role: "Health visitor".into(),
                    agency_id: "health-visiting".into(),
                    agency_name: "Southvale Community Health Trust".into(),
                    email: email.into(),
                    involvement_start: involvement.0,
                    involvement_end: involvement.1,
                },
                &self.reviewer(),
            ))
            .await
            .expect("registered")
            .into_inner()
    }

    pub async fn stop(self) {
        self.service.stop().await;
    }
}

/// A time `days` days after the test clock's date, at 10:00 UTC.
pub fn in_days(days: i64) -> Option<prost_types::Timestamp> {
    let base = NaiveDate::from_ymd_opt(2026, 4, 20)
        .expect("date")
        .and_hms_opt(10, 0, 0)
        .expect("time")
        .and_utc();
    let instant = base + chrono::Duration::days(days);
    Some(prost_types::Timestamp {
        seconds: instant.timestamp(),
        nanos: 0,
    })
}
