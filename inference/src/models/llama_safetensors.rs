//! Llama-family models in Hugging Face layout (`config.json` + `*.safetensors`), through
//! `candle_transformers::models::llama`, in f32.
//!
//! The weights are read into memory with candle's safe loader (no mmap, so no `unsafe`).
//! Every tensor name and shape is checked before candle builds the model, because
//! `Llama::load` panics (unwraps) on a missing layer tensor.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::llama::{Cache, Config, Llama, LlamaConfig, LlamaEosToks};

use super::CausalLm;
use super::hf_checkpoint::{load_tensors, read_config_text, weights_error};
use crate::error::LoadError;

/// A Llama-architecture model loaded from safetensors.
pub struct SafetensorsLlama {
    model: Llama,
    cache: Cache,
    config: Config,
    device: Device,
}

/// Reads and parses `dir/config.json` as a Llama config.
pub fn read_config(dir: &Path) -> Result<LlamaConfig, LoadError> {
    let (path, text) = read_config_text(dir)?;
    serde_json::from_str(&text).map_err(|e| weights_error(&path, format!("config.json: {e}")))
}

/// Checks every tensor `Llama::load` will ask for exists with the expected shape.
fn check_tensors(
    dir: &Path,
    cfg: &Config,
    tensors: &HashMap<String, Tensor>,
) -> Result<(), LoadError> {
    let (h, i, v) = (cfg.hidden_size, cfg.intermediate_size, cfg.vocab_size);
    if cfg.num_attention_heads == 0 || h % cfg.num_attention_heads != 0 {
        return Err(weights_error(
            dir,
            "hidden_size is not a multiple of num_attention_heads",
        ));
    }
    let kv = cfg.num_key_value_heads * (h / cfg.num_attention_heads);
    let mut expected: Vec<(String, Vec<usize>)> = vec![
        ("model.embed_tokens.weight".into(), vec![v, h]),
        ("model.norm.weight".into(), vec![h]),
    ];
    if !cfg.tie_word_embeddings {
        expected.push(("lm_head.weight".into(), vec![v, h]));
    }
    for layer in 0..cfg.num_hidden_layers {
        let p = format!("model.layers.{layer}");
        for (name, shape) in [
            ("self_attn.q_proj.weight", vec![h, h]),
            ("self_attn.k_proj.weight", vec![kv, h]),
            ("self_attn.v_proj.weight", vec![kv, h]),
            ("self_attn.o_proj.weight", vec![h, h]),
            ("mlp.gate_proj.weight", vec![i, h]),
            ("mlp.up_proj.weight", vec![i, h]),
            ("mlp.down_proj.weight", vec![h, i]),
            ("input_layernorm.weight", vec![h]),
            ("post_attention_layernorm.weight", vec![h]),
        ] {
            expected.push((format!("{p}.{name}"), shape));
        }
    }
    for (name, shape) in expected {
        match tensors.get(&name) {
            None => return Err(weights_error(dir, format!("tensor `{name}` is missing"))),
            Some(t) if t.dims() != shape.as_slice() => {
                return Err(weights_error(
                    dir,
                    format!(
                        "tensor `{name}` has shape {:?}, expected {shape:?}",
                        t.dims()
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

impl SafetensorsLlama {
    /// Loads the checkpoint in `dir` onto `device`.
    pub fn load(dir: &Path, device: &Device) -> Result<Self, LoadError> {
        let config = read_config(dir)?.into_config(false);
        let device = device.clone();
        let tensors = load_tensors(dir, &device)?;
        check_tensors(dir, &config, &tensors)?;
        let vb = VarBuilder::from_tensors(tensors, DType::F32, &device);
        let model = Llama::load(vb, &config).map_err(|e| weights_error(dir, e.to_string()))?;
        let cache = Cache::new(true, DType::F32, &config, &device)
            .map_err(|e| weights_error(dir, e.to_string()))?;
        Ok(Self {
            model,
            cache,
            config,
            device,
        })
    }

    /// The end-of-sequence ids from `config.json`.
    pub fn eos_token_ids(&self) -> Vec<u32> {
        match &self.config.eos_token_id {
            Some(LlamaEosToks::Single(id)) => vec![*id],
            Some(LlamaEosToks::Multiple(ids)) => ids.clone(),
            None => Vec::new(),
        }
    }

    /// The beginning-of-sequence id from `config.json`.
    pub fn bos_token_id(&self) -> Option<u32> {
        self.config.bos_token_id
    }
}

impl CausalLm for SafetensorsLlama {
    fn forward(&mut self, tokens: &[u32], position: usize) -> candle_core::Result<Vec<f32>> {
        let input = Tensor::new(tokens, &self.device)?.unsqueeze(0)?;
        let logits = self.model.forward(&input, position, &mut self.cache)?;
        logits.squeeze(0)?.to_dtype(DType::F32)?.to_vec1()
    }

    fn clear_kv_cache(&mut self) -> candle_core::Result<()> {
        // The cache has no reset method; rebuilding it only recomputes the RoPE tables.
        self.cache = Cache::new(true, DType::F32, &self.config, &self.device)?;
        Ok(())
    }

    fn context_length(&self) -> usize {
        self.config.max_position_embeddings
    }
}
