//! Phi-3, Gemma 2 and Gemma 3 checkpoint folders: the test writes a tiny random-weight model
//! (config.json, model.safetensors in F32, F16 or BF16, a byte-level tokenizer.json), loads it
//! through `Engine::load_safetensors` (dispatched on `model_type`), and checks greedy
//! KV-cached generation and the prompt's logits against candle's model built from the same
//! file and run over the whole sequence at every step (no KV cache).

mod common;

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use candle_transformers::models::{gemma2, gemma3, phi3};
use common::tiny::{
    Reference, assert_context_overflow, assert_generates, byte_tokenizer, greedy, max_abs_diff,
    uncached,
};
use palisade_inference::{Engine, GenerationParams, LoadError, LoadOptions};

const PHI3_CONFIG: &str = r#"{
  "model_type": "phi3", "architectures": ["Phi3ForCausalLM"], "vocab_size": 259,
  "hidden_act": "silu", "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
  "num_attention_heads": 4, "num_key_value_heads": 2, "rms_norm_eps": 1e-5,
  "rope_theta": 10000.0, "bos_token_id": null, "eos_token_id": 258, "rope_scaling": null,
  "max_position_embeddings": 64, "tie_word_embeddings": false
}"#;

/// Phi-3.5-style LongRoPE (under its older name `su`): 64 positions, 32 original.
const PHI3_LONGROPE_CONFIG: &str = r#"{
  "model_type": "phi3", "vocab_size": 259, "hidden_act": "silu", "hidden_size": 32,
  "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
  "num_key_value_heads": 4, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "eos_token_id": 258,
  "rope_scaling": {"type": "su", "short_factor": [1.0, 1.1, 1.3, 1.6],
                   "long_factor": [1.0, 2.0, 4.0, 8.0]},
  "max_position_embeddings": 64, "original_max_position_embeddings": 32
}"#;

/// Soft caps low enough to bite on random weights.
const GEMMA2_CONFIG: &str = r#"{
  "model_type": "gemma2", "architectures": ["Gemma2ForCausalLM"], "attention_bias": false,
  "head_dim": 8, "hidden_activation": "gelu_pytorch_tanh", "hidden_size": 32,
  "intermediate_size": 64, "num_attention_heads": 4, "num_hidden_layers": 2,
  "num_key_value_heads": 2, "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "vocab_size": 259,
  "final_logit_softcapping": 5.0, "attn_logit_softcapping": 2.0, "query_pre_attn_scalar": 8,
  "sliding_window": 48, "max_position_embeddings": 96, "bos_token_id": 256,
  "eos_token_id": 258
}"#;

/// A newer config: `layer_types` instead of `sliding_window_pattern` (layer 1 global); one
/// key/value head, as in the released text models (candle's Gemma 3 needs it).
const GEMMA3_CONFIG: &str = r#"{
  "model_type": "gemma3_text", "architectures": ["Gemma3ForCausalLM"], "attention_bias": false,
  "head_dim": 8, "hidden_activation": "gelu_pytorch_tanh", "hidden_size": 32,
  "intermediate_size": 64, "num_attention_heads": 4, "num_hidden_layers": 2,
  "num_key_value_heads": 1, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0,
  "rope_local_base_freq": 10000.0, "vocab_size": 259, "final_logit_softcapping": null,
  "attn_logit_softcapping": null, "query_pre_attn_scalar": 8, "sliding_window": 48,
  "layer_types": ["sliding_attention", "full_attention"], "max_position_embeddings": 128,
  "rope_scaling": null, "bos_token_id": 256, "eos_token_id": 258
}"#;

const PHI3_SPECIALS: &[&str] = &["<|user|>", "<|assistant|>", "<|end|>"];
const GEMMA_SPECIALS: &[&str] = &["<bos>", "<start_of_turn>", "<end_of_turn>"];
const PHI3_RENDERED: &str = "<|user|>\nhi there<|end|>\n<|assistant|>\n";
const GEMMA_RENDERED: &str =
    "<bos><start_of_turn>user\nhi there<end_of_turn>\n<start_of_turn>model\n";
/// End of turn (and `eos_token_id`) in every tiny model here.
const EOS: u32 = 258;

/// Candle's model for `config` (the family is its `model_type`) built from `tensors` in f32.
fn candle_model(config: &str, tensors: HashMap<String, Tensor>) -> Reference {
    let json: serde_json::Value = serde_json::from_str(config).expect("json");
    let vb = VarBuilder::from_tensors(tensors, DType::F32, &Device::Cpu);
    let built = "candle builds the model";
    // Each step starts from an empty cache at position 0.
    match json["model_type"].as_str().expect("model_type") {
        "phi3" => {
            let cfg: phi3::Config = serde_json::from_str(&config.replace("\"su\"", "\"longrope\""))
                .expect("phi3 config");
            uncached(phi3::Model::new(&cfg, vb).expect(built), |m, x| {
                m.clear_kv_cache();
                m.forward(x, 0)
            })
        }
        "gemma2" => {
            let cfg: gemma2::Config = serde_json::from_str(config).expect("gemma2 config");
            uncached(gemma2::Model::new(false, &cfg, vb).expect(built), |m, x| {
                m.clear_kv_cache();
                m.forward(x, 0)
            })
        }
        "gemma3_text" => {
            let mut json = json.clone();
            json["sliding_window_pattern"] = serde_json::Value::from(2);
            let cfg: gemma3::Config = serde_json::from_value(json).expect("gemma3 config");
            uncached(gemma3::Model::new(false, &cfg, vb).expect(built), |m, x| {
                m.clear_kv_cache();
                m.forward(x, 0)
            })
        }
        other => panic!("no tiny model for {other}"),
    }
}

/// Random f32 tensors of every weight candle's model for `config` asks for.
fn random_tensors(config: &str) -> HashMap<String, Tensor> {
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let json: serde_json::Value = serde_json::from_str(config).expect("json");
    // Building the model once registers (and randomly initialises) its variables.
    let tensors = |varmap: &VarMap| -> HashMap<String, Tensor> {
        let data = varmap.data().lock().expect("varmap lock");
        data.iter()
            .map(|(k, v)| (k.clone(), v.as_tensor().clone()))
            .collect()
    };
    match json["model_type"].as_str().expect("model_type") {
        "phi3" => {
            let cfg: phi3::Config = serde_json::from_str(&config.replace("\"su\"", "\"longrope\""))
                .expect("phi3 config");
            phi3::Model::new(&cfg, vb).expect("random phi3");
        }
        "gemma2" => {
            let cfg: gemma2::Config = serde_json::from_str(config).expect("gemma2 config");
            gemma2::Model::new(false, &cfg, vb).expect("random gemma2");
        }
        _ => {
            let mut json = json.clone();
            json["sliding_window_pattern"] = serde_json::Value::from(2);
            let cfg: gemma3::Config = serde_json::from_value(json).expect("gemma3 config");
            gemma3::Model::new(false, &cfg, vb).expect("random gemma3");
        }
    }
    // Gemma's norms start at 0 (weight + 1 is applied): perturb every 1-D tensor so the
    // norms are exercised.
    tensors(&varmap)
        .into_iter()
        .map(|(k, t)| {
            let t = if t.rank() == 1 {
                (&t + Tensor::randn(0f32, 0.1, t.dims(), &Device::Cpu).expect("randn"))
                    .expect("adds")
            } else {
                t
            };
            (k, t)
        })
        .collect()
}

/// Writes the folder with weights stored as `dtype`; returns the tensors as written (read back
/// in f32), from which the reference is built.
fn write_folder(
    dir: &Path,
    config: &str,
    specials: &[&str],
    dtype: DType,
) -> HashMap<String, Tensor> {
    let stored: HashMap<String, Tensor> = random_tensors(config)
        .into_iter()
        .map(|(k, t)| (k, t.to_dtype(dtype).expect("converts")))
        .collect();
    let file = dir.join("model.safetensors");
    candle_core::safetensors::save(&stored, &file).expect("writes weights");
    std::fs::write(dir.join("config.json"), config).expect("writes config");
    byte_tokenizer(specials)
        .save(dir.join("tokenizer.json"), false)
        .expect("saves tokenizer");
    let back = candle_core::safetensors::load(&file, &Device::Cpu).expect("reads back");
    for t in back.values() {
        assert_eq!(t.dtype(), dtype, "stored in the requested dtype");
    }
    back.into_iter()
        .map(|(k, t)| (k, t.to_dtype(DType::F32).expect("f32")))
        .collect()
}

/// One tiny folder: its config, special tokens, fallback rendering and usable context.
struct Case {
    config: &'static str,
    specials: &'static [&'static str],
    rendered: &'static str,
    context: usize,
    dtype: DType,
}

/// Loads the folder, checks the template, greedy generation and logits against `reference`,
/// and the context limit.
fn generates_like_candle(case: &Case, mut reference: Reference, dir: &Path) {
    // `Engine::load` (what `palisade chat --model` calls) takes a folder as a checkpoint.
    let mut engine =
        Engine::load(dir, &LoadOptions::default()).unwrap_or_else(|e| panic!("loads: {e}"));
    assert_eq!(engine.context_length(), case.context);
    assert!(!engine.chat_template().is_from_model());
    assert!(engine.stop_token_ids().contains(&EOS));
    let (prompt, ids) = common::tiny::hi_there(&engine, case.rendered);

    let expected = greedy(&mut reference, &ids, 12, EOS);
    let params = GenerationParams {
        seed: 7,
        ..GenerationParams::greedy(12)
    };
    assert_generates(&mut engine, &prompt, &params, &expected);
    let diff = max_abs_diff(
        &engine.next_token_logits(&ids).expect("logits"),
        &reference(&ids),
    );
    assert!(diff < 1e-3, "logits differ by {diff}");

    assert_context_overflow(&mut engine, case.context);
}

fn check(case: &Case) {
    let dir = tempfile::tempdir().expect("tempdir");
    let tensors = write_folder(dir.path(), case.config, case.specials, case.dtype);
    generates_like_candle(case, candle_model(case.config, tensors), dir.path());
}

const PHI3: Case = Case {
    config: PHI3_CONFIG,
    specials: PHI3_SPECIALS,
    rendered: PHI3_RENDERED,
    context: 64,
    dtype: DType::F32,
};

#[test]
fn phi3_f32_generates_like_candle() {
    check(&PHI3);
}

#[test]
fn phi3_f16_generates_like_candle() {
    check(&Case {
        dtype: DType::F16,
        ..PHI3
    });
}

#[test]
fn phi3_bf16_generates_like_candle() {
    check(&Case {
        dtype: DType::BF16,
        ..PHI3
    });
}

#[test]
fn gemma2_generates_like_candle() {
    check(&Case {
        config: GEMMA2_CONFIG,
        specials: GEMMA_SPECIALS,
        rendered: GEMMA_RENDERED,
        // max_position_embeddings 96, capped at the sliding window.
        context: 48,
        dtype: DType::BF16,
    });
}

#[test]
fn gemma3_text_generates_like_candle() {
    check(&Case {
        config: GEMMA3_CONFIG,
        specials: GEMMA_SPECIALS,
        rendered: GEMMA_RENDERED,
        context: 48,
        dtype: DType::F16,
    });
}

/// Multiplies the first `rows` rows of `name` by `factor`, as an independent statement of the
/// attention-scale corrections the loader applies.
fn scaled(
    mut tensors: HashMap<String, Tensor>,
    name: &str,
    rows: usize,
    factor: f64,
) -> HashMap<String, Tensor> {
    let t = &tensors[name];
    let n = t.dim(0).expect("dim");
    let head = (t.narrow(0, 0, rows).expect("narrow") * factor).expect("scales");
    let t = Tensor::cat(&[&head, &t.narrow(0, rows, n - rows).expect("narrow")], 0).expect("cat");
    tensors.insert(name.to_string(), t);
    tensors
}

#[test]
fn phi3_longrope_gets_the_attention_factor() {
    let case = Case {
        config: PHI3_LONGROPE_CONFIG,
        ..PHI3
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut tensors = write_folder(dir.path(), case.config, case.specials, case.dtype);
    // Hugging Face multiplies cos and sin by sqrt(1 + ln(64/32) / ln(32)), so the query and
    // the key: the scores by its square, here put on the 32 query rows of qkv_proj.
    let score_factor = 1.0 + 2f64.ln() / 32f64.ln();
    for layer in 0..2 {
        let name = format!("model.layers.{layer}.self_attn.qkv_proj.weight");
        tensors = scaled(tensors, &name, 32, score_factor);
    }
    generates_like_candle(&case, candle_model(case.config, tensors), dir.path());
}

#[test]
fn gemma2_query_pre_attn_scalar_sets_the_attention_scale() {
    // Scores are scaled by 32^-1/2 instead of candle's head_dim^-1/2 = 8^-1/2: a factor 1/2.
    let config: &'static str = Box::leak(
        GEMMA2_CONFIG
            .replace(
                "\"query_pre_attn_scalar\": 8",
                "\"query_pre_attn_scalar\": 32",
            )
            .into_boxed_str(),
    );
    let case = Case {
        config,
        specials: GEMMA_SPECIALS,
        rendered: GEMMA_RENDERED,
        context: 48,
        dtype: DType::F32,
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut tensors = write_folder(dir.path(), case.config, case.specials, case.dtype);
    for layer in 0..2 {
        let name = format!("model.layers.{layer}.self_attn.q_proj.weight");
        tensors = scaled(tensors, &name, 32, 0.5);
    }
    generates_like_candle(&case, candle_model(case.config, tensors), dir.path());
}

#[test]
fn broken_or_unsupported_folders_are_clear_load_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let load = || match Engine::load_safetensors(dir.path(), &LoadOptions::default()) {
        Err(e) => e,
        Ok(_) => panic!("must not load"),
    };
    let weights = dir.path().join("model.safetensors");

    // A missing tensor is named.
    let tensors = write_folder(dir.path(), PHI3_CONFIG, PHI3_SPECIALS, DType::F32);
    let kept: HashMap<String, Tensor> = tensors
        .into_iter()
        .filter(|(k, _)| k != "model.layers.1.self_attn.qkv_proj.weight")
        .collect();
    candle_core::safetensors::save(&kept, &weights).expect("writes");
    let err = load();
    assert!(matches!(err, LoadError::Weights { .. }), "{err}");
    assert!(err.to_string().contains("qkv_proj"), "{err}");

    // A truncated weights file names the file.
    write_folder(dir.path(), GEMMA2_CONFIG, GEMMA_SPECIALS, DType::BF16);
    let bytes = std::fs::read(&weights).expect("reads");
    std::fs::write(&weights, &bytes[..bytes.len() / 2]).expect("writes");
    let err = load();
    assert!(matches!(err, LoadError::Weights { .. }), "{err}");
    assert!(err.to_string().contains("model.safetensors"), "{err}");

    // A config without a required field names it (before any weight is read).
    let config = GEMMA3_CONFIG.replace("\"rope_local_base_freq\": 10000.0,", "");
    std::fs::write(dir.path().join("config.json"), config).expect("writes");
    let err = load();
    assert!(err.to_string().contains("rope_local_base_freq"), "{err}");
    assert!(err.to_string().contains("config.json"), "{err}");

    // Multimodal Gemma 3 (text_config) says what to use instead.
    let config = GEMMA3_CONFIG.replace(
        "\"model_type\": \"gemma3_text\"",
        "\"model_type\": \"gemma3\", \"text_config\": {}",
    );
    std::fs::write(dir.path().join("config.json"), config).expect("writes");
    let err = load();
    assert!(err.to_string().contains("multimodal"), "{err}");

    // Gemma 3 with two key/value heads would fail in candle on the first prompt.
    let config = GEMMA3_CONFIG.replace("\"num_key_value_heads\": 1", "\"num_key_value_heads\": 2");
    std::fs::write(dir.path().join("config.json"), config).expect("writes");
    let err = load();
    assert!(err.to_string().contains("num_key_value_heads = 1"), "{err}");

    // Zero attention heads is an error, not a division by zero inside candle.
    let config = PHI3_CONFIG.replace("\"num_key_value_heads\": 2", "\"num_key_value_heads\": 0");
    std::fs::write(dir.path().join("config.json"), config).expect("writes");
    let err = load();
    assert!(err.to_string().contains("num_key_value_heads"), "{err}");
}
