//! End to end: `palisade chat` exports its metrics and spans over OTLP/HTTP to
//! a collector named by the standard `OTEL_*` variables, with per-detector
//! guard timings, and never the prompt's text.
//!
//! Needs the default model in the asset cache (`cargo run -- fetch`).

use std::process::Command;

mod support;
use support::collector::collector;

const CANARY: &str = "CANARY-TEL-7731";

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Whether an OTLP attribute `key` with the string `value` is in the protobuf
/// bytes: `KeyValue { key, value: AnyValue { string_value } }` encodes as the
/// key, then two tag-and-length byte pairs, then the value (for short strings).
fn has_attribute(haystack: &[u8], key: &str, value: &str) -> bool {
    haystack
        .windows(key.len())
        .enumerate()
        .filter(|(_, w)| *w == key.as_bytes())
        .any(|(at, _)| {
            let from = at + key.len() + 4;
            haystack.get(from..from + value.len()) == Some(value.as_bytes())
        })
}

#[test]
fn chat_exports_metrics_and_spans_without_text() {
    let (addr, bodies) = collector();
    let prompt = format!("Write the code {CANARY} and say hello to bob@example.com");
    let output = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(["chat", "--json", "--temperature", "0", "--max-tokens", "8"])
        .args(["--prompt", &prompt])
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{addr}"))
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
        .env_remove("PALISADE_TELEMETRY")
        .output()
        .expect("run palisade");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "chat failed: {stderr}");

    let requests = bodies.lock().expect("lock").clone();
    let metrics: Vec<u8> = requests
        .iter()
        .filter(|r| contains(r, "POST /v1/metrics"))
        .flatten()
        .copied()
        .collect();
    let traces: Vec<u8> = requests
        .iter()
        .filter(|r| contains(r, "POST /v1/traces"))
        .flatten()
        .copied()
        .collect();
    assert!(!metrics.is_empty(), "metrics exported at exit: {stderr}");
    assert!(!traces.is_empty(), "spans exported at exit: {stderr}");

    for name in [
        "gen_ai.client.operation.duration",
        "gen_ai.client.token.usage",
        "palisade.guard.duration",
        "palisade.guard.stream.holdback",
        "palisade.guard.decisions",
        "palisade.policy.info",
    ] {
        assert!(contains(&metrics, name), "metric {name} exported");
    }
    // Per-detector timings carry the detector types of the default policy.
    for detector in ["pii", "injection", "secrets"] {
        assert!(
            has_attribute(&metrics, "palisade.guard.detector", detector),
            "detector {detector} timed"
        );
    }
    assert!(!has_attribute(
        &metrics,
        "palisade.guard.detector",
        "toxicity"
    ));
    for span in [
        "palisade.request",
        "palisade.input_guard",
        "palisade.prefill",
        "palisade.output_guard",
    ] {
        assert!(contains(&traces, span), "span {span} exported");
    }
    let everything = requests.concat();
    for secret in [CANARY, "bob@example.com", "hello to"] {
        assert!(!contains(&everything, secret), "{secret} leaked");
    }
}

#[test]
fn invalid_telemetry_file_is_refused_with_its_location() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("telemetry.yaml");
    std::fs::write(&path, "privacy: aggregate\notlp:\n  endpiont: http://x\n").expect("write");
    let output = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(["chat", "--prompt", "hi", "--telemetry"])
        .arg(&path)
        .output()
        .expect("run palisade");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("telemetry.yaml:3:3"), "{stderr}");
    assert!(stderr.contains("endpiont"), "{stderr}");
}
