//! The soak load shared by `tests/serve_soak.rs` and `examples/serve_soak.rs`:
//! concurrent streaming chat clients, back to back, some of which hang up
//! mid-stream, and a tally of how every request ended.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::json;

/// How the soak is run.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    /// Concurrent clients.
    pub clients: usize,
    /// How long clients keep sending.
    pub duration: Duration,
    /// Every `cut_every`-th request of a client hangs up after its first chunk.
    pub cut_every: usize,
}

/// How the requests ended.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    /// Streams read to `data: [DONE]`.
    pub completed: u64,
    /// Streams the client hung up on after a first chunk (answered 200).
    pub cut: u64,
    /// Answered with another status, by status (429, 503, 504...).
    pub refused: BTreeMap<u16, u64>,
    /// 200 streams that ended without `[DONE]` although the client read on.
    pub truncated: u64,
    /// No status at all (connection refused or reset, body error).
    pub transport_errors: u64,
    /// Wall time of the run.
    pub elapsed: Duration,
}

impl Tally {
    /// Every request sent.
    pub fn requests(&self) -> u64 {
        self.completed
            + self.cut
            + self.refused.values().sum::<u64>()
            + self.truncated
            + self.transport_errors
    }

    /// Requests answered 200 (read to the end or cut by the client).
    pub fn answered(&self) -> u64 {
        self.completed + self.cut
    }

    fn add(&mut self, other: &Tally) {
        self.completed += other.completed;
        self.cut += other.cut;
        for (status, n) in &other.refused {
            *self.refused.entry(*status).or_default() += n;
        }
        self.truncated += other.truncated;
        self.transport_errors += other.transport_errors;
    }
}

enum Ending {
    Completed,
    Cut,
    Refused(u16),
    Truncated,
    Transport,
}

async fn one(client: &reqwest::Client, endpoint: &str, body: &[u8], cut: bool) -> Ending {
    let mut response = match client
        .post(endpoint)
        .header("content-type", "application/json")
        .body(body.to_vec())
        .send()
        .await
    {
        Ok(r) => r,
        Err(_) => return Ending::Transport,
    };
    let status = response.status().as_u16();
    if status != 200 {
        // Read the error body so the connection can be reused.
        let _ = response.bytes().await;
        return Ending::Refused(status);
    }
    let mut tail: Vec<u8> = Vec::new();
    loop {
        let chunk = match response.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(_) => return Ending::Transport,
        };
        if cut {
            // Dropping the response mid-answer closes the connection.
            return Ending::Cut;
        }
        tail.extend_from_slice(&chunk);
        if tail.len() > 64 {
            tail.drain(..tail.len() - 64);
        }
    }
    if tail.ends_with(b"data: [DONE]\n\n") {
        Ending::Completed
    } else {
        Ending::Truncated
    }
}

/// Runs `load` against `base` (`http://HOST:PORT`) and tallies the endings.
pub async fn run(base: &str, load: Load) -> Tally {
    let endpoint = format!("{base}/v1/chat/completions");
    let body = serde_json::to_vec(&json!({
        "model": "fake-model",
        "messages": [{"role": "user", "content": "Tell me about the weather in spring."}],
        "stream": true,
    }))
    .expect("json");
    let started = Instant::now();
    let deadline = started + load.duration;
    let mut workers = Vec::new();
    for client_no in 0..load.clients {
        let (endpoint, body) = (endpoint.clone(), body.clone());
        workers.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut tally = Tally::default();
            let mut n = client_no; // stagger the hang-ups across clients
            while Instant::now() < deadline {
                n += 1;
                let cut = load.cut_every > 0 && n % load.cut_every == 0;
                match one(&client, &endpoint, &body, cut).await {
                    Ending::Completed => tally.completed += 1,
                    Ending::Cut => tally.cut += 1,
                    Ending::Refused(status) => {
                        *tally.refused.entry(status).or_default() += 1;
                        // What a polite client does with Retry-After, shortened.
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    Ending::Truncated => tally.truncated += 1,
                    Ending::Transport => tally.transport_errors += 1,
                }
            }
            tally
        }));
    }
    let mut total = Tally::default();
    for worker in workers {
        total.add(&worker.await.expect("client task"));
    }
    total.elapsed = started.elapsed();
    total
}

/// `palisade_server_requests_running` and `..._waiting` from `/metrics`.
pub async fn in_flight(base: &str) -> Option<(u64, u64)> {
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let gauge = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse::<u64>().ok())
    };
    Some((
        gauge("palisade_server_requests_running ")?,
        gauge("palisade_server_requests_waiting ")?,
    ))
}
