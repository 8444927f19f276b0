//! Gemma 3 GGUF models (`general.architecture = gemma3`, text only) through our own quantized
//! Gemma ([`super::gemma_quantized`]), not candle's `quantized_gemma3`, which computes the MLP
//! with SiLU instead of GELU and masks the sliding window only in multi-token passes.

use candle_core::Device;
use candle_core::quantized::gguf_file;

use super::gemma_quantized::{GemmaWeights, Generation};
use super::quantized::{ContextRule, GgufLm};
use crate::models::repack::GgufReader;

/// A quantized Gemma-3-architecture model.
pub type QuantizedGemma3 = GgufLm<GemmaWeights>;

/// Context length: `gemma3.context_length`, at most 131072 (the released models' length;
/// 131072 when absent). Local layers are masked to their window in every pass.
pub const CONTEXT: ContextRule = ContextRule::capped("gemma3.context_length", 131_072);

/// Builds the weights with rotary tables for `context` positions.
pub fn build(
    context: usize,
) -> impl FnOnce(gguf_file::Content, &mut GgufReader, &Device) -> candle_core::Result<GemmaWeights>
{
    move |content, reader, device| {
        GemmaWeights::from_gguf(Generation::Gemma3, content, reader, device, context)
    }
}
