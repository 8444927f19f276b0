//! A collector that is slow (answers after the export timeout) or erroring
//! (HTTP 500, gRPC `internal`), for both protocols: recording never waits,
//! nothing recorded is lost once the collector recovers, and the exporter's
//! health counters (and the `palisade.exporter.*` metrics built from them)
//! say what happened. `collector_down.rs` covers refused and stuck ones.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::faulty::*;
use common::*;
use palisade_telemetry::config::{Protocol, SpoolConfig, Temporality};
use palisade_telemetry::registry::{MetricId, spec};

const PROTOCOLS: [Protocol; 2] = [Protocol::Grpc, Protocol::HttpProtobuf];

fn url(receiver: &Receiver, protocol: Protocol) -> String {
    match protocol {
        Protocol::Grpc => receiver.grpc_url(),
        Protocol::HttpProtobuf => format!("{}/v1/metrics", receiver.http_url()),
    }
}

/// Requests counted by the operation-duration histogram of each export the
/// receiver accepted, in arrival order.
fn delivered(receiver: &Receiver) -> Vec<u64> {
    let requests = receiver.state.metrics.lock().expect("lock").clone();
    requests
        .iter()
        .filter_map(|r| {
            latest(
                &all_metrics(std::slice::from_ref(r)),
                spec(MetricId::ClientOperationDuration).name,
            )
            .map(|m| histogram_points(m).iter().map(|(_, c, ..)| c).sum::<u64>())
        })
        .collect()
}

/// The largest exported value of a `palisade.exporter.*` counter (answers
/// to timed-out exports may arrive late, out of order).
fn exported(receiver: &Receiver, id: MetricId) -> f64 {
    receiver
        .metrics()
        .iter()
        .filter(|m| m.name == spec(id).name)
        .flat_map(|m| number_points(m).into_iter().map(|(_, v)| v))
        .fold(f64::NAN, f64::max)
}

#[test]
fn a_slow_collector_times_out_counts_retries_and_loses_nothing_on_recovery() {
    for protocol in PROTOCOLS {
        let receiver = Receiver::start();
        receiver.state.delay_ms.store(5_000, Ordering::SeqCst);
        let mut export = export_config(protocol, url(&receiver, protocol));
        export.timeout = Duration::from_millis(300);
        export.max_retries = 1;
        // Cumulative: the next good export carries everything recorded.
        export.temporality = Temporality::Cumulative;
        let sink = start_exporting(export);

        record(&sink, 100);
        assert!(
            !flush(&sink),
            "{protocol:?}: the collector answers too late"
        );
        let h = sink.health();
        assert_eq!(h.records_dropped, 0, "{protocol:?}: recording never waits");
        assert_eq!(h.export_failures, 2, "{protocol:?}: one attempt, one retry");
        assert_eq!(h.retries, 1, "{protocol:?}");
        assert_eq!(h.batches_dropped, 1, "{protocol:?}: no spool");
        assert!(
            receiver.state.calls.load(Ordering::SeqCst) >= 1,
            "{protocol:?}: the collector was reached"
        );

        receiver.state.delay_ms.store(0, Ordering::SeqCst);
        record(&sink, 1);
        assert!(flush(&sink), "{protocol:?}: the collector is fast again");
        assert_eq!(sink.health().batches_exported, 1, "{protocol:?}");
        // Cumulative: the largest count seen is everything recorded. (The
        // timed-out attempts may still be accepted late: at-least-once.)
        let counts = delivered(&receiver);
        assert_eq!(
            counts.iter().max(),
            Some(&101),
            "{protocol:?}: nothing lost"
        );
        assert_eq!(exported(&receiver, MetricId::ExporterRetries), 1.0);
        assert_eq!(exported(&receiver, MetricId::ExporterBatchesDropped), 1.0);
        assert_eq!(exported(&receiver, MetricId::ExporterRecordsDropped), 0.0);
        within(move || sink.shutdown(Duration::from_secs(5)));
    }
}

#[test]
fn an_erroring_collector_is_retried_then_spooled_and_replayed() {
    for protocol in PROTOCOLS {
        let receiver = Receiver::start();
        receiver.state.fail.store(true, Ordering::SeqCst);
        receiver.state.fail_status.store(500, Ordering::SeqCst);
        let dir = tempfile::tempdir().expect("tempdir");
        let mut export = export_config(protocol, url(&receiver, protocol));
        export.max_retries = 2;
        export.temporality = Temporality::Delta;
        export.spool = Some(SpoolConfig {
            dir: dir.path().to_owned(),
            max_bytes: 1 << 20,
        });
        let sink = start_exporting(export);

        record(&sink, 10);
        assert!(!flush(&sink), "{protocol:?}: every answer is an error");
        let h = sink.health();
        assert_eq!(h.records_dropped, 0, "{protocol:?}");
        assert_eq!(
            h.export_failures, 3,
            "{protocol:?}: one attempt, two retries"
        );
        assert_eq!(h.retries, 2, "{protocol:?}");
        assert_eq!((h.batches_spooled, h.queued), (1, 1), "{protocol:?}");
        assert_eq!(h.batches_dropped, 0, "{protocol:?}: kept, not dropped");
        assert_eq!(receiver.state.calls.load(Ordering::SeqCst), 3);

        receiver.state.fail.store(false, Ordering::SeqCst);
        record(&sink, 1);
        assert!(flush(&sink), "{protocol:?}: the collector recovered");
        let h = sink.health();
        assert_eq!(h.queued, 0, "{protocol:?}: the spool was replayed");
        assert_eq!(h.batches_exported, 2, "{protocol:?}: live + replayed");
        let counts = delivered(&receiver);
        assert_eq!(counts.iter().sum::<u64>(), 11, "{protocol:?}: nothing lost");
        assert_eq!(exported(&receiver, MetricId::ExporterRetries), 2.0);
        within(move || sink.shutdown(Duration::from_secs(5)));
    }
}
