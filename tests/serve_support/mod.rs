//! Shared by the `serve_*` tests: a scripted OpenAI-compatible fake upstream
//! on loopback, server start-up helpers and an SSE client.
#![allow(dead_code)]

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use palisade::server::{self, RunningServer, ServerConfig, ServerWire};
use palisade::telemetry::TelemetryConfig;
use serde_json::{Value, json};

/// The test policy.
pub fn policy_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/serve-policy.yaml")
}

/// What the fake upstream answers: these text pieces, one per event, with a
/// pause before each.
#[derive(Clone)]
pub struct Script {
    pub pieces: Vec<String>,
    pub pause: Duration,
}

impl Script {
    pub fn new(pieces: &[&str]) -> Self {
        Self {
            pieces: pieces.iter().map(|s| s.to_string()).collect(),
            pause: Duration::ZERO,
        }
    }

    pub fn slow(mut self, pause: Duration) -> Self {
        self.pause = pause;
        self
    }
}

/// A running fake upstream and what it observed.
pub struct FakeUpstream {
    /// Base URL, e.g. `http://127.0.0.1:1234/v1`.
    pub base: String,
    /// Every request body received.
    pub seen: Arc<Mutex<Vec<Value>>>,
    /// Streams dropped before their end (the proxy hung up).
    pub cut: Arc<AtomicUsize>,
    /// Streams sent to the end.
    pub completed: Arc<AtomicUsize>,
}

#[derive(Clone)]
struct Fake {
    script: Script,
    seen: Arc<Mutex<Vec<Value>>>,
    cut: Arc<AtomicUsize>,
    completed: Arc<AtomicUsize>,
}

/// Counts a stream as cut unless it reached its end.
struct Tracker {
    cut: Arc<AtomicUsize>,
    completed: Arc<AtomicUsize>,
    done: bool,
}

impl Tracker {
    fn complete(&mut self) {
        self.done = true;
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        let counter = if self.done {
            &self.completed
        } else {
            &self.cut
        };
        counter.fetch_add(1, Ordering::SeqCst);
    }
}

async fn fake_answer(State(fake): State<Fake>, chat: bool, body: Bytes) -> Response {
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    fake.seen.lock().expect("lock").push(request);
    let mut frames: Vec<String> = fake
        .script
        .pieces
        .iter()
        .map(|piece| {
            let choice = if chat {
                json!({"index": 0, "delta": {"content": piece}, "finish_reason": null})
            } else {
                json!({"index": 0, "text": piece, "finish_reason": null})
            };
            format!(
                "data: {}\n\n",
                json!({"object": "chunk", "choices": [choice]})
            )
        })
        .collect();
    let last = if chat {
        json!({"index": 0, "delta": {}, "finish_reason": "stop"})
    } else {
        json!({"index": 0, "text": "", "finish_reason": "stop"})
    };
    frames.push(format!(
        "data: {}\n\n",
        json!({"choices": [last], "usage": {"prompt_tokens": 7, "completion_tokens": fake.script.pieces.len()}})
    ));
    frames.push("data: [DONE]\n\n".to_string());
    let tracker = Tracker {
        cut: fake.cut.clone(),
        completed: fake.completed.clone(),
        done: false,
    };
    let pause = fake.script.pause;
    let stream = futures_util::stream::unfold(
        (frames.into_iter(), tracker),
        move |(mut frames, mut tracker)| async move {
            if !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
            let frame = frames.next()?;
            if frames.len() == 0 {
                tracker.complete();
            }
            Some((Ok::<_, Infallible>(Bytes::from(frame)), (frames, tracker)))
        },
    );
    let mut response = Body::from_stream(stream).into_response();
    response.headers_mut().insert(
        "content-type",
        axum::http::HeaderValue::from_static("text/event-stream"),
    );
    response
}

/// Starts a fake upstream that answers every request with `script`.
pub async fn fake_upstream(script: Script) -> FakeUpstream {
    let fake = Fake {
        script,
        seen: Arc::default(),
        cut: Arc::default(),
        completed: Arc::default(),
    };
    let app = Router::new()
        .route(
            "/v1/chat/completions",
            post(|state: State<Fake>, body: Bytes| fake_answer(state, true, body)),
        )
        .route(
            "/v1/completions",
            post(|state: State<Fake>, body: Bytes| fake_answer(state, false, body)),
        )
        .route(
            "/v1/models",
            get(|| async {
                axum::Json(
                    json!({"object": "list", "data": [{"id": "fake-model", "object": "model"}]}),
                )
            }),
        )
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    FakeUpstream {
        base: format!("http://{addr}/v1"),
        seen: fake.seen,
        cut: fake.cut,
        completed: fake.completed,
    }
}

/// Server settings for proxy mode on an ephemeral loopback port, with the test policy.
pub fn proxy_wire(upstream: &str) -> ServerWire {
    ServerWire {
        listen: Some("127.0.0.1:0".into()),
        upstream: Some(upstream.into()),
        policy: Some(policy_path()),
        reload_poll_ms: Some(0),
        ..ServerWire::default()
    }
}

/// Starts a server with `wire`.
pub async fn serve(wire: ServerWire) -> RunningServer {
    let config = ServerConfig::new(wire, TelemetryConfig::default()).expect("valid config");
    server::start(config).await.expect("server starts")
}

/// The server's base URL.
pub fn url(server: &RunningServer, path: &str) -> String {
    format!("http://{}{path}", server.local_addr())
}

/// A chat request body.
pub fn chat_body(user: &str, stream: bool) -> Value {
    json!({"model": "fake-model", "messages": [{"role": "user", "content": user}], "stream": stream})
}

/// POSTs JSON.
pub async fn post_json(url: &str, body: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(serde_json::to_vec(body).expect("serialise"))
        .send()
        .await
        .expect("request sent")
}

/// The `data:` payloads of a whole SSE body.
pub fn sse_payloads(body: &str) -> Vec<String> {
    body.split("\n\n")
        .filter_map(|event| event.strip_prefix("data: "))
        .map(str::to_string)
        .collect()
}

/// The concatenated text of chat chunks, and the last chunk (with finish_reason).
pub fn chat_stream_text(payloads: &[String]) -> (String, Value) {
    let mut text = String::new();
    let mut last = Value::Null;
    for payload in payloads.iter().filter(|p| p.as_str() != "[DONE]") {
        let chunk: Value = serde_json::from_str(payload).expect("chunk is JSON");
        let choice = &chunk["choices"][0];
        if let Some(t) = choice["delta"]["content"]
            .as_str()
            .or(choice["text"].as_str())
        {
            text.push_str(t);
        }
        if !choice["finish_reason"].is_null() {
            last = chunk.clone();
        }
    }
    (text, last)
}

/// Polls `check` every 20 ms for up to 5 s.
pub async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..250 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// A whole JSON answer.
pub async fn json_of(response: reqwest::Response) -> Value {
    let bytes = response.bytes().await.expect("body");
    serde_json::from_slice(&bytes).expect("JSON body")
}

/// Writes a policy whose one output rule `no-<word>` blocks `word`.
pub fn write_keyword_policy(path: &std::path::Path, word: &str) {
    let text = format!(
        "version: \"1\"\nname: live\noutput:\n  - id: no-{word}\n    type: keywords\n    action: block\n    words: [\"{word}\"]\n    message: \"withheld\"\n"
    );
    std::fs::write(path, text).expect("write policy");
}
