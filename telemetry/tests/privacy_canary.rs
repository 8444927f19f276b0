//! Canary strings and personal data pushed through every text-shaped input
//! telemetry has (record fields, span fields, events) never appear in any
//! OTLP payload (gRPC or HTTP, metrics or traces), Prometheus text, spool
//! file, ledger, log line or debug output.

mod common;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use palisade_telemetry::config::{DpConfig, PrometheusConfig, Protocol, SpoolConfig};
use palisade_telemetry::trace::{self, Stage, TRACE_TARGET};
use palisade_telemetry::{
    DetectorReport, Direction, OtelSink, PrivacyMode, RequestRecord, RuleAction, RuleHit,
    TelemetryConfig, TelemetrySink,
};
use tracing::field::{Field, Visit};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt};

const CANARIES: [&str; 6] = [
    "CANARY-q7Zx-0001",
    "CANARY_q7Zx_0002",
    "alice.smith@example.com",
    "4111111111111111",
    "+1-202-555-0143",
    "AKIAIOSFODNN7EXAMPLE",
];

/// Every `tracing` span and event, formatted as a log line would be.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<String>>>);

struct Line(String);

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!(" {}={:?}", field.name(), value));
    }
}

impl<S: tracing::Subscriber> Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let mut line = Line(format!(
            "{} {}",
            event.metadata().level(),
            event.metadata().target()
        ));
        event.record(&mut line);
        self.0.lock().expect("lock").push(line.0);
    }
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        _: &tracing::span::Id,
        _: Context<'_, S>,
    ) {
        let mut line = Line(format!("span {}", attrs.metadata().name()));
        attrs.record(&mut line);
        self.0.lock().expect("lock").push(line.0);
    }
}

fn find(haystack: &[u8]) -> Vec<&'static str> {
    CANARIES
        .iter()
        .filter(|c| haystack.windows(c.len()).any(|w| w == c.as_bytes()))
        .copied()
        .collect()
}

/// A request whose every string field carries text it must never carry.
fn poisoned(i: usize) -> RequestRecord {
    let c = |n: usize| CANARIES[(i + n) % CANARIES.len()].to_owned();
    let mut r = completed();
    r.model = c(0);
    r.policy_hash = c(1);
    r.rule_hits.push(RuleHit {
        direction: Direction::Output,
        rule_id: c(2),
        kind: c(3),
        action: RuleAction::Block,
    });
    r.rule_hits.push(RuleHit {
        direction: Direction::Input,
        rule_id: "no-email".into(),
        kind: c(4),
        action: RuleAction::Redact,
    });
    r.detectors.push(DetectorReport {
        direction: Direction::Input,
        detector: c(5),
        elapsed: Duration::from_micros(5),
        errors: 1,
    });
    r
}

fn sink(cfg: TelemetryConfig) -> Arc<OtelSink> {
    let sink = OtelSink::start(cfg).expect("starts");
    sink.register_policy(&policy()).expect("policy");
    sink.register_model(MODEL).expect("model");
    // Registering text as an identifier is refused.
    for c in [
        "my email is alice.smith@example.com please",
        "CANARY-q7Zx-0001\nsecond line",
    ] {
        let err = sink.register_model(c).expect_err("not an identifier");
        assert!(err.to_string().contains("not a valid attribute value"));
    }
    sink
}

#[test]
fn no_canary_leaves_through_any_channel() {
    let capture = Capture::default();
    let receiver = Receiver::start();
    let dir = tempfile::tempdir().expect("tempdir");

    // Sink A: aggregate mode, metrics over gRPC, traces over HTTP, Prometheus.
    let a = sink(TelemetryConfig {
        metrics: Some(export_config(Protocol::Grpc, receiver.grpc_url())),
        traces: Some(export_config(
            Protocol::HttpProtobuf,
            format!("{}/v1/traces", receiver.http_url()),
        )),
        prometheus: PrometheusConfig {
            enabled: true,
            listen: None,
        },
        ..TelemetryConfig::default()
    });
    // Sink B: dp mode, metrics over HTTP, with a spool it must use.
    let b = sink(TelemetryConfig {
        privacy: PrivacyMode::Dp,
        dp: Some(DpConfig {
            epsilon_per_day: 10.0,
            epsilon_per_report: 0.5,
            output_token_clip: 64,
            ledger_path: dir.path().join("ledger.json"),
        }),
        metrics: Some({
            let mut m = export_config(
                Protocol::HttpProtobuf,
                format!("{}/v1/metrics", receiver.http_url()),
            );
            m.spool = Some(SpoolConfig {
                dir: dir.path().join("spool"),
                max_bytes: 1 << 20,
            });
            m
        }),
        prometheus: PrometheusConfig {
            enabled: true,
            listen: None,
        },
        ..TelemetryConfig::default()
    });

    let layer = a.tracing_layer().expect("traces");
    let subscriber = tracing_subscriber::registry()
        .with(layer)
        .with(capture.clone());
    tracing::subscriber::set_global_default(subscriber).expect("first subscriber");

    for i in 0..CANARIES.len() * 3 {
        a.record_request(&poisoned(i));
        b.record_request(&poisoned(i));
        let c = CANARIES[i % CANARIES.len()];
        let request = trace::request_span(c);
        let _in = request.enter();
        let guard = trace::stage_span(Stage::OutputGuard);
        trace::record_rule_ids(&guard, [c, "no-email"]);
        guard.in_scope(|| tracing::warn!(target: TRACE_TARGET, text = c, "an event with text"));
        drop(guard);
        tracing::info_span!(target: TRACE_TARGET, "palisade.request", gen_ai.request.model = c, palisade.stage = c).in_scope(|| {});
    }
    // B's first export fails and is spooled; the second goes through.
    receiver.state.fail.store(true, Ordering::SeqCst);
    assert!(!b.flush(Duration::from_secs(10)));
    let spooled: Vec<u8> = std::fs::read_dir(dir.path().join("spool"))
        .expect("spool dir")
        .filter_map(|e| std::fs::read(e.ok()?.path()).ok())
        .flatten()
        .collect();
    assert!(!spooled.is_empty(), "the spool was written");
    receiver.state.fail.store(false, Ordering::SeqCst);
    assert!(a.flush(Duration::from_secs(10)));
    assert!(b.flush(Duration::from_secs(10)));

    let payloads = receiver.state.raw.lock().expect("lock").concat();
    let traces = receiver.state.traces.lock().expect("lock").len();
    let text_a = a.prometheus_text().expect("text");
    let text_b = b.prometheus_text().expect("text");
    let ledger = std::fs::read(dir.path().join("ledger.json")).expect("ledger");
    let debug = format!("{a:?}{b:?}{:?}{:?}", a.health(), b.health());

    // The channels were exercised: the scans below can fail.
    assert!(traces > 0 && !receiver.state.metrics.lock().expect("lock").is_empty());
    assert!(
        payloads.windows(8).any(|w| w == b"no-email"),
        "registered identifiers do arrive"
    );
    assert!(
        text_a.contains("palisade_guard_decisions_total")
            && text_b.contains("palisade_dp_reports_total")
    );
    assert!(
        text_a.contains("_other"),
        "the poisoned identifiers were replaced"
    );
    assert_eq!(
        find(b"x alice.smith@example.com y"),
        ["alice.smith@example.com"],
        "the scan works"
    );

    let lines = capture.0.lock().expect("lock").join("\n");
    // Our own capture layer saw the canaries we logged into spans/events:
    // proof the log channel is live. Telemetry's own output is scanned below.
    assert!(!find(lines.as_bytes()).is_empty());
    let telemetry_lines: Vec<&str> = lines
        .lines()
        .filter(|l| !l.contains(TRACE_TARGET) && !l.starts_with("span palisade."))
        .collect();
    for (what, bytes) in [
        ("OTLP payloads", payloads.as_slice()),
        ("Prometheus text (aggregate)", text_a.as_bytes()),
        ("Prometheus text (dp)", text_b.as_bytes()),
        ("spool files", spooled.as_slice()),
        ("ledger", ledger.as_slice()),
        ("debug output", debug.as_bytes()),
        ("telemetry log lines", telemetry_lines.join("\n").as_bytes()),
    ] {
        assert!(find(bytes).is_empty(), "{what} contain {:?}", find(bytes));
    }
}
