//! An independent reference for the GGUF Gemma models: candle's safetensors Gemma 2 / Gemma 3
//! (`candle_transformers::models::{gemma2, gemma3}`) built from the GGUF file's tensors,
//! dequantized, renamed to Hugging Face names, with llama.cpp's `+ 1` taken off the norms.

use std::collections::HashMap;
use std::path::Path;

use candle_core::quantized::gguf_file;
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::{gemma2, gemma3};

use super::tiny::{Reference, uncached};

/// The Hugging Face name of a GGUF tensor and whether it is a norm (stored `+ 1`).
fn hf_name(gguf: &str) -> (String, bool) {
    match gguf {
        "token_embd.weight" => return ("model.embed_tokens.weight".into(), false),
        "output_norm.weight" => return ("model.norm.weight".into(), true),
        _ => {}
    }
    let rest = gguf.strip_prefix("blk.").expect("a layer tensor");
    let (layer, name) = rest.split_once('.').expect("blk.N.name");
    let (hf, norm) = match name {
        "attn_q.weight" => ("self_attn.q_proj.weight", false),
        "attn_k.weight" => ("self_attn.k_proj.weight", false),
        "attn_v.weight" => ("self_attn.v_proj.weight", false),
        "attn_output.weight" => ("self_attn.o_proj.weight", false),
        "attn_q_norm.weight" => ("self_attn.q_norm.weight", true),
        "attn_k_norm.weight" => ("self_attn.k_norm.weight", true),
        "attn_norm.weight" => ("input_layernorm.weight", true),
        "post_attention_norm.weight" => ("post_attention_layernorm.weight", true),
        "ffn_norm.weight" => ("pre_feedforward_layernorm.weight", true),
        "post_ffw_norm.weight" => ("post_feedforward_layernorm.weight", true),
        "ffn_gate.weight" => ("mlp.gate_proj.weight", false),
        "ffn_up.weight" => ("mlp.up_proj.weight", false),
        "ffn_down.weight" => ("mlp.down_proj.weight", false),
        other => panic!("no Hugging Face name for {other}"),
    };
    (format!("model.layers.{layer}.{hf}"), norm)
}

/// Every tensor of the GGUF at `path`, dequantized and renamed.
fn hf_tensors(path: &Path) -> HashMap<String, Tensor> {
    let mut file = std::fs::File::open(path).expect("opens");
    let content = gguf_file::Content::read(&mut file).expect("reads header");
    let mut tensors = HashMap::new();
    for name in content.tensor_infos.keys() {
        let t = content
            .tensor(&mut file, name, &Device::Cpu)
            .and_then(|q| q.dequantize(&Device::Cpu))
            .expect("dequantizes");
        let (hf, norm) = hf_name(name);
        let t = if norm {
            (t - 1.0).expect("subtracts")
        } else {
            t
        };
        tensors.insert(hf, t);
    }
    tensors
}

/// candle's safetensors model for the GGUF at `path`; `config` is the Hugging Face config
/// (`model_type` `gemma2` or `gemma3_text`). candle's sliding mask lets `w + 1` positions
/// through where Gemma lets `w`: pass `sliding_window = w - 1` for Gemma 3.
pub fn reference(path: &Path, config: serde_json::Value) -> Reference {
    let vb = VarBuilder::from_tensors(hf_tensors(path), DType::F32, &Device::Cpu);
    let built = "candle builds the reference";
    match config["model_type"].as_str() {
        Some("gemma2") => {
            let cfg: gemma2::Config = serde_json::from_value(config).expect("gemma2 config");
            uncached(gemma2::Model::new(false, &cfg, vb).expect(built), |m, x| {
                m.clear_kv_cache();
                m.forward(x, 0)
            })
        }
        _ => {
            let cfg: gemma3::Config = serde_json::from_value(config).expect("gemma3 config");
            uncached(gemma3::Model::new(false, &cfg, vb).expect(built), |m, x| {
                m.clear_kv_cache();
                m.forward(x, 0)
            })
        }
    }
}
