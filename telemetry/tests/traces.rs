//! Request, guard, prefill and decode spans reach the receiver with timings,
//! the outcome and registered rule ids only.

mod common;

use std::time::Duration;

use common::*;
use opentelemetry_proto::tonic::trace::v1::Span;
use palisade_telemetry::config::{PrometheusConfig, Protocol};
use palisade_telemetry::trace::{self, Stage, TRACE_TARGET};
use palisade_telemetry::{OtelSink, Outcome, TelemetryConfig};
use tracing_subscriber::layer::SubscriberExt;

fn spans(receiver: &Receiver) -> Vec<Span> {
    receiver
        .state
        .traces
        .lock()
        .expect("lock")
        .iter()
        .flat_map(|r| r.resource_spans.iter())
        .flat_map(|r| r.scope_spans.iter())
        .flat_map(|s| s.spans.iter())
        .cloned()
        .collect()
}

fn run(protocol: Protocol) {
    let receiver = Receiver::start();
    let endpoint = match protocol {
        Protocol::Grpc => receiver.grpc_url(),
        Protocol::HttpProtobuf => format!("{}/v1/traces", receiver.http_url()),
    };
    let cfg = TelemetryConfig {
        traces: Some(export_config(protocol, endpoint)),
        prometheus: PrometheusConfig {
            enabled: false,
            listen: None,
        },
        ..TelemetryConfig::default()
    };
    let sink = OtelSink::start(cfg).expect("starts");
    sink.register_policy(&policy()).expect("policy");
    sink.register_model(MODEL).expect("model");
    let layer = sink.tracing_layer().expect("traces configured");
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        let request = trace::request_span(MODEL);
        let _entered = request.enter();
        {
            let guard = trace::stage_span(Stage::InputGuard);
            trace::record_rule_ids(&guard, ["no-email", "text the user typed"]);
            let _g = guard.enter();
            tracing::info!(target: TRACE_TARGET, prompt = "what the user typed", "an event");
        }
        drop(trace::stage_span(Stage::Prefill));
        drop(trace::stage_span(Stage::Decode));
        drop(trace::stage_span(Stage::OutputGuard));
        tracing::info_span!("app.span", secret = "not ours").in_scope(|| {});
        trace::record_outcome(&request, Outcome::Completed);
    });
    assert!(sink.flush(Duration::from_secs(10)));
    let got = spans(&receiver);
    let mut names: Vec<&str> = got.iter().map(|s| s.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "palisade.decode",
            "palisade.input_guard",
            "palisade.output_guard",
            "palisade.prefill",
            "palisade.request"
        ],
        "{protocol:?}: only Palisade's spans"
    );
    let request = got
        .iter()
        .find(|s| s.name == "palisade.request")
        .expect("request span");
    for s in &got {
        assert!(s.events.is_empty(), "{}: no events", s.name);
        assert!(s.end_time_unix_nano >= s.start_time_unix_nano);
        for kv in &s.attributes {
            assert!(
                trace::SPAN_ATTRIBUTES.contains(&kv.key.as_str()),
                "{} carries {}",
                s.name,
                kv.key
            );
        }
        if s.name != "palisade.request" {
            assert_eq!(
                s.parent_span_id, request.span_id,
                "{} is a child of the request",
                s.name
            );
        }
    }
    assert_eq!(
        attr(&request.attributes, "gen_ai.request.model"),
        Some(MODEL)
    );
    assert_eq!(
        attr(&request.attributes, "palisade.outcome"),
        Some("completed")
    );
    assert!(
        request.attributes.iter().any(|kv| kv.key == "busy_ns"),
        "timings are kept"
    );
    let guard = got
        .iter()
        .find(|s| s.name == "palisade.input_guard")
        .expect("guard span");
    assert_eq!(
        attr(&guard.attributes, "palisade.rule_ids"),
        Some("no-email,_other")
    );
    let raw = receiver.state.raw.lock().expect("lock").concat();
    for text in ["text the user typed", "what the user typed", "not ours"] {
        assert!(
            !raw.windows(text.len()).any(|w| w == text.as_bytes()),
            "{text:?} left the device"
        );
    }
}

#[test]
fn spans_over_grpc() {
    run(Protocol::Grpc);
}

#[test]
fn spans_over_http() {
    run(Protocol::HttpProtobuf);
}
