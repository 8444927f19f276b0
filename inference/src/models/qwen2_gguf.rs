//! Qwen2 / Qwen2.5 GGUF models (`general.architecture = qwen2`) through
//! `candle_transformers::models::quantized_qwen2`.

use candle_transformers::models::quantized_qwen2::ModelWeights;

use super::quantized::{ContextRule, GgufLm, impl_quantized_weights};

/// A quantized Qwen2-architecture model.
pub type QuantizedQwen2 = GgufLm<ModelWeights>;

/// Context length: `qwen2.context_length` (required: candle sizes its rotary table from it).
pub const CONTEXT: ContextRule = ContextRule::required("qwen2.context_length");

impl_quantized_weights!(ModelWeights, clear);
