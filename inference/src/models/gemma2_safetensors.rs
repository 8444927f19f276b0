//! Gemma 2 models in Hugging Face layout (`model_type = gemma2`), through
//! `candle_transformers::models::gemma2`, in f32 (without flash attention).

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use candle_transformers::models::gemma2::{Config, Model};

use super::hf_checkpoint::load_tensors;
use super::safetensors_lm::{HfLm, check_heads, read_config, scale_rows};
use crate::error::LoadError;

/// A Gemma 2 model loaded from safetensors.
pub type SafetensorsGemma2 = HfLm<Model>;

/// The usable context of a Gemma 2 or 3 checkpoint: `max_position_embeddings`, capped at
/// `sliding_window`. candle masks the window in multi-token passes only (Gemma 2: on every
/// layer, not only the local ones), never in cached decode steps; within the window the mask
/// is plain causal and outputs are exactly the model's.
pub fn windowed_context(max_position_embeddings: usize, sliding_window: Option<usize>) -> usize {
    sliding_window.map_or(max_position_embeddings, |w| w.min(max_position_embeddings))
}

/// Restores the checkpoint's attention scale `query_pre_attn_scalar^-1/2` where candle uses
/// `head_dim^-1/2` (they differ for Gemma 2 27B: 144 and 128), by scaling every `q_proj`
/// (and its bias) by `sqrt(head_dim / query_pre_attn_scalar)`.
fn rescale_queries(
    dir: &Path,
    tensors: &mut HashMap<String, Tensor>,
    config: &Config,
) -> Result<(), LoadError> {
    let (head_dim, scalar) = (config.head_dim, config.query_pre_attn_scalar);
    if head_dim == scalar || scalar == 0 {
        return Ok(());
    }
    let factor = (head_dim as f64 / scalar as f64).sqrt();
    let rows = config.num_attention_heads * head_dim;
    for layer in 0..config.num_hidden_layers {
        let prefix = format!("model.layers.{layer}.self_attn.q_proj");
        scale_rows(dir, tensors, &format!("{prefix}.weight"), rows, factor)?;
        if config.attention_bias {
            scale_rows(dir, tensors, &format!("{prefix}.bias"), rows, factor)?;
        }
    }
    Ok(())
}

/// Loads the checkpoint in `dir` onto `device`; the context is [`windowed_context`].
pub fn load(dir: &Path, device: &Device) -> Result<SafetensorsGemma2, LoadError> {
    let config: Config = read_config(dir)?;
    check_heads(dir, config.num_attention_heads, config.num_key_value_heads)?;
    let mut tensors = load_tensors(dir, device)?;
    rescale_queries(dir, &mut tensors, &config)?;
    let context = windowed_context(config.max_position_embeddings, config.sliding_window);
    HfLm::build(dir, tensors, device, context, |vb| {
        Model::new(false, &config, vb)
    })
}
