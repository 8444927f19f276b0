//! Phi-3 / Phi-3.5 GGUF models (`general.architecture = phi3`) through
//! `candle_transformers::models::quantized_phi3`.

use candle_core::Device;
use candle_core::quantized::gguf_file;
use candle_transformers::models::quantized_phi3::ModelWeights;

use super::quantized::{ContextRule, GgufLm, impl_quantized_weights};
use crate::models::repack::GgufReader;

/// A quantized Phi-3-architecture model.
pub type QuantizedPhi3 = GgufLm<ModelWeights>;

/// Context length: `phi3.context_length` (required: candle sizes its rotary table and KV
/// cache from it). candle's Phi-3 applies no LongRoPE scaling, so 128k variants are only
/// accurate up to their original (4k) training length.
pub const CONTEXT: ContextRule = ContextRule::required("phi3.context_length");

impl_quantized_weights!(ModelWeights, resets_at_position_0);

/// Builds the weights (without flash attention, which needs the `flash-attn` build).
pub fn build(
    content: gguf_file::Content,
    reader: &mut GgufReader,
    device: &Device,
) -> candle_core::Result<ModelWeights> {
    ModelWeights::from_gguf(false, content, reader, device)
}
