//! Each GGUF family (llama, qwen2, qwen3, phi3, gemma2, gemma3): the test writes a tiny
//! random-weight GGUF with the tensor names and metadata keys llama.cpp writes, loads it
//! through `Engine::load_gguf`, and checks greedy KV-cached generation against a reference run
//! over the whole sequence at every step (no KV cache): candle's quantized model on the same
//! file (for Llama, whose dense models are our own implementation, candle's
//! `quantized_llama`), or for Gemma (also ours) candle's safetensors Gemma on its tensors.
//! The real SmolLM2 file is checked against an independent NumPy forward pass in
//! `reference_logprobs.rs`.

mod common;

use std::path::{Path, PathBuf};

use candle_core::Device;
use candle_core::quantized::{GgmlDType, gguf_file};
use candle_transformers::models::{
    quantized_llama, quantized_phi3, quantized_qwen2, quantized_qwen3,
};
use common::tiny::{
    Reference, TinyGguf, byte_tokenizer, generated, greedy, max_abs_diff, uncached,
};
use palisade_inference::{
    Engine, FinishReason, GenerateError, GenerationParams, LoadError, LoadOptions,
};

const HIDDEN: usize = 32;
const HEADS: usize = 4;
const KV_HEADS: usize = 2;
const HEAD_DIM: usize = HIDDEN / HEADS;
const FFN: usize = 64;
const LAYERS: usize = 2;

/// One family's tiny model: how to write it and what the engine should make of it.
struct Family {
    arch: &'static str,
    /// Special tokens after the 256 byte tokens (ids 256, 257, ...).
    specials: &'static [&'static str],
    /// Id of the end-of-turn token (also `tokenizer.ggml.eos_token_id`).
    eos: u32,
    /// The fallback chat template's rendering of one user message "hi there".
    rendered: &'static str,
    /// Context length the engine must report.
    context: usize,
}

const QWEN2: Family = Family {
    arch: "qwen2",
    specials: &["<|im_start|>", "<|im_end|>"],
    eos: 257,
    rendered: "<|im_start|>user\nhi there<|im_end|>\n<|im_start|>assistant\n",
    context: 64,
};
const LLAMA: Family = Family {
    arch: "llama",
    ..QWEN2
};
const QWEN3: Family = Family {
    arch: "qwen3",
    ..QWEN2
};
const PHI3: Family = Family {
    arch: "phi3",
    specials: &["<|user|>", "<|assistant|>", "<|end|>"],
    eos: 258,
    rendered: "<|user|>\nhi there<|end|>\n<|assistant|>\n",
    context: 64,
};
const GEMMA3: Family = Family {
    arch: "gemma3",
    specials: &["<bos>", "<start_of_turn>", "<end_of_turn>"],
    eos: 258,
    rendered: "<bos><start_of_turn>user\nhi there<end_of_turn>\n<start_of_turn>model\n",
    // Past the sliding window (48): the local layer's mask is exercised.
    context: 128,
};
const GEMMA2: Family = Family {
    arch: "gemma2",
    context: 64,
    ..GEMMA3
};

/// Key/value heads: one for Gemma 3 (as in its 270M and 1B models; candle's safetensors
/// Gemma 3, the reference, needs it), two elsewhere.
fn kv_heads(family: &Family) -> usize {
    if family.arch == "gemma3" { 1 } else { KV_HEADS }
}

fn vocab(family: &Family) -> usize {
    256 + family.specials.len()
}

/// Metadata keys and tensors shared by the families (Llama-style names).
fn common_parts(g: &mut TinyGguf, family: &Family) {
    let a = family.arch;
    g.u32(&format!("{a}.attention.head_count"), HEADS as u32)
        .u32(
            &format!("{a}.attention.head_count_kv"),
            kv_heads(family) as u32,
        )
        .u32(&format!("{a}.embedding_length"), HIDDEN as u32)
        .u32(&format!("{a}.block_count"), LAYERS as u32)
        .u32(&format!("{a}.feed_forward_length"), FFN as u32)
        .f32(&format!("{a}.attention.layer_norm_rms_epsilon"), 1e-6)
        .u32("tokenizer.ggml.eos_token_id", family.eos);
    g.tensor("token_embd.weight", &[vocab(family), HIDDEN], 0.0, 1.0)
        .norm("output_norm.weight", HIDDEN);
    for l in 0..LAYERS {
        g.norm(&format!("blk.{l}.attn_norm.weight"), HIDDEN)
            .norm(&format!("blk.{l}.ffn_norm.weight"), HIDDEN)
            .matrix(&format!("blk.{l}.attn_output.weight"), HIDDEN, HIDDEN)
            .matrix(&format!("blk.{l}.ffn_down.weight"), HIDDEN, FFN);
    }
}

/// Separate q/k/v projections and a gated MLP (Qwen2, Qwen3, Gemma 3).
fn split_attention_and_gated_mlp(g: &mut TinyGguf, kv_heads: usize) {
    for l in 0..LAYERS {
        g.matrix(&format!("blk.{l}.attn_q.weight"), HEADS * HEAD_DIM, HIDDEN)
            .matrix(
                &format!("blk.{l}.attn_k.weight"),
                kv_heads * HEAD_DIM,
                HIDDEN,
            )
            .matrix(
                &format!("blk.{l}.attn_v.weight"),
                kv_heads * HEAD_DIM,
                HIDDEN,
            )
            .matrix(&format!("blk.{l}.ffn_gate.weight"), FFN, HIDDEN)
            .matrix(&format!("blk.{l}.ffn_up.weight"), FFN, HIDDEN);
    }
}

/// Per-head RMS norms of q and k (Qwen3, Gemma 3).
fn qk_norms(g: &mut TinyGguf) {
    for l in 0..LAYERS {
        g.norm(&format!("blk.{l}.attn_q_norm.weight"), HEAD_DIM)
            .norm(&format!("blk.{l}.attn_k_norm.weight"), HEAD_DIM);
    }
}

/// What Gemma 2 and 3 share: no output.weight (tied to the embeddings), a head size, a
/// sliding window, BOS, and norms after attention and the MLP.
fn gemma_parts(g: &mut TinyGguf, arch: &str, window: u32) {
    let context = if arch == "gemma2" { 64 } else { 128 };
    g.u32(&format!("{arch}.context_length"), context)
        .u32(&format!("{arch}.attention.key_length"), HEAD_DIM as u32)
        .u32(&format!("{arch}.attention.value_length"), HEAD_DIM as u32)
        .u32(&format!("{arch}.attention.sliding_window"), window)
        .u32("tokenizer.ggml.bos_token_id", 256)
        .value("tokenizer.ggml.add_bos_token", gguf_file::Value::Bool(true));
    for l in 0..LAYERS {
        g.norm(&format!("blk.{l}.post_attention_norm.weight"), HIDDEN)
            .norm(&format!("blk.{l}.post_ffw_norm.weight"), HIDDEN);
    }
}

fn build(family: &Family) -> TinyGguf {
    let a = family.arch;
    // Q8_0 for two families, F32 for the others: both storage paths are exercised.
    let dtype = match a {
        "qwen2" | "phi3" => GgmlDType::Q8_0,
        _ => GgmlDType::F32,
    };
    let mut g = TinyGguf::new(a, dtype);
    common_parts(&mut g, family);
    match a {
        "qwen2" => {
            split_attention_and_gated_mlp(&mut g, kv_heads(family));
            g.u32("qwen2.context_length", 64)
                .f32("qwen2.rope.freq_base", 10_000.0)
                .matrix("output.weight", vocab(family), HIDDEN);
            for l in 0..LAYERS {
                g.tensor(&format!("blk.{l}.attn_q.bias"), &[HIDDEN], 0.0, 0.2)
                    .tensor(
                        &format!("blk.{l}.attn_k.bias"),
                        &[KV_HEADS * HEAD_DIM],
                        0.0,
                        0.2,
                    )
                    .tensor(
                        &format!("blk.{l}.attn_v.bias"),
                        &[KV_HEADS * HEAD_DIM],
                        0.0,
                        0.2,
                    );
            }
        }
        // No output.weight: tied to the embeddings, as in SmolLM2.
        "llama" => {
            split_attention_and_gated_mlp(&mut g, kv_heads(family));
            g.u32("llama.context_length", 64)
                .u32("llama.rope.dimension_count", HEAD_DIM as u32)
                .f32("llama.rope.freq_base", 10_000.0);
        }
        "qwen3" => {
            split_attention_and_gated_mlp(&mut g, kv_heads(family));
            qk_norms(&mut g);
            g.u32("qwen3.context_length", 64)
                .u32("qwen3.attention.key_length", HEAD_DIM as u32)
                .f32("qwen3.rope.freq_base", 1_000_000.0)
                .matrix("output.weight", vocab(family), HIDDEN);
        }
        "phi3" => {
            g.u32("phi3.context_length", 64)
                .u32("phi3.rope.dimension_count", HEAD_DIM as u32)
                .matrix("output.weight", vocab(family), HIDDEN);
            for l in 0..LAYERS {
                let qkv = (HEADS + 2 * KV_HEADS) * HEAD_DIM;
                g.matrix(&format!("blk.{l}.attn_qkv.weight"), qkv, HIDDEN)
                    .matrix(&format!("blk.{l}.ffn_up.weight"), 2 * FFN, HIDDEN);
            }
        }
        "gemma2" => {
            split_attention_and_gated_mlp(&mut g, kv_heads(family));
            gemma_parts(&mut g, "gemma2", 64);
            // Low caps, so that they bite on random weights; the window spans the context
            // (candle's reference masks it on every layer).
            g.f32("gemma2.attn_logit_softcapping", 2.0)
                .f32("gemma2.final_logit_softcapping", 5.0);
        }
        "gemma3" => {
            split_attention_and_gated_mlp(&mut g, kv_heads(family));
            qk_norms(&mut g);
            gemma_parts(&mut g, "gemma3", 48);
            // Layer 0 local (sliding), layer 1 global.
            g.u32("gemma3.attention.sliding_window_type", 2);
        }
        other => panic!("no tiny model for {other}"),
    }
    g
}

/// Writes the model and its tokenizer.json into `dir`; returns the model path.
fn write_model(dir: &Path, family: &Family) -> PathBuf {
    let path = dir.join(format!("tiny-{}.gguf", family.arch));
    build(family).write(&path);
    byte_tokenizer(family.specials)
        .save(dir.join("tokenizer.json"), false)
        .expect("saves tokenizer");
    path
}

fn reference(path: &Path, arch: &str) -> Reference {
    let mut file = std::fs::File::open(path).expect("opens");
    let mut content = gguf_file::Content::read(&mut file).expect("reads header");
    // As the engine does for Qwen3: f32 rotary tables (see qwen3_gguf::build); the other
    // families do not read the key.
    content
        .metadata
        .insert("general.dtype".to_string(), gguf_file::Value::U32(0));
    let (f, dev) = (&mut file, Device::Cpu);
    let loaded = "candle loads the file";
    match arch {
        "llama" => uncached(
            quantized_llama::ModelWeights::from_gguf(content, f, &dev).expect(loaded),
            |m, x| m.forward(x, 0),
        ),
        "qwen2" => uncached(
            quantized_qwen2::ModelWeights::from_gguf(content, f, &dev).expect(loaded),
            |m, x| {
                m.clear_kv_cache();
                m.forward(x, 0)
            },
        ),
        "qwen3" => uncached(
            quantized_qwen3::ModelWeights::from_gguf(content, f, &dev).expect(loaded),
            |m, x| {
                m.clear_kv_cache();
                m.forward(x, 0)
            },
        ),
        // Phi-3 drops its cache when fed position 0.
        "phi3" => uncached(
            quantized_phi3::ModelWeights::from_gguf(false, content, f, &dev).expect(loaded),
            |m, x| m.forward(x, 0),
        ),
        "gemma2" | "gemma3" => gemma_reference(path, arch),
        other => panic!("no reference for {other}"),
    }
}

fn generates_like_candle(family: &Family) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_model(dir.path(), family);
    let mut engine = Engine::load_gguf(&path, &LoadOptions::default())
        .unwrap_or_else(|e| panic!("{} loads: {e}", family.arch));
    assert_eq!(engine.model_name(), format!("tiny-{}", family.arch));
    assert_eq!(engine.context_length(), family.context, "{}", family.arch);
    assert!(!engine.chat_template().is_from_model());
    assert!(engine.stop_token_ids().contains(&family.eos));

    let (prompt, ids) = common::tiny::hi_there(&engine, family.rendered);

    let mut reference = reference(&path, family.arch);
    let expected = greedy(&mut reference, &ids, 12, family.eos);
    let params = GenerationParams {
        seed: 7,
        ..GenerationParams::greedy(12)
    };
    let mut stream = engine.generate(&prompt, &params).expect("starts");
    let events: Vec<_> = (&mut stream).map(|e| e.expect("token")).collect();
    let got: Vec<u32> = events.iter().map(|e| e.token_id).collect();
    assert_eq!(
        got, expected,
        "{}: KV-cached generation must equal candle's full recomputation",
        family.arch
    );
    for e in &events {
        assert!(
            e.logprob.is_finite() && e.logprob <= 0.0,
            "{}: logprob {}",
            family.arch,
            e.logprob
        );
    }
    let finish = stream.finish_reason();
    drop(stream);
    if got.len() < 12 {
        assert_eq!(finish, Some(FinishReason::Stop));
    } else {
        assert_eq!(finish, Some(FinishReason::Length));
    }

    // The engine's scoring path agrees with the reference on the prompt.
    let engine_logits = engine.next_token_logits(&ids).expect("logits");
    let reference_logits = reference(&ids);
    let max_diff = max_abs_diff(&engine_logits, &reference_logits);
    assert!(
        max_diff < 1e-3,
        "{}: logits differ by {max_diff}",
        family.arch
    );

    // Context: a prompt filling the window is refused before any compute; one token less
    // leaves exactly one position.
    // Varied letters (one token each): a window that is one position off changes the output,
    // which it would not over identical tokens.
    let long: String = (0..family.context - usize::from(engine_bos(&engine)))
        .map(|i| char::from(b'a' + (i * 7 % 26) as u8))
        .collect();
    let err = match engine.generate(&long, &GenerationParams::greedy(4)) {
        Err(e) => e,
        Ok(_) => panic!("{}: a full-window prompt must be refused", family.arch),
    };
    assert!(
        matches!(err, GenerateError::ContextOverflow { prompt_tokens, context_length, .. }
            if prompt_tokens == family.context && context_length == family.context),
        "{err}"
    );
    let fits = &long[1..];
    let fits_ids = engine.encode_prompt(fits).expect("tokenizes");
    let mut stream = engine
        .generate(fits, &GenerationParams::greedy(4))
        .expect("fits");
    let last: Vec<u32> = (&mut stream).map(|e| e.expect("token").token_id).collect();
    assert!(matches!(
        stream.finish_reason(),
        Some(FinishReason::Length | FinishReason::Stop)
    ));
    drop(stream);
    assert_eq!(last, greedy(&mut reference, &fits_ids, 1, family.eos));
    let diff = max_abs_diff(
        &engine.next_token_logits(&fits_ids).expect("logits"),
        &reference(&fits_ids),
    );
    assert!(
        diff < 1e-3,
        "{}: logits of a full context differ by {diff}",
        family.arch
    );

    // Cached decode steps late in the context (for Gemma 3, past its sliding window).
    let late = &long[..long.len() - 16];
    let late_ids = engine.encode_prompt(late).expect("tokenizes");
    let events = generated(&mut engine, late, &GenerationParams::greedy(12));
    let got: Vec<u32> = events.iter().map(|e| e.token_id).collect();
    assert_eq!(
        got,
        greedy(&mut reference, &late_ids, 12, family.eos),
        "{}",
        family.arch
    );
    // Each step's logprob (from a cached decode step) is the reference's.
    let mut ids = late_ids.clone();
    for e in &events {
        let logits = reference(&ids);
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let log_z = max + logits.iter().map(|l| (l - max).exp()).sum::<f32>().ln();
        let expected = logits[e.token_id as usize] - log_z;
        assert!(
            (e.logprob - expected).abs() < 1e-3,
            "{}: logprob {} at position {}, reference {expected}",
            family.arch,
            e.logprob,
            ids.len()
        );
        ids.push(e.token_id);
    }
}

/// Whether the engine prepends a BOS token to prompts.
fn engine_bos(engine: &Engine) -> bool {
    engine.encode_prompt("x").expect("tokenizes").len() == 2
}

#[test]
fn llama_generates_like_candle() {
    generates_like_candle(&LLAMA);
}

#[test]
fn qwen2_generates_like_candle() {
    generates_like_candle(&QWEN2);
}

#[test]
fn qwen3_generates_like_candle() {
    generates_like_candle(&QWEN3);
}

#[test]
fn phi3_generates_like_candle() {
    generates_like_candle(&PHI3);
}

#[test]
fn gemma2_generates_like_candle() {
    generates_like_candle(&GEMMA2);
}

#[test]
fn gemma3_generates_like_candle() {
    generates_like_candle(&GEMMA3);
}

/// The Hugging Face config of the tiny Gemma models, for candle's safetensors reference.
fn gemma_reference(path: &Path, arch: &str) -> Reference {
    let mut config = serde_json::json!({
        "attention_bias": false, "head_dim": HEAD_DIM, "hidden_activation": "gelu_pytorch_tanh",
        "hidden_size": HIDDEN, "intermediate_size": FFN, "num_attention_heads": HEADS,
        "num_hidden_layers": LAYERS, "num_key_value_heads": if arch == "gemma3" { 1 } else { KV_HEADS }, "rms_norm_eps": 1e-6,
        "vocab_size": vocab(&GEMMA3), "query_pre_attn_scalar": HEAD_DIM,
        "attn_logit_softcapping": null, "final_logit_softcapping": null,
    });
    if arch == "gemma2" {
        config["model_type"] = "gemma2".into();
        config["rope_theta"] = 10_000.0.into();
        config["attn_logit_softcapping"] = 2.0.into();
        config["final_logit_softcapping"] = 5.0.into();
        config["max_position_embeddings"] = 64.into();
    } else {
        config["model_type"] = "gemma3_text".into();
        config["rope_theta"] = 1_000_000.0.into();
        config["rope_local_base_freq"] = 10_000.0.into();
        // candle lets w + 1 positions through its sliding mask; Gemma w = 48.
        config["sliding_window"] = 47.into();
        config["sliding_window_pattern"] = 2.into();
        config["max_position_embeddings"] = 128.into();
    }
    common::gemma::reference(path, config)
}

#[test]
fn unsupported_or_broken_files_are_clear_load_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let load = |path: &Path| match Engine::load_gguf(path, &LoadOptions::default()) {
        Err(e) => e,
        Ok(_) => panic!("{} must not load", path.display()),
    };

    // An architecture with no implementation names the supported ones.
    let mut mamba = build(&QWEN2);
    mamba.string("general.architecture", "mamba");
    let path = dir.path().join("mamba.gguf");
    mamba.write(&path);
    byte_tokenizer(QWEN2.specials)
        .save(dir.path().join("tokenizer.json"), false)
        .expect("saves tokenizer");
    let err = load(&path);
    assert!(
        matches!(&err, LoadError::UnsupportedArchitecture { architecture, .. } if architecture == "mamba"),
        "{err}"
    );
    let text = err.to_string();
    for arch in ["llama", "qwen2", "qwen3", "phi3", "gemma2", "gemma3"] {
        assert!(text.contains(arch), "{text}");
    }

    // A missing context length is named before any tensor is read.
    let mut no_context = build(&QWEN3);
    no_context.remove("qwen3.context_length");
    let path = dir.path().join("no-context.gguf");
    no_context.write(&path);
    let err = load(&path);
    assert!(
        matches!(&err, LoadError::Metadata { key, .. } if key == "qwen3.context_length"),
        "{err}"
    );

    // Zero attention heads is a Weights error naming the heads, in our own families too
    // (Gemma without `key_length` divides the embedding by the head count).
    for family in [&LLAMA, &GEMMA2] {
        let mut no_heads = build(family);
        no_heads
            .u32(&format!("{}.attention.head_count", family.arch), 0)
            .remove(&format!("{}.attention.key_length", family.arch));
        let path = dir.path().join(format!("no-heads-{}.gguf", family.arch));
        no_heads.write(&path);
        let err = load(&path);
        assert!(matches!(err, LoadError::Weights { .. }), "{err}");
        assert!(err.to_string().contains("0 attention heads"), "{err}");
    }

    // Our Llama refuses heads that do not split the embedding, and partial rotary embeddings.
    for (key, value, message) in [
        (
            "llama.attention.head_count",
            3,
            "cannot be split into 3 heads",
        ),
        ("llama.rope.dimension_count", 4, "partial rotary embeddings"),
    ] {
        let mut odd = build(&LLAMA);
        odd.u32(key, value).u32("llama.attention.head_count_kv", 1);
        let path = dir.path().join("odd-llama.gguf");
        odd.write(&path);
        let err = load(&path);
        assert!(matches!(err, LoadError::Weights { .. }), "{err}");
        assert!(err.to_string().contains(message), "{err}");
    }

    // A missing tensor is a Weights error naming it (not a panic).
    let mut no_tensor = build(&PHI3);
    no_tensor.drop_tensor("blk.1.attn_qkv.weight");
    let path = dir.path().join("no-tensor.gguf");
    no_tensor.write(&path);
    let err = load(&path);
    assert!(matches!(err, LoadError::Weights { .. }), "{err}");
    assert!(err.to_string().contains("blk.1.attn_qkv.weight"), "{err}");

    // A truncated file: header cut short, then tensor data cut short.
    let full = dir.path().join("full.gguf");
    build(&GEMMA3).write(&full);
    let bytes = std::fs::read(&full).expect("reads");
    let path = dir.path().join("cut.gguf");
    std::fs::write(&path, &bytes[..100]).expect("writes");
    let err = load(&path);
    assert!(matches!(err, LoadError::InvalidGguf { .. }), "{err}");
    std::fs::write(&path, &bytes[..bytes.len() - 64]).expect("writes");
    let err = load(&path);
    assert!(matches!(err, LoadError::Weights { .. }), "{err}");
    assert!(err.to_string().contains("cut.gguf"), "{err}");
}

/// A Phi-3 GGUF whose tokenizer is the real Phi-3 SentencePiece vocabulary in its metadata
/// (copied from llama.cpp's vocab-only file; no tokenizer.json): the engine rebuilds the
/// tokenizer, uses the file's chat template, adds BOS, stops on `<|end|>`, and generates what
/// candle's model computes.
#[test]
fn phi3_with_a_sentencepiece_vocabulary_in_the_gguf() {
    let vocab_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/ggml-vocab-phi-3.gguf");
    let mut vocab_file = std::fs::File::open(&vocab_path).expect("opens");
    let vocab = gguf_file::Content::read(&mut vocab_file).expect("reads");
    let size = 32_064;
    let mut g = build(&PHI3);
    for (key, value) in &vocab.metadata {
        if key.starts_with("tokenizer.") {
            g.value(key, value.clone());
        }
    }
    g.tensor("token_embd.weight", &[size, HIDDEN], 0.0, 1.0)
        .matrix("output.weight", size, HIDDEN);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("phi3-spm.gguf");
    g.write(&path);

    let mut engine = Engine::load_gguf(&path, &LoadOptions::default()).expect("loads");
    assert_eq!(
        engine.tokenizer_source(),
        &palisade_inference::tokenizer::TokenizerSource::GgufMetadata
    );
    assert!(engine.chat_template().is_from_model());
    let prompt = engine
        .render_chat(&[palisade_inference::ChatMessage::user("hi there")], true)
        .expect("renders");
    assert!(
        prompt.contains("<|user|>\nhi there<|end|>\n") && prompt.ends_with("<|assistant|>\n"),
        "{prompt:?}"
    );
    let ids = engine.encode_prompt(&prompt).expect("tokenizes");
    assert_eq!(ids.first(), Some(&1), "BOS first: {ids:?}");
    for marker in [32_010, 32_007, 32_001] {
        assert!(ids.contains(&marker), "{marker} in {ids:?}");
    }
    assert!(engine.stop_token_ids().contains(&32_007));
    assert!(engine.stop_token_ids().contains(&32_000));

    let mut reference = reference(&path, "phi3");
    let expected = greedy(&mut reference, &ids, 8, 32_007);
    let got: Vec<u32> = generated(&mut engine, &prompt, &GenerationParams::greedy(8))
        .iter()
        .map(|e| e.token_id)
        .collect();
    assert_eq!(got, expected);
}
