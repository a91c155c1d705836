//! Trace context across the bus: `traceparent` goes into message headers when an event is
//! written to the outbox, and consumers continue the same trace from it.

use std::collections::HashMap;

use opentelemetry::Context;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The current span's trace context as W3C headers (`traceparent`, `tracestate`).
pub fn current_headers() -> HashMap<String, String> {
    let context = tracing::Span::current().context();
    let mut headers = HashMap::new();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut headers)
    });
    headers
}

/// The trace context carried by message headers.
pub fn context_from_headers(headers: &HashMap<String, String>) -> Context {
    opentelemetry::global::get_text_map_propagator(|propagator| propagator.extract(headers))
}

/// Makes `span` a child of the trace carried by `headers`, if any.
pub fn continue_trace(span: &tracing::Span, headers: &HashMap<String, String>) {
    if headers.contains_key("traceparent") {
        let _ = span.set_parent(context_from_headers(headers));
    }
}
