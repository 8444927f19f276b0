//! Qwen3 GGUF models (`general.architecture = qwen3`) through
//! `candle_transformers::models::quantized_qwen3`.

use candle_core::Tensor;
use candle_core::quantized::gguf_file;
use candle_transformers::models::quantized_qwen3::ModelWeights;

use super::quantized::{ContextRule, GgufLm, QuantizedWeights};
use crate::error::LoadError;
use crate::gguf_meta::GgufMeta;

/// A quantized Qwen3-architecture model on the CPU.
pub type QuantizedQwen3 = GgufLm<ModelWeights>;

/// Context length: `qwen3.context_length` (required: candle sizes its rotary table from it).
pub const CONTEXT: ContextRule = ContextRule {
    key: "qwen3.context_length",
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

/// Reads a `qwen3` GGUF model.
///
/// candle builds its rotary tables in the dtype named by the non-standard `general.dtype` key,
/// F16 when absent (as in every llama.cpp export), which rounds positions above 2048. The
/// engine computes in f32 on the CPU, so the key is set to F32 (0) before loading.
pub fn load(
    meta: &GgufMeta<'_>,
    content: gguf_file::Content,
    reader: &mut std::fs::File,
) -> Result<QuantizedQwen3, LoadError> {
    GgufLm::load(
        meta,
        content,
        reader,
        CONTEXT,
        |mut content, reader, device| {
            content
                .metadata
                .insert("general.dtype".to_string(), gguf_file::Value::U32(0));
            ModelWeights::from_gguf(content, reader, device)
        },
    )
}
