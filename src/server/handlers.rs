//! The routes and their handlers.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::ChatRequest;
use palisade_inference::ChatMessage;

use super::convert::{chat_messages, generation_params};
use super::error::ApiError;
use super::events::Event;
use super::metrics::scheduler_text;
use super::respond::{self, Shape};
use super::upstream::Endpoint;
use super::wire::{BodyKind, SamplingWire, check_body};
use super::{AppState, Generator, auth, inprocess, proxy};

/// Every route, behind the body limit and (when a key is set) bearer auth.
pub(crate) fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/completions", post(completions))
        .route("/v1/models", get(models))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(middleware::from_fn_with_state(
            state.config.api_key.clone(),
            auth::require_bearer,
        ))
        .with_state(state)
}

fn body_bytes(body: Result<Bytes, BytesRejection>, limit: usize) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request_error",
                format!("the request body is larger than the server's limit of {limit} bytes (max_body_bytes)"),
            )
        } else {
            ApiError::bad_request(None, format!("the request body could not be read: {rejection}"))
        }
    })
}

/// What a request asks for, whichever endpoint it came from.
struct Ask {
    endpoint: Endpoint,
    model: Option<String>,
    /// The conversation, for the in-process model.
    messages: Vec<ChatMessage>,
    sampling: SamplingWire,
    /// The request as sent, for the upstream.
    raw: Value,
}

async fn chat_completions(
    State(state): State<Arc<AppState>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let ask = checked(&state, body, BodyKind::Chat, Endpoint::Chat);
    run(state, ask).await
}

async fn completions(
    State(state): State<Arc<AppState>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    // In-process, a completion is one user turn through the chat template.
    let ask = checked(&state, body, BodyKind::Completion, Endpoint::Completion);
    run(state, ask).await
}

/// Reads and checks a body (everything [`check_body`] refuses is a 400, before any work).
fn checked(
    state: &AppState,
    body: Result<Bytes, BytesRejection>,
    kind: BodyKind,
    endpoint: Endpoint,
) -> Result<Ask, ApiError> {
    let bytes = body_bytes(body, state.config.max_body_bytes)?;
    // Upstreams may know more roles (tool, function): their chat messages pass as sent.
    let in_process = matches!(state.generator, Generator::InProcess(_));
    let body = check_body(kind, &bytes, in_process)?;
    Ok(Ask {
        endpoint,
        model: body.model,
        messages: body.messages.map(chat_messages).unwrap_or_default(),
        sampling: body.sampling,
        raw: body.raw,
    })
}

async fn run(state: Arc<AppState>, ask: Result<Ask, ApiError>) -> Response {
    match start(&state, ask).await {
        Ok((shape, stream, rx, deadline)) => {
            // The policy's `input_block:` wins over the server's `blocked_input`.
            let blocked_input = state
                .policy
                .current()
                .input_block
                .map_or(state.config.blocked_input, Into::into);
            respond::answer(shape, stream, blocked_input, rx, deadline).await
        }
        Err(err) => err.into_response(),
    }
}

async fn start(
    state: &Arc<AppState>,
    ask: Result<Ask, ApiError>,
) -> Result<(Shape, bool, mpsc::Receiver<Event>, Instant), ApiError> {
    let ask = ask?;
    let deadline = Instant::now() + state.config.request_timeout;
    let stream = ask.sampling.stream;
    let (rx, model) = match &state.generator {
        Generator::InProcess(_) => {
            let request = ChatRequest {
                messages: ask.messages,
                params: generation_params(&ask.sampling, state.config.default_max_tokens)?,
            };
            let permit = state.scheduler.admit(deadline).await?;
            // Taken after admission: a reload while queued applies.
            let palisade = state
                .generator
                .palisade()
                .ok_or_else(|| ApiError::internal("no model"))?;
            let model = palisade.model_name().to_string();
            (inprocess::start(palisade, request, permit), model)
        }
        Generator::Upstream(upstream) => {
            let model = ask.model.unwrap_or_default();
            let permit = state.scheduler.admit(deadline).await?;
            let rx = proxy::start(
                Arc::clone(upstream),
                state.telemetry.clone(),
                ask.endpoint,
                ask.raw,
                model.clone(),
                permit,
            );
            (rx, model)
        }
    };
    Ok((state.shape(ask.endpoint, model), stream, rx, deadline))
}

async fn models(State(state): State<Arc<AppState>>) -> Response {
    match &state.generator {
        Generator::InProcess(_) => {
            let name = state
                .generator
                .palisade()
                .map(|p| p.model_name().to_string())
                .unwrap_or_default();
            axum::Json(json!({
                "object": "list",
                "data": [{"id": name, "object": "model", "created": 0, "owned_by": "palisade"}],
            }))
            .into_response()
        }
        Generator::Upstream(upstream) => match upstream.models().await {
            Ok((status, body)) => {
                (status, [(CONTENT_TYPE, "application/json")], body).into_response()
            }
            Err(err) => err.into_response(),
        },
    }
}

async fn healthz() -> Response {
    axum::Json(json!({"status": "ok"})).into_response()
}

async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    let status = if state.is_draining() {
        "draining"
    } else {
        match &state.generator {
            Generator::InProcess(_) => "ready",
            Generator::Upstream(upstream) if upstream.is_ready().await => "ready",
            Generator::Upstream(_) => "upstream_unreachable",
        }
    };
    let policy = state.policy.current();
    let body = json!({
        "status": status,
        "policy": {"name": policy.name, "version": policy.version, "hash": policy.hash},
        "policy_reloads": state.policy.reloads(),
        "policy_reload_failures": state.policy.failures(),
    });
    let code = if status == "ready" {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, axum::Json(body)).into_response()
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let sink = Arc::clone(&state.telemetry);
    // Collecting waits (briefly) for the telemetry worker: not on the runtime.
    let collected = tokio::task::spawn_blocking(move || sink.prometheus_text()).await;
    let mut text = match collected {
        Ok(Ok(text)) => text,
        Ok(Err(err)) => {
            return ApiError::new(StatusCode::NOT_FOUND, "not_found", err.to_string())
                .into_response();
        }
        Err(_) => return ApiError::internal("collecting metrics failed").into_response(),
    };
    text.push_str(&scheduler_text(&state.scheduler, state.policy.failures()));
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        text,
    )
        .into_response()
}

async fn not_found() -> Response {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such route: see docs/server.md for the endpoints",
    )
    .into_response()
}
