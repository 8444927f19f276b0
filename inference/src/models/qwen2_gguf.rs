//! Qwen2 / Qwen2.5 GGUF models (`general.architecture = qwen2`) through
//! `candle_transformers::models::quantized_qwen2`.

use candle_core::Tensor;
use candle_core::quantized::gguf_file;
use candle_transformers::models::quantized_qwen2::ModelWeights;

use super::quantized::{ContextRule, GgufLm, QuantizedWeights};
use crate::error::LoadError;
use crate::gguf_meta::GgufMeta;

/// A quantized Qwen2-architecture model on the CPU.
pub type QuantizedQwen2 = GgufLm<ModelWeights>;

/// Context length: `qwen2.context_length` (required: candle sizes its rotary table from it).
pub const CONTEXT: ContextRule = ContextRule {
    key: "qwen2.context_length",
    required: true,
    backend_max: None,
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

/// Reads a `qwen2` GGUF model.
pub fn load(
    meta: &GgufMeta<'_>,
    content: gguf_file::Content,
    reader: &mut std::fs::File,
) -> Result<QuantizedQwen2, LoadError> {
    GgufLm::load(meta, content, reader, CONTEXT, ModelWeights::from_gguf)
}
