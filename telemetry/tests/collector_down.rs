//! A collector that is down, failing or stuck costs inference nothing:
//! recording never waits for export, drops are counted, retries are bounded,
//! nothing panics, and the spool delivers after a restart.

mod common;

use std::net::TcpListener;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::Duration;

use common::*;
use palisade_telemetry::config::{PrometheusConfig, Protocol, SpoolConfig, Temporality};
use palisade_telemetry::registry::{MetricId, spec};
use palisade_telemetry::{OtelSink, TelemetryConfig, TelemetrySink};

fn closed_port_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    format!("http://{addr}")
}

fn config(protocol: Protocol, endpoint: String) -> TelemetryConfig {
    TelemetryConfig {
        metrics: Some(export_config(protocol, endpoint)),
        prometheus: PrometheusConfig {
            enabled: false,
            listen: None,
        },
        ..TelemetryConfig::default()
    }
}

fn start(cfg: TelemetryConfig) -> std::sync::Arc<OtelSink> {
    let sink = OtelSink::start(cfg).expect("sink starts");
    sink.register_policy(&policy()).expect("policy");
    sink.register_model(MODEL).expect("model");
    sink
}

/// Runs `f` on another thread and fails the test if it takes longer than
/// `limit` (a hang, not a slow machine: limits are generous).
fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit)
        .expect("finished instead of blocking")
}

#[test]
fn refused_connections_are_counted_and_bounded_for_both_protocols() {
    for protocol in [Protocol::Grpc, Protocol::HttpProtobuf] {
        let url = match protocol {
            Protocol::Grpc => closed_port_url(),
            Protocol::HttpProtobuf => format!("{}/v1/metrics", closed_port_url()),
        };
        let mut cfg = config(protocol, url);
        if let Some(m) = cfg.metrics.as_mut() {
            m.max_retries = 2;
        }
        let sink = start(cfg);
        for _ in 0..100 {
            sink.record_request(&completed());
        }
        let s = sink.clone();
        let flushed = within(Duration::from_secs(60), move || {
            s.flush(Duration::from_secs(10))
        });
        assert!(!flushed, "{protocol:?}: nothing can be exported");
        let h = sink.health();
        assert_eq!(
            h.records_dropped, 0,
            "{protocol:?}: recording does not depend on the collector"
        );
        assert_eq!(
            h.export_failures, 3,
            "{protocol:?}: one attempt and two retries"
        );
        assert_eq!(h.retries, 2, "{protocol:?}");
        assert_eq!(
            h.batches_dropped, 1,
            "{protocol:?}: no spool, so the batch is dropped"
        );
        assert_eq!(h.batches_exported, 0);
        within(Duration::from_secs(60), move || {
            sink.shutdown(Duration::from_secs(5))
        });
    }
}

#[test]
fn a_stuck_collector_never_blocks_recording_and_full_queues_count_drops() {
    let receiver = Receiver::start();
    receiver.state.hold.store(true, Ordering::SeqCst);
    let mut cfg = config(Protocol::Grpc, receiver.grpc_url());
    cfg.queue_capacity = 4;
    if let Some(m) = cfg.metrics.as_mut() {
        m.timeout = Duration::from_secs(120);
    }
    let sink = start(cfg);

    // An export is in flight and will not return until the receiver lets go.
    let s = sink.clone();
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done_tx.send(s.flush(Duration::from_secs(1)));
    });
    assert!(
        receiver.wait_for(Duration::from_secs(30), |_| receiver
            .state
            .calls
            .load(Ordering::SeqCst)
            > 0),
        "the export reached the receiver"
    );

    // Inference keeps recording meanwhile; the tiny queue overflows.
    let s = sink.clone();
    within(Duration::from_secs(60), move || {
        for _ in 0..5000 {
            s.record_request(&completed());
        }
    });
    assert_eq!(
        receiver.state.answered.load(Ordering::SeqCst),
        0,
        "the export was still stuck when recording finished"
    );
    let dropped = sink.health().records_dropped;
    assert!(
        dropped > 0,
        "a 4-slot queue cannot take 5000 records at once"
    );
    assert!(dropped < 5000, "the first records fit in the queue");

    receiver.state.hold.store(false, Ordering::SeqCst);
    assert!(done_rx.recv_timeout(Duration::from_secs(60)).is_ok());
    assert!(sink.flush(Duration::from_secs(10)));
    let metrics = receiver.metrics();
    let op = latest(&metrics, spec(MetricId::ClientOperationDuration).name).expect("op duration");
    let recorded: u64 = histogram_points(op).iter().map(|(_, c, ..)| c).sum();
    assert_eq!(
        recorded + dropped,
        5000,
        "every record is either recorded or counted as dropped"
    );
    let exported_drops =
        latest(&metrics, spec(MetricId::ExporterRecordsDropped).name).expect("dropped metric");
    assert_eq!(number_points(exported_drops)[0].1, dropped as f64);
}

#[test]
fn the_spool_keeps_batches_across_a_restart_and_replays_them() {
    let receiver = Receiver::start();
    receiver.state.fail.store(true, Ordering::SeqCst);
    let dir = tempfile::tempdir().expect("tempdir");
    let make = |url: String| {
        let mut cfg = config(Protocol::HttpProtobuf, url);
        if let Some(m) = cfg.metrics.as_mut() {
            m.temporality = Temporality::Delta;
            m.spool = Some(SpoolConfig {
                dir: dir.path().to_owned(),
                max_bytes: 1 << 20,
            });
        }
        cfg
    };
    let url = format!("{}/v1/metrics", receiver.http_url());

    let first = start(make(url.clone()));
    for _ in 0..3 {
        first.record_request(&completed());
    }
    assert!(!first.flush(Duration::from_secs(10)));
    assert_eq!(first.health().batches_spooled, 1);
    assert_eq!(first.health().queued, 1);
    drop(first); // the device restarts while still offline

    receiver.state.fail.store(false, Ordering::SeqCst);
    let second = start(make(url));
    assert!(
        second.health().queued >= 1,
        "the previous run's batches are still there"
    );
    second.record_request(&completed());
    assert!(second.flush(Duration::from_secs(10)));
    let requests = receiver.state.metrics.lock().expect("lock").clone();
    let total: u64 = requests
        .iter()
        .filter_map(|r| {
            latest(
                &all_metrics(std::slice::from_ref(r)),
                spec(MetricId::ClientOperationDuration).name,
            )
            .cloned()
        })
        .map(|m| histogram_points(&m).iter().map(|(_, c, ..)| c).sum::<u64>())
        .sum();
    assert_eq!(total, 4, "3 spooled (delta) + 1 live");
    assert_eq!(second.health().queued, 0);
    let leftover = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter(|e| e.is_ok())
        .count();
    assert_eq!(leftover, 0, "delivered batches are removed");
}
