//! Generations on the in-process Candle model, bridged to async.

use std::ops::ControlFlow;

use tokio::sync::OwnedSemaphorePermit;
use tokio::sync::mpsc;

use crate::{ChatEvent, ChatRequest, Palisade};

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
            let _ = tx.blocking_send(Event::Failed(ApiError::internal(format!(
                "the model failed: {err}"
            ))));
        }
    });
    rx
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
