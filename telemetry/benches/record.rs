//! The cost of `TelemetrySink::record_request` on the inference thread, and
//! the full cost per request including the worker that records it into the
//! OpenTelemetry instruments.
//!
//! `CARGO_TARGET_DIR=target-telemetry cargo bench -p palisade-telemetry --bench record`

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use palisade_telemetry::config::{ExportConfig, Protocol, Temporality};
use palisade_telemetry::{
    DetectorReport, Direction, OtelSink, Outcome, PolicyInfo, PrivacyMode, RequestRecord,
    RuleAction, RuleHit, TelemetryConfig, TelemetrySink,
};

const BATCH: u64 = 2048;

fn record() -> RequestRecord {
    RequestRecord {
        model: "SmolLM2-135M-Instruct".into(),
        policy_hash: "0f3e9a1c".into(),
        outcome: Outcome::Completed,
        prompt_tokens: 28,
        completion_tokens: 128,
        time_to_first_token: Some(Duration::from_millis(300)),
        decode: Duration::from_millis(2000),
        total: Duration::from_millis(2400),
        guard: Duration::from_micros(150),
        mean_logprob: Some(-0.4),
        mean_entropy: Some(1.2),
        rule_hits: vec![
            RuleHit {
                direction: Direction::Input,
                rule_id: "no-email".into(),
                kind: "pii.email".into(),
                action: RuleAction::Redact,
            },
            RuleHit {
                direction: Direction::Output,
                rule_id: "no-secrets".into(),
                kind: "secret.aws_access_key_id".into(),
                action: RuleAction::Warn,
            },
        ],
        max_entropy: Some(3.5),
        low_confidence_fraction: Some(0.1),
        repetition: Some(0.02),
        ungrounded_numbers: Some(0),
        min_logprob: Some(-6.5),
        longest_low_confidence_run: Some(2),
        ungrounded_dates: Some(0),
        ungrounded_entities: Some(1),
        context_similarity: Some(0.5),
        sample_consistency: Some(0.75),
        hallucination_risk: Some(0.25),
        stream_holdback_bytes: Some(17),
        detectors: vec![
            DetectorReport {
                direction: Direction::Input,
                detector: "pii".into(),
                elapsed: Duration::from_micros(80),
                errors: 0,
            },
            DetectorReport {
                direction: Direction::Output,
                detector: "secrets".into(),
                elapsed: Duration::from_micros(60),
                errors: 0,
            },
        ],
    }
}

fn sink(privacy: PrivacyMode, metrics: Option<ExportConfig>) -> std::sync::Arc<OtelSink> {
    let sink = OtelSink::start(TelemetryConfig {
        privacy,
        metrics,
        queue_capacity: 4096,
        ..TelemetryConfig::default()
    })
    .expect("starts");
    sink.register_policy(&PolicyInfo {
        name: "default".into(),
        hash: "0f3e9a1c".into(),
        rule_ids: vec!["no-email".into(), "no-secrets".into()],
        finding_kinds: vec!["pii.email".into(), "secret.aws_access_key_id".into()],
        detectors: vec!["pii".into(), "secrets".into()],
    })
    .expect("policy");
    sink.register_model("SmolLM2-135M-Instruct").expect("model");
    sink
}

/// An exporter that fails every 100 ms against a closed port, with retries.
fn collector_down() -> ExportConfig {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
    drop(listener);
    ExportConfig {
        protocol: Protocol::Grpc,
        endpoint,
        headers: Vec::new(),
        interval: Duration::from_millis(100),
        timeout: Duration::from_secs(1),
        temporality: Temporality::Cumulative,
        max_retries: 2,
        retry_backoff: Duration::from_millis(10),
        spool: None,
    }
}

fn bench(c: &mut Criterion) {
    let r = record();
    for (label, privacy, export) in [
        ("aggregate", PrivacyMode::Aggregate, None),
        ("off", PrivacyMode::Off, None),
        (
            "aggregate+collector_down",
            PrivacyMode::Aggregate,
            Some(collector_down()),
        ),
    ] {
        let s = sink(privacy, export);
        // Inference-thread cost: batches that fit in the queue, drained
        // (outside the timed region) between batches.
        c.bench_function(&format!("record_request/{label}"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let n = left.min(BATCH);
                    let start = Instant::now();
                    for _ in 0..n {
                        s.record_request(black_box(&r));
                    }
                    total += start.elapsed();
                    s.drain(Duration::from_secs(10));
                    left -= n;
                }
                total
            })
        });
        // Full cost per request: recording plus the worker's instrument updates.
        c.bench_function(&format!("record_and_apply/{label}"), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                let mut left = iters;
                while left > 0 {
                    let n = left.min(BATCH);
                    for _ in 0..n {
                        s.record_request(black_box(&r));
                    }
                    s.drain(Duration::from_secs(10));
                    left -= n;
                }
                start.elapsed()
            })
        });
        let h = s.health();
        eprintln!("{label}: {h:?}");
        assert_eq!(
            h.records_dropped, 0,
            "the benchmark measured the recording path, not drops"
        );
        if label.ends_with("collector_down") {
            assert!(
                h.export_failures > 0 && h.batches_exported == 0,
                "the collector really was down"
            );
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
