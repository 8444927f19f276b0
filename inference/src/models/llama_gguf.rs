//! Llama-family GGUF models (Llama 2/3, SmolLM, Mistral, ...) through
//! `candle_transformers::models::quantized_llama`.

use candle_core::Tensor;
use candle_core::quantized::gguf_file;
use candle_transformers::models::quantized_llama::{MAX_SEQ_LEN, ModelWeights};

use super::quantized::{ContextRule, GgufLm, QuantizedWeights};
use crate::error::LoadError;
use crate::gguf_meta::GgufMeta;

/// A quantized Llama-architecture model on the CPU.
pub type QuantizedLlama = GgufLm<ModelWeights>;

/// Context length: `llama.context_length`, capped at candle's rotary table size
/// ([`MAX_SEQ_LEN`] = 4096); 4096 when the key is absent.
pub const CONTEXT: ContextRule = ContextRule {
    key: "llama.context_length",
    required: false,
    backend_max: Some(MAX_SEQ_LEN),
    cap_key: None,
    single_pass_prefill: false,
};

impl QuantizedWeights for ModelWeights {
    fn forward(&mut self, input: &Tensor, position: usize) -> candle_core::Result<Tensor> {
        ModelWeights::forward(self, input, position)
    }

    fn clear_kv_cache(&mut self) {
        ModelWeights::clear_kv_cache(self);
    }
}

/// Reads a `llama` GGUF model.
pub fn load(
    meta: &GgufMeta<'_>,
    content: gguf_file::Content,
    reader: &mut std::fs::File,
) -> Result<QuantizedLlama, LoadError> {
    GgufLm::load(meta, content, reader, CONTEXT, ModelWeights::from_gguf)
}
