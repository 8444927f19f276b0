//! Spans for one request: `palisade.request` with children
//! `palisade.input_guard`, `palisade.prefill`, `palisade.decode` and
//! `palisade.output_guard`. They carry timings, the model name, the outcome
//! and rule ids only; the exporter drops anything else (see
//! [`crate::OtelSink::tracing_layer`]).

use tracing::Span;
use tracing::field::Empty;

use crate::record::Outcome;

/// The `tracing` target of every Palisade span; the telemetry layer exports
/// spans of this target only, and no events.
pub const TRACE_TARGET: &str = "palisade_telemetry::trace";

/// A stage of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Scanning the request before the model runs.
    InputGuard,
    /// Processing the prompt up to the first token.
    Prefill,
    /// Generating tokens after the first.
    Decode,
    /// Scanning the streamed answer.
    OutputGuard,
}

impl Stage {
    /// The span name.
    pub const fn span_name(self) -> &'static str {
        match self {
            Stage::InputGuard => "palisade.input_guard",
            Stage::Prefill => "palisade.prefill",
            Stage::Decode => "palisade.decode",
            Stage::OutputGuard => "palisade.output_guard",
        }
    }
}

/// Every span name the exporter lets through.
pub const SPAN_NAMES: [&str; 5] = [
    "palisade.request",
    "palisade.input_guard",
    "palisade.prefill",
    "palisade.decode",
    "palisade.output_guard",
];

/// Span attribute keys the exporter lets through (with checked values).
pub const SPAN_ATTRIBUTES: [&str; 7] = [
    "gen_ai.operation.name",
    "gen_ai.request.model",
    "palisade.outcome",
    "palisade.rule_ids",
    "palisade.stage",
    "busy_ns",
    "idle_ns",
];

/// Starts the span of one request. `model` must be a registered model
/// name to be exported as such (otherwise `_other`).
pub fn request_span(model: &str) -> Span {
    tracing::info_span!(
        target: TRACE_TARGET,
        "palisade.request",
        gen_ai.operation.name = "chat",
        gen_ai.request.model = model,
        palisade.outcome = Empty,
        palisade.rule_ids = Empty,
    )
}

/// Starts the span of one stage, as a child of the current span (enter the
/// request span first, or use `parent.in_scope(|| stage_span(..))`).
pub fn stage_span(stage: Stage) -> Span {
    match stage {
        Stage::InputGuard => tracing::info_span!(
            target: TRACE_TARGET, "palisade.input_guard",
            palisade.stage = "input_guard", palisade.rule_ids = Empty
        ),
        Stage::Prefill => tracing::info_span!(
            target: TRACE_TARGET, "palisade.prefill", palisade.stage = "prefill"
        ),
        Stage::Decode => tracing::info_span!(
            target: TRACE_TARGET, "palisade.decode", palisade.stage = "decode"
        ),
        Stage::OutputGuard => tracing::info_span!(
            target: TRACE_TARGET, "palisade.output_guard",
            palisade.stage = "output_guard", palisade.rule_ids = Empty
        ),
    }
}

/// Records the ids of the rules that fired on `span` (comma-separated;
/// unregistered ids are exported as `_other`).
pub fn record_rule_ids<'a>(span: &Span, ids: impl IntoIterator<Item = &'a str>) {
    let mut joined = String::new();
    for id in ids {
        if !joined.is_empty() {
            joined.push(',');
        }
        joined.push_str(id);
    }
    if !joined.is_empty() {
        span.record("palisade.rule_ids", joined.as_str());
    }
}

/// Records how the request ended on its span.
pub fn record_outcome(span: &Span, outcome: Outcome) {
    span.record("palisade.outcome", outcome.as_str());
}
