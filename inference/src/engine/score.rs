//! Teacher forcing: how likely the model finds a given continuation of a prompt.
//!
//! The prompt runs as one chunked prefill; the continuation's tokens are then fed one per step
//! through the KV cache (the quantized backends return only the last position's logits, so a
//! single pass over prompt + answer could not yield every answer token's distribution). The
//! cost is one prefill plus one decode step per continuation token, and the numbers are those
//! [`crate::TokenEvent`] reports while generating: raw-logit log-probability and entropy.

use crate::engine::Engine;
use crate::error::GenerateError;
use crate::models::forward_chunked;
use crate::sampling::distribution::DistributionStats;

/// The model's view of one forced continuation token.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TokenScore {
    /// The token id.
    pub token_id: u32,
    /// Natural-log probability of this token under the raw next-token distribution.
    pub logprob: f32,
    /// Entropy (nats) of that distribution.
    pub entropy: f32,
}

impl Engine {
    /// Tokenizes a continuation (an answer) as it would follow a prompt: no BOS, special tokens
    /// in the text recognised.
    pub fn encode_continuation(&self, text: &str) -> Result<Vec<u32>, GenerateError> {
        let encoding = self
            .tokenizer
            .encode(text, false)
            .map_err(|e| GenerateError::Tokenize {
                reason: e.to_string(),
            })?;
        Ok(encoding.get_ids().to_vec())
    }

    /// Scores `continuation` after `prompt` (both token ids, e.g. from
    /// [`encode_prompt`](Self::encode_prompt) and [`encode_continuation`](Self::encode_continuation)):
    /// one [`TokenScore`] per continuation token, in order. The KV cache is reset first.
    ///
    /// Errors: an empty prompt, or prompt + continuation longer than the context window
    /// (checked before any compute).
    pub fn score_continuation(
        &mut self,
        prompt: &[u32],
        continuation: &[u32],
    ) -> Result<Vec<TokenScore>, GenerateError> {
        if prompt.is_empty() {
            return Err(GenerateError::EmptyPrompt);
        }
        let total = prompt.len() + continuation.len();
        if total > self.context_length {
            return Err(GenerateError::ContextOverflow {
                prompt_tokens: total,
                context_length: self.context_length,
                max_prompt: self.context_length,
            });
        }
        let forward_error = |position: usize| {
            move |e: candle_core::Error| GenerateError::Forward {
                position,
                reason: e.to_string(),
            }
        };
        let model = self.model.as_mut();
        model.clear_kv_cache().map_err(forward_error(0))?;
        let mut logits = forward_chunked(model, prompt, 0).map_err(forward_error(0))?;
        let mut scores = Vec::with_capacity(continuation.len());
        for (i, &token) in continuation.iter().enumerate() {
            scores.push(score_token(&logits, token));
            if i + 1 < continuation.len() {
                let position = prompt.len() + i;
                logits = model
                    .forward(&[token], position)
                    .map_err(forward_error(position))?;
            }
        }
        Ok(scores)
    }
}

/// The log-probability of `token` and the entropy of `softmax(logits)`; a token outside the
/// vocabulary, or logits with nothing finite, score `-inf` (entropy 0).
fn score_token(logits: &[f32], token: u32) -> TokenScore {
    let stats = DistributionStats::from_logits(logits);
    let logit = logits.get(token as usize).copied();
    match (stats, logit) {
        (Some(stats), Some(logit)) => TokenScore {
            token_id: token,
            logprob: stats.logprob(logit),
            entropy: stats.entropy as f32,
        },
        _ => TokenScore {
            token_id: token,
            logprob: f32::NEG_INFINITY,
            entropy: stats.map_or(0.0, |s| s.entropy as f32),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_a_token_against_its_distribution() {
        let logits = [0.0f32, 0.0, 0.0, 0.0];
        let s = score_token(&logits, 2);
        assert!((s.logprob - (0.25f32).ln()).abs() < 1e-6);
        assert!((s.entropy - (4.0f32).ln()).abs() < 1e-6);
    }

    #[test]
    fn a_token_outside_the_vocabulary_is_impossible() {
        let s = score_token(&[1.0, 2.0], 7);
        assert_eq!(s.logprob, f32::NEG_INFINITY);
        assert!(s.entropy > 0.0);
    }
}
