//! Generations on the in-process Candle model, bridged to async.

use std::ops::ControlFlow;

use tokio::sync::OwnedSemaphorePermit;
use tokio::sync::mpsc;

use crate::{ChatError, ChatEvent, ChatRequest, Palisade};
use palisade_inference::GenerateError;

use super::error::ApiError;
use super::events::{Ending, Event};

/// Events buffered between the model thread and a slow client.
const EVENT_BUFFER: usize = 64;

/// Runs `request` on a blocking thread holding `permit`. Dropping the
/// receiver (the client went away, or timed out) stops the model within a token.
pub(crate) fn start(
    palisade: Palisade,
    request: ChatRequest,
    permit: OwnedSemaphorePermit,
) -> mpsc::Receiver<Event> {
    let (tx, rx) = mpsc::channel(EVENT_BUFFER);
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let mut forward = |event: ChatEvent| match tx.blocking_send(convert(event)) {
            Ok(()) => ControlFlow::Continue(()),
            Err(_) => ControlFlow::Break(()),
        };
        if let Err(err) = palisade.chat_with(request, &mut forward) {
            let _ = tx.blocking_send(Event::Failed(api_error(&err)));
        }
    });
    rx
}

/// A chat failure as an answer: what the request asked for that cannot be done (a prompt over the
/// context window, say; all checked before any compute) is the client's 400, the rest a 500.
fn api_error(err: &ChatError) -> ApiError {
    let message = || err.to_string().replace("\n  fix:", ";");
    match err {
        ChatError::NoMessages
        | ChatError::Generate(GenerateError::EmptyPrompt | GenerateError::ContextOverflow { .. }) => {
            ApiError::bad_request(Some("messages"), message())
        }
        ChatError::Generate(GenerateError::InvalidParams { .. }) => {
            ApiError::bad_request(None, message())
        }
        _ => ApiError::internal(format!("the model failed: {err}")),
    }
}

fn convert(event: ChatEvent) -> Event {
    match event {
        ChatEvent::Delta(text) => Event::Delta(text),
        ChatEvent::Guard(decision) => Event::Rules(
            decision
                .findings
                .iter()
                .map(|f| f.rule_id.to_string())
                .collect(),
        ),
        ChatEvent::Done(summary) => Event::Done(Ending {
            finish: summary.finish,
            prompt_tokens: summary.usage.prompt_tokens,
            completion_tokens: summary.usage.completion_tokens,
        }),
    }
}
