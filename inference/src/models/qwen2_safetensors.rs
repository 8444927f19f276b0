//! Qwen2 / Qwen2.5 models in Hugging Face layout (`model_type = qwen2`), through
//! `candle_transformers::models::qwen2`, in f32.

use std::path::Path;

use candle_core::Device;
use candle_transformers::models::qwen2::{Config, ModelForCausalLM};

use super::hf_checkpoint::load_tensors;
use super::safetensors_lm::{HfLm, check_heads, read_config};
use crate::error::LoadError;

/// A Qwen2-architecture model loaded from safetensors.
pub type SafetensorsQwen2 = HfLm<ModelForCausalLM>;

/// Loads the checkpoint in `dir` onto `device`. A missing tensor is a [`LoadError::Weights`]
/// naming it (candle's Qwen2 loader returns errors, no panics).
///
/// The context is `max_position_embeddings`, capped at `sliding_window`: candle applies the
/// sliding-window mask to multi-token passes whatever `use_sliding_window` says, but not to
/// cached decode steps, so past the window the two would disagree.
pub fn load(dir: &Path, device: &Device) -> Result<SafetensorsQwen2, LoadError> {
    let config: Config = read_config(dir)?;
    check_heads(dir, config.num_attention_heads, config.num_key_value_heads)?;
    let tensors = load_tensors(dir, device)?;
    let context = config.max_position_embeddings.min(config.sliding_window);
    HfLm::build(dir, tensors, device, context, |vb| {
        ModelForCausalLM::new(&config, vb)
    })
}
