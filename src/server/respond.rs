//! Turning a generation's events into an OpenAI answer: one JSON body, or an
//! SSE stream ending with `data: [DONE]`.

use std::collections::VecDeque;
use std::convert::Infallible;

use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::Finish;

use super::config::BlockedInputResponse;
use super::error::ApiError;
use super::events::{Ending, Event, block_of, finish_reason};
use super::sse;
use super::upstream::Endpoint;

/// The identity of one answer.
pub(crate) struct Shape {
    pub endpoint: Endpoint,
    pub id: String,
    pub created: u64,
    pub model: String,
}

/// Header listing the rule ids that fired (non-streamed answers).
const RULES_HEADER: &str = "x-palisade-rules";

/// Waits for the first text or the end, then answers as asked.
pub(crate) async fn answer(
    shape: Shape,
    stream: bool,
    blocked_input: BlockedInputResponse,
    mut rx: mpsc::Receiver<Event>,
    deadline: Instant,
) -> Response {
    let mut rules = Vec::new();
    let first = loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Err(_) => return ApiError::timeout("before the first token").into_response(),
            Ok(None) => return ended_early().into_response(),
            Ok(Some(Event::Rules(ids))) => add_rules(&mut rules, ids),
            Ok(Some(Event::Failed(err))) => return err.into_response(),
            Ok(Some(Event::Done(ending))) => {
                if let (Finish::BlockedInput { message, .. }, BlockedInputResponse::Error) =
                    (&ending.finish, blocked_input)
                {
                    let mut err = ApiError::bad_request(Some("messages"), message.clone());
                    err.code = Some("content_filter");
                    err.rules = rules;
                    return err.into_response();
                }
                break Event::Done(ending);
            }
            Ok(Some(delta)) => break delta,
        }
    };
    if stream {
        stream_answer(shape, rules, first, rx, deadline)
    } else {
        whole_answer(shape, rules, first, rx, deadline).await
    }
}

fn add_rules(rules: &mut Vec<String>, ids: Vec<String>) {
    for id in ids {
        if !rules.contains(&id) {
            rules.push(id);
        }
    }
}

fn ended_early() -> ApiError {
    ApiError::internal("the generation stopped without an answer")
}

/// The text a client sees for an ending: a block adds the policy's message.
fn closing_text(ending: &Ending, released_any: bool) -> Option<String> {
    let (_, message) = block_of(&ending.finish)?;
    Some(if released_any {
        format!("\n\n{message}")
    } else {
        message.to_string()
    })
}

fn usage(ending: &Ending) -> Value {
    json!({
        "prompt_tokens": ending.prompt_tokens,
        "completion_tokens": ending.completion_tokens,
        "total_tokens": ending.prompt_tokens + ending.completion_tokens,
    })
}

fn palisade_field(rules: &[String], ending: &Ending) -> Value {
    json!({
        "rules": rules,
        "blocked_by": block_of(&ending.finish).map(|(rule, _)| rule),
    })
}

async fn whole_answer(
    shape: Shape,
    mut rules: Vec<String>,
    first: Event,
    mut rx: mpsc::Receiver<Event>,
    deadline: Instant,
) -> Response {
    let mut text = String::new();
    let mut next = Some(first);
    let ending = loop {
        let event = match next.take() {
            Some(event) => event,
            None => match tokio::time::timeout_at(deadline, rx.recv()).await {
                Err(_) => return ApiError::timeout("while generating").into_response(),
                Ok(None) => return ended_early().into_response(),
                Ok(Some(event)) => event,
            },
        };
        match event {
            Event::Rules(ids) => add_rules(&mut rules, ids),
            Event::Delta(delta) => text.push_str(&delta),
            Event::Failed(err) => return err.into_response(),
            Event::Done(ending) => break ending,
        }
    };
    if let Some(closing) = closing_text(&ending, !text.is_empty()) {
        text.push_str(&closing);
    }
    let choice = match shape.endpoint {
        Endpoint::Chat => json!({
            "index": 0,
            "message": {"role": "assistant", "content": text},
            "finish_reason": finish_reason(&ending.finish),
            "logprobs": null,
        }),
        Endpoint::Completion => json!({
            "index": 0,
            "text": text,
            "finish_reason": finish_reason(&ending.finish),
            "logprobs": null,
        }),
    };
    let body = json!({
        "id": shape.id,
        "object": match shape.endpoint { Endpoint::Chat => "chat.completion", Endpoint::Completion => "text_completion" },
        "created": shape.created,
        "model": shape.model,
        "choices": [choice],
        "usage": usage(&ending),
        "palisade": palisade_field(&rules, &ending),
    });
    let mut response = axum::Json(body).into_response();
    if let Ok(value) = HeaderValue::from_str(&rules.join(",")) {
        response.headers_mut().insert(RULES_HEADER, value);
    }
    response
}

/// The state of an SSE answer between frames.
struct Streaming {
    shape: Shape,
    rules: Vec<String>,
    pending: Option<Event>,
    rx: mpsc::Receiver<Event>,
    deadline: Instant,
    frames: VecDeque<Bytes>,
    released_any: bool,
    role_sent: bool,
    ended: bool,
}

impl Streaming {
    fn chunk(&mut self, text: Option<&str>, finish: Option<&str>) -> Value {
        let choice = match self.shape.endpoint {
            Endpoint::Chat => {
                let mut delta = json!({});
                if !self.role_sent {
                    delta["role"] = json!("assistant");
                    self.role_sent = true;
                }
                if let Some(text) = text {
                    delta["content"] = json!(text);
                }
                json!({"index": 0, "delta": delta, "finish_reason": finish, "logprobs": null})
            }
            Endpoint::Completion => {
                json!({"index": 0, "text": text.unwrap_or(""), "finish_reason": finish, "logprobs": null})
            }
        };
        json!({
            "id": self.shape.id,
            "object": match self.shape.endpoint { Endpoint::Chat => "chat.completion.chunk", Endpoint::Completion => "text_completion" },
            "created": self.shape.created,
            "model": self.shape.model,
            "choices": [choice],
        })
    }

    fn fail(&mut self, err: &ApiError) {
        self.frames.push_back(sse::frame(&err.body()));
        self.frames.push_back(sse::done_frame());
        self.ended = true;
    }

    /// Turns the next event into frames.
    async fn advance(&mut self) {
        let event = match self.pending.take() {
            Some(event) => event,
            None => match tokio::time::timeout_at(self.deadline, self.rx.recv()).await {
                Err(_) => return self.fail(&ApiError::timeout("while generating")),
                Ok(None) => return self.fail(&ended_early()),
                Ok(Some(event)) => event,
            },
        };
        match event {
            Event::Rules(ids) => add_rules(&mut self.rules, ids),
            Event::Delta(text) => {
                self.released_any = true;
                let chunk = self.chunk(Some(&text), None);
                self.frames.push_back(sse::frame(&chunk));
            }
            Event::Failed(err) => self.fail(&err),
            Event::Done(ending) => {
                if let Some(closing) = closing_text(&ending, self.released_any) {
                    let chunk = self.chunk(Some(&closing), None);
                    self.frames.push_back(sse::frame(&chunk));
                }
                let mut last = self.chunk(None, Some(finish_reason(&ending.finish)));
                last["usage"] = usage(&ending);
                last["palisade"] = palisade_field(&self.rules, &ending);
                self.frames.push_back(sse::frame(&last));
                self.frames.push_back(sse::done_frame());
                self.ended = true;
            }
        }
    }
}

fn stream_answer(
    shape: Shape,
    rules: Vec<String>,
    first: Event,
    rx: mpsc::Receiver<Event>,
    deadline: Instant,
) -> Response {
    let state = Streaming {
        shape,
        rules,
        pending: Some(first),
        rx,
        deadline,
        frames: VecDeque::new(),
        released_any: false,
        role_sent: false,
        ended: false,
    };
    // Dropping the stream (the client went away) drops the receiver, which
    // stops the generation.
    let frames = futures_util::stream::unfold(state, |mut state| async move {
        loop {
            if let Some(frame) = state.frames.pop_front() {
                return Some((Ok::<Bytes, Infallible>(frame), state));
            }
            if state.ended {
                return None;
            }
            state.advance().await;
        }
    });
    let mut response = Body::from_stream(frames).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}
