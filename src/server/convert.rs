//! Checked request bodies ([`super::wire`]) turned into what the in-process model takes.

use palisade_inference::{ChatMessage, GenerationParams, Role};

use super::error::ApiError;
use super::wire::{SamplingWire, WireRole};

/// The conversation for the pipeline.
pub(crate) fn chat_messages(messages: Vec<(WireRole, String)>) -> Vec<ChatMessage> {
    messages
        .into_iter()
        .map(|(role, content)| ChatMessage {
            role: match role {
                WireRole::System => Role::System,
                WireRole::User => Role::User,
                WireRole::Assistant => Role::Assistant,
            },
            content,
        })
        .collect()
}

/// Generation settings for the in-process model, or a 400.
pub(crate) fn generation_params(
    sampling: &SamplingWire,
    default_max_tokens: usize,
) -> Result<GenerationParams, ApiError> {
    sampling.check()?;
    let mut params = GenerationParams {
        max_tokens: sampling.token_limit().unwrap_or(default_max_tokens),
        ..GenerationParams::default()
    };
    if let Some(t) = sampling.temperature {
        params.temperature = t;
    }
    if sampling.top_p.is_some() {
        params.top_p = sampling.top_p;
    }
    if let Some(seed) = sampling.seed {
        params.seed = seed;
    }
    params.stop = sampling.stop_list();
    params
        .validate()
        .map_err(|err| ApiError::bad_request(None, err.to_string()))?;
    Ok(params)
}
