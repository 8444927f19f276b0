//! The soak of `tests/serve_soak.rs`, for longer: proxy mode in this process
//! in front of a scripted fake upstream (24 pieces, 1 ms apart), 32 streaming
//! clients, every 4th hanging up after its first chunk, 8 slots and an 8-deep
//! queue. Prints the tally every interval and this process's RSS (server,
//! upstream and clients together; the upstream's log of request bodies is
//! cleared each interval), then what is left in flight.
//!
//! ```sh
//! cargo run --example serve_soak -- [TOTAL_SECONDS] [INTERVAL_SECONDS]
//! ```

#[path = "../tests/serve_support/child.rs"]
mod serve_child;
#[path = "../tests/serve_support/mod.rs"]
mod serve_support;
#[path = "../tests/serve_support/soak.rs"]
mod soak;

use std::time::Duration;

use palisade::server::ServerWire;
use serve_support::{Script, fake_upstream, policy_path, serve};
use soak::Load;

fn rss_kib() -> u64 {
    serve_child::proc_status(std::process::id(), "VmRSS").unwrap_or(0)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<u64>().ok());
    let total = args.next().flatten().unwrap_or(120);
    let interval = args.next().flatten().unwrap_or(20).max(1);
    let pieces: Vec<String> = (0..24).map(|i| format!("word{i} ")).collect();
    let pieces: Vec<&str> = pieces.iter().map(String::as_str).collect();
    let upstream = fake_upstream(Script::new(&pieces).slow(Duration::from_millis(1))).await;
    let server = serve(ServerWire {
        listen: Some("127.0.0.1:0".into()),
        upstream: Some(upstream.base.clone()),
        policy: Some(policy_path()),
        parallelism: Some(8),
        queue_capacity: Some(8),
        request_timeout_ms: Some(30_000),
        reload_poll_ms: Some(0),
        ..ServerWire::default()
    })
    .await;
    let base = format!("http://{}", server.local_addr());
    let load = |secs: u64| Load {
        clients: 32,
        duration: Duration::from_secs(secs),
        cut_every: 4,
    };
    soak::run(&base, load(3)).await;
    let rss_warm = rss_kib();
    println!("warm-up done: RSS {rss_warm} KiB");
    println!(
        "{:>6} | {:>8} {:>6} | {:>9} {:>6} {:>20} {:>6} | {:>9}",
        "t (s)", "requests", "req/s", "completed", "cut", "refused", "errors", "RSS KiB"
    );
    let mut elapsed = 0;
    let mut requests = 0;
    while elapsed < total {
        let step = interval.min(total - elapsed);
        let t = soak::run(&base, load(step)).await;
        // The fake upstream keeps every request body it saw; forget them so
        // that the RSS below is the server's (and the clients').
        upstream.seen.lock().expect("lock").clear();
        elapsed += step;
        requests += t.requests();
        println!(
            "{elapsed:>6} | {:>8} {:>6.0} | {:>9} {:>6} {:>20} {:>6} | {:>9}",
            t.requests(),
            t.requests() as f64 / t.elapsed.as_secs_f64(),
            t.completed,
            t.cut,
            format!("{:?}", t.refused),
            t.transport_errors + t.truncated,
            rss_kib()
        );
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_end = rss_kib();
    println!(
        "total {requests} requests in {total} s; in flight after: {:?} (running, waiting); \
         RSS {rss_warm} -> {rss_end} KiB ({:+.1}%)",
        soak::in_flight(&base).await,
        (rss_end as f64 - rss_warm as f64) * 100.0 / rss_warm as f64
    );
    server.shutdown().await;
}
