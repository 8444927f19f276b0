//! A chat request.

use palisade_inference::{ChatMessage, GenerationParams, Role};

/// The conversation so far and how to generate the answer.
#[derive(Debug, Clone)]
pub struct ChatRequest {
    /// The conversation, oldest first; the model answers the last message.
    pub messages: Vec<ChatMessage>,
    /// Sampling and length settings.
    pub params: GenerationParams,
}

impl ChatRequest {
    /// One user message with default generation settings.
    pub fn user(content: impl Into<String>) -> Self {
        Self {
            messages: vec![ChatMessage {
                role: Role::User,
                content: content.into(),
            }],
            params: GenerationParams::default(),
        }
    }

    /// The same request with `params`.
    pub fn with_params(mut self, params: GenerationParams) -> Self {
        self.params = params;
        self
    }
}
