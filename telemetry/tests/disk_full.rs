//! A full disk under the files telemetry writes (the metric spool and the
//! privacy budget ledger): recording never blocks or fails, every lost batch
//! or report is counted, nothing half-written is left behind, and writing
//! works again once space is freed.
//!
//! The spool test mounts a tiny tmpfs (needs root, as in CI here); without
//! it, it says so and passes. The ledger test uses `/dev/full` and runs
//! everywhere on Linux.

mod common;

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use std::time::Duration;

use common::faulty::*;
use common::*;
use palisade_telemetry::TelemetryConfig;
use palisade_telemetry::config::{
    DpConfig, PrivacyMode, PrometheusConfig, Protocol, SpoolConfig, Temporality,
};

/// A tmpfs of a few pages, unmounted on drop.
struct TinyDisk {
    dir: tempfile::TempDir,
}

impl TinyDisk {
    fn mount(bytes: u64) -> Option<TinyDisk> {
        let dir = tempfile::tempdir().expect("tempdir");
        let mounted = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={bytes}"),
                "palisade-test",
            ])
            .arg(dir.path())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        mounted.then_some(TinyDisk { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a filler file until the disk refuses more; returns its path.
    fn fill(&self) -> PathBuf {
        let path = self.path().join("filler");
        let mut f = std::fs::File::create(&path).expect("filler");
        for chunk in [4096, 1] {
            let block = vec![0u8; chunk];
            while f.write_all(&block).and_then(|()| f.sync_all()).is_ok() {}
        }
        path
    }
}

impl Drop for TinyDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

fn closed_port_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    format!("http://{addr}/v1/metrics")
}

fn names_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("list")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn a_full_disk_under_the_spool_drops_counted_batches_and_recovers() {
    let Some(disk) = TinyDisk::mount(256 * 1024) else {
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    };
    let spool = disk.path().join("spool");
    std::fs::create_dir(&spool).expect("spool dir");
    let filler = disk.fill();

    let mut export = export_config(Protocol::HttpProtobuf, closed_port_url());
    export.temporality = Temporality::Delta;
    export.spool = Some(SpoolConfig {
        dir: spool.clone(),
        max_bytes: 1 << 20,
    });
    let sink = start_exporting(export);

    record(&sink, 50);
    assert!(!flush(&sink));
    let h = sink.health();
    assert_eq!(h.records_dropped, 0, "recording does not touch the disk");
    assert_eq!(h.batches_spooled, 0, "the disk is full");
    assert_eq!(h.batches_dropped, 1, "the lost batch is counted");
    assert_eq!(h.queued, 0);
    assert!(
        names_in(&spool).is_empty(),
        "no half-written batch is left: {:?}",
        names_in(&spool)
    );

    std::fs::remove_file(filler).expect("free the disk");
    record(&sink, 5);
    assert!(!flush(&sink));
    let h = sink.health();
    assert_eq!(h.batches_spooled, 1, "spooling works again");
    assert_eq!(h.queued, 1);
    assert_eq!(names_in(&spool).len(), 1);
    within(move || sink.shutdown(Duration::from_secs(5)));
}

#[cfg(target_os = "linux")]
#[test]
fn a_ledger_that_cannot_be_written_suppresses_reports_without_blocking() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ledger = dir.path().join("ledger.json");
    // Every write of the ledger goes through `ledger.json.tmp`: make it the
    // device that is always full.
    let tmp = dir.path().join("ledger.json.tmp");
    std::os::unix::fs::symlink("/dev/full", &tmp).expect("symlink");
    let sink = start(TelemetryConfig {
        privacy: PrivacyMode::Dp,
        dp: Some(DpConfig {
            epsilon_per_day: 10.0,
            epsilon_per_report: 0.5,
            output_token_clip: 64,
            ledger_path: ledger.clone(),
        }),
        prometheus: PrometheusConfig {
            enabled: true,
            listen: None,
        },
        ..TelemetryConfig::default()
    });

    record(&sink, 20);
    let s = sink.clone();
    assert!(within(move || s.drain(Duration::from_secs(10))));
    let h = sink.health();
    assert_eq!(h.records_dropped, 0);
    assert_eq!(
        h.dp_suppressed, 20,
        "a spend that cannot be recorded is never reported (fail closed)"
    );
    assert!(!ledger.exists(), "nothing was granted");

    std::fs::remove_file(&tmp).expect("the disk has room again");
    record(&sink, 3);
    let s = sink.clone();
    assert!(within(move || s.drain(Duration::from_secs(10))));
    assert_eq!(sink.health().dp_suppressed, 20, "reports flow again");
    let spent: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&ledger).expect("ledger written")).expect("json");
    assert!((spent["spent"].as_f64().expect("spent") - 1.5).abs() < 1e-9);
    within(move || sink.shutdown(Duration::from_secs(5)));
}
