//! Every metric cspr exports, in one place.
//!
//! Names follow OpenTelemetry's semantic conventions where there are some (`rpc.*`,
//! `messaging.*`) and are `cspr.*` otherwise. Operators see them in Prometheus under the
//! names the OpenTelemetry Collector's Prometheus exporter derives ([`prometheus_name`]:
//! dots to underscores, the unit as a suffix, `_total` on counters); `infra/metrics.txt`
//! lists those, the Grafana dashboards and alert rules may use only those
//! (`infra/validate.sh`), and a test here keeps [`ALL`] and that file the same. Services
//! make their instruments from these definitions ([`counter`], [`gauge`], [`histogram`]),
//! never from a name typed elsewhere.

use std::sync::OnceLock;
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Gauge, Histogram, Meter};

/// How a metric aggregates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// One metric: its OpenTelemetry name, kind, unit (UCUM; `{…}` annotations are dropped by
/// Prometheus) and what it counts.
#[derive(Debug, Clone, Copy)]
pub struct Metric {
    pub name: &'static str,
    pub kind: Kind,
    pub unit: &'static str,
    pub description: &'static str,
}

const fn metric(
    name: &'static str,
    kind: Kind,
    unit: &'static str,
    description: &'static str,
) -> Metric {
    Metric {
        name,
        kind,
        unit,
        description,
    }
}

// ---- gRPC (semantic conventions: rpc.system, rpc.service, rpc.method, rpc.grpc.status_code)

pub const RPC_SERVER_CALL_DURATION: Metric = metric(
    "rpc.server.call.duration",
    Kind::Histogram,
    "s",
    "duration of gRPC calls served, to the end of the response (trailers)",
);

// ---- messaging (messaging.system, messaging.destination.name, messaging.consumer.group.name)

pub const MESSAGING_SENT: Metric = metric(
    "messaging.client.sent.messages",
    Kind::Counter,
    "{message}",
    "events published to JetStream and acknowledged, by subject",
);
pub const MESSAGING_CONSUMED: Metric = metric(
    "messaging.client.consumed.messages",
    Kind::Counter,
    "{message}",
    "events taken from JetStream by a consumer, by subject and consumer",
);
pub const MESSAGING_PROCESS_DURATION: Metric = metric(
    "messaging.process.duration",
    Kind::Histogram,
    "s",
    "time to handle one consumed event (inbox, side effect, commit), by consumer and outcome",
);

// ---- outbox and consumers

pub const OUTBOX_PUBLISHED: Metric = metric(
    "cspr.outbox.events_published",
    Kind::Counter,
    "{event}",
    "events published by the outbox relay and acknowledged by JetStream",
);
pub const OUTBOX_BACKLOG: Metric = metric(
    "cspr.outbox.backlog",
    Kind::Gauge,
    "{event}",
    "events committed but not yet published",
);
pub const OUTBOX_OLDEST_AGE: Metric = metric(
    "cspr.outbox.oldest_age",
    Kind::Gauge,
    "s",
    "age of the oldest event not yet published (0 when none)",
);
pub const CONSUMER_PENDING: Metric = metric(
    "cspr.consumer.pending",
    Kind::Gauge,
    "{message}",
    "events a durable consumer has not yet taken in or acknowledged (JetStream pending + ack pending)",
);
pub const CONSUMER_DEAD_LETTERS: Metric = metric(
    "cspr.consumer.dead_letters",
    Kind::Counter,
    "{message}",
    "events parked as dead letters after failing every delivery",
);

// ---- email (notifications)

pub const EMAIL_SENT: Metric = metric(
    "cspr.email.sent",
    Kind::Counter,
    "{email}",
    "emails accepted by the SMTP server (or written)",
);
pub const EMAIL_FAILED: Metric = metric(
    "cspr.email.failed",
    Kind::Counter,
    "{email}",
    "deliveries given up",
);
pub const EMAIL_RETRYING: Metric = metric(
    "cspr.email.retrying",
    Kind::Counter,
    "{email}",
    "attempts that failed and will be retried",
);
pub const EMAIL_QUEUE_DEPTH: Metric = metric(
    "cspr.email.queue_depth",
    Kind::Gauge,
    "{delivery}",
    "deliveries waiting to be sent",
);
pub const EMAIL_SEND_DURATION: Metric = metric(
    "cspr.email.send_duration",
    Kind::Histogram,
    "s",
    "time to hand one email to the SMTP server",
);

// ---- token keys

pub const AUTH_KEY_FETCHES: Metric = metric(
    "cspr.auth.key_fetches",
    Kind::Counter,
    "{fetch}",
    "fetches of the identity provider's key set (JWKS), by outcome (ok, failed)",
);

// ---- health

pub const SERVICE_SERVING: Metric = metric(
    "cspr.service.serving",
    Kind::Gauge,
    "",
    "1 while the service reports SERVING, 0 otherwise",
);

// ---- business (labels: partnership, and stage / deadline / within_target)

pub const REVIEWS: Metric = metric(
    "cspr.reviews",
    Kind::Gauge,
    "{review}",
    "reviews by partnership and stage",
);
pub const DEADLINES_AT_RISK: Metric = metric(
    "cspr.deadlines.at_risk",
    Kind::Gauge,
    "{deadline}",
    "statutory deadlines at risk, by partnership and deadline",
);
pub const DEADLINES_MISSED: Metric = metric(
    "cspr.deadlines.missed",
    Kind::Gauge,
    "{deadline}",
    "statutory deadlines missed and still open, by partnership and deadline",
);
pub const REVIEWS_COMPLETED: Metric = metric(
    "cspr.reviews.completed",
    Kind::Gauge,
    "{review}",
    "published reviews, by partnership and whether published within the six-month target",
);
pub const AGENCY_REPORTS_OVERDUE: Metric = metric(
    "cspr.agency_reports.overdue",
    Kind::Gauge,
    "{report}",
    "agency reports requested, past their due date and not yet submitted, by partnership",
);
pub const ACTIONS_OVERDUE: Metric = metric(
    "cspr.actions.overdue",
    Kind::Gauge,
    "{action}",
    "open actions past their due date, by partnership",
);
pub const ACTION_PLANS_COMPLETION: Metric = metric(
    "cspr.action_plans.completion",
    Kind::Gauge,
    "1",
    "share of actions completed or verified (of those not cancelled), by partnership",
);

/// Every metric, as `infra/metrics.txt` lists them.
pub const ALL: &[Metric] = &[
    RPC_SERVER_CALL_DURATION,
    MESSAGING_SENT,
    MESSAGING_CONSUMED,
    MESSAGING_PROCESS_DURATION,
    OUTBOX_PUBLISHED,
    OUTBOX_BACKLOG,
    OUTBOX_OLDEST_AGE,
    CONSUMER_PENDING,
    CONSUMER_DEAD_LETTERS,
    EMAIL_SENT,
    EMAIL_FAILED,
    EMAIL_RETRYING,
    EMAIL_QUEUE_DEPTH,
    EMAIL_SEND_DURATION,
    AUTH_KEY_FETCHES,
    SERVICE_SERVING,
    REVIEWS,
    DEADLINES_AT_RISK,
    DEADLINES_MISSED,
    REVIEWS_COMPLETED,
    AGENCY_REPORTS_OVERDUE,
    ACTIONS_OVERDUE,
    ACTION_PLANS_COMPLETION,
];

/// The name Prometheus shows (the Collector's exporter with its default suffixes): dots
/// and other separators to `_`, then the unit (`s` → `_seconds`, `1` → `_ratio`;
/// `{annotations}` add nothing), then `_total` for counters.
pub fn prometheus_name(metric: &Metric) -> String {
    let mut name: String = metric
        .name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    match metric.unit {
        "s" => name.push_str("_seconds"),
        "ms" => name.push_str("_milliseconds"),
        "By" => name.push_str("_bytes"),
        "1" => name.push_str("_ratio"),
        _ => {}
    }
    if metric.kind == Kind::Counter {
        name.push_str("_total");
    }
    name
}

/// The meter cspr's instruments come from (the global provider: OTLP when configured).
pub fn meter() -> Meter {
    opentelemetry::global::meter("cspr")
}

pub fn counter(metric: &Metric) -> Counter<u64> {
    debug_assert_eq!(metric.kind, Kind::Counter, "{}", metric.name);
    meter()
        .u64_counter(metric.name)
        .with_unit(metric.unit)
        .with_description(metric.description)
        .build()
}

pub fn gauge(metric: &Metric) -> Gauge<f64> {
    debug_assert_eq!(metric.kind, Kind::Gauge, "{}", metric.name);
    meter()
        .f64_gauge(metric.name)
        .with_unit(metric.unit)
        .with_description(metric.description)
        .build()
}

pub fn histogram(metric: &Metric) -> Histogram<f64> {
    debug_assert_eq!(metric.kind, Kind::Histogram, "{}", metric.name);
    meter()
        .f64_histogram(metric.name)
        .with_unit(metric.unit)
        .with_description(metric.description)
        .build()
}

/// Labelled values read for a [`GaugeSet`]: `(labels, value)`.
pub type Readings = Vec<(Vec<(&'static str, String)>, f64)>;

/// The platform's own instruments (services make their business ones from [`ALL`] too).
#[derive(Debug)]
pub struct Platform {
    pub rpc_duration: Histogram<f64>,
    pub sent: Counter<u64>,
    pub consumed: Counter<u64>,
    pub process_duration: Histogram<f64>,
    pub outbox_published: Counter<u64>,
    pub outbox_backlog: Gauge<f64>,
    pub outbox_oldest_age: Gauge<f64>,
    pub consumer_pending: Gauge<f64>,
    pub dead_letters: Counter<u64>,
    pub serving: Gauge<f64>,
}

/// The platform's instruments, made on first use from the global meter provider (so after
/// [`crate::telemetry::init`] has installed OTLP, when configured).
pub fn platform() -> &'static Platform {
    static PLATFORM: OnceLock<Platform> = OnceLock::new();
    PLATFORM.get_or_init(|| Platform {
        rpc_duration: histogram(&RPC_SERVER_CALL_DURATION),
        sent: counter(&MESSAGING_SENT),
        consumed: counter(&MESSAGING_CONSUMED),
        process_duration: histogram(&MESSAGING_PROCESS_DURATION),
        outbox_published: counter(&OUTBOX_PUBLISHED),
        outbox_backlog: gauge(&OUTBOX_BACKLOG),
        outbox_oldest_age: gauge(&OUTBOX_OLDEST_AGE),
        consumer_pending: gauge(&CONSUMER_PENDING),
        dead_letters: counter(&CONSUMER_DEAD_LETTERS),
        serving: gauge(&SERVICE_SERVING),
    })
}

/// `messaging.system = nats`, as every messaging metric carries.
pub fn nats() -> KeyValue {
    KeyValue::new("messaging.system", "nats")
}

/// A gauge read from the database by label set, such as reviews by partnership and stage.
/// A label set seen before but absent now is recorded as 0, so a count that drops to
/// nothing shows as 0 rather than as its last value.
#[derive(Debug)]
pub struct GaugeSet {
    gauge: Gauge<f64>,
    seen: std::sync::Mutex<std::collections::BTreeSet<Vec<(String, String)>>>,
}

impl GaugeSet {
    pub fn new(metric: &Metric) -> Self {
        Self {
            gauge: gauge(metric),
            seen: Default::default(),
        }
    }

    /// Records this pass's values: `(labels, value)`.
    pub fn record(&self, values: Readings) {
        let mut now = std::collections::BTreeSet::new();
        for (labels, value) in values {
            let key: Vec<(String, String)> = labels
                .iter()
                .map(|(name, value)| (name.to_string(), value.clone()))
                .collect();
            self.gauge.record(value, &attributes(&key));
            now.insert(key);
        }
        let Ok(mut seen) = self.seen.lock() else {
            return;
        };
        for gone in seen.difference(&now) {
            self.gauge.record(0.0, &attributes(gone));
        }
        seen.extend(now);
    }
}

/// Reads gauges with `read` now and every `interval` (`CSPR_GAUGE_INTERVAL`) until
/// `shutdown`, recording its readings in `sets`, in order (a service's business gauges).
pub async fn run_gauges<E, F, Fut>(
    job: &'static str,
    interval: Duration,
    shutdown: tokio_util::sync::CancellationToken,
    sets: Vec<GaugeSet>,
    mut read: F,
) where
    E: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Vec<Readings>, E>>,
{
    crate::jobs::run_every(job, interval, shutdown, || {
        let reading = read();
        let sets = &sets;
        async move {
            for (set, readings) in sets.iter().zip(reading.await?) {
                set.record(readings);
            }
            Ok::<usize, E>(0)
        }
    })
    .await;
}

fn attributes(labels: &[(String, String)]) -> Vec<KeyValue> {
    labels
        .iter()
        .map(|(name, value)| KeyValue::new(name.clone(), value.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_names_follow_the_collector() {
        assert_eq!(
            prometheus_name(&RPC_SERVER_CALL_DURATION),
            "rpc_server_call_duration_seconds"
        );
        assert_eq!(
            prometheus_name(&MESSAGING_SENT),
            "messaging_client_sent_messages_total"
        );
        assert_eq!(
            prometheus_name(&OUTBOX_OLDEST_AGE),
            "cspr_outbox_oldest_age_seconds"
        );
        assert_eq!(
            prometheus_name(&ACTION_PLANS_COMPLETION),
            "cspr_action_plans_completion_ratio"
        );
        assert_eq!(prometheus_name(&SERVICE_SERVING), "cspr_service_serving");
    }

    /// The dashboards and alert rules are checked against `infra/metrics.txt`; this keeps
    /// that file and the code's list the same, both ways.
    #[test]
    fn infra_metrics_txt_lists_exactly_what_the_code_exports() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../infra/metrics.txt");
        let text = std::fs::read_to_string(path).expect("infra/metrics.txt");
        let listed: std::collections::BTreeSet<String> = text
            .lines()
            .map(|line| line.split('#').next().unwrap_or_default().trim())
            .filter(|name| !name.is_empty())
            .map(str::to_string)
            .collect();
        let exported: std::collections::BTreeSet<String> =
            ALL.iter().map(prometheus_name).collect();
        let missing: Vec<_> = exported.difference(&listed).collect();
        let stale: Vec<_> = listed.difference(&exported).collect();
        assert!(
            missing.is_empty() && stale.is_empty(),
            "infra/metrics.txt is missing {missing:?} and lists {stale:?} the code does not export"
        );
        let names: std::collections::BTreeSet<_> = ALL.iter().map(|metric| metric.name).collect();
        assert_eq!(names.len(), ALL.len(), "each metric once");
    }

    /// Instruments are made only here, from [`ALL`]: a name typed anywhere else would be
    /// exported without being listed (or dashboarded, or alerted on).
    #[test]
    fn no_instrument_is_made_outside_this_module() {
        fn visit(dir: &std::path::Path, found: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    visit(&path, found);
                } else if path.extension().is_some_and(|ext| ext == "rs")
                    && !path.ends_with("platform/src/metrics.rs")
                {
                    let text = std::fs::read_to_string(&path).unwrap_or_default();
                    for pattern in [
                        "_counter(\"",
                        "_gauge(\"",
                        "_histogram(\"",
                        "_up_down_counter(\"",
                    ] {
                        if text.contains(pattern) {
                            found.push(format!(
                                "{} makes an instrument ({pattern})",
                                path.display()
                            ));
                        }
                    }
                }
            }
        }
        let services = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        let mut found = Vec::new();
        visit(std::path::Path::new(services), &mut found);
        assert!(found.is_empty(), "{found:#?}");
    }
}
