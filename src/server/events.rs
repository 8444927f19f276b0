//! What a generation (in-process or upstream) reports to the HTTP layer.

use crate::Finish;

/// One step of a guarded generation.
#[derive(Debug)]
pub(crate) enum Event {
    /// Rules fired (ids only).
    Rules(Vec<String>),
    /// Guarded text for the client.
    Delta(String),
    /// The end.
    Done(Ending),
    /// The generation failed before its end.
    Failed(super::error::ApiError),
}

/// How a generation ended.
#[derive(Debug)]
pub(crate) struct Ending {
    pub finish: Finish,
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
}

/// The OpenAI `finish_reason` of a finish.
pub(crate) fn finish_reason(finish: &Finish) -> &'static str {
    match finish {
        Finish::Stop | Finish::StopSequence | Finish::Cancelled => "stop",
        Finish::Length => "length",
        Finish::BlockedInput { .. } | Finish::BlockedOutput { .. } => "content_filter",
    }
}

/// The policy's message and rule of a block.
pub(crate) fn block_of(finish: &Finish) -> Option<(&str, &str)> {
    match finish {
        Finish::BlockedInput { rule_id, message } | Finish::BlockedOutput { rule_id, message } => {
            Some((rule_id, message))
        }
        _ => None,
    }
}
