//! Gemma 3 GGUF models (`general.architecture = gemma3`, text only) through
//! `candle_transformers::models::quantized_gemma3`.

use candle_core::Tensor;
use candle_core::quantized::gguf_file;
use candle_transformers::models::quantized_gemma3::{MAX_SEQ_LEN, ModelWeights};

use super::quantized::{ContextRule, GgufLm, QuantizedWeights};
use crate::error::LoadError;
use crate::gguf_meta::GgufMeta;

/// A quantized Gemma-3-architecture model on the CPU.
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
    key: "gemma3.context_length",
    required: false,
    backend_max: Some(MAX_SEQ_LEN),
    cap_key: Some("gemma3.attention.sliding_window"),
    single_pass_prefill: true,
};

impl QuantizedWeights for ModelWeights {
    fn forward(&mut self, input: &Tensor, position: usize) -> candle_core::Result<Tensor> {
        ModelWeights::forward(self, input, position)
    }

    /// candle's Gemma 3 drops its KV cache whenever it is fed position 0, which is how the
    /// engine starts every sequence: nothing to do here.
    fn clear_kv_cache(&mut self) {}
}

/// Reads a `gemma3` GGUF model.
pub fn load(
    meta: &GgufMeta<'_>,
    content: gguf_file::Content,
    reader: &mut std::fs::File,
) -> Result<QuantizedGemma3, LoadError> {
    GgufLm::load(meta, content, reader, CONTEXT, ModelWeights::from_gguf)
}
