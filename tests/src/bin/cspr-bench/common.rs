//! What the scenarios share: clients, the load driver, the echo ceiling, seeding.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use chrono::{Datelike as _, NaiveDate};
use cspr_platform::clock::Clock as _;
use cspr_platform::config::PlatformConfig;
use cspr_platform::testing::{self, authed};
use cspr_proto::bench::v1 as bench;
use cspr_proto::bench::v1::echo_client::EchoClient;
use cspr_proto::bench::v1::echo_server::{Echo, EchoServer};
use cspr_proto::google::r#type::Date;
use cspr_proto::registry::v1 as registry;
use cspr_proto::registry::v1::review_registry_client::ReviewRegistryClient;
use cspr_tests::Stack;
use hdrhistogram::Histogram;
use tonic::transport::Channel;

use crate::{CHANNELS, CONCURRENCY, Size};

fn date(day: NaiveDate) -> Option<Date> {
    Some(Date {
        year: day.year(),
        month: day.month() as i32,
        day: day.day() as i32,
    })
}

pub(crate) fn agency(index: usize) -> registry::Agency {
    registry::Agency {
        id: format!("agency{index}"),
        name: format!("Southvale agency {index}"),
        contact_email: format!("lead@agency{index}.southvale.example.org"),
    }
}

pub(crate) async fn channels(addr: SocketAddr) -> anyhow::Result<Vec<Channel>> {
    let mut channels = Vec::with_capacity(CHANNELS);
    for _ in 0..CHANNELS {
        channels.push(
            Channel::from_shared(format!("http://{addr}"))?
                .connect()
                .await
                .with_context(|| format!("connecting to {addr}"))?,
        );
    }
    Ok(channels)
}

/// Runs `call` from `concurrency` tasks over `channels` (gRPC channels, or an HTTP client
/// for the web's pages): a warm-up, then `size.measure` of recorded calls. `call` gets a
/// channel and a number unique to the call. Returns calls per second and the latency
/// histogram (µs).
pub(crate) async fn drive<C, F, Fut>(
    channels: &[C],
    size: Size,
    concurrency: usize,
    call: F,
) -> anyhow::Result<(f64, Histogram<u64>)>
where
    C: Clone + Send + 'static,
    F: Fn(C, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let call = Arc::new(call);
    let started = Instant::now();
    let record_from = started + size.warmup;
    let stop_at = record_from + size.measure;
    let mut tasks = Vec::with_capacity(concurrency);
    for task in 0..concurrency {
        let channel = channels[task % channels.len()].clone();
        let call = call.clone();
        tasks.push(tokio::spawn(async move {
            let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
            let mut calls = 0_usize;
            loop {
                let sent = Instant::now();
                if sent >= stop_at {
                    break;
                }
                call(channel.clone(), task + calls * concurrency).await?;
                if sent >= record_from {
                    histogram.saturating_record(sent.elapsed().as_micros() as u64);
                }
                calls += 1;
            }
            anyhow::Ok(histogram)
        }));
    }
    let mut merged = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    for task in tasks {
        merged.add(task.await??)?;
    }
    let rate = merged.len() as f64 / size.measure.as_secs_f64();
    Ok((rate, merged))
}

/// The ceiling: answers `reply_bytes` of zeros, nothing else.
pub(crate) struct BareEcho;

#[tonic::async_trait]
impl Echo for BareEcho {
    async fn echo(
        &self,
        request: tonic::Request<bench::EchoRequest>,
    ) -> Result<tonic::Response<bench::EchoReply>, tonic::Status> {
        Ok(tonic::Response::new(bench::EchoReply {
            payload: vec![0; request.into_inner().reply_bytes as usize],
        }))
    }
}

pub(crate) async fn spawn_echo() -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move {
        let _ = tonic::transport::Server::builder()
            .add_service(EchoServer::new(BareEcho))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
            .await;
    });
    Ok((addr, server))
}

/// Echo at the given sizes, as the ceiling of a real RPC.
pub(crate) async fn echo_ceiling(
    channels: &[Channel],
    size: Size,
    request_bytes: usize,
    reply_bytes: usize,
) -> anyhow::Result<(f64, Histogram<u64>)> {
    let padding = vec![7_u8; request_bytes];
    drive(channels, size, CONCURRENCY, move |channel, _| {
        let request = bench::EchoRequest {
            padding: padding.clone(),
            reply_bytes: reply_bytes as u32,
        };
        async move {
            EchoClient::new(channel).echo(request).await?;
            Ok(())
        }
    })
    .await
}

/// Creates `count` reviews through the API from 16 callers (request ids
/// `bench-<label>-<n>`); returns their ids.
pub(crate) async fn seed_reviews(
    services: &Services,
    admin: &str,
    label: &str,
    count: usize,
) -> anyhow::Result<Vec<String>> {
    const CALLERS: usize = 16;
    let client = ReviewRegistryClient::connect(format!("http://{}", services.registry))
        .await
        .context("registry")?;
    let dates = Dates::around(services.today);
    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::with_capacity(CALLERS);
    for caller in 0..CALLERS {
        let mut client = client.clone();
        let (admin, label, done) = (admin.to_string(), label.to_string(), done.clone());
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for index in (caller..count).step_by(CALLERS) {
                let review = client
                    .create_review(authed(
                        registry::CreateReviewRequest {
                            request_id: format!("bench-{label}-{index}"),
                            child_alias: format!("Child {index}"),
                            local_authority: "Southvale Council".into(),
                            incident_date: date(dates.incident),
                            became_aware_on: date(dates.became_aware),
                        },
                        &admin,
                    ))
                    .await
                    .context("creating a review")?
                    .into_inner();
                ids.push(review.id);
                let created = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                if created % 2_000 == 0 {
                    eprintln!("  {created} of {count} reviews");
                }
            }
            anyhow::Ok(ids)
        }));
    }
    let mut ids = Vec::with_capacity(count);
    for task in tasks {
        ids.extend(task.await??);
    }
    Ok(ids)
}

/// Where the services listen and how to sign tokens for them: an in-process [`Stack`] or
/// `cspr serve` processes (footprint).
#[derive(Clone)]
pub(crate) struct Services {
    pub(crate) registry: SocketAddr,
    pub(crate) submissions: SocketAddr,
    pub(crate) platform: PlatformConfig,
    /// The services' today: reviews are set up with dates around it.
    pub(crate) today: NaiveDate,
}

/// The dates of a review set up by [`Setup`], around the services' today.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dates {
    pub(crate) incident: NaiveDate,
    pub(crate) became_aware: NaiveDate,
    pub(crate) notified: NaiveDate,
    pub(crate) decided: NaiveDate,
    pub(crate) scope_start: NaiveDate,
    pub(crate) report_due: NaiveDate,
    /// The first chronology entry's date: 500 days of entries stay inside the scope.
    pub(crate) first_entry: NaiveDate,
}

impl Dates {
    pub(crate) fn around(today: NaiveDate) -> Self {
        let days = chrono::Duration::days;
        let scope_start = today - days(560);
        Self {
            incident: today - days(17),
            became_aware: today - days(16),
            notified: today - days(15),
            decided: today,
            scope_start,
            report_due: today + days(36),
            first_entry: scope_start + days(16),
        }
    }
}

impl Services {
    pub(crate) fn of(stack: &Stack) -> Self {
        Self {
            registry: stack.registry.addr,
            submissions: stack.submissions.addr,
            platform: stack.platform.clone(),
            today: stack.clock.now().date_naive(),
        }
    }

    /// A token of partnership `southvale`.
    pub(crate) fn token(&self, roles: &[&str], org: Option<&str>, subject: &str) -> String {
        testing::token(&self.platform, "southvale", roles, org, subject)
    }
}

/// Takes reviews through the registry's API as a partnership would, up to where the
/// scenarios need them.
pub(crate) struct Setup {
    pub(crate) client: ReviewRegistryClient<Channel>,
    pub(crate) admin: String,
    pub(crate) chair: String,
    pub(crate) dates: Dates,
}

impl Setup {
    pub(crate) async fn new(services: &Services) -> anyhow::Result<Self> {
        Ok(Self {
            client: ReviewRegistryClient::connect(format!("http://{}", services.registry))
                .await
                .context("registry")?,
            admin: services.token(&["partnership_admin"], None, "bench"),
            chair: services.token(&["panel_chair"], None, "chair"),
            dates: Dates::around(services.today),
        })
    }

    /// A new review, notified to the national panel, with the decision to hold a local
    /// CSPR: the stage at which terms of reference can be set.
    pub(crate) async fn review_at_decision(&self, request_id: &str) -> anyhow::Result<String> {
        let mut client = self.client.clone();
        let id = client
            .create_review(authed(
                registry::CreateReviewRequest {
                    request_id: request_id.to_string(),
                    child_alias: "Child B".into(),
                    local_authority: "Southvale Council".into(),
                    incident_date: date(self.dates.incident),
                    became_aware_on: date(self.dates.became_aware),
                },
                &self.admin,
            ))
            .await
            .context("creating a review")?
            .into_inner()
            .id;
        client
            .record_notification_sent(authed(
                registry::RecordNotificationSentRequest {
                    review_id: id.clone(),
                    sent_on: date(self.dates.notified),
                    ..Default::default()
                },
                &self.admin,
            ))
            .await
            .context("recording the notification")?;
        client
            .record_decision(authed(
                registry::RecordDecisionRequest {
                    review_id: id.clone(),
                    decision: registry::Decision::LocalCspr as i32,
                    decided_on: date(self.dates.decided),
                    rationale: String::new(),
                },
                &self.chair,
            ))
            .await
            .context("recording the decision")?;
        Ok(id)
    }

    /// Terms of reference naming `agencies` agencies (`agency0`, `agency1`, …), scope
    /// from [`Dates::scope_start`] to the incident: each agency gets a report request over the bus.
    pub(crate) async fn set_terms(&self, review_id: &str, agencies: usize) -> anyhow::Result<()> {
        self.client
            .clone()
            .set_terms_of_reference(authed(
                registry::SetTermsOfReferenceRequest {
                    review_id: review_id.to_string(),
                    scope_start: date(self.dates.scope_start),
                    scope_end: date(self.dates.incident),
                    key_lines_of_enquiry: vec!["Information sharing".into()],
                    methodology: "Systems approach".into(),
                    agencies_in_scope: (0..agencies).map(agency).collect(),
                    report_due_date: date(self.dates.report_due),
                    based_on_version: None,
                },
                &self.admin,
            ))
            .await
            .context("setting the terms of reference")?;
        Ok(())
    }
}

/// The JetStream streams under a subject prefix (`<PREFIX>_<SERVICE>`).
pub(crate) async fn streams_of(js: &async_nats::jetstream::Context, prefix: &str) -> Vec<String> {
    use futures::StreamExt as _;
    let wanted = format!("{}_", prefix.to_uppercase().replace('-', "_"));
    js.stream_names()
        .filter_map(|name| async move { name.ok() })
        .filter(|name| std::future::ready(name.starts_with(&wanted)))
        .collect()
        .await
}

/// Waits until every durable consumer of the prefix's streams has taken in and
/// acknowledged all that was published (earlier load included), so a measurement starts
/// on a quiet bus.
pub(crate) async fn wait_for_quiet_bus(prefix: &str) -> anyhow::Result<()> {
    use futures::StreamExt as _;
    let client = async_nats::connect(testing::nats_url())
        .await
        .context("NATS (CSPR_TEST_NATS_URL)")?;
    let js = async_nats::jetstream::new(client);
    let deadline = Instant::now() + std::time::Duration::from_secs(300);
    loop {
        let mut backlog = 0_u64;
        for name in streams_of(&js, prefix).await {
            let stream = js.get_stream(&name).await?;
            let consumers: Vec<_> = stream.consumers().collect().await;
            for info in consumers {
                let info = info?;
                backlog += info.num_pending + info.num_ack_pending as u64;
            }
        }
        if backlog == 0 {
            return Ok(());
        }
        if Instant::now() > deadline {
            anyhow::bail!("{backlog} events still unconsumed after 300 s");
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
