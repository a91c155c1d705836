//! Telemetry end to end: the services export traces and metrics over OTLP/gRPC to a
//! receiver this test runs (built on the OpenTelemetry protocol's own definitions), and
//! the test asserts that one trace runs from a gRPC call through the outbox and NATS into
//! each consumer and to the email sent, and that the RPC, messaging, outbox, email and
//! business metrics arrive under the names `infra/metrics.txt` lists.
//!
//! Its own test binary: telemetry is installed once per process, before any instrument.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::NaiveDate;
use cspr_notifications::config::MailTarget;
use cspr_platform::metrics;
use cspr_platform::telemetry::{TelemetrySettings, init_with};
use cspr_platform::testing::{self, SmtpSink, authed};
use cspr_proto::registry::v1 as registry;
use cspr_proto::registry::v1::review_registry_client::ReviewRegistryClient;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};

/// A span as received: its trace, name and string/int attributes.
#[derive(Debug, Clone)]
struct Span {
    trace_id: Vec<u8>,
    name: String,
    attributes: BTreeMap<String, String>,
}

/// Everything the receiver was sent.
#[derive(Debug, Default)]
struct Received {
    spans: Mutex<Vec<Span>>,
    /// Metric name → the attribute sets of its data points.
    metrics: Mutex<BTreeMap<String, Vec<BTreeMap<String, String>>>>,
}

fn value(value: &Option<AnyValue>) -> String {
    match value.as_ref().and_then(|value| value.value.as_ref()) {
        Some(any_value::Value::StringValue(text)) => text.clone(),
        Some(any_value::Value::IntValue(number)) => number.to_string(),
        Some(any_value::Value::BoolValue(flag)) => flag.to_string(),
        Some(any_value::Value::DoubleValue(number)) => number.to_string(),
        _ => String::new(),
    }
}

fn attributes(attributes: &[KeyValue]) -> BTreeMap<String, String> {
    attributes
        .iter()
        .map(|pair| (pair.key.clone(), value(&pair.value)))
        .collect()
}

#[derive(Clone)]
struct Receiver(Arc<Received>);

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.0.spans.lock().expect("spans");
        for resource in request.into_inner().resource_spans {
            for scope in resource.scope_spans {
                for span in scope.spans {
                    spans.push(Span {
                        trace_id: span.trace_id,
                        name: span.name,
                        attributes: attributes(&span.attributes),
                    });
                }
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        use opentelemetry_proto::tonic::metrics::v1::metric::Data;
        let mut received = self.0.metrics.lock().expect("metrics");
        for resource in request.into_inner().resource_metrics {
            for scope in resource.scope_metrics {
                for metric in scope.metrics {
                    let points: Vec<BTreeMap<String, String>> = match &metric.data {
                        Some(Data::Sum(sum)) => sum
                            .data_points
                            .iter()
                            .map(|point| attributes(&point.attributes))
                            .collect(),
                        Some(Data::Gauge(gauge)) => gauge
                            .data_points
                            .iter()
                            .map(|point| attributes(&point.attributes))
                            .collect(),
                        Some(Data::Histogram(histogram)) => histogram
                            .data_points
                            .iter()
                            .map(|point| attributes(&point.attributes))
                            .collect(),
                        _ => Vec::new(),
                    };
                    received
                        .entry(metric.name.clone())
                        .or_default()
                        .extend(points);
                }
            }
        }
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_runs_from_a_call_through_the_bus_to_the_email_and_the_metrics_arrive() {
    // The receiver, then telemetry pointed at it, before anything makes an instrument.
    let received = Arc::new(Received::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let addr = listener.local_addr().expect("address");
    let receiver = Receiver(received.clone());
    let collector = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(receiver.clone()))
            .add_service(MetricsServiceServer::new(receiver))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let guard = init_with(TelemetrySettings {
        service_name: "cspr".into(),
        otlp_endpoint: Some(format!("http://{addr}")),
        metric_interval: Duration::from_millis(500),
        log_filter: "warn".into(),
    })
    .expect("telemetry starts");

    let mut sink = SmtpSink::start().await;
    let stack = cspr_tests::spawn_stack_with(
        testing::platform_config(&testing::nats_url()),
        NaiveDate::from_ymd_opt(2026, 3, 26).expect("date"),
        MailTarget::Smtp { url: sink.url() },
    )
    .await;
    let admin = stack.token("southvale", &["partnership_admin"], None, "admin");
    let mut client = ReviewRegistryClient::connect(format!("http://{}", stack.registry.addr))
        .await
        .expect("registry");
    let review_id = stack.decided_review("telemetry-1").await;
    stack
        .set_terms(
            &review_id,
            vec![registry::Agency {
                id: "police".into(),
                name: "Southvale Police".into(),
                contact_email: "lead@police.southvale.example.org".into(),
            }],
        )
        .await;
    // A refused call, for a non-OK status code in the RPC metric.
    let refused = client
        .get_review(authed(
            registry::GetReviewRequest {
                review_id: "not-a-review".into(),
            },
            &admin,
        ))
        .await
        .expect_err("no such review");

    // The chain ends in an email to the agency's lead.
    let mail = sink.wait_for(1, Duration::from_secs(30)).await;
    assert!(
        mail.iter()
            .any(|(recipient, _)| recipient == "lead@police.southvale.example.org"),
        "the agency was emailed: {:?}",
        mail.iter().map(|(to, _)| to).collect::<Vec<_>>()
    );

    // Metrics arrive every half second; wait for the ones this run must produce.
    let wanted = [
        metrics::RPC_SERVER_CALL_DURATION,
        metrics::MESSAGING_SENT,
        metrics::MESSAGING_CONSUMED,
        metrics::MESSAGING_PROCESS_DURATION,
        metrics::OUTBOX_PUBLISHED,
        metrics::OUTBOX_BACKLOG,
        metrics::OUTBOX_OLDEST_AGE,
        metrics::CONSUMER_PENDING,
        metrics::SERVICE_SERVING,
        metrics::EMAIL_SENT,
        metrics::EMAIL_SEND_DURATION,
        metrics::EMAIL_QUEUE_DEPTH,
        metrics::REVIEWS,
    ];
    let missing = || -> Vec<&str> {
        let seen = received.metrics.lock().expect("metrics");
        wanted
            .iter()
            .map(|metric| metric.name)
            .filter(|name| !seen.contains_key(*name))
            .collect()
    };
    cspr_platform::testing::wait_until(
        &format!("the metrics {:?}", missing()),
        cspr_platform::testing::DEADLINE,
        || {
            let all_seen = missing().is_empty();
            async move { all_seen }
        },
    )
    .await;

    stack.stop().await;
    sink.stop().await;
    // Flushes the last spans (the exporter blocks, so off the async workers).
    tokio::task::spawn_blocking(move || guard.shutdown())
        .await
        .expect("telemetry flushed");
    collector.abort();

    // The RPC metric carries the conventions' labels, status codes included.
    let seen = received.metrics.lock().expect("metrics").clone();
    let calls = &seen[metrics::RPC_SERVER_CALL_DURATION.name];
    let labelled = |method: &str, code: i32| {
        calls.iter().any(|labels| {
            labels.get("rpc.system").map(String::as_str) == Some("grpc")
                && labels.get("rpc.service").map(String::as_str)
                    == Some("cspr.registry.v1.ReviewRegistry")
                && labels.get("rpc.method").map(String::as_str) == Some(method)
                && labels.get("rpc.grpc.status_code") == Some(&code.to_string())
        })
    };
    assert!(labelled("SetTermsOfReference", 0), "{calls:#?}");
    assert!(
        labelled("GetReview", refused.code() as i32),
        "the refusal ({:?}) is counted with its code: {calls:#?}",
        refused.code()
    );
    let reviews = &seen[metrics::REVIEWS.name];
    assert!(
        reviews.iter().any(|labels| {
            labels.get("partnership").map(String::as_str) == Some("southvale")
                && labels.contains_key("stage")
        }),
        "reviews by partnership and stage: {reviews:#?}"
    );
    let consumed = &seen[metrics::MESSAGING_CONSUMED.name];
    assert!(
        consumed.iter().any(|labels| {
            labels.get("messaging.system").map(String::as_str) == Some("nats")
                && labels
                    .get("messaging.consumer.group.name")
                    .map(String::as_str)
                    == Some("notifications")
        }),
        "{consumed:#?}"
    );

    // One trace: the call, its event's publish, the submissions consumer, the request
    // event's publish, the notifications consumer, and the email.
    let spans = received.spans.lock().expect("spans").clone();
    let call = spans
        .iter()
        .find(|span| span.name == "cspr.registry.v1.ReviewRegistry/SetTermsOfReference")
        .unwrap_or_else(|| {
            panic!(
                "the call's span was exported: {:?}",
                spans.iter().map(|span| &span.name).collect::<BTreeSet<_>>()
            )
        });
    let trace: Vec<&Span> = spans
        .iter()
        .filter(|span| span.trace_id == call.trace_id)
        .collect();
    let has = |what: &str, test: &dyn Fn(&Span) -> bool| {
        assert!(
            trace.iter().any(|span| test(span)),
            "{what} is in the call's trace; the trace holds {:#?}",
            trace
                .iter()
                .map(|span| (&span.name, &span.attributes))
                .collect::<Vec<_>>()
        );
    };
    let attribute = |span: &Span, key: &str, wanted: &str| {
        span.attributes.get(key).map(String::as_str) == Some(wanted)
    };
    has("the registry's publish", &|span| {
        span.name
            .ends_with(".registry.terms_of_reference_set publish")
    });
    has("the submissions consumer", &|span| {
        span.name == "consume" && attribute(span, "messaging.consumer.group.name", "submissions")
    });
    has("the report request's publish", &|span| {
        span.name
            .ends_with(".submissions.agency_report_requested publish")
    });
    has("the notifications consumer", &|span| {
        span.name == "consume" && attribute(span, "messaging.consumer.group.name", "notifications")
    });
    has("the email", &|span| {
        span.name == "send_email" && attribute(span, "template", "report_requested")
    });
}
