//! Gemma 3 text models in Hugging Face layout (`model_type = gemma3_text`: Gemma 3 270M and
//! 1B), through `candle_transformers::models::gemma3`, in f32 (without flash attention).

use std::path::Path;

use candle_core::Device;
use candle_transformers::models::gemma3::{Config, Model};

use super::gemma2_safetensors::windowed_context;
use super::hf_checkpoint::{load_tensors, weights_error};
use super::safetensors_lm::{HfLm, check_heads, read_config};
use crate::error::LoadError;

/// A Gemma 3 text model loaded from safetensors.
pub type SafetensorsGemma3 = HfLm<Model>;

/// A config.json refused with `reason`.
fn refused(dir: &Path, reason: &str) -> LoadError {
    weights_error(&dir.join("config.json"), format!("config.json: {reason}"))
}

/// Fills `sliding_window_pattern` from `layer_types` (newer configs) when it is absent; the
/// pattern must be candle's: every `n`-th layer global, the others sliding.
fn with_sliding_window_pattern(dir: &Path, json: &mut serde_json::Value) -> Result<(), LoadError> {
    if json.get("sliding_window_pattern").is_some() {
        return Ok(());
    }
    let Some(types) = json.get("layer_types").and_then(|t| t.as_array()) else {
        return Ok(()); // serde names the missing field
    };
    let global = |t: &serde_json::Value| t.as_str() == Some("full_attention");
    let pattern = types
        .iter()
        .position(global)
        .map_or(types.len() + 1, |i| i + 1);
    let regular = types
        .iter()
        .enumerate()
        .all(|(i, t)| global(t) == (i + 1).is_multiple_of(pattern));
    if !regular {
        return Err(refused(
            dir,
            "`layer_types` is not a repeating pattern of sliding layers and one global layer",
        ));
    }
    json["sliding_window_pattern"] = serde_json::Value::from(pattern);
    Ok(())
}

/// Loads the checkpoint in `dir` onto `device`; the context is
/// [`windowed_context`](super::gemma2_safetensors::windowed_context) (candle's local layers
/// keep a rotating cache of `sliding_window` positions and a mask that is wrong past it).
///
/// Refused with a clear error: multimodal checkpoints (`text_config`, Gemma 3 4B and larger),
/// `rope_scaling` (candle ignores it), `query_pre_attn_scalar != head_dim` (candle scales by
/// `head_dim`) and more than one key/value head (candle's cache fails on the prompt).
pub fn load(dir: &Path, device: &Device) -> Result<SafetensorsGemma3, LoadError> {
    let mut json: serde_json::Value = read_config(dir)?;
    if json.get("text_config").is_some() {
        return Err(refused(
            dir,
            "multimodal Gemma 3 checkpoints (text_config) are not supported; use the model's \
             GGUF, or a text-only checkpoint (model_type gemma3_text)",
        ));
    }
    if json.get("rope_scaling").is_some_and(|s| !s.is_null()) {
        return Err(refused(
            dir,
            "`rope_scaling` is not supported by candle's Gemma 3",
        ));
    }
    with_sliding_window_pattern(dir, &mut json)?;
    let config: Config = serde_json::from_value(json).map_err(|e| refused(dir, &e.to_string()))?;
    if config.query_pre_attn_scalar != config.head_dim {
        return Err(refused(
            dir,
            "query_pre_attn_scalar differs from head_dim, which candle's Gemma 3 assumes",
        ));
    }
    if config.sliding_window_pattern == 0 {
        return Err(refused(dir, "sliding_window_pattern is zero"));
    }
    check_heads(dir, config.num_attention_heads, config.num_key_value_heads)?;
    if config.num_key_value_heads != 1 {
        // Its KV cache appends the (strided) value states of a multi-token pass, which candle
        // refuses ("slice-set only supports contiguous tensors") unless there is one head.
        return Err(refused(
            dir,
            "candle's Gemma 3 runs only with num_key_value_heads = 1 (as in Gemma 3 270M and \
             1B); use the model's GGUF",
        ));
    }
    let tensors = load_tensors(dir, device)?;
    let context = windowed_context(config.max_position_embeddings, Some(config.sliding_window));
    HfLm::build(dir, tensors, device, context, |vb| {
        Model::new(false, &config, vb)
    })
}
