//! Phi-3 / Phi-3.5 GGUF models (`general.architecture = phi3`) through
//! `candle_transformers::models::quantized_phi3`.

use candle_core::Tensor;
use candle_core::quantized::gguf_file;
use candle_transformers::models::quantized_phi3::ModelWeights;

use super::quantized::{ContextRule, GgufLm, QuantizedWeights};
use crate::error::LoadError;
use crate::gguf_meta::GgufMeta;

/// A quantized Phi-3-architecture model on the CPU.
pub type QuantizedPhi3 = GgufLm<ModelWeights>;

/// Context length: `phi3.context_length` (required: candle sizes its rotary table and KV
/// cache from it). candle's Phi-3 applies no LongRoPE scaling, so 128k variants are only
/// accurate up to their original (4k) training length.
pub const CONTEXT: ContextRule = ContextRule {
    key: "phi3.context_length",
    required: true,
    backend_max: None,
    cap_key: None,
    single_pass_prefill: false,
};

impl QuantizedWeights for ModelWeights {
    fn forward(&mut self, input: &Tensor, position: usize) -> candle_core::Result<Tensor> {
        ModelWeights::forward(self, input, position)
    }

    /// candle's Phi-3 resets its KV cache whenever it is fed position 0, which is how the
    /// engine starts every sequence: nothing to do here.
    fn clear_kv_cache(&mut self) {}
}

/// Reads a `phi3` GGUF model (without flash attention: CPU only).
pub fn load(
    meta: &GgufMeta<'_>,
    content: gguf_file::Content,
    reader: &mut std::fs::File,
) -> Result<QuantizedPhi3, LoadError> {
    GgufLm::load(meta, content, reader, CONTEXT, |content, reader, device| {
        ModelWeights::from_gguf(false, content, reader, device)
    })
}
