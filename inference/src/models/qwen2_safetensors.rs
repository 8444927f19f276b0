//! Qwen2 / Qwen2.5 models in Hugging Face layout (`model_type = qwen2`), through
//! `candle_transformers::models::qwen2`, in f32.

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::qwen2::{Config, ModelForCausalLM};

use super::CausalLm;
use super::hf_checkpoint::{load_tensors, read_config_text, weights_error};
use crate::error::LoadError;

/// A Qwen2-architecture model loaded from safetensors.
pub struct SafetensorsQwen2 {
    model: ModelForCausalLM,
    device: Device,
    context_length: usize,
}

impl SafetensorsQwen2 {
    /// Loads the checkpoint in `dir` onto `device`. A missing tensor is a
    /// [`LoadError::Weights`] naming it (candle's Qwen2 loader returns errors, no panics).
    ///
    /// The context is `max_position_embeddings`, capped at `sliding_window`: candle applies
    /// the sliding-window mask to multi-token passes whatever `use_sliding_window` says, but
    /// not to cached decode steps, so past the window the two would disagree.
    pub fn load(dir: &Path, device: &Device) -> Result<Self, LoadError> {
        let (path, text) = read_config_text(dir)?;
        let config: Config = serde_json::from_str(&text)
            .map_err(|e| weights_error(&path, format!("config.json: {e}")))?;
        let tensors = load_tensors(dir, device)?;
        let vb = VarBuilder::from_tensors(tensors, DType::F32, device);
        let model =
            ModelForCausalLM::new(&config, vb).map_err(|e| weights_error(dir, e.to_string()))?;
        Ok(Self {
            model,
            device: device.clone(),
            context_length: config.max_position_embeddings.min(config.sliding_window),
        })
    }
}

impl CausalLm for SafetensorsQwen2 {
    fn forward(&mut self, tokens: &[u32], position: usize) -> candle_core::Result<Vec<f32>> {
        let input = Tensor::new(tokens, &self.device)?.unsqueeze(0)?;
        // (1, 1, vocab) -> (vocab)
        let logits = self.model.forward(&input, position)?;
        logits.flatten_all()?.to_dtype(DType::F32)?.to_vec1()
    }

    fn clear_kv_cache(&mut self) -> candle_core::Result<()> {
        self.model.clear_kv_cache();
        Ok(())
    }

    fn context_length(&self) -> usize {
        self.context_length
    }
}
