//! Proxy mode: the input guard on the request, the streaming output guard on
//! the upstream's answer, telemetry for both.

use std::sync::Arc;
use std::time::{Duration, Instant};

use palisade_guard::{
    DetectorCost, Direction, Finding, Guard, OutputStream, RedactionVault, StreamChunk, Verdict,
};
use palisade_telemetry::{Outcome, RequestRecord, RuleHit, TelemetrySink};
use serde_json::Value;
use tokio::sync::{OwnedSemaphorePermit, mpsc};

use crate::Finish;
use crate::pipeline::{detector_reports, outcome, telemetry_action, telemetry_direction};

use super::error::ApiError;
use super::events::{Ending, Event};
use super::sse::SseDecoder;
use super::upstream::{Endpoint, Upstream};

/// Events buffered between the upstream reader and a slow client.
const EVENT_BUFFER: usize = 64;
/// Largest non-streamed upstream answer accepted.
const MAX_JSON_BODY_BYTES: usize = 8 * 1024 * 1024;

/// Runs one guarded request against the upstream holding `permit`.
/// Dropping the receiver closes the upstream connection.
pub(crate) fn start(
    upstream: Arc<Upstream>,
    telemetry: Arc<dyn TelemetrySink>,
    endpoint: Endpoint,
    body: Value,
    model: String,
    permit: OwnedSemaphorePermit,
) -> mpsc::Receiver<Event> {
    let (tx, rx) = mpsc::channel(EVENT_BUFFER);
    let guard = upstream.guard();
    tokio::spawn(async move {
        let _permit = permit;
        let mut run = Run::new(tx, guard, model);
        let finish = run.drive(&upstream, endpoint, body).await;
        run.finish(finish, telemetry.as_ref()).await;
    });
    rx
}

/// What one proxied request has seen.
struct Run {
    tx: mpsc::Sender<Event>,
    guard: Arc<Guard>,
    model: String,
    started: Instant,
    first_token: Option<Instant>,
    guard_time: Duration,
    hits: Vec<RuleHit>,
    prompt_tokens: usize,
    completion_tokens: usize,
    deltas: usize,
    client_gone: bool,
    /// What each detector cost, input and output.
    costs: Vec<(Direction, DetectorCost)>,
    /// The most output bytes the streaming guard held back at once.
    holdback_max_bytes: usize,
}

/// How `drive` ended: a finish, or a failure already reported to the client.
enum Driven {
    Finished(Finish),
    Failed(ApiError),
}

impl Run {
    fn new(tx: mpsc::Sender<Event>, guard: Arc<Guard>, model: String) -> Self {
        Self {
            tx,
            guard,
            model,
            started: Instant::now(),
            first_token: None,
            guard_time: Duration::ZERO,
            hits: Vec::new(),
            prompt_tokens: 0,
            completion_tokens: 0,
            deltas: 0,
            client_gone: false,
            costs: Vec::new(),
            holdback_max_bytes: 0,
        }
    }

    async fn emit(&mut self, event: Event) {
        if !self.client_gone && self.tx.send(event).await.is_err() {
            self.client_gone = true;
        }
    }

    async fn report(&mut self, direction: Direction, findings: &[Finding]) {
        if findings.is_empty() {
            return;
        }
        self.hits.extend(findings.iter().map(|f| RuleHit {
            direction: telemetry_direction(direction),
            rule_id: f.rule_id.to_string(),
            kind: f.kind.to_string(),
            action: telemetry_action(f.action),
        }));
        let ids = findings.iter().map(|f| f.rule_id.to_string()).collect();
        self.emit(Event::Rules(ids)).await;
    }

    /// Input guard over every user text; redactions written back into `body`.
    async fn guard_input(
        &mut self,
        endpoint: Endpoint,
        body: &mut Value,
    ) -> Result<RedactionVault, Finish> {
        let mut vault = RedactionVault::default();
        for text in input_texts(endpoint, body) {
            let guard = Arc::clone(&self.guard);
            let start = Instant::now();
            let mut decision = guard.check_measured(Direction::Input, text, Some(&vault));
            self.guard_time += start.elapsed();
            let costs = std::mem::take(&mut decision.costs);
            self.costs
                .extend(costs.into_iter().map(|c| (Direction::Input, c)));
            self.report(Direction::Input, &decision.findings).await;
            if let Some(block) = decision.block {
                return Err(Finish::BlockedInput {
                    rule_id: block.rule_id,
                    message: block.message,
                });
            }
            if decision.verdict == Verdict::Redact {
                *text = decision.text;
            }
            vault = decision.vault;
        }
        Ok(vault)
    }

    /// Sends guarded text on; returns the block if this chunk ended the stream.
    async fn release(&mut self, chunk: StreamChunk) -> Option<Finish> {
        self.report(Direction::Output, &chunk.findings).await;
        if !chunk.text.is_empty() {
            self.emit(Event::Delta(chunk.text)).await;
        }
        chunk.block.map(|b| Finish::BlockedOutput {
            rule_id: b.rule_id,
            message: b.message,
        })
    }

    async fn drive(&mut self, upstream: &Upstream, endpoint: Endpoint, mut body: Value) -> Driven {
        let vault = match self.guard_input(endpoint, &mut body).await {
            Ok(vault) => vault,
            Err(blocked) => return Driven::Finished(blocked),
        };
        body["stream"] = Value::Bool(true);
        let mut response = tokio::select! {
            sent = upstream.send(endpoint, &body) => match sent {
                Ok(response) => response,
                Err(err) => return Driven::Failed(err),
            },
            () = self.tx.closed() => return Driven::Finished(Finish::Cancelled),
        };
        let streamed = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        let mut output = self.guard.output_stream(Some(&vault)).measured();
        let driven = self
            .read_answer(endpoint, &mut response, streamed, &mut output)
            .await;
        let costs = output.costs();
        self.costs
            .extend(costs.into_iter().map(|c| (Direction::Output, c)));
        driven
    }

    /// Reads the upstream's answer through the output guard.
    async fn read_answer(
        &mut self,
        endpoint: Endpoint,
        response: &mut reqwest::Response,
        streamed: bool,
        output: &mut OutputStream,
    ) -> Driven {
        let mut decoder = SseDecoder::default();
        let mut whole = Vec::new();
        let mut upstream_finish = None;
        'read: loop {
            let chunk = tokio::select! {
                chunk = response.chunk() => chunk,
                () = self.tx.closed() => return Driven::Finished(Finish::Cancelled),
            };
            let bytes = match chunk {
                Ok(Some(bytes)) => bytes,
                Ok(None) => break,
                Err(err) => {
                    return Driven::Failed(ApiError::upstream(format!(
                        "the upstream's answer broke off: {err}"
                    )));
                }
            };
            if !streamed {
                whole.extend_from_slice(&bytes);
                if whole.len() > MAX_JSON_BODY_BYTES {
                    return Driven::Failed(ApiError::upstream(
                        "the upstream's answer is too large",
                    ));
                }
                continue;
            }
            let payloads = match decoder.push(&bytes) {
                Ok(p) => p,
                Err(err) => {
                    return Driven::Failed(ApiError::upstream(format!(
                        "the upstream's event stream is invalid ({err:?})"
                    )));
                }
            };
            for payload in payloads {
                if payload.trim() == "[DONE]" {
                    break 'read;
                }
                match self.take_payload(endpoint, &payload, output).await {
                    Ok(Some(step)) => match step {
                        Step::Finish(reason) => upstream_finish = Some(reason),
                        Step::Blocked(finish) => return Driven::Finished(finish),
                    },
                    Ok(None) => {}
                    Err(err) => return Driven::Failed(err),
                }
                if self.client_gone {
                    return Driven::Finished(Finish::Cancelled);
                }
            }
        }
        // A last event without its blank line, or a whole JSON answer.
        let tail = if streamed {
            decoder.finish().filter(|p| p.trim() != "[DONE]")
        } else {
            Some(String::from_utf8_lossy(&whole).into_owned())
        };
        if let Some(text) = tail {
            match self.take_payload(endpoint, &text, output).await {
                Ok(Some(Step::Blocked(finish))) => return Driven::Finished(finish),
                Ok(Some(Step::Finish(reason))) => upstream_finish = Some(reason),
                Ok(None) => {}
                Err(err) => return Driven::Failed(err),
            }
        }
        let start = Instant::now();
        let last = output.finish();
        self.guard_time += start.elapsed();
        if let Some(blocked) = self.release(last).await {
            return Driven::Finished(blocked);
        }
        Driven::Finished(match upstream_finish.as_deref() {
            Some("length") => Finish::Length,
            _ => Finish::Stop,
        })
    }

    /// One upstream event (or whole JSON answer): its text through the output guard.
    async fn take_payload(
        &mut self,
        endpoint: Endpoint,
        payload: &str,
        output: &mut OutputStream,
    ) -> Result<Option<Step>, ApiError> {
        let value: Value = serde_json::from_str(payload)
            .map_err(|_| ApiError::upstream("the upstream sent an event that is not JSON"))?;
        if let Some(error) = value.get("error").filter(|e| !e.is_null()) {
            let message = error["message"].as_str().unwrap_or("unknown error");
            return Err(ApiError::upstream(format!(
                "the upstream failed: {message}"
            )));
        }
        if let Some(usage) = value.get("usage").filter(|u| u.is_object()) {
            self.prompt_tokens = usage["prompt_tokens"].as_u64().unwrap_or(0) as usize;
            self.completion_tokens = usage["completion_tokens"].as_u64().unwrap_or(0) as usize;
        }
        let choice = &value["choices"][0];
        let text = match endpoint {
            Endpoint::Chat => choice["delta"]["content"]
                .as_str()
                .or_else(|| choice["message"]["content"].as_str()),
            Endpoint::Completion => choice["text"].as_str(),
        };
        if let Some(text) = text.filter(|t| !t.is_empty()) {
            self.first_token.get_or_insert_with(Instant::now);
            self.deltas += 1;
            let start = Instant::now();
            let chunk = output.push(text);
            self.guard_time += start.elapsed();
            self.holdback_max_bytes = self.holdback_max_bytes.max(output.held_bytes());
            if let Some(blocked) = self.release(chunk).await {
                return Ok(Some(Step::Blocked(blocked)));
            }
        }
        Ok(choice["finish_reason"]
            .as_str()
            .map(|r| Step::Finish(r.to_string())))
    }

    /// Tells the client how it ended and records telemetry.
    async fn finish(mut self, driven: Driven, sink: &dyn TelemetrySink) {
        let finish = match driven {
            Driven::Finished(finish) => finish,
            Driven::Failed(err) => {
                self.emit(Event::Failed(err)).await;
                self.record(Outcome::Error, sink);
                return;
            }
        };
        let finish = if self.client_gone {
            Finish::Cancelled
        } else {
            finish
        };
        self.record(outcome(&finish), sink);
        let ending = Ending {
            finish,
            prompt_tokens: self.prompt_tokens,
            completion_tokens: self.completion_tokens.max(self.deltas),
        };
        self.emit(Event::Done(ending)).await;
    }

    fn record(&mut self, outcome: Outcome, sink: &dyn TelemetrySink) {
        let total = self.started.elapsed();
        let record = RequestRecord {
            prompt_tokens: self.prompt_tokens as u64,
            completion_tokens: self.completion_tokens.max(self.deltas) as u64,
            time_to_first_token: self.first_token.map(|t| t - self.started),
            decode: self.first_token.map(|t| t.elapsed()).unwrap_or_default(),
            total,
            guard: self.guard_time,
            rule_hits: std::mem::take(&mut self.hits),
            stream_holdback_bytes: (self.deltas > 0)
                .then(|| u32::try_from(self.holdback_max_bytes).unwrap_or(u32::MAX)),
            detectors: detector_reports(&self.costs),
            ..RequestRecord::new(self.model.clone(), self.guard.policy().hash(), outcome)
        };
        sink.record_request(&record);
    }
}

/// What an upstream event meant beyond its text.
enum Step {
    /// The upstream's `finish_reason`.
    Finish(String),
    /// The output guard blocked.
    Blocked(Finish),
}

/// The user-written texts of a request, for the input guard: user messages
/// (string content or text parts) for chat, the prompt for completions.
fn input_texts(endpoint: Endpoint, body: &mut Value) -> Vec<&mut String> {
    let mut texts = Vec::new();
    match endpoint {
        Endpoint::Chat => {
            let Some(messages) = body["messages"].as_array_mut() else {
                return texts;
            };
            for message in messages.iter_mut().filter(|m| m["role"] == "user") {
                match &mut message["content"] {
                    Value::String(text) => texts.push(text),
                    Value::Array(parts) => {
                        for part in parts {
                            if let Value::String(text) = &mut part["text"] {
                                texts.push(text);
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        Endpoint::Completion => match &mut body["prompt"] {
            Value::String(text) => texts.push(text),
            Value::Array(list) => texts.extend(list.iter_mut().filter_map(|v| match v {
                Value::String(text) => Some(text),
                _ => None,
            })),
            _ => {}
        },
    }
    texts
}
