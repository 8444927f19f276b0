//! A tiny random-weight Qwen2 written by the test itself (VarMap::save), loaded back through
//! `Engine::load_safetensors` (dispatched on `model_type`), must generate exactly what the
//! in-memory model computes without a KV cache.

mod common;

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use candle_transformers::models::qwen2::{Config, ModelForCausalLM};
use common::tiny::{byte_tokenizer, greedy};
use palisade_inference::{Engine, GenerationParams, LoadError, LoadOptions};

const CONFIG: &str = r#"{
  "model_type": "qwen2", "architectures": ["Qwen2ForCausalLM"],
  "vocab_size": 258, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
  "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 96,
  "sliding_window": 64, "max_window_layers": 2, "use_sliding_window": false,
  "tie_word_embeddings": true, "rope_theta": 1000000.0, "rms_norm_eps": 1e-6,
  "hidden_act": "silu", "bos_token_id": null, "eos_token_id": 257
}"#;

/// Writes the checkpoint (no tokenizer_config.json: the fallback template is used) and
/// returns the in-memory model it was saved from.
fn write_checkpoint(dir: &Path) -> ModelForCausalLM {
    let cfg: Config = serde_json::from_str(CONFIG).expect("config");
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let model = ModelForCausalLM::new(&cfg, vb).expect("random qwen2");
    varmap.save(dir.join("model.safetensors")).expect("saves");
    std::fs::write(dir.join("config.json"), CONFIG).expect("writes");
    byte_tokenizer(&["<|im_start|>", "<|im_end|>"])
        .save(dir.join("tokenizer.json"), false)
        .expect("saves tokenizer");
    model
}

#[test]
fn saved_tiny_qwen2_generates_like_the_in_memory_model() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut reference = write_checkpoint(dir.path());
    let mut engine = Engine::load_safetensors(dir.path(), &LoadOptions::default()).expect("loads");
    assert_eq!(engine.context_length(), 64, "capped at the sliding window");
    assert!(!engine.chat_template().is_from_model());
    assert!(engine.stop_token_ids().contains(&257));
    let (prompt, ids) = common::tiny::chatml_hi_there(&engine);

    let mut logits = |ids: &[u32]| -> Vec<f32> {
        reference.clear_kv_cache();
        Tensor::new(ids, &Device::Cpu)
            .and_then(|t| t.unsqueeze(0))
            .and_then(|x| reference.forward(&x, 0))
            .and_then(|t| t.flatten_all())
            .and_then(|t| t.to_vec1())
            .expect("reference forward")
    };
    let expected = greedy(&mut logits, &ids, 16, 257);
    common::tiny::assert_generates(
        &mut engine,
        &prompt,
        &GenerationParams::greedy(16),
        &expected,
    );
    common::tiny::assert_context_overflow(&mut engine, 64);
}

#[test]
fn unsupported_or_incomplete_qwen2_checkpoints_are_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_checkpoint(dir.path());
    let load = || match Engine::load_safetensors(dir.path(), &LoadOptions::default()) {
        Err(e) => e,
        Ok(_) => panic!("must not load"),
    };
    let weights =
        candle_core::safetensors::load(dir.path().join("model.safetensors"), &Device::Cpu)
            .expect("reads");
    let kept: std::collections::HashMap<String, Tensor> = weights
        .into_iter()
        .filter(|(k, _)| k != "model.layers.1.mlp.up_proj.weight")
        .collect();
    candle_core::safetensors::save(&kept, dir.path().join("model.safetensors")).expect("writes");
    let err = load();
    assert!(matches!(err, LoadError::Weights { .. }), "{err}");
    assert!(err.to_string().contains("up_proj"), "{err}");

    let other = CONFIG.replace("\"qwen2\"", "\"mamba\"");
    std::fs::write(dir.path().join("config.json"), other).expect("writes");
    let err = load();
    assert!(
        matches!(&err, LoadError::UnsupportedArchitecture { architecture, supported, .. }
            if architecture == "mamba" && supported.contains("qwen2")),
        "{err}"
    );
}
