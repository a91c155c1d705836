//! Logs, traces and metrics.
//!
//! JSON logs go to stdout always (filtered by `RUST_LOG`, default `info`). When
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set, traces and metrics are also exported over OTLP/gRPC,
//! with `service.name` from `OTEL_SERVICE_NAME` or the served services (`cspr-registry`,
//! or `cspr` when several run in one process). The W3C trace-context propagator is always
//! installed, so `traceparent` flows through the bus even without an exporter.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Telemetry could not start.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("invalid RUST_LOG filter: {0}")]
    Filter(String),
    #[error("cannot build the OTLP exporter (OTEL_EXPORTER_OTLP_ENDPOINT): {0}")]
    Exporter(String),
    #[error("a global logger is already installed")]
    AlreadyInstalled,
}

/// Keeps the exporters alive; flushes them on [`TelemetryGuard::shutdown`].
#[derive(Debug, Default)]
pub struct TelemetryGuard {
    tracer_provider: Option<SdkTracerProvider>,
    meter_provider: Option<SdkMeterProvider>,
}

impl TelemetryGuard {
    /// Flushes and stops the exporters (call once, at the end of shutdown).
    pub fn shutdown(self) {
        if let Some(provider) = self.tracer_provider
            && let Err(error) = provider.shutdown()
        {
            tracing::warn!(%error, "trace exporter shutdown failed");
        }
        if let Some(provider) = self.meter_provider
            && let Err(error) = provider.shutdown()
        {
            tracing::warn!(%error, "metric exporter shutdown failed");
        }
    }
}

/// Where and how often telemetry goes.
#[derive(Debug, Clone)]
pub struct TelemetrySettings {
    /// `service.name` of everything exported.
    pub service_name: String,
    /// OTLP/gRPC endpoint (e.g. `http://otel-collector:4317`); none: JSON logs only.
    pub otlp_endpoint: Option<String>,
    /// How often metrics are exported.
    pub metric_interval: std::time::Duration,
    /// Which logs are written (`RUST_LOG` syntax).
    pub log_filter: String,
}

impl TelemetrySettings {
    /// From `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_SERVICE_NAME` (else `service_name`) and
    /// `OTEL_METRIC_EXPORT_INTERVAL` (milliseconds, default 60000), as OpenTelemetry's
    /// SDKs read them.
    pub fn from_env(service_name: &str) -> Self {
        Self {
            service_name: std::env::var("OTEL_SERVICE_NAME")
                .ok()
                .filter(|name| !name.trim().is_empty())
                .unwrap_or_else(|| service_name.to_string()),
            otlp_endpoint: std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT")
                .ok()
                .filter(|endpoint| !endpoint.trim().is_empty()),
            metric_interval: std::env::var("OTEL_METRIC_EXPORT_INTERVAL")
                .ok()
                .and_then(|ms| ms.trim().parse::<u64>().ok())
                .map_or(
                    std::time::Duration::from_secs(60),
                    std::time::Duration::from_millis,
                ),
            log_filter: std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_string()),
        }
    }
}

/// Installs logging and, when configured, OTLP export. `service_name` is used unless
/// `OTEL_SERVICE_NAME` says otherwise.
pub fn init(service_name: &str) -> Result<TelemetryGuard, TelemetryError> {
    init_with(TelemetrySettings::from_env(service_name))
}

/// Installs logging and, with an endpoint, OTLP export of traces and metrics.
pub fn init_with(settings: TelemetrySettings) -> Result<TelemetryGuard, TelemetryError> {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let filter = EnvFilter::try_new(&settings.log_filter)
        .map_err(|error| TelemetryError::Filter(error.to_string()))?;
    let json_logs = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_target(true)
        .with_filter(filter);

    let Some(endpoint) = settings.otlp_endpoint else {
        tracing_subscriber::registry()
            .with(json_logs)
            .try_init()
            .map_err(|_| TelemetryError::AlreadyInstalled)?;
        return Ok(TelemetryGuard::default());
    };

    let name = settings.service_name;
    let resource = Resource::builder().with_service_name(name.clone()).build();
    let span_exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint.clone())
        .build()
        .map_err(|error| TelemetryError::Exporter(error.to_string()))?;
    let tracer_provider = SdkTracerProvider::builder()
        .with_resource(resource.clone())
        .with_batch_exporter(span_exporter)
        .build();
    let metric_exporter = opentelemetry_otlp::MetricExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .build()
        .map_err(|error| TelemetryError::Exporter(error.to_string()))?;
    let reader = opentelemetry_sdk::metrics::PeriodicReader::builder(metric_exporter)
        .with_interval(settings.metric_interval)
        .build();
    let meter_provider = SdkMeterProvider::builder()
        .with_resource(resource)
        .with_reader(reader)
        .build();
    opentelemetry::global::set_meter_provider(meter_provider.clone());
    let tracer = tracer_provider.tracer(name);
    tracing_subscriber::registry()
        .with(json_logs)
        // Only our spans (INFO: calls, publishes, consumes, emails), not the libraries'
        // debug and trace spans (HTTP/2 frames, pool checkouts), which are thousands a
        // second under load and filled the exporter's queue.
        .with(
            tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_filter(tracing_subscriber::filter::LevelFilter::INFO),
        )
        .try_init()
        .map_err(|_| TelemetryError::AlreadyInstalled)?;
    Ok(TelemetryGuard {
        tracer_provider: Some(tracer_provider),
        meter_provider: Some(meter_provider),
    })
}

/// Installs a quiet logger for tests (only warnings, to the test harness's capture).
pub fn init_for_tests() {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let filter = EnvFilter::try_from_env("TEST_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}
