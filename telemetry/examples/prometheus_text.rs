//! Records a few synthetic requests and prints the Prometheus text
//! exposition; with `--serve ADDR`, keeps serving it at `http://ADDR/metrics`
//! (for a real Prometheus to scrape) until killed.
//!
//! `cargo run -p palisade-telemetry --example prometheus_text | promtool check metrics`

use std::time::Duration;

use palisade_telemetry::config::PrometheusConfig;
use palisade_telemetry::{
    DetectorReport, Direction, OtelSink, Outcome, PolicyInfo, RequestRecord, RuleAction, RuleHit,
    TelemetryConfig, TelemetrySink,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let listen = match args.iter().position(|a| a == "--serve") {
        Some(i) => Some(args.get(i + 1).ok_or("--serve needs an address")?.parse()?),
        None => None,
    };
    let sink = OtelSink::start(TelemetryConfig {
        prometheus: PrometheusConfig {
            enabled: true,
            listen,
        },
        ..TelemetryConfig::default()
    })?;
    sink.register_policy(&PolicyInfo {
        name: "default".into(),
        hash: "0f3e9a1c".into(),
        rule_ids: vec!["input-pii".into(), "input-injection".into()],
        finding_kinds: vec!["pii.email".into(), "injection.instruction_override".into()],
        detectors: vec!["pii".into(), "injection".into()],
    })?;
    sink.register_model("SmolLM2-135M-Instruct")?;
    for i in 0..20u32 {
        let blocked = i % 5 == 0;
        sink.record_request(&RequestRecord {
            model: "SmolLM2-135M-Instruct".into(),
            policy_hash: "0f3e9a1c".into(),
            outcome: if blocked {
                Outcome::BlockedInput
            } else {
                Outcome::Completed
            },
            prompt_tokens: if blocked { 0 } else { 20 + u64::from(i) },
            completion_tokens: if blocked { 0 } else { 40 + u64::from(i) },
            time_to_first_token: (!blocked).then(|| Duration::from_millis(100 + 20 * u64::from(i))),
            decode: Duration::from_millis(if blocked { 0 } else { 600 }),
            total: Duration::from_millis(if blocked { 1 } else { 800 }),
            guard: Duration::from_micros(90),
            mean_logprob: (!blocked).then_some(-0.6),
            mean_entropy: (!blocked).then_some(1.1),
            rule_hits: vec![RuleHit {
                direction: Direction::Input,
                rule_id: if blocked {
                    "input-injection"
                } else {
                    "input-pii"
                }
                .into(),
                kind: if blocked {
                    "injection.instruction_override"
                } else {
                    "pii.email"
                }
                .into(),
                action: if blocked {
                    RuleAction::Block
                } else {
                    RuleAction::Redact
                },
            }],
            max_entropy: (!blocked).then_some(3.0),
            low_confidence_fraction: (!blocked).then_some(0.05),
            repetition: (!blocked).then_some(0.0),
            ungrounded_numbers: (!blocked).then_some(0),
            min_logprob: (!blocked).then_some(-5.0),
            longest_low_confidence_run: (!blocked).then_some(1),
            ungrounded_dates: (!blocked).then_some(0),
            ungrounded_entities: (!blocked).then_some(0),
            context_similarity: (!blocked).then_some(0.6),
            sample_consistency: None,
            hallucination_risk: (!blocked).then_some(0.2),
            stream_holdback_bytes: (!blocked).then_some(12),
            detectors: vec![DetectorReport {
                direction: Direction::Input,
                detector: "pii".into(),
                elapsed: Duration::from_micros(60),
                errors: 0,
            }],
        });
    }
    print!("{}", sink.prometheus_text()?);
    if let Some(addr) = sink.prometheus_addr() {
        eprintln!("serving http://{addr}/metrics");
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
    Ok(())
}
