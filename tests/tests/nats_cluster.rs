//! The services against a three-node NATS JetStream cluster with replicated (R3) streams:
//! one node is killed in the middle of traffic, and nothing may be lost or doubled.
//!
//! The cluster is made of local `nats-server` processes (Debian's, `/usr/sbin/nats-server`,
//! or `CSPR_TEST_NATS_SERVER`), each with its own ports and store in a temporary folder. The
//! test skips (with a message) only when that binary is not installed.
//!
//! Traffic: reviews taken from creation to terms of reference naming two agencies. The
//! registry writes `terms_of_reference_set` to its outbox; its relay publishes it to the
//! registry stream; the submissions service's durable consumer creates one report request
//! per agency and publishes `agency_report_requested` in turn; the notifications service
//! plans one email per request. Before the traffic, the leaders of those two streams and of
//! those two consumers are moved onto the node every service connected to, and that node is
//! killed (SIGKILL) a third of the way through: every connection drops, every leader of the
//! path must be re-elected on the two survivors, and the outboxes must hold the events
//! meanwhile.
//!
//! Asserted afterwards: every RPC succeeded (none touches NATS; an UNAVAILABLE, which can
//! only be the database, is retried as the API says and reported); every review has exactly
//! its two report requests and exactly one email per agency, planned and sent; each stream
//! holds every event of its service's outbox exactly once; no event was parked as a dead
//! letter.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use async_nats::jetstream;
use chrono::NaiveDate;
use cspr_notifications::config::MailTarget;
use cspr_platform::testing::{self, authed};
use cspr_proto::google::r#type::Date;
use cspr_proto::registry::v1 as registry;
use cspr_proto::registry::v1::review_registry_client::ReviewRegistryClient;
use cspr_proto::submissions::v1 as submissions;
use cspr_proto::submissions::v1::agency_submissions_client::AgencySubmissionsClient;
use serde_json::json;

/// Reviews in the traffic.
const REVIEWS: usize = 30;
/// After this many reviews are through their terms of reference, a node is killed.
const KILL_AFTER: usize = REVIEWS / 3;
/// Pause between reviews, so the traffic spans the failover (~12 s in all).
const PACE: Duration = Duration::from_millis(400);
/// Agencies named in each review's terms of reference.
const AGENCIES: [&str; 2] = ["police", "health"];
/// How long the events may take to get through after the traffic.
const SETTLE: Duration = Duration::from_secs(90);

// ---------------------------------------------------------------------------------------
// A three-node cluster of local nats-server processes.
// ---------------------------------------------------------------------------------------

/// One `nats-server` of the cluster.
struct NatsNode {
    /// Server name (JetStream peers and leaders are reported by it).
    name: String,
    /// Client port.
    port: u16,
    /// The process, until stopped.
    child: Option<tokio::process::Child>,
    /// Its log file.
    log: PathBuf,
}

/// A JetStream cluster of three local processes; killed and removed on drop.
struct NatsCluster {
    nodes: Vec<NatsNode>,
    /// Config files, stores and logs of every node.
    _root: tempfile::TempDir,
}

impl NatsCluster {
    /// The `nats-server` binary, if installed.
    fn binary() -> Option<PathBuf> {
        let binary = std::env::var_os("CSPR_TEST_NATS_SERVER")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/usr/sbin/nats-server"));
        binary.exists().then_some(binary)
    }

    /// Starts three nodes routed to each other; returns once JetStream accepts a stream with
    /// three replicas (the meta leader is elected and every peer known).
    async fn start(binary: &Path) -> Self {
        let root = tempfile::Builder::new()
            .prefix("cspr-nats-cluster-")
            .tempdir()
            .expect("temporary folder");
        let cluster_name = testing::unique("cspr");
        // All six ports are held at once so they differ; released just before the start.
        let listeners: Vec<std::net::TcpListener> = (0..6)
            .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("a free port"))
            .collect();
        let ports: Vec<u16> = listeners
            .iter()
            .map(|listener| listener.local_addr().expect("port").port())
            .collect();
        drop(listeners);
        let (client_ports, route_ports) = ports.split_at(3);

        let mut nodes = Vec::new();
        for index in 0..3 {
            let name = format!("{cluster_name}-n{}", index + 1);
            let directory = root.path().join(&name);
            std::fs::create_dir_all(&directory).expect("node folder");
            let routes: Vec<String> = (0..3)
                .filter(|other| *other != index)
                .map(|other| format!("\"nats-route://127.0.0.1:{}\"", route_ports[other]))
                .collect();
            let log = directory.join("nats.log");
            let config = format!(
                "server_name: \"{name}\"\n\
                 listen: \"127.0.0.1:{client}\"\n\
                 log_file: \"{log}\"\n\
                 jetstream {{\n  store_dir: \"{store}\"\n}}\n\
                 cluster {{\n  name: \"{cluster_name}\"\n  listen: \"127.0.0.1:{route}\"\n  \
                 routes: [{routes}]\n}}\n",
                client = client_ports[index],
                log = log.display(),
                store = directory.join("store").display(),
                route = route_ports[index],
                routes = routes.join(", "),
            );
            let config_file = directory.join("nats.conf");
            std::fs::write(&config_file, config).expect("node config");
            let child = tokio::process::Command::new(binary)
                .arg("-c")
                .arg(&config_file)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .expect("nats-server starts");
            nodes.push(NatsNode {
                name,
                port: client_ports[index],
                child: Some(child),
                log,
            });
        }
        let cluster = Self { nodes, _root: root };
        cluster.wait_for_jetstream().await;
        cluster
    }

    /// `nats://127.0.0.1:<port>` of node `index`.
    fn url(&self, index: usize) -> String {
        format!("nats://127.0.0.1:{}", self.nodes[index].port)
    }

    /// The URLs of the nodes still running.
    fn running_urls(&self) -> Vec<String> {
        (0..self.nodes.len())
            .filter(|index| self.nodes[*index].child.is_some())
            .map(|index| self.url(index))
            .collect()
    }

    /// A JetStream context connected to any running node.
    async fn jetstream(&self) -> jetstream::Context {
        let client = async_nats::ConnectOptions::new()
            .retry_on_initial_connect()
            .connect(self.running_urls())
            .await
            .expect("connect to the cluster");
        jetstream::ContextBuilder::new()
            .timeout(Duration::from_secs(5))
            .build(client)
    }

    /// Waits until a file stream with three replicas can be created (then removes it).
    async fn wait_for_jetstream(&self) {
        let jetstream = self.jetstream().await;
        let probe = testing::unique("PROBE_");
        let created = testing::poll_until(Duration::from_secs(30), || async {
            jetstream
                .get_or_create_stream(jetstream::stream::Config {
                    name: probe.clone(),
                    subjects: vec![format!("{probe}.>")],
                    num_replicas: 3,
                    ..Default::default()
                })
                .await
                .ok()
        })
        .await;
        if created.is_none() {
            self.print_logs();
            panic!("the NATS cluster never accepted an R3 stream");
        }
        jetstream
            .delete_stream(&probe)
            .await
            .expect("delete the probe stream");
    }

    /// Kills node `index` (SIGKILL: no goodbye to clients or peers).
    async fn kill(&mut self, index: usize) {
        if let Some(mut child) = self.nodes[index].child.take() {
            child.kill().await.expect("kill nats-server");
        }
    }

    /// Prints the end of every node's log (on a failure, before panicking).
    fn print_logs(&self) {
        for node in &self.nodes {
            let log = std::fs::read_to_string(&node.log).unwrap_or_default();
            let lines: Vec<&str> = log.lines().collect();
            let tail = &lines[lines.len().saturating_sub(40)..];
            eprintln!("---- {} (last {} lines) ----", node.name, tail.len());
            for line in tail {
                eprintln!("{line}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// JetStream leaders.
// ---------------------------------------------------------------------------------------

/// The server leading a stream or consumer (`info` is its `$JS.API` info subject without
/// the prefix, e.g. `STREAM.INFO.X`).
async fn leader_of(jetstream: &jetstream::Context, info: &str) -> Option<String> {
    let response: serde_json::Value = jetstream.request(info.to_string(), &json!({})).await.ok()?;
    response["cluster"]["leader"].as_str().map(str::to_string)
}

/// Asks the leader to step down until `target` leads (each step-down elects a random one of
/// the other current peers). Returns whether `target` leads in the end.
async fn move_leader(
    jetstream: &jetstream::Context,
    info: &str,
    stepdown: &str,
    target: &str,
) -> bool {
    testing::poll_until(Duration::from_secs(20), || async {
        let leader = leader_of(jetstream, info).await?;
        if leader == target {
            return Some(());
        }
        let _: Result<serde_json::Value, _> =
            jetstream.request(stepdown.to_string(), &json!({})).await;
        // Wait for the next leader before deciding again.
        testing::poll_until(Duration::from_secs(10), || async {
            leader_of(jetstream, info)
                .await
                .filter(|next| *next != leader)
        })
        .await;
        None
    })
    .await
    .is_some()
}

// ---------------------------------------------------------------------------------------
// Traffic.
// ---------------------------------------------------------------------------------------

fn date(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

fn agency(id: &str) -> registry::Agency {
    registry::Agency {
        id: id.into(),
        name: format!("Southvale {id}"),
        contact_email: recipient(id),
    }
}

/// Where an agency's report request email goes.
fn recipient(agency_id: &str) -> String {
    format!("safeguarding.lead@{agency_id}.southvale.example.org")
}

/// Calls an RPC until it answers other than UNAVAILABLE; returns that answer and how many
/// attempts it took. Every UNAVAILABLE is noted in `retried`.
///
/// Nothing on a command's request path waits for NATS: a command writes PostgreSQL only,
/// its events going to the outbox in the same transaction, so a NATS node failing over
/// must not fail a single RPC (and any other error fails the test). UNAVAILABLE means
/// "database unreachable" (a pool timeout: on a machine shared with benchmarks, PostgreSQL
/// can be slow to hand out connections); the API says to retry it, with the same
/// `request_id` where there is one, and a pool timeout has committed nothing.
async fn call<T>(
    what: &str,
    retried: &mut Vec<String>,
    mut rpc: impl AsyncFnMut() -> Result<tonic::Response<T>, tonic::Status>,
) -> (Result<T, tonic::Status>, usize) {
    let mut attempts = 0;
    loop {
        attempts += 1;
        match rpc().await {
            Err(status) if status.code() == tonic::Code::Unavailable && attempts < 30 => {
                retried.push(format!("{what}: {}", status.message()));
                // The API's retry of UNAVAILABLE (a pool timeout), with a back-off.
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            outcome => return (outcome.map(tonic::Response::into_inner), attempts),
        }
    }
}

/// Takes one review from creation to terms of reference naming [`AGENCIES`]; returns its id.
/// Panics on any failure but a retried UNAVAILABLE (see [`call`]).
async fn review_to_terms_of_reference(
    client: &mut ReviewRegistryClient<tonic::transport::Channel>,
    admin: &str,
    chair: &str,
    number: usize,
    retried: &mut Vec<String>,
) -> String {
    let create = registry::CreateReviewRequest {
        request_id: format!("cluster-review-{number}"),
        child_alias: format!("Child {number}"),
        local_authority: "Southvale Council".into(),
        incident_date: date(2026, 3, 9),
        became_aware_on: date(2026, 3, 10),
    };
    let (review, _) = call("CreateReview", retried, async || {
        client.create_review(authed(create.clone(), admin)).await
    })
    .await;
    let id = review
        .unwrap_or_else(|status| panic!("review {number}: CreateReview failed: {status:?}"))
        .id;

    // A stage command retried after UNAVAILABLE may find its stage already moved on
    // (FAILED_PRECONDITION) only if the first attempt committed after all; accepted then.
    let notified = registry::RecordNotificationSentRequest {
        review_id: id.clone(),
        sent_on: date(2026, 3, 11),
        ..Default::default()
    };
    match call("RecordNotificationSent", retried, async || {
        client
            .record_notification_sent(authed(notified.clone(), admin))
            .await
    })
    .await
    {
        (Ok(_), _) => {}
        (Err(status), attempts)
            if attempts > 1 && status.code() == tonic::Code::FailedPrecondition => {}
        (Err(status), _) => panic!("review {number}: RecordNotificationSent failed: {status:?}"),
    }
    let decision = registry::RecordDecisionRequest {
        review_id: id.clone(),
        decision: registry::Decision::LocalCspr as i32,
        decided_on: date(2026, 3, 26),
        rationale: String::new(),
    };
    match call("RecordDecision", retried, async || {
        client
            .record_decision(authed(decision.clone(), chair))
            .await
    })
    .await
    {
        (Ok(_), _) => {}
        (Err(status), attempts)
            if attempts > 1 && status.code() == tonic::Code::FailedPrecondition => {}
        (Err(status), _) => panic!("review {number}: RecordDecision failed: {status:?}"),
    }
    let terms = registry::SetTermsOfReferenceRequest {
        review_id: id.clone(),
        scope_start: date(2024, 9, 15),
        scope_end: date(2026, 3, 9),
        key_lines_of_enquiry: vec!["Information sharing".into()],
        methodology: "Systems approach".into(),
        agencies_in_scope: AGENCIES.iter().map(|id| agency(id)).collect(),
        report_due_date: date(2026, 5, 1),
        based_on_version: None,
    };
    let (set, _) = call("SetTermsOfReference", retried, async || {
        client
            .set_terms_of_reference(authed(terms.clone(), admin))
            .await
    })
    .await;
    set.unwrap_or_else(|status| panic!("review {number}: SetTermsOfReference failed: {status:?}"));
    id
}

// ---------------------------------------------------------------------------------------
// Checks.
// ---------------------------------------------------------------------------------------

/// Every event id in a service's outbox, once all are published (waits for the relay).
async fn drained_outbox(pool: &sqlx::PgPool, service: &str, deadline: Instant) -> Vec<String> {
    let published = testing::poll_until(
        deadline.saturating_duration_since(Instant::now()),
        || async {
            let pending: i64 =
                sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
                    .fetch_one(pool)
                    .await
                    .expect("outbox backlog");
            (pending == 0).then_some(())
        },
    )
    .await;
    assert!(
        published.is_some(),
        "{service}: outbox events never published"
    );
    sqlx::query_scalar("SELECT event_id::text FROM outbox ORDER BY seq")
        .fetch_all(pool)
        .await
        .expect("outbox")
}

/// The event id of every message in a stream, in stream order, read one by one from its
/// leader (retrying while the cluster answers slowly).
async fn stream_event_ids(
    jetstream: &jetstream::Context,
    name: &str,
    deadline: Instant,
) -> Vec<String> {
    use prost::Message as _;

    async fn retried<T, E: std::fmt::Display>(
        what: &str,
        deadline: Instant,
        mut attempt: impl AsyncFnMut() -> Result<T, E>,
    ) -> T {
        loop {
            match attempt().await {
                Ok(value) => return value,
                Err(error) if Instant::now() > deadline => panic!("{what}: {error}"),
                // A back-off between attempts against a cluster still electing leaders.
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }

    let stream = retried(name, deadline, async || jetstream.get_stream(name).await).await;
    let info = retried(name, deadline, async || stream.get_info().await).await;
    let mut ids = Vec::new();
    for sequence in info.state.first_sequence..=info.state.last_sequence {
        let message = retried(name, deadline, async || {
            stream.get_raw_message(sequence).await
        })
        .await;
        let event = cspr_proto::events::v1::Event::decode(message.payload.as_ref())
            .unwrap_or_else(|error| panic!("{name} #{sequence} is not an event: {error}"));
        ids.push(event.id);
    }
    ids
}

/// Dead letters parked in a service's database.
async fn dead_letters(pool: &sqlx::PgPool) -> Vec<(String, String, String)> {
    sqlx::query_as(
        "SELECT consumer, subject, error FROM dead_letters ORDER BY consumer, stream_seq",
    )
    .fetch_all(pool)
    .await
    .expect("dead letters")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_nats_node_lost_during_traffic_loses_and_doubles_nothing() {
    let Some(binary) = NatsCluster::binary() else {
        eprintln!(
            "skipped: nats-server is not installed (/usr/sbin/nats-server, or set \
             CSPR_TEST_NATS_SERVER)"
        );
        return;
    };
    testing::init();
    let started = Instant::now();

    // Arrange: the cluster, then every service with R3 streams. The services are given one
    // node: `CSPR_NATS_URL` takes a single URL (`Bus::connect` hands async-nats a `&str`,
    // which it parses as one address, so "nats://a,nats://b" is refused as an invalid port).
    // NATS tells connected clients the other nodes, and they reconnect to those.
    let mut cluster = NatsCluster::start(&binary).await;
    // One seed, not the list `CSPR_NATS_URL` also takes: killing it then drops every
    // service's connection at once, the harder case (they reconnect to the nodes the
    // cluster told them of).
    let seed = 0;
    let mut platform = testing::platform_config(&cluster.url(seed));
    platform.nats_stream_replicas = 3;
    // Production's default pool size rather than the tests' 5.
    platform.database_max_connections = 10;
    let prefix = platform.subject_prefix.clone();
    let mail = tempfile::tempdir().expect("mail folder");
    let stack = cspr_tests::spawn_stack_with(
        platform,
        NaiveDate::from_ymd_opt(2026, 3, 26).expect("date"),
        MailTarget::Files {
            directory: mail.path().to_path_buf(),
        },
    )
    .await;
    eprintln!("cluster and stack up after {:?}", started.elapsed());

    let jetstream = cluster.jetstream().await;
    for service in cspr_platform::config::SERVICE_NAMES {
        let name = cspr_platform::bus::stream_name(&prefix, service);
        // A stream just created elects its leader within moments; on a loaded machine the
        // election can still be under way when the stack reports it is up.
        let (info, placement) = testing::eventually(
            &format!("{name} has a leader"),
            testing::DEADLINE,
            || async {
                let info = jetstream
                    .get_stream(&name)
                    .await
                    .unwrap_or_else(|error| panic!("stream {name}: {error}"))
                    .get_info()
                    .await
                    .expect("stream info");
                let placement = info.cluster.clone().expect("clustered stream");
                placement.leader.is_some().then_some((info, placement))
            },
        )
        .await;
        assert_eq!(info.config.num_replicas, 3, "{name} is replicated");
        assert_eq!(
            placement.replicas.len(),
            2,
            "{name} has two followers besides its leader: {:?}",
            placement.replicas
        );
    }

    // The leaders on the event path go to the node the services are connected to, so that
    // killing it fails over connections and leaders at once.
    let registry_stream = cspr_platform::bus::stream_name(&prefix, cspr_registry::SERVICE_NAME);
    let submissions_stream =
        cspr_platform::bus::stream_name(&prefix, cspr_submissions::SERVICE_NAME);
    let durable = |consumer: &str| format!("{prefix}_{consumer}");
    let target = cluster.nodes[seed].name.clone();
    let mut on_target = Vec::new();
    for (info, stepdown) in [
        (
            format!("STREAM.INFO.{registry_stream}"),
            format!("STREAM.LEADER.STEPDOWN.{registry_stream}"),
        ),
        (
            format!("STREAM.INFO.{submissions_stream}"),
            format!("STREAM.LEADER.STEPDOWN.{submissions_stream}"),
        ),
        (
            format!(
                "CONSUMER.INFO.{registry_stream}.{}",
                durable(cspr_submissions::SERVICE_NAME)
            ),
            format!(
                "CONSUMER.LEADER.STEPDOWN.{registry_stream}.{}",
                durable(cspr_submissions::SERVICE_NAME)
            ),
        ),
        (
            format!(
                "CONSUMER.INFO.{submissions_stream}.{}",
                durable(cspr_notifications::SERVICE_NAME)
            ),
            format!(
                "CONSUMER.LEADER.STEPDOWN.{submissions_stream}.{}",
                durable(cspr_notifications::SERVICE_NAME)
            ),
        ),
    ] {
        let moved = move_leader(&jetstream, &info, &stepdown, &target).await;
        on_target.push((info, moved));
    }
    eprintln!(
        "leaders on {target} (the node to be killed): {on_target:?}; after {:?}",
        started.elapsed()
    );
    drop(jetstream);

    // Act: the traffic, with the node killed a third of the way through (two futures of
    // this task, run concurrently).
    let admin = stack.token("southvale", &["partnership_admin"], None, "alice");
    let chair = stack.token("southvale", &["panel_chair"], None, "tess");
    let mut registry_client =
        ReviewRegistryClient::connect(format!("http://{}", stack.registry.addr))
            .await
            .expect("registry");
    let (progress, mut done) = tokio::sync::watch::channel(0usize);
    let traffic = async {
        let mut reviews = Vec::with_capacity(REVIEWS);
        let mut retried = Vec::new();
        for number in 0..REVIEWS {
            reviews.push(
                review_to_terms_of_reference(
                    &mut registry_client,
                    &admin,
                    &chair,
                    number,
                    &mut retried,
                )
                .await,
            );
            progress.send_replace(reviews.len());
            // The traffic's pace, so the node is killed in the middle of it.
            tokio::time::sleep(PACE).await;
        }
        (reviews, retried, Instant::now())
    };
    let failure = async {
        done.wait_for(|count| *count >= KILL_AFTER)
            .await
            .expect("traffic runs");
        cluster.kill(seed).await;
        eprintln!(
            "killed {target} after {KILL_AFTER} reviews, {:?} in",
            started.elapsed()
        );
        Instant::now()
    };
    let ((reviews, retried, traffic_done), killed_at) = tokio::join!(traffic, failure);
    eprintln!(
        "traffic done {:?} after the kill; RPCs retried after UNAVAILABLE: {retried:?}",
        traffic_done - killed_at
    );

    // Assert: every review has its two report requests…
    let deadline = Instant::now() + SETTLE;
    let admin = stack.token("southvale", &["partnership_admin"], None, "alice");
    let mut submissions_client =
        AgencySubmissionsClient::connect(format!("http://{}", stack.submissions.addr))
            .await
            .expect("submissions");
    // Every event consumed and every consequence published, on the two survivors.
    if !stack.settle_within(SETTLE).await {
        cluster.print_logs();
        panic!("the services did not settle within {SETTLE:?} after the kill");
    }
    let mut requested: HashMap<String, Vec<String>> = HashMap::new();
    for review_id in &reviews {
        let requests = submissions_client
            .list_report_requests(authed(
                submissions::ListReportRequestsRequest {
                    review_id: review_id.clone(),
                    ..Default::default()
                },
                &admin,
            ))
            .await
            .expect("ListReportRequests")
            .into_inner()
            .report_requests;
        let mut agencies: Vec<String> = requests.into_iter().map(|r| r.agency_id).collect();
        agencies.sort();
        requested.insert(review_id.clone(), agencies);
    }
    let mut expected_agencies: Vec<String> = AGENCIES.iter().map(|id| id.to_string()).collect();
    expected_agencies.sort();
    for review_id in &reviews {
        assert_eq!(
            requested[review_id], expected_agencies,
            "review {review_id}: one report request per agency"
        );
    }
    eprintln!(
        "every report request in submissions {:?} after the kill",
        killed_at.elapsed()
    );

    // …and exactly one planned email per (review, agency).
    let notifications = sqlx::PgPool::connect(
        stack
            .database_url(cspr_notifications::SERVICE_NAME)
            .expect("notifications database"),
    )
    .await
    .expect("notifications database");
    let expected_emails = REVIEWS * AGENCIES.len();
    let planned: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT review_id::text, recipient, count(*) FROM deliveries
         WHERE template = 'report_requested' GROUP BY 1, 2",
    )
    .fetch_all(&notifications)
    .await
    .expect("deliveries");
    let planned: BTreeMap<(String, String), i64> = planned
        .into_iter()
        .map(|(review, recipient, count)| ((review, recipient), count))
        .collect();
    let expected: BTreeMap<(String, String), i64> = reviews
        .iter()
        .flat_map(|review| {
            AGENCIES
                .iter()
                .map(move |agency| ((review.clone(), recipient(agency)), 1))
        })
        .collect();
    assert_eq!(
        planned, expected,
        "one report request email per review and agency"
    );
    // Sent, too (to `.eml` files): the notifications service works on after the failover.
    let all_sent = testing::poll_until(deadline.saturating_duration_since(Instant::now()), || async {
        let sent: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM deliveries WHERE template = 'report_requested' AND status = 'SENT'",
        )
        .fetch_one(&notifications)
        .await
        .expect("deliveries");
        (sent as usize == expected_emails).then_some(())
    })
    .await;
    assert!(
        all_sent.is_some(),
        "not all {expected_emails} report request emails were sent"
    );
    notifications.close().await;

    // Each stream holds every event of its service's outbox exactly once, and no service
    // parked an event.
    let jetstream = cluster.jetstream().await;
    for service in [cspr_registry::SERVICE_NAME, cspr_submissions::SERVICE_NAME] {
        let pool = sqlx::PgPool::connect(stack.database_url(service).expect("database"))
            .await
            .expect("database");
        let mut outbox = drained_outbox(&pool, service, deadline).await;
        pool.close().await;
        let stream = cspr_platform::bus::stream_name(&prefix, service);
        let mut published = stream_event_ids(&jetstream, &stream, deadline).await;
        outbox.sort();
        published.sort();
        assert_eq!(
            published.len(),
            outbox.len(),
            "{stream}: as many messages as outbox events"
        );
        assert_eq!(
            published, outbox,
            "{stream}: every outbox event exactly once"
        );
    }
    drop(jetstream);
    for service in cspr_platform::config::SERVICE_NAMES {
        let pool = sqlx::PgPool::connect(stack.database_url(service).expect("database"))
            .await
            .expect("database");
        let parked = dead_letters(&pool).await;
        pool.close().await;
        assert!(parked.is_empty(), "{service} parked events: {parked:?}");
    }
    eprintln!("all checks passed {:?} in", started.elapsed());

    stack.stop().await;
    drop(cluster);
}
