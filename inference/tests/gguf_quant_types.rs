//! A tiny Llama GGUF (256-wide, so that the k-quants fit) stored in each quantized type candle
//! supports: the engine loads it and its next-token logits, at every step of a short greedy
//! continuation with the KV cache, match candle's `quantized_llama` run without a cache on the
//! same file. Q4_1 runs our AVX2 kernel on CPUs that have it (the other types run candle's
//! kernels in both); two layers are too few for its different order of additions to show, so
//! every type must agree to float rounding.

mod common;

use std::path::Path;

use candle_core::Device;
use candle_core::quantized::{GgmlDType, gguf_file};
use candle_transformers::models::quantized_llama;
use common::tiny::{Reference, TinyGguf, byte_tokenizer, generated, max_abs_diff, uncached};
use palisade_inference::{Engine, GenerationParams, LoadOptions};

const HIDDEN: usize = 256;
const HEADS: usize = 4;
const KV_HEADS: usize = 2;
const HEAD_DIM: usize = HIDDEN / HEADS;
const FFN: usize = 512;
const LAYERS: usize = 2;
const SPECIALS: &[&str] = &["<|im_start|>", "<|im_end|>"];
const VOCAB: usize = 256 + 2;

fn write_model(dir: &Path, dtype: GgmlDType) -> std::path::PathBuf {
    let mut g = TinyGguf::new("llama", dtype);
    g.u32("llama.attention.head_count", HEADS as u32)
        .u32("llama.attention.head_count_kv", KV_HEADS as u32)
        .u32("llama.embedding_length", HIDDEN as u32)
        .u32("llama.block_count", LAYERS as u32)
        .u32("llama.feed_forward_length", FFN as u32)
        .u32("llama.context_length", 64)
        .u32("llama.rope.dimension_count", HEAD_DIM as u32)
        .f32("llama.attention.layer_norm_rms_epsilon", 1e-6)
        .u32("tokenizer.ggml.eos_token_id", 257);
    g.tensor("token_embd.weight", &[VOCAB, HIDDEN], 0.0, 1.0)
        .norm("output_norm.weight", HIDDEN)
        .matrix("output.weight", VOCAB, HIDDEN);
    for l in 0..LAYERS {
        g.norm(&format!("blk.{l}.attn_norm.weight"), HIDDEN)
            .norm(&format!("blk.{l}.ffn_norm.weight"), HIDDEN)
            .matrix(&format!("blk.{l}.attn_q.weight"), HIDDEN, HIDDEN)
            .matrix(
                &format!("blk.{l}.attn_k.weight"),
                KV_HEADS * HEAD_DIM,
                HIDDEN,
            )
            .matrix(
                &format!("blk.{l}.attn_v.weight"),
                KV_HEADS * HEAD_DIM,
                HIDDEN,
            )
            .matrix(&format!("blk.{l}.attn_output.weight"), HIDDEN, HIDDEN)
            .matrix(&format!("blk.{l}.ffn_gate.weight"), FFN, HIDDEN)
            .matrix(&format!("blk.{l}.ffn_up.weight"), FFN, HIDDEN)
            .matrix(&format!("blk.{l}.ffn_down.weight"), HIDDEN, FFN);
    }
    let path = dir.join(format!("tiny-llama-{dtype:?}.gguf"));
    g.write(&path);
    byte_tokenizer(SPECIALS)
        .save(dir.join("tokenizer.json"), false)
        .expect("saves tokenizer");
    path
}

/// candle's `quantized_llama` on the file, run over the whole sequence without a cache.
fn reference(path: &Path) -> Reference {
    let mut file = std::fs::File::open(path).expect("opens");
    let content = gguf_file::Content::read(&mut file).expect("reads header");
    let model = quantized_llama::ModelWeights::from_gguf(content, &mut file, &Device::Cpu)
        .expect("candle loads the file");
    uncached(model, |m, x| m.forward(x, 0))
}

#[test]
fn every_quantized_type_matches_candle() {
    let dir = tempfile::tempdir().expect("tempdir");
    for dtype in [
        GgmlDType::F16,
        GgmlDType::Q4_0,
        GgmlDType::Q4_1,
        GgmlDType::Q5_0,
        GgmlDType::Q5_1,
        GgmlDType::Q8_0,
        GgmlDType::Q2K,
        GgmlDType::Q3K,
        GgmlDType::Q4K,
        GgmlDType::Q5K,
        GgmlDType::Q6K,
    ] {
        let path = write_model(dir.path(), dtype);
        let mut engine = Engine::load_gguf(&path, &LoadOptions::default())
            .unwrap_or_else(|e| panic!("{dtype:?} loads: {e}"));
        let prompt = "hi there";
        let ids = engine.encode_prompt(prompt).expect("tokenizes");
        // A KV-cached greedy continuation, then each prefix scored by candle from scratch.
        let events = generated(&mut engine, prompt, &GenerationParams::greedy(6));
        let mut reference = reference(&path);
        let mut sequence = ids.clone();
        for event in &events {
            let ours = engine.next_token_logits(&sequence).expect("logits");
            let theirs = reference(&sequence);
            let diff = max_abs_diff(&ours, &theirs);
            assert!(diff < 1e-3, "{dtype:?}: logits differ by {diff}");
            let best = palisade_inference::sampling::argmax(&theirs).expect("a best token");
            assert_eq!(event.token_id, best, "{dtype:?}: greedy token");
            sequence.push(event.token_id);
        }
        assert!(!events.is_empty(), "{dtype:?}: no token generated");
    }
}
