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

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
    use tracing_subscriber::layer::SubscriberExt;

    #[test]
    fn trace_context_survives_the_headers() {
        opentelemetry::global::set_text_map_propagator(
            opentelemetry_sdk::propagation::TraceContextPropagator::new(),
        );
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, || {
            let producer = tracing::info_span!("command");
            let _entered = producer.enter();
            let headers = current_headers();
            assert!(headers.contains_key("traceparent"), "{headers:?}");
            let sent_trace = producer.context().span().span_context().trace_id();

            let consumer = tracing::info_span!("consume");
            continue_trace(&consumer, &headers);
            let received_trace = consumer.context().span().span_context().trace_id();
            assert_eq!(
                received_trace, sent_trace,
                "one trace from the command to the consumer"
            );
        });
    }
}
