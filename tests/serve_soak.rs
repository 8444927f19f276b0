//! A bounded soak of `palisade serve` (the binary, proxy mode) on loopback:
//! 32 concurrent streaming clients against 8 generation slots and an 8-deep
//! queue, every 4th request hung up after its first chunk, for 20 s
//! (`PALISADE_SOAK_SECONDS`). Every request is answered 200 or refused with
//! a status; afterwards nothing is running or waiting, every upstream stream
//! was closed, and the server's RSS and open files did not grow.
//!
//! `cargo run --example serve_soak -- SECONDS` runs the same load for longer.

#[path = "serve_support/child.rs"]
mod serve_child;
mod serve_support;
#[path = "serve_support/soak.rs"]
mod soak;

use std::sync::atomic::Ordering;
use std::time::Duration;

use serve_child::ServeChild;
use serve_support::*;
use soak::{Load, Tally};

/// RSS may grow by this much after warm-up (allocator caches, pools)...
const RSS_SLACK_KIB: u64 = 30 * 1024;
/// ...or by this fraction of the warm RSS, whichever is larger.
const RSS_SLACK_FRACTION: f64 = 0.3;

fn seconds() -> u64 {
    std::env::var("PALISADE_SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20)
}

fn check(tally: &Tally, phase: &str) {
    assert_eq!(tally.transport_errors, 0, "{phase}: {tally:?}");
    assert_eq!(
        tally.truncated, 0,
        "{phase}: streams end with [DONE]: {tally:?}"
    );
    for status in tally.refused.keys() {
        assert!(
            [429, 503, 504].contains(status),
            "{phase}: refused with {status}: {tally:?}"
        );
    }
    assert!(tally.completed > 0 && tally.cut > 0, "{phase}: {tally:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_clients_with_hang_ups_leak_nothing() {
    let pieces: Vec<String> = (0..24).map(|i| format!("word{i} ")).collect();
    let pieces: Vec<&str> = pieces.iter().map(String::as_str).collect();
    let upstream = fake_upstream(Script::new(&pieces).slow(Duration::from_millis(1))).await;
    let server = ServeChild::start(
        env!("CARGO_BIN_EXE_palisade"),
        &[
            "--upstream",
            upstream.base.as_str(),
            "--policy",
            policy_path().to_str().expect("utf-8"),
            "--parallelism",
            "8",
            "--queue-capacity",
            "8",
            "--request-timeout-ms",
            "30000",
        ],
    );
    let base = format!("http://{}", server.addr);
    let load = |secs: u64| Load {
        clients: 32,
        duration: Duration::from_secs(secs),
        cut_every: 4,
    };

    let warm = soak::run(&base, load(3)).await;
    check(&warm, "warm-up");
    let rss_warm = server.proc_status("VmRSS").expect("VmRSS");
    let fds_warm = server.open_fds().expect("fds");

    let tally = soak::run(&base, load(seconds())).await;
    check(&tally, "soak");

    eventually("nothing running or waiting", async || {
        soak::in_flight(&base).await == Some((0, 0))
    })
    .await;
    let answered = (warm.answered() + tally.answered()) as usize;
    eventually("every upstream stream was closed", async || {
        let seen = upstream.seen.lock().expect("lock").len();
        let closed =
            upstream.cut.load(Ordering::SeqCst) + upstream.completed.load(Ordering::SeqCst);
        seen == answered && closed == seen
    })
    .await;
    let rss_end = server.proc_status("VmRSS").expect("VmRSS");
    let fds_end = server.open_fds().expect("fds");
    eprintln!(
        "soak: {} requests in {:.1} s ({:.0}/s): {} completed, {} cut by the client, refused {:?}; \
         upstream streams cut {} / completed {}; RSS {} -> {} KiB (peak {} KiB), fds {} -> {}, threads {}",
        tally.requests(),
        tally.elapsed.as_secs_f64(),
        tally.requests() as f64 / tally.elapsed.as_secs_f64(),
        tally.completed,
        tally.cut,
        tally.refused,
        upstream.cut.load(Ordering::SeqCst),
        upstream.completed.load(Ordering::SeqCst),
        rss_warm,
        rss_end,
        server.proc_status("VmHWM").unwrap_or(0),
        fds_warm,
        fds_end,
        server.proc_status("Threads").unwrap_or(0),
    );
    let slack = RSS_SLACK_KIB.max((rss_warm as f64 * RSS_SLACK_FRACTION) as u64);
    assert!(
        rss_end <= rss_warm + slack,
        "RSS grew from {rss_warm} KiB to {rss_end} KiB"
    );
    // The clients are gone: their connections must be too (a few may still
    // be closing).
    assert!(
        fds_end <= fds_warm + 8,
        "open files grew from {fds_warm} to {fds_end}"
    );
}
