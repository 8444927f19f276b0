//! Gemma 3 GGUF models (`general.architecture = gemma3`, text only) through
//! `candle_transformers::models::quantized_gemma3`.

use candle_transformers::models::quantized_gemma3::{MAX_SEQ_LEN, ModelWeights};

use super::quantized::{ContextRule, GgufLm, impl_quantized_weights};

/// A quantized Gemma-3-architecture model.
pub type QuantizedGemma3 = GgufLm<ModelWeights>;

/// Context length: `gemma3.context_length` (131072 when absent), capped at candle's rotary
/// table size ([`MAX_SEQ_LEN`] = 131072) and at `gemma3.attention.sliding_window`.
///
/// The window cap is there because candle 0.11.1's Gemma 3 applies the sliding-window mask
/// only to multi-token forward passes: a cached decode step attends to every earlier position
/// in the local layers, so beyond the window the outputs would differ from the model's. For
/// the same reason (its mask for a chunk starting after position 0 hides the cache, and mixes
/// dtypes) the whole prompt goes through one forward pass.
pub const CONTEXT: ContextRule = ContextRule {
    cap_key: Some("gemma3.attention.sliding_window"),
    single_pass_prefill: true,
    ..ContextRule::capped("gemma3.context_length", MAX_SEQ_LEN)
};

impl_quantized_weights!(ModelWeights, resets_at_position_0);
