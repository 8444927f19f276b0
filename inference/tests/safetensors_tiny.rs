//! A tiny random-weight Llama written by the test itself (VarMap::save), loaded back through
//! `Engine::load_safetensors`, must generate exactly what the in-memory model computes
//! without a KV cache.

mod common;

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use candle_transformers::models::llama::{Cache, Llama, LlamaConfig};
use palisade_inference::{
    Engine, FinishReason, GenerateError, GenerationParams, LoadError, LoadOptions,
};

const CONFIG: &str = r#"{
  "hidden_size": 32, "intermediate_size": 64, "vocab_size": 258, "num_hidden_layers": 2,
  "num_attention_heads": 4, "num_key_value_heads": 2, "rms_norm_eps": 1e-5,
  "rope_theta": 10000.0, "max_position_embeddings": 96, "bos_token_id": null,
  "eos_token_id": 257, "tie_word_embeddings": false
}"#;

/// Writes the checkpoint and returns the in-memory model it was saved from.
fn write_checkpoint(dir: &Path) -> (Llama, candle_transformers::models::llama::Config) {
    let cfg: LlamaConfig = serde_json::from_str(CONFIG).expect("config");
    let cfg = cfg.into_config(false);
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let model = Llama::load(vb, &cfg).expect("random llama");
    varmap.save(dir.join("model.safetensors")).expect("saves");
    std::fs::write(dir.join("config.json"), CONFIG).expect("writes");
    common::tiny::byte_tokenizer(&["<|im_start|>", "<|im_end|>"])
        .save(dir.join("tokenizer.json"), false)
        .expect("saves tokenizer");
    let template = "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";
    let tokenizer_config =
        serde_json::json!({"chat_template": template, "eos_token": "<|im_end|>"});
    std::fs::write(
        dir.join("tokenizer_config.json"),
        tokenizer_config.to_string(),
    )
    .expect("writes");
    (model, cfg)
}

/// Greedy decoding by recomputing the whole sequence at every step (no KV cache).
fn reference_greedy(
    model: &Llama,
    cfg: &candle_transformers::models::llama::Config,
    prompt: &[u32],
    n: usize,
) -> Vec<u32> {
    let mut ids = prompt.to_vec();
    for _ in 0..n {
        let mut cache = Cache::new(false, DType::F32, cfg, &Device::Cpu).expect("cache");
        let input = Tensor::new(ids.as_slice(), &Device::Cpu)
            .and_then(|t| t.unsqueeze(0))
            .expect("input");
        let logits: Vec<f32> = model
            .forward(&input, 0, &mut cache)
            .and_then(|l| l.squeeze(0))
            .and_then(|l| l.to_vec1())
            .expect("forward");
        let next = palisade_inference::sampling::argmax(&logits).expect("argmax");
        ids.push(next);
        if next == 257 {
            break;
        }
    }
    ids[prompt.len()..].to_vec()
}

#[test]
fn saved_tiny_llama_generates_like_the_in_memory_model() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (reference, cfg) = write_checkpoint(dir.path());
    let mut engine = Engine::load_safetensors(dir.path(), &LoadOptions::default()).expect("loads");
    assert_eq!(engine.context_length(), 96);
    assert!(engine.chat_template().is_from_model());
    assert!(engine.stop_token_ids().contains(&257));
    let (prompt, ids) = common::tiny::chatml_hi_there(&engine);
    assert_eq!(
        ids.len(),
        1 + 5 + 8 + 1 + 1 + 1 + 10,
        "one id per byte plus specials"
    );

    let expected = reference_greedy(&reference, &cfg, &ids, 20);
    let mut stream = engine
        .generate(&prompt, &GenerationParams::greedy(20))
        .expect("starts");
    let got: Vec<u32> = (&mut stream).map(|e| e.expect("token").token_id).collect();
    assert_eq!(
        got, expected,
        "KV-cached generation must equal full recomputation"
    );
    let finish = stream.finish_reason();
    if got.len() < 20 {
        assert_eq!(finish, Some(FinishReason::Stop));
    } else {
        assert_eq!(finish, Some(FinishReason::Length));
    }
}

#[test]
fn tiny_llama_context_is_enforced_and_seeded_sampling_repeats() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_checkpoint(dir.path());
    let mut engine = Engine::load_safetensors(dir.path(), &LoadOptions::default()).expect("loads");
    let err = match engine.generate(&"x".repeat(96), &GenerationParams::greedy(4)) {
        Err(e) => e,
        Ok(_) => panic!("96 tokens do not fit a 96-token context"),
    };
    assert!(
        matches!(
            err,
            GenerateError::ContextOverflow {
                prompt_tokens: 96,
                ..
            }
        ),
        "{err}"
    );
    // 95 tokens fit and leave exactly one position: the stream stops with Length.
    let mut stream = engine
        .generate(&"x".repeat(95), &GenerationParams::greedy(10))
        .expect("fits");
    let events: Vec<_> = (&mut stream).map(|e| e.expect("token")).collect();
    let n = events.len();
    assert_eq!(n, 1);
    assert!(matches!(
        stream.finish_reason(),
        Some(FinishReason::Length | FinishReason::Stop)
    ));
    drop(stream);
    let params = GenerationParams {
        temperature: 1.5,
        seed: 9,
        ..GenerationParams::greedy(30)
    };
    let mut run = |seed| {
        let p = GenerationParams {
            seed,
            ..params.clone()
        };
        let s = engine.generate("abc", &p).expect("starts");
        s.map(|e| e.expect("token").token_id).collect::<Vec<_>>()
    };
    let a = run(9);
    assert_eq!(a, run(9));
    assert_ne!(a, run(10));
}

#[test]
fn missing_or_broken_checkpoints_are_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = Engine::load_safetensors(dir.path(), &LoadOptions::default()).expect_err("empty dir");
    assert!(matches!(err, LoadError::ModelNotFound { .. }), "{err}");
    write_checkpoint(dir.path());
    // Drop one layer tensor: candle's Llama::load would panic; we must return an error.
    let weights =
        candle_core::safetensors::load(dir.path().join("model.safetensors"), &Device::Cpu)
            .expect("reads");
    let kept: HashMap<String, Tensor> = weights
        .into_iter()
        .filter(|(k, _)| k != "model.layers.1.mlp.up_proj.weight")
        .collect();
    candle_core::safetensors::save(&kept, dir.path().join("model.safetensors")).expect("writes");
    let err =
        Engine::load_safetensors(dir.path(), &LoadOptions::default()).expect_err("missing tensor");
    assert!(
        err.to_string()
            .contains("model.layers.1.mlp.up_proj.weight"),
        "{err}"
    );
}

#[test]
fn truncated_safetensors_are_load_errors_naming_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_checkpoint(dir.path());
    let weights = dir.path().join("model.safetensors");
    let full = std::fs::read(&weights).expect("reads");
    // Header length cut, header JSON cut, tensor data cut by one byte, empty.
    for keep in [4, 40, full.len() - 1, 0] {
        std::fs::write(&weights, &full[..keep]).expect("writes");
        let err = Engine::load_safetensors(dir.path(), &LoadOptions::default())
            .expect_err("truncated weights");
        assert!(
            matches!(err, LoadError::Weights { .. } | LoadError::Io { .. }),
            "{keep} bytes: {err}"
        );
        assert!(
            err.to_string().contains("model.safetensors"),
            "{keep} bytes: {err}"
        );
    }
    std::fs::write(&weights, &full).expect("writes");
    Engine::load_safetensors(dir.path(), &LoadOptions::default()).expect("whole file loads");
}
