//! Llama-family GGUF models (Llama 2/3, SmolLM, Mistral, ...) through
//! `candle_transformers::models::quantized_llama`.

use candle_core::quantized::gguf_file;
use candle_core::{DType, Device, Tensor};
use candle_transformers::models::quantized_llama::{MAX_SEQ_LEN, ModelWeights};

use super::{CausalLm, weights_error};
use crate::error::LoadError;
use crate::gguf_meta::GgufMeta;

/// A quantized Llama-architecture model on the CPU.
pub struct QuantizedLlama {
    weights: ModelWeights,
    device: Device,
    context_length: usize,
}

impl QuantizedLlama {
    /// Reads the weights described by `content` from `reader`.
    ///
    /// The context length is `llama.context_length`, capped at candle's rotary table size
    /// ([`MAX_SEQ_LEN`] = 4096): positions beyond it cannot be computed by this backend.
    pub fn load(
        meta: &GgufMeta<'_>,
        content: gguf_file::Content,
        reader: &mut std::fs::File,
    ) -> Result<Self, LoadError> {
        let declared = meta
            .opt_u64("llama.context_length")?
            .map_or(MAX_SEQ_LEN, |n| usize::try_from(n).unwrap_or(usize::MAX));
        let device = Device::Cpu;
        let weights = ModelWeights::from_gguf(content, reader, &device)
            .map_err(|e| weights_error(meta, &e))?;
        Ok(Self {
            weights,
            device,
            context_length: declared.min(MAX_SEQ_LEN),
        })
    }
}

impl CausalLm for QuantizedLlama {
    fn forward(&mut self, tokens: &[u32], position: usize) -> candle_core::Result<Vec<f32>> {
        let input = Tensor::new(tokens, &self.device)?.unsqueeze(0)?;
        let logits = self.weights.forward(&input, position)?;
        // (1, vocab) -> (vocab)
        logits.squeeze(0)?.to_dtype(DType::F32)?.to_vec1()
    }

    fn clear_kv_cache(&mut self) -> candle_core::Result<()> {
        self.weights.clear_kv_cache();
        Ok(())
    }

    fn context_length(&self) -> usize {
        self.context_length
    }
}
