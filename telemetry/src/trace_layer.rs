//! The `tracing` layer exporting Palisade's spans, and nothing else.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::registry::LookupSpan;

use crate::trace::TRACE_TARGET;

/// A layer that turns spans of [`TRACE_TARGET`] into OpenTelemetry spans,
/// without source locations, thread names, levels, targets or events.
pub(crate) fn layer<S>(provider: &SdkTracerProvider) -> Box<dyn Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
{
    let tracer = provider.tracer("palisade-telemetry");
    tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_location(false)
        .with_threads(false)
        .with_level(false)
        .with_target(false)
        .with_tracked_inactivity(true)
        .with_error_fields_to_exceptions(false)
        .with_error_events_to_exceptions(false)
        .with_error_events_to_status(false)
        .with_filter(filter_fn(|meta| {
            meta.is_span() && meta.target() == TRACE_TARGET
        }))
        .boxed()
}
