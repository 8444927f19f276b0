//! The sentence embedder on a tiny random-weight BERT and WordPiece tokenizer
//! written by the test: unit-length output, padding that changes nothing,
//! truncation to the model's positions, and clear errors for broken files.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use palisade_inference::embedding::{EmbedderFiles, SentenceEmbedder, cosine};
use rand::{Rng, SeedableRng, rngs::StdRng};

const HIDDEN: usize = 16;
const LAYERS: usize = 2;
const POSITIONS: usize = 24;
const WORDS: &[&str] = &[
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "the", "office", "is", "in", "delhi", "bananas", "are",
    "yellow", "head", "##s", ".",
];

fn tokenizer_json() -> String {
    let vocab: serde_json::Map<String, serde_json::Value> = WORDS
        .iter()
        .enumerate()
        .map(|(i, w)| ((*w).to_owned(), serde_json::json!(i)))
        .collect();
    let special = |id: usize| {
        serde_json::json!({"id": id, "special": true, "content": WORDS[id], "single_word": false,
            "lstrip": false, "rstrip": false, "normalized": false})
    };
    serde_json::json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": [special(0), special(1), special(2), special(3)],
        "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
            "strip_accents": null, "lowercase": true},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {"type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                       {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                     {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 0}},
                     {"Sequence": {"id": "B", "type_id": 1}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
            "special_tokens": {
                "[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]},
                "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}}},
        "decoder": null,
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
            "max_input_chars_per_word": 100, "vocab": vocab}
    })
    .to_string()
}

fn config_json() -> String {
    serde_json::json!({
        "model_type": "bert", "architectures": ["BertModel"], "vocab_size": WORDS.len(),
        "hidden_size": HIDDEN, "num_hidden_layers": LAYERS, "num_attention_heads": 2,
        "intermediate_size": 32, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1, "max_position_embeddings": POSITIONS,
        "type_vocab_size": 2, "initializer_range": 0.02, "layer_norm_eps": 1e-12,
        "pad_token_id": 0
    })
    .to_string()
}

fn weights(rng: &mut StdRng) -> HashMap<String, Tensor> {
    let mut tensors = HashMap::new();
    let mut add = |name: String, shape: &[usize], rng: &mut StdRng| {
        let n: usize = shape.iter().product();
        let data: Vec<f32> = (0..n).map(|_| rng.random_range(-0.5f32..0.5)).collect();
        let tensor = Tensor::from_vec(data, shape, &Device::Cpu).expect("tensor");
        tensors.insert(name, tensor);
    };
    add(
        "embeddings.word_embeddings.weight".into(),
        &[WORDS.len(), HIDDEN],
        rng,
    );
    add(
        "embeddings.position_embeddings.weight".into(),
        &[POSITIONS, HIDDEN],
        rng,
    );
    add(
        "embeddings.token_type_embeddings.weight".into(),
        &[2, HIDDEN],
        rng,
    );
    let mut norm = |prefix: String, rng: &mut StdRng| {
        add(format!("{prefix}.weight"), &[HIDDEN], rng);
        add(format!("{prefix}.bias"), &[HIDDEN], rng);
    };
    norm("embeddings.LayerNorm".into(), rng);
    for layer in 0..LAYERS {
        let p = format!("encoder.layer.{layer}");
        norm(format!("{p}.attention.output.LayerNorm"), rng);
        norm(format!("{p}.output.LayerNorm"), rng);
    }
    let linear = |name: String, out: usize, inp: usize, rng: &mut StdRng| {
        let mut data =
            |n: usize| -> Vec<f32> { (0..n).map(|_| rng.random_range(-0.3f32..0.3)).collect() };
        let w = Tensor::from_vec(data(out * inp), (out, inp), &Device::Cpu).expect("w");
        let b = Tensor::from_vec(data(out), out, &Device::Cpu).expect("b");
        (format!("{name}.weight"), w, format!("{name}.bias"), b)
    };
    let mut linears = Vec::new();
    for layer in 0..LAYERS {
        let p = format!("encoder.layer.{layer}");
        for part in ["query", "key", "value"] {
            linears.push(linear(
                format!("{p}.attention.self.{part}"),
                HIDDEN,
                HIDDEN,
                rng,
            ));
        }
        linears.push(linear(
            format!("{p}.attention.output.dense"),
            HIDDEN,
            HIDDEN,
            rng,
        ));
        linears.push(linear(format!("{p}.intermediate.dense"), 32, HIDDEN, rng));
        linears.push(linear(format!("{p}.output.dense"), HIDDEN, 32, rng));
    }
    for (wn, w, bn, b) in linears {
        tensors.insert(wn, w);
        tensors.insert(bn, b);
    }
    tensors
}

fn write_model(dir: &Path) -> EmbedderFiles {
    let files = EmbedderFiles::in_folder(dir);
    std::fs::write(&files.config, config_json()).expect("config");
    std::fs::write(&files.tokenizer, tokenizer_json()).expect("tokenizer");
    let mut rng = StdRng::seed_from_u64(7);
    candle_core::safetensors::save(&weights(&mut rng), &files.weights).expect("weights");
    files
}

#[test]
fn embeddings_are_unit_length_and_independent_of_batch_padding() {
    let dir = tempfile::tempdir().expect("tempdir");
    let embedder = SentenceEmbedder::load(&write_model(dir.path()), &Device::Cpu).expect("load");
    assert_eq!(embedder.dimension(), HIDDEN);
    let short = "Delhi.";
    let long = "The head office is in Delhi, the bananas are yellow.";
    let alone = embedder.embed(&[short]).expect("alone");
    let batch = embedder.embed(&[long, short, ""]).expect("batch");
    assert_eq!(batch.len(), 3);
    for e in &batch {
        assert_eq!(e.len(), HIDDEN);
        let norm: f32 = e.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "norm {norm}");
    }
    let worst = alone[0]
        .iter()
        .zip(&batch[1])
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-5, "padding changed the embedding by {worst}");
    assert!((cosine(&alone[0], &batch[1]) - 1.0).abs() < 1e-5);
    assert!(
        cosine(&batch[0], &batch[1]) < 0.9999,
        "different texts, same embedding"
    );
    assert!(embedder.embed(&[]).expect("no texts").is_empty());
}

#[test]
fn texts_longer_than_the_models_positions_are_truncated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let embedder = SentenceEmbedder::load(&write_model(dir.path()), &Device::Cpu).expect("load");
    let long = "the office is in delhi ".repeat(40);
    let prefix: String = long
        .split(' ')
        .take(POSITIONS - 2)
        .collect::<Vec<_>>()
        .join(" ");
    let [a, b]: [Vec<f32>; 2] = embedder
        .embed(&[&long, &prefix])
        .expect("long text")
        .try_into()
        .expect("two");
    assert!(
        (cosine(&a, &b) - 1.0).abs() < 1e-5,
        "truncated to the first tokens"
    );
}

#[test]
fn weights_of_another_shape_are_refused_with_the_file_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = write_model(dir.path());
    let mut rng = StdRng::seed_from_u64(1);
    let mut tensors = weights(&mut rng);
    tensors.remove("encoder.layer.1.output.dense.weight");
    candle_core::safetensors::save(&tensors, &files.weights).expect("save");
    let err = SentenceEmbedder::load(&files, &Device::Cpu).expect_err("missing tensor");
    let text = err.to_string();
    assert!(text.contains("model.safetensors"), "{text}");
    std::fs::write(&files.tokenizer, "{").expect("write");
    let err = SentenceEmbedder::load(&files, &Device::Cpu).expect_err("bad tokenizer");
    assert!(err.to_string().contains("tokenizer.json"), "{err}");
}
