//! An OTLP receiver (real gRPC through tonic, real HTTP through axum) and
//! record builders shared by the integration tests.
#![allow(dead_code)]

pub mod faulty;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{Metric, metric};
use palisade_telemetry::{
    DetectorReport, Direction, Outcome, PolicyInfo, RequestRecord, RuleAction, RuleHit,
};
use prost::Message;

/// What the receiver got.
#[derive(Default)]
pub struct State {
    pub metrics: Mutex<Vec<ExportMetricsServiceRequest>>,
    pub traces: Mutex<Vec<ExportTraceServiceRequest>>,
    /// Every payload as received on the wire (re-encoded for gRPC).
    pub raw: Mutex<Vec<Vec<u8>>>,
    /// Request headers (lower-case names) of every call.
    pub headers: Mutex<Vec<(String, String)>>,
    /// Answer every call with an error while set.
    pub fail: AtomicBool,
    /// The HTTP status of those errors (0: 503); gRPC answers `unavailable`,
    /// or `internal` when this is 500.
    pub fail_status: AtomicU16,
    /// Delay every answer by this many milliseconds.
    pub delay_ms: AtomicU64,
    pub calls: AtomicU64,
    /// Hold every call (without answering) while set.
    pub hold: AtomicBool,
    /// Calls answered successfully.
    pub answered: AtomicU64,
}

impl State {
    async fn gate(&self) -> bool {
        self.calls.fetch_add(1, Ordering::SeqCst);
        while self.hold.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let delay = self.delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        let ok = !self.fail.load(Ordering::SeqCst);
        if ok {
            self.answered.fetch_add(1, Ordering::SeqCst);
        }
        ok
    }

    fn http_error(&self) -> StatusCode {
        match self.fail_status.load(Ordering::SeqCst) {
            0 => StatusCode::SERVICE_UNAVAILABLE,
            code => StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        }
    }

    fn grpc_error(&self) -> tonic::Status {
        match self.fail_status.load(Ordering::SeqCst) {
            500 => tonic::Status::internal("receiver told to fail"),
            _ => tonic::Status::unavailable("receiver told to fail"),
        }
    }
}

#[derive(Clone)]
struct Grpc(Arc<State>);

fn note_metadata(state: &State, md: &tonic::metadata::MetadataMap) {
    let mut headers = state.headers.lock().expect("lock");
    for kv in md.iter() {
        if let tonic::metadata::KeyAndValueRef::Ascii(k, v) = kv {
            headers.push((k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()));
        }
    }
}

#[tonic::async_trait]
impl MetricsService for Grpc {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        if !self.0.gate().await {
            return Err(self.0.grpc_error());
        }
        note_metadata(&self.0, request.metadata());
        let msg = request.into_inner();
        self.0.raw.lock().expect("lock").push(msg.encode_to_vec());
        self.0.metrics.lock().expect("lock").push(msg);
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl TraceService for Grpc {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        if !self.0.gate().await {
            return Err(self.0.grpc_error());
        }
        let msg = request.into_inner();
        self.0.raw.lock().expect("lock").push(msg.encode_to_vec());
        self.0.traces.lock().expect("lock").push(msg);
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

fn note_headers(state: &State, headers: &HeaderMap) {
    let mut out = state.headers.lock().expect("lock");
    for (k, v) in headers {
        out.push((k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()));
    }
}

async fn http_metrics(
    axum::extract::State(state): axum::extract::State<Arc<State>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, Vec<u8>) {
    if !state.gate().await {
        return (state.http_error(), Vec::new());
    }
    note_headers(&state, &headers);
    if headers.get("content-type").and_then(|v| v.to_str().ok()) != Some("application/x-protobuf") {
        return (StatusCode::UNSUPPORTED_MEDIA_TYPE, Vec::new());
    }
    let Ok(msg) = ExportMetricsServiceRequest::decode(body.as_ref()) else {
        return (StatusCode::BAD_REQUEST, Vec::new());
    };
    state.raw.lock().expect("lock").push(body.to_vec());
    state.metrics.lock().expect("lock").push(msg);
    (
        StatusCode::OK,
        ExportMetricsServiceResponse::default().encode_to_vec(),
    )
}

async fn http_traces(
    axum::extract::State(state): axum::extract::State<Arc<State>>,
    body: Bytes,
) -> (StatusCode, Vec<u8>) {
    if !state.gate().await {
        return (state.http_error(), Vec::new());
    }
    let Ok(msg) = ExportTraceServiceRequest::decode(body.as_ref()) else {
        return (StatusCode::BAD_REQUEST, Vec::new());
    };
    state.raw.lock().expect("lock").push(body.to_vec());
    state.traces.lock().expect("lock").push(msg);
    (
        StatusCode::OK,
        ExportTraceServiceResponse::default().encode_to_vec(),
    )
}

/// A running receiver: gRPC on `grpc`, HTTP on `http`.
pub struct Receiver {
    runtime: Option<tokio::runtime::Runtime>,
    pub grpc: SocketAddr,
    pub http: SocketAddr,
    pub state: Arc<State>,
}

impl Receiver {
    /// Starts both servers on ephemeral ports, on their own threads.
    pub fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let state = Arc::new(State::default());
        let (grpc, http) = runtime.block_on(async {
            let grpc_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let grpc = grpc_listener.local_addr().expect("addr");
            let svc = Grpc(state.clone());
            tokio::spawn(
                tonic::transport::Server::builder()
                    .add_service(MetricsServiceServer::new(svc.clone()))
                    .add_service(TraceServiceServer::new(svc))
                    .serve_with_incoming(tonic::transport::server::TcpIncoming::from(
                        grpc_listener,
                    )),
            );
            let http_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let http = http_listener.local_addr().expect("addr");
            let app = axum::Router::new()
                .route("/v1/metrics", axum::routing::post(http_metrics))
                .route("/v1/traces", axum::routing::post(http_traces))
                .with_state(state.clone());
            tokio::spawn(async move { axum::serve(http_listener, app).await });
            (grpc, http)
        });
        Self {
            runtime: Some(runtime),
            grpc,
            http,
            state,
        }
    }

    pub fn grpc_url(&self) -> String {
        format!("http://{}", self.grpc)
    }

    pub fn http_url(&self) -> String {
        format!("http://{}", self.http)
    }

    /// Waits (at most `timeout`) until `check` holds for the received metrics.
    pub fn wait_for(
        &self,
        timeout: Duration,
        check: impl Fn(&[ExportMetricsServiceRequest]) -> bool,
    ) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if check(&self.state.metrics.lock().expect("lock")) {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Every metric received, in arrival order.
    pub fn metrics(&self) -> Vec<Metric> {
        all_metrics(&self.state.metrics.lock().expect("lock"))
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

pub fn all_metrics(requests: &[ExportMetricsServiceRequest]) -> Vec<Metric> {
    requests
        .iter()
        .flat_map(|r| r.resource_metrics.iter())
        .flat_map(|rm| rm.scope_metrics.iter())
        .flat_map(|sm| sm.metrics.iter())
        .cloned()
        .collect()
}

/// The latest received metric named `name`.
pub fn latest<'a>(metrics: &'a [Metric], name: &str) -> Option<&'a Metric> {
    metrics.iter().rev().find(|m| m.name == name)
}

/// A string attribute's value.
pub fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a str> {
    attrs.iter().find(|kv| kv.key == key).and_then(|kv| {
        match kv.value.as_ref()?.value.as_ref()? {
            any_value::Value::StringValue(s) => Some(s.as_str()),
            _ => None,
        }
    })
}

/// Attribute keys, sorted.
pub fn keys(attrs: &[KeyValue]) -> Vec<String> {
    let mut k: Vec<String> = attrs.iter().map(|kv| kv.key.clone()).collect();
    k.sort();
    k
}

/// (attributes, count, sum, bounds) of each histogram point of `m`.
pub fn histogram_points(m: &Metric) -> Vec<(Vec<KeyValue>, u64, f64, Vec<f64>)> {
    match &m.data {
        Some(metric::Data::Histogram(h)) => h
            .data_points
            .iter()
            .map(|p| {
                (
                    p.attributes.clone(),
                    p.count,
                    p.sum.unwrap_or(0.0),
                    p.explicit_bounds.clone(),
                )
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// (attributes, value) of each sum or gauge point of `m`, as f64.
pub fn number_points(m: &Metric) -> Vec<(Vec<KeyValue>, f64)> {
    use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value;
    let points = match &m.data {
        Some(metric::Data::Sum(s)) => &s.data_points,
        Some(metric::Data::Gauge(g)) => &g.data_points,
        _ => return Vec::new(),
    };
    points
        .iter()
        .map(|p| {
            let v = match p.value {
                Some(Value::AsInt(i)) => i as f64,
                Some(Value::AsDouble(d)) => d,
                None => f64::NAN,
            };
            (p.attributes.clone(), v)
        })
        .collect()
}

pub const MODEL: &str = "SmolLM2-135M-Instruct";
pub const POLICY_HASH: &str = "0f3e9a1c";

pub fn policy() -> PolicyInfo {
    PolicyInfo {
        name: "default".into(),
        hash: POLICY_HASH.into(),
        rule_ids: vec!["no-email".into(), "no-secrets".into(), "toxicity".into()],
        finding_kinds: vec![
            "pii.email".into(),
            "secret.aws_access_key_id".into(),
            "toxicity".into(),
        ],
        detectors: vec!["pii".into(), "secrets".into(), "classifier".into()],
    }
}

/// A completed request with two redactions and one classifier error.
pub fn completed() -> RequestRecord {
    RequestRecord {
        model: MODEL.into(),
        policy_hash: POLICY_HASH.into(),
        outcome: Outcome::Completed,
        prompt_tokens: 28,
        completion_tokens: 11,
        time_to_first_token: Some(Duration::from_millis(300)),
        decode: Duration::from_millis(500),
        total: Duration::from_millis(850),
        guard: Duration::from_micros(120),
        mean_logprob: Some(-0.4),
        mean_entropy: Some(1.2),
        rule_hits: vec![
            RuleHit {
                direction: Direction::Input,
                rule_id: "no-email".into(),
                kind: "pii.email".into(),
                action: RuleAction::Redact,
            },
            RuleHit {
                direction: Direction::Input,
                rule_id: "no-email".into(),
                kind: "pii.email".into(),
                action: RuleAction::Redact,
            },
        ],
        max_entropy: Some(3.5),
        low_confidence_fraction: Some(0.1),
        repetition: Some(0.0),
        ungrounded_numbers: Some(1),
        min_logprob: Some(-6.5),
        longest_low_confidence_run: Some(2),
        ungrounded_dates: Some(0),
        ungrounded_entities: Some(1),
        context_similarity: Some(0.5),
        sample_consistency: Some(0.75),
        hallucination_risk: Some(0.25),
        stream_holdback_bytes: Some(17),
        detectors: vec![
            DetectorReport {
                direction: Direction::Input,
                detector: "pii".into(),
                elapsed: Duration::from_micros(80),
                errors: 0,
            },
            DetectorReport {
                direction: Direction::Output,
                detector: "classifier".into(),
                elapsed: Duration::from_micros(30),
                errors: 1,
            },
        ],
    }
}

/// A request refused by the input guard.
pub fn blocked() -> RequestRecord {
    let done = completed();
    RequestRecord {
        total: Duration::from_micros(200),
        guard: done.guard,
        detectors: done.detectors,
        rule_hits: vec![RuleHit {
            direction: Direction::Input,
            rule_id: "no-secrets".into(),
            kind: "secret.aws_access_key_id".into(),
            action: RuleAction::Block,
        }],
        ..RequestRecord::new(done.model, done.policy_hash, Outcome::BlockedInput)
    }
}

use palisade_telemetry::config::{ExportConfig, Protocol, Temporality};

/// Export settings for tests: explicit flushes, short timeouts, no retries.
pub fn export_config(protocol: Protocol, endpoint: String) -> ExportConfig {
    ExportConfig {
        protocol,
        endpoint,
        headers: vec![("x-tenant".into(), "acme".into())],
        interval: Duration::from_secs(3600),
        timeout: Duration::from_secs(2),
        temporality: Temporality::Cumulative,
        max_retries: 0,
        retry_backoff: Duration::from_millis(10),
        spool: None,
    }
}
