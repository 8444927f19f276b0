//! Llama-family GGUF models (Llama 2/3, SmolLM, Mistral, ...) through
//! `candle_transformers::models::quantized_llama`.

use candle_transformers::models::quantized_llama::{MAX_SEQ_LEN, ModelWeights};

use super::quantized::{ContextRule, GgufLm, impl_quantized_weights};

/// A quantized Llama-architecture model.
pub type QuantizedLlama = GgufLm<ModelWeights>;

/// Context length: `llama.context_length`, capped at candle's rotary table size
/// ([`MAX_SEQ_LEN`] = 4096); 4096 when the key is absent.
pub const CONTEXT: ContextRule = ContextRule::capped("llama.context_length", MAX_SEQ_LEN);

impl_quantized_weights!(ModelWeights, clear);
