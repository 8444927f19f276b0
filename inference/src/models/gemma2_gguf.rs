//! Gemma 2 GGUF models (`general.architecture = gemma2`) through our own quantized Gemma
//! ([`super::gemma_quantized`]): candle 0.11.1 has no quantized Gemma 2.

use candle_core::Device;
use candle_core::quantized::gguf_file;

use super::gemma_quantized::{GemmaWeights, Generation};
use super::quantized::{ContextRule, GgufLm};
use crate::models::repack::GgufReader;

/// A quantized Gemma 2 model.
pub type QuantizedGemma2 = GgufLm<GemmaWeights>;

/// Context length: `gemma2.context_length` (required: it sizes the rotary tables). Local
/// layers are masked to their window in every pass, so the whole context is usable.
pub const CONTEXT: ContextRule = ContextRule::required("gemma2.context_length");

/// Builds the weights with rotary tables for `context` positions.
pub fn build(
    context: usize,
) -> impl FnOnce(gguf_file::Content, &mut GgufReader, &Device) -> candle_core::Result<GemmaWeights>
{
    move |content, reader, device| {
        GemmaWeights::from_gguf(Generation::Gemma2, content, reader, device, context)
    }
}
