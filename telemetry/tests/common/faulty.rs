//! Helpers of the fault tests: a sink exporting only metrics, recording and
//! flushing on another thread with a hang check.

use std::sync::{Arc, mpsc};
use std::time::Duration;

use palisade_telemetry::config::{ExportConfig, PrometheusConfig};
use palisade_telemetry::{OtelSink, TelemetryConfig, TelemetrySink};

use super::{MODEL, completed, policy};

/// Runs `f` on another thread; fails the test if it hangs (a generous limit:
/// a hang, not a slow machine).
pub fn within<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(90))
        .expect("finished instead of blocking")
}

/// Starts a sink with the policy and model registered.
pub fn start(cfg: TelemetryConfig) -> Arc<OtelSink> {
    let sink = OtelSink::start(cfg).expect("sink starts");
    sink.register_policy(&policy()).expect("policy");
    sink.register_model(MODEL).expect("model");
    sink
}

/// Starts a sink that exports metrics with `export` only (no Prometheus).
pub fn start_exporting(export: ExportConfig) -> Arc<OtelSink> {
    start(TelemetryConfig {
        metrics: Some(export),
        prometheus: PrometheusConfig {
            enabled: false,
            listen: None,
        },
        ..TelemetryConfig::default()
    })
}

/// Records `n` completed requests (never blocking).
pub fn record(sink: &Arc<OtelSink>, n: usize) {
    let s = sink.clone();
    within(move || {
        for _ in 0..n {
            s.record_request(&completed());
        }
    });
}

/// Records what is queued and exports once.
pub fn flush(sink: &Arc<OtelSink>) -> bool {
    let s = sink.clone();
    within(move || s.flush(Duration::from_secs(30)))
}
