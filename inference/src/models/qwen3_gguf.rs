//! Qwen3 GGUF models (`general.architecture = qwen3`) through
//! `candle_transformers::models::quantized_qwen3`.

use candle_core::Device;
use candle_core::quantized::gguf_file;
use candle_transformers::models::quantized_qwen3::ModelWeights;

use super::quantized::{ContextRule, GgufLm, impl_quantized_weights};
use crate::models::repack::GgufReader;

/// A quantized Qwen3-architecture model.
pub type QuantizedQwen3 = GgufLm<ModelWeights>;

/// Context length: `qwen3.context_length` (required: candle sizes its rotary table from it).
pub const CONTEXT: ContextRule = ContextRule::required("qwen3.context_length");

impl_quantized_weights!(ModelWeights, clear);

/// Builds the weights.
///
/// candle builds its rotary tables in the dtype named by the non-standard `general.dtype` key,
/// F16 when absent (as in every llama.cpp export), which rounds positions above 2048. The
/// engine computes in f32, so the key is set to F32 (0) before loading.
pub fn build(
    mut content: gguf_file::Content,
    reader: &mut GgufReader,
    device: &Device,
) -> candle_core::Result<ModelWeights> {
    content
        .metadata
        .insert("general.dtype".to_string(), gguf_file::Value::U32(0));
    ModelWeights::from_gguf(content, reader, device)
}
