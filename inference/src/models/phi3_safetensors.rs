//! Phi-3 / Phi-3.5 models in Hugging Face layout (`model_type = phi3`), through
//! `candle_transformers::models::phi3`, in f32.

use std::path::Path;

use candle_core::Device;
use candle_transformers::models::phi3::{Config, Model};

use super::hf_checkpoint::{load_tensors, weights_error};
use super::safetensors_lm::{HfLm, check_heads, read_config, scale_rows};
use crate::error::LoadError;

/// A Phi-3-architecture model loaded from safetensors.
pub type SafetensorsPhi3 = HfLm<Model>;

/// The LongRoPE attention factor Hugging Face multiplies cos and sin by (so every attention
/// score by its square): `sqrt(1 + ln(s) / ln(original))` with `s = max / original`, or the
/// config's `rope_scaling.attention_factor`; 1 without `rope_scaling` or when `s <= 1`.
pub fn longrope_attention_factor(config: &serde_json::Value) -> f64 {
    let Some(scaling) = config.get("rope_scaling").filter(|s| s.is_object()) else {
        return 1.0;
    };
    if let Some(f) = scaling.get("attention_factor").and_then(|f| f.as_f64()) {
        return f;
    }
    let number = |key: &str| config.get(key).and_then(|v| v.as_f64());
    match (
        number("max_position_embeddings"),
        number("original_max_position_embeddings"),
    ) {
        (Some(max), Some(original)) if original > 1.0 && max > original => {
            (1.0 + (max / original).ln() / original.ln()).sqrt()
        }
        _ => 1.0,
    }
}

/// Loads the checkpoint in `dir` onto `device`. The context is `max_position_embeddings`.
///
/// candle's LongRoPE (the 128k variants, Phi-3.5) omits Hugging Face's attention factor; it is
/// restored here by scaling the query rows of each `qkv_proj` (see
/// [`longrope_attention_factor`]). candle then uses the short factors below
/// `original_max_position_embeddings` and the long ones above, per position, where Hugging Face
/// switches the whole sequence to the long factors once it is longer than that.
pub fn load(dir: &Path, device: &Device) -> Result<SafetensorsPhi3, LoadError> {
    let mut json: serde_json::Value = read_config(dir)?;
    // "su" is the older name of "longrope" in released Phi-3 configs.
    if let Some(kind) = json.pointer_mut("/rope_scaling/type")
        && kind.as_str() == Some("su")
    {
        *kind = serde_json::Value::from("longrope");
    }
    let config: Config = serde_json::from_value(json.clone())
        .map_err(|e| weights_error(&dir.join("config.json"), format!("config.json: {e}")))?;
    check_heads(dir, config.num_attention_heads, config.num_key_value_heads)?;
    let mut tensors = load_tensors(dir, device)?;
    let factor = longrope_attention_factor(&json);
    if factor != 1.0 {
        let rows = config.num_attention_heads * config.head_dim();
        for layer in 0..config.num_hidden_layers {
            let name = format!("model.layers.{layer}.self_attn.qkv_proj.weight");
            scale_rows(dir, &mut tensors, &name, rows, factor * factor)?;
        }
    }
    HfLm::build(dir, tensors, device, config.max_position_embeddings, |vb| {
        Model::new(&config, vb)
    })
}
