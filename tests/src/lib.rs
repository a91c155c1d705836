//! End-to-end suites across cspr services, run by `cargo test --workspace` (see `tests/`).
//!
//! # Layout
//! - [`spawn_stack`]: starts every service of this build in-process on free ports, sharing
//!   one subject prefix (so they hear each other's events) with a database each and one
//!   manual clock; later suites get the other services from it too ([`spawn_stack_on`]
//!   puts the databases on servers of the suite's choosing).
//! - `tests/end_to_end.rs`: the registry as an outside client and a plain NATS subscriber
//!   see it (gRPC in, `cspr.registry.>` events out), reflection on its port.
//! - `tests/registry_and_submissions.rs`: terms of reference → report requests (and one
//!   email per agency, over real SMTP) → agency submissions → the panel's decisions → the
//!   registry's overview guard.
//! - `tests/family_privacy.rs`: a family member's publication consultation reaches the known
//!   professional by email (real SMTP) with the relationship, never the seeded name.
//! - `tests/practitioner_engagement.rs`: practitioners named in a chronology → confirmed by
//!   the reviewer → invitations by email with the advance information, only to the eligible;
//!   the registry keeps them off the panel.
//! - `tests/postgres_outage.rs`: PostgreSQL (a server of the test's own, under the
//!   consumers) stopped for 30 s while the registry's events reach them: every event
//!   applied once, every email sent once.
//! - `tests/hostile_text.rs`: a NUL byte in each string field of each request of every RPC
//!   (built from the descriptors): never INTERNAL.
//!
//! The benchmark harness lives here too: `src/bin/cspr-bench.rs`, a binary run by hand
//! (see `BENCHMARKS.md`), not part of `cargo test`.

use std::time::Duration;

use cspr_notifications::config::{MailTarget, NotificationsConfig};
use cspr_platform::clock::ManualClock;
use cspr_platform::config::PlatformConfig;
use cspr_platform::server::{RunningService, ServiceContext};
use cspr_platform::testing::{self, Leftovers};
use cspr_registry::config::RegistryConfig;
use cspr_submissions::config::SubmissionsConfig;
use tokio_util::sync::CancellationToken;

/// Emails the notifications service of a [`Stack`] sends at once (its lettre pool size).
pub const MAIL_CONCURRENCY: u32 = 16;

/// The services of one suite, and what is needed to clean them up.
pub struct Stack {
    /// Shared settings (subject prefix, token key).
    pub platform: PlatformConfig,
    /// The clock every service reads.
    pub clock: ManualClock,
    /// Cancel to stop them all.
    pub shutdown: CancellationToken,
    pub registry: RunningService,
    pub submissions: RunningService,
    pub practitioners: RunningService,
    pub family: RunningService,
    pub actions: RunningService,
    pub notifications: RunningService,
    /// Clones of the contexts the services run with: their pools and buses, to see when
    /// the stack has settled.
    contexts: Vec<ServiceContext>,
    /// Cancels `shutdown` if a suite panics before [`Stack::stop`], so the services stop.
    _stop_on_drop: tokio_util::sync::DropGuard,
    /// Their databases and streams, removed at the end (also after a panic).
    leftovers: Option<Leftovers>,
}

/// Starts every service on free ports, emails going to `mail`; returns once all report
/// SERVING.
pub async fn spawn_stack(today: chrono::NaiveDate, mail: MailTarget) -> Stack {
    testing::init();
    spawn_stack_with(testing::platform_config(&testing::nats_url()), today, mail).await
}

/// As [`spawn_stack`], with given platform settings (the benchmark harness sizes the pools).
pub async fn spawn_stack_with(
    platform: PlatformConfig,
    today: chrono::NaiveDate,
    mail: MailTarget,
) -> Stack {
    spawn_stack_on(platform, today, mail, &|_| testing::server_url()).await
}

/// As [`spawn_stack_with`], each service's database on the PostgreSQL server
/// `database_server(service)` names (a fault test puts some on a server of its own,
/// [`testing::PgCluster`], which it stops).
pub async fn spawn_stack_on(
    platform: PlatformConfig,
    today: chrono::NaiveDate,
    mail: MailTarget,
    database_server: &dyn Fn(&str) -> String,
) -> Stack {
    let clock = ManualClock::on(today);
    let shutdown = CancellationToken::new();
    let quiet_jobs = Duration::from_secs(3600);

    // Each service's context, its database on the server `database_server` names for it.
    let context = |name: &'static str| {
        let server = database_server(name);
        let (platform, clock, shutdown) = (&platform, &clock, &shutdown);
        async move { testing::context_on(name, platform, clock, shutdown, &server).await }
    };
    let registry_context = context(cspr_registry::SERVICE_NAME).await;
    let submissions_context = context(cspr_submissions::SERVICE_NAME).await;
    let practitioners_context = context(cspr_practitioners::SERVICE_NAME).await;
    let family_context = context(cspr_family::SERVICE_NAME).await;
    let actions_context = context(cspr_actions::SERVICE_NAME).await;
    let notifications_context = context(cspr_notifications::SERVICE_NAME).await;
    let contexts: Vec<ServiceContext> = [
        &registry_context,
        &submissions_context,
        &practitioners_context,
        &family_context,
        &actions_context,
        &notifications_context,
    ]
    .into_iter()
    .cloned()
    .collect();
    let mut leftovers = Leftovers::new(&platform);
    for context in &contexts {
        leftovers.database(&context.service.database_url);
    }
    let registry = cspr_registry::start(
        registry_context,
        RegistryConfig {
            rules: Default::default(),
            sweep_interval: quiet_jobs,
        },
    )
    .await
    .expect("registry starts");
    let submissions = cspr_submissions::start(
        submissions_context,
        SubmissionsConfig {
            sweep_interval: quiet_jobs,
            ..SubmissionsConfig::default()
        },
    )
    .await
    .expect("submissions starts");
    let practitioners = cspr_practitioners::start(
        practitioners_context,
        cspr_practitioners::PractitionersConfig {
            sweep_interval: quiet_jobs,
        },
    )
    .await
    .expect("practitioners starts");
    let family = cspr_family::start(
        family_context,
        cspr_family::FamilyConfig {
            cipher: cspr_family::crypto::FieldCipher::new(
                "test:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
                &[],
            )
            .expect("test key"),
            sweep_interval: quiet_jobs,
        },
    )
    .await
    .expect("family starts");
    let actions = cspr_actions::start(
        actions_context,
        cspr_actions::ActionsConfig {
            due_soon_days: 14,
            escalate_after_days: 30,
            sweep_interval: quiet_jobs,
        },
    )
    .await
    .expect("actions starts");
    let notifications = cspr_notifications::start(
        notifications_context,
        NotificationsConfig {
            from: "CSPR reviews <no-reply@cspr.test>".into(),
            concurrency: MAIL_CONCURRENCY,
            poll_interval: Duration::from_millis(100),
            ..NotificationsConfig::to(mail)
        },
    )
    .await
    .expect("notifications starts");
    assert!(registry.wait_ready().await, "registry ready");
    assert!(submissions.wait_ready().await, "submissions ready");
    assert!(practitioners.wait_ready().await, "practitioners ready");
    assert!(family.wait_ready().await, "family ready");
    assert!(actions.wait_ready().await, "actions ready");
    assert!(notifications.wait_ready().await, "notifications ready");
    Stack {
        _stop_on_drop: shutdown.clone().drop_guard(),
        platform,
        clock,
        shutdown,
        registry,
        submissions,
        practitioners,
        family,
        actions,
        notifications,
        contexts,
        leftovers: Some(leftovers),
    }
}

impl Stack {
    /// A token of the stack's test key for the given partnership.
    pub fn token(
        &self,
        partnership: &str,
        roles: &[&str],
        org: Option<&str>,
        subject: &str,
    ) -> String {
        testing::token(&self.platform, partnership, roles, org, subject)
    }

    /// The database of one service (for tests that wait on a projection).
    pub fn database_url(&self, service: &str) -> Option<&str> {
        self.context(service)
            .map(|context| context.service.database_url.as_str())
    }

    /// The pool on one service's database.
    pub fn pool(&self, service: &str) -> &sqlx::PgPool {
        match self.context(service) {
            Some(context) => &context.pool,
            None => panic!("no service {service} in the stack"),
        }
    }

    fn context(&self, service: &str) -> Option<&ServiceContext> {
        self.contexts.iter().find(|context| context.name == service)
    }

    /// Waits until every event the services published has been consumed and every
    /// consequence published in turn (see [`testing::settled`]).
    pub async fn settle(&self) {
        testing::wait_settled(&self.contexts).await;
    }

    /// As [`Stack::settle`] with a deadline of the caller's; whether it settled in time.
    pub async fn settle_within(&self, deadline: Duration) -> bool {
        testing::poll_until(deadline, || async {
            testing::settled(&self.contexts).await.then_some(())
        })
        .await
        .is_some()
    }

    /// Stops every service and removes their databases and streams.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        self.registry
            .stopped()
            .await
            .expect("registry stops cleanly");
        self.submissions
            .stopped()
            .await
            .expect("submissions stops cleanly");
        self.practitioners
            .stopped()
            .await
            .expect("practitioners stops cleanly");
        self.family.stopped().await.expect("family stops cleanly");
        self.actions.stopped().await.expect("actions stops cleanly");
        self.notifications
            .stopped()
            .await
            .expect("notifications stops cleanly");
        for context in &self.contexts {
            context.pool.close().await;
        }
        if let Some(leftovers) = self.leftovers.take() {
            leftovers.clean().await;
        }
    }
}

/// The dates the suites' reviews are set up with, on their clock's 2026-03-26.
fn suite_date(month: i32, day: i32) -> Option<cspr_proto::google::r#type::Date> {
    Some(cspr_proto::google::r#type::Date {
        year: 2026,
        month,
        day,
    })
}

impl Stack {
    /// A review of partnership `southvale` created through the registry's API with
    /// `request_id`, notified to the national panel and decided (a local CSPR): where the
    /// suites go on to appoint people and set terms of reference. Incident 2026-03-09,
    /// aware 03-10, notified 03-11, decided 03-26 (the suites' today).
    pub async fn decided_review(&self, request_id: &str) -> String {
        use cspr_platform::testing::authed;
        use cspr_proto::registry::v1 as registry;
        let admin = self.token("southvale", &["partnership_admin"], None, "alice");
        let chair = self.token("southvale", &["panel_chair"], None, "tess");
        let mut client = registry::review_registry_client::ReviewRegistryClient::connect(format!(
            "http://{}",
            self.registry.addr
        ))
        .await
        .expect("registry");
        let id = client
            .create_review(authed(
                registry::CreateReviewRequest {
                    request_id: request_id.to_string(),
                    child_alias: "Child Q".into(),
                    local_authority: "Southvale Council".into(),
                    incident_date: suite_date(3, 9),
                    became_aware_on: suite_date(3, 10),
                },
                &admin,
            ))
            .await
            .expect("review created")
            .into_inner()
            .id;
        client
            .record_notification_sent(authed(
                registry::RecordNotificationSentRequest {
                    review_id: id.clone(),
                    sent_on: suite_date(3, 11),
                    ..Default::default()
                },
                &admin,
            ))
            .await
            .expect("notified");
        client
            .record_decision(authed(
                registry::RecordDecisionRequest {
                    review_id: id.clone(),
                    decision: registry::Decision::LocalCspr as i32,
                    decided_on: suite_date(3, 26),
                    rationale: String::new(),
                },
                &chair,
            ))
            .await
            .expect("decided");
        id
    }

    /// Terms of reference for a [`Stack::decided_review`] asking `agencies` for reports:
    /// scope 2024-09-15 to the incident, reports due 2026-05-01. Each agency then gets a
    /// report request over the bus.
    pub async fn set_terms(
        &self,
        review_id: &str,
        agencies: Vec<cspr_proto::registry::v1::Agency>,
    ) {
        use cspr_platform::testing::authed;
        use cspr_proto::registry::v1 as registry;
        let admin = self.token("southvale", &["partnership_admin"], None, "alice");
        registry::review_registry_client::ReviewRegistryClient::connect(format!(
            "http://{}",
            self.registry.addr
        ))
        .await
        .expect("registry")
        .set_terms_of_reference(authed(
            registry::SetTermsOfReferenceRequest {
                review_id: review_id.to_string(),
                scope_start: Some(cspr_proto::google::r#type::Date {
                    year: 2024,
                    month: 9,
                    day: 15,
                }),
                scope_end: suite_date(3, 9),
                key_lines_of_enquiry: vec!["Information sharing".into()],
                methodology: "Systems approach".into(),
                agencies_in_scope: agencies,
                report_due_date: suite_date(5, 1),
                based_on_version: None,
            },
            &admin,
        ))
        .await
        .expect("terms of reference set");
    }
}
