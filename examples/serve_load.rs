//! Load benchmark of proxy mode: what the guard layer adds.
//!
//! Starts a fast fake OpenAI-compatible upstream (16 streamed pieces, no
//! pauses) and `palisade serve --upstream` in front of it (the default
//! policy), both on loopback in this process. For 1, 4, 16 and 64 concurrent
//! clients, each sending streaming chat requests back to back, it measures
//! requests/s and p50/p99 latency (request sent to `[DONE]` read) directly
//! against the upstream and through Palisade, and prints the difference.
//!
//! ```sh
//! cargo run --release --example serve_load -- [SECONDS_PER_POINT]
//! ```

#[path = "../tests/serve_support/mod.rs"]
mod serve_support;

use std::time::{Duration, Instant};

use palisade::server::ServerWire;
use serde_json::json;
use serve_support::{Script, fake_upstream, serve};

const CLIENTS: [usize; 4] = [1, 4, 16, 64];

struct Figures {
    requests_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    failures: usize,
}

async fn load(endpoint: &str, clients: usize, duration: Duration) -> Figures {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()
        .expect("client");
    let body = serde_json::to_vec(&json!({
        "model": "fake-model",
        "messages": [{"role": "user", "content": "Write me a short note about the weather in spring."}],
        "stream": true,
    }))
    .expect("json");
    let started = Instant::now();
    let deadline = started + duration;
    let mut workers = Vec::new();
    for _ in 0..clients {
        let (client, body, endpoint) = (client.clone(), body.clone(), endpoint.to_string());
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failures = 0;
            while Instant::now() < deadline {
                let sent = Instant::now();
                let response = client
                    .post(&endpoint)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await;
                let ok = match response {
                    Ok(r) if r.status().is_success() => {
                        matches!(r.bytes().await, Ok(b) if b.ends_with(b"data: [DONE]\n\n"))
                    }
                    _ => false,
                };
                if ok {
                    latencies.push(sent.elapsed());
                } else {
                    failures += 1;
                }
            }
            (latencies, failures)
        }));
    }
    let mut latencies = Vec::new();
    let mut failures = 0;
    for worker in workers {
        let (mine, failed) = worker.await.expect("worker");
        latencies.extend(mine);
        failures += failed;
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let at = |q: f64| {
        let i = ((latencies.len() as f64 - 1.0) * q).round() as usize;
        latencies.get(i).map_or(f64::NAN, |d| d.as_secs_f64() * 1e3)
    };
    Figures {
        requests_per_second: latencies.len() as f64 / elapsed,
        p50_ms: at(0.50),
        p99_ms: at(0.99),
        failures,
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let seconds: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let per_point = Duration::from_secs_f64(seconds);
    let pieces: Vec<String> = (0..16).map(|i| format!("word{i} ")).collect();
    let pieces: Vec<&str> = pieces.iter().map(String::as_str).collect();
    let upstream = fake_upstream(Script::new(&pieces)).await;
    let server = serve(ServerWire {
        listen: Some("127.0.0.1:0".into()),
        upstream: Some(upstream.base.clone()),
        parallelism: Some(64),
        queue_capacity: Some(64),
        reload_poll_ms: Some(0),
        ..ServerWire::default()
    })
    .await;
    let direct = format!("{}/chat/completions", upstream.base);
    let guarded = format!("http://{}/v1/chat/completions", server.local_addr());
    println!(
        "proxy mode, default policy, 16-piece streamed answers, {seconds} s per point, {} CPUs",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "{:>7} | {:>22} | {:>22} | {:>18}",
        "clients", "direct req/s p50 p99", "palisade req/s p50 p99", "added p50 / p99 ms"
    );
    for clients in CLIENTS {
        // Warm the connection pools.
        load(&direct, clients, Duration::from_millis(200)).await;
        load(&guarded, clients, Duration::from_millis(200)).await;
        let d = load(&direct, clients, per_point).await;
        let g = load(&guarded, clients, per_point).await;
        println!(
            "{clients:>7} | {:>8.0} {:>6.2} {:>6.2} | {:>8.0} {:>6.2} {:>6.2} | {:>8.2} / {:>6.2}{}",
            d.requests_per_second,
            d.p50_ms,
            d.p99_ms,
            g.requests_per_second,
            g.p50_ms,
            g.p99_ms,
            g.p50_ms - d.p50_ms,
            g.p99_ms - d.p99_ms,
            if d.failures + g.failures > 0 {
                format!("  ({} failed)", d.failures + g.failures)
            } else {
                String::new()
            }
        );
    }
    server.shutdown().await;
}
