//! The Prometheus exposition is rendered from the registry's instruments and
//! served by the optional listener.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::*;
use palisade_telemetry::config::PrometheusConfig;
use palisade_telemetry::registry::{Exposure, MetricKind, REGISTRY, TTFT_BUCKETS};
use palisade_telemetry::{
    OtelSink, TelemetryConfig, TelemetryError, TelemetrySink, prometheus_name,
};

fn get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").expect("write");
    let mut out = String::new();
    stream.read_to_string(&mut out).expect("read");
    out
}

#[test]
fn text_exposition_covers_the_registry_and_is_served() {
    let cfg = TelemetryConfig {
        prometheus: PrometheusConfig {
            enabled: true,
            listen: Some("127.0.0.1:0".parse().expect("addr")),
        },
        ..TelemetryConfig::default()
    };
    let sink = OtelSink::start(cfg).expect("starts");
    sink.register_policy(&policy()).expect("policy");
    sink.register_model(MODEL).expect("model");
    sink.record_request(&completed());
    sink.record_request(&blocked());
    let text = sink.prometheus_text().expect("text");

    for spec in REGISTRY.iter().filter(|s| {
        matches!(
            s.exposure,
            Exposure::Exact | Exposure::Always | Exposure::Grouped
        )
    }) {
        let base = prometheus_name(spec.name, spec.unit);
        let (name, kind) = match spec.kind {
            MetricKind::Counter => (format!("{base}_total"), "counter"),
            MetricKind::Histogram => (base, "histogram"),
            MetricKind::Gauge | MetricKind::UpDownCounter => (base, "gauge"),
        };
        assert!(
            text.contains(&format!("# TYPE {name} {kind}\n")),
            "{name} missing:\n{text}"
        );
        assert!(text.contains(&format!("# HELP {name} {}\n", spec.description)));
    }
    let ttft: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("gen_ai_server_time_to_first_token_seconds_bucket{"))
        .collect();
    assert_eq!(ttft.len(), TTFT_BUCKETS.len() + 1);
    for (line, bound) in ttft.iter().zip(TTFT_BUCKETS) {
        assert!(line.contains(&format!("le=\"{bound}\"")), "{line}");
    }
    assert!(
        ttft.last()
            .is_some_and(|l| l.contains("le=\"+Inf\"") && l.ends_with(" 1"))
    );
    assert!(text.contains("gen_ai_server_time_to_first_token_seconds_count{"));
    assert!(
        text.lines()
            .any(|l| l.starts_with("palisade_guard_refusals_total{")
                && l.contains("palisade_guard_direction=\"input\"")
                && l.ends_with(" 1"))
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("palisade_guard_decisions_total{")
                && l.contains("palisade_rule_id=\"no-email\"")
                && l.ends_with(" 2"))
    );
    // Every sample line is `name{labels} value` with a numeric value.
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ').expect("value");
        assert!(value == "+Inf" || value.parse::<f64>().is_ok(), "{line}");
        let name = series.split('{').next().unwrap_or("");
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "{line}"
        );
    }

    let addr = sink.prometheus_addr().expect("listener bound");
    let response = get(addr, "/metrics");
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.contains("Content-Type: text/plain; version=0.0.4"));
    assert!(response.contains("# TYPE gen_ai_client_operation_duration_seconds histogram"));
    assert!(get(addr, "/other").starts_with("HTTP/1.1 404"));

    let off = OtelSink::start(TelemetryConfig {
        prometheus: PrometheusConfig {
            enabled: false,
            listen: None,
        },
        ..TelemetryConfig::default()
    })
    .expect("starts");
    assert!(matches!(
        off.prometheus_text(),
        Err(TelemetryError::PrometheusDisabled)
    ));
}
