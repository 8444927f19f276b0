//! A SentencePiece vocabulary (`tokenizer.ggml.model = "llama"`) written by the test into a
//! GGUF file with no tensors, rebuilt by `load_gguf_tokenizer`: merges by score, byte
//! fallback, the space prefix, special tokens, decoding.

mod common;

use std::path::Path;

use candle_core::quantized::{GgmlDType, gguf_file::Value};
use common::tiny::TinyGguf;
use palisade_inference::tokenizer::{TokenizerSource, load_gguf_tokenizer};
use palisade_inference::tokenizers::Tokenizer;

/// GGUF token types: normal, unknown, control, byte.
const NORMAL: i32 = 1;
const UNKNOWN: i32 = 2;
const CONTROL: i32 = 3;
const BYTE: i32 = 6;

/// `<unk>`, `<s>`, `</s>`, the 256 byte pieces (ids 3..259), then these pieces with their
/// scores (highest first, as SentencePiece stores them).
const PIECES: &[(&str, f32)] = &[
    ("\u{2581}", -1.0),
    ("h", -2.0),
    ("e", -2.1),
    ("l", -2.2),
    ("o", -2.3),
    ("w", -2.4),
    ("r", -2.5),
    ("d", -2.6),
    ("!", -2.7),
    ("\u{2581}h", -3.0),
    ("\u{2581}w", -3.1),
    ("ll", -3.2),
    ("\u{2581}he", -4.0),
    ("llo", -4.1),
    ("\u{2581}hello", -5.0),
    ("or", -5.5),
    ("ld", -5.6),
    ("\u{2581}wor", -6.0),
    ("\u{2581}world", -6.5),
    ("\u{2581}\u{2581}", -7.0),
];

const FIRST_PIECE: u32 = 3 + 256;

fn id_of(piece: &str) -> u32 {
    let i = PIECES.iter().position(|(p, _)| *p == piece).expect("piece");
    FIRST_PIECE + i as u32
}

fn byte_id(b: u8) -> u32 {
    3 + u32::from(b)
}

/// Writes the vocabulary GGUF (with `add_space_prefix` when `Some`) and loads its tokenizer.
fn tokenizer(dir: &Path, add_space_prefix: Option<bool>, with_scores: bool) -> Tokenizer {
    let mut tokens = vec!["<unk>".to_string(), "<s>".to_string(), "</s>".to_string()];
    let mut types = vec![UNKNOWN, CONTROL, CONTROL];
    let mut scores = vec![0.0f32; 3];
    for b in 0..=255u8 {
        tokens.push(format!("<0x{b:02X}>"));
        types.push(BYTE);
        scores.push(0.0);
    }
    for (piece, score) in PIECES {
        tokens.push((*piece).to_string());
        types.push(NORMAL);
        scores.push(*score);
    }
    let mut g = TinyGguf::new("llama", GgmlDType::F32);
    g.string("tokenizer.ggml.model", "llama")
        .value(
            "tokenizer.ggml.tokens",
            Value::Array(tokens.into_iter().map(Value::String).collect()),
        )
        .value(
            "tokenizer.ggml.token_type",
            Value::Array(types.into_iter().map(Value::I32).collect()),
        )
        .u32("tokenizer.ggml.bos_token_id", 1)
        .u32("tokenizer.ggml.eos_token_id", 2)
        .u32("tokenizer.ggml.unknown_token_id", 0);
    if with_scores {
        g.value(
            "tokenizer.ggml.scores",
            Value::Array(scores.into_iter().map(Value::F32).collect()),
        );
    }
    if let Some(prefix) = add_space_prefix {
        g.value("tokenizer.ggml.add_space_prefix", Value::Bool(prefix));
    }
    let path = dir.join("spm.gguf");
    g.write(&path);
    let (tokenizer, specials, source) = load_gguf_tokenizer(&path).expect("tokenizer rebuilds");
    assert_eq!(source, TokenizerSource::GgufMetadata);
    assert_eq!((specials.bos, specials.eos), (Some(1), Some(2)));
    assert!(
        specials.add_bos,
        "SentencePiece vocabularies add BOS by default"
    );
    tokenizer
}

fn encode(t: &Tokenizer, text: &str) -> Vec<u32> {
    t.encode(text, false).expect("encodes").get_ids().to_vec()
}

fn decode(t: &Tokenizer, ids: &[u32]) -> String {
    t.decode(ids, false).expect("decodes")
}

#[test]
fn words_merge_by_score_with_a_space_prefix() {
    let dir = tempfile::tempdir().expect("tempdir");
    let t = tokenizer(dir.path(), None, true);
    assert_eq!(
        encode(&t, "hello world"),
        [id_of("\u{2581}hello"), id_of("\u{2581}world")]
    );
    assert_eq!(
        encode(&t, "hello world!"),
        [id_of("\u{2581}hello"), id_of("\u{2581}world"), id_of("!")]
    );
    // A leading space is one more marker; "▁h" outranks "▁▁", so the markers do not merge.
    assert_eq!(
        encode(&t, " hello"),
        [id_of("\u{2581}"), id_of("\u{2581}hello")]
    );
    assert_eq!(
        encode(&t, "  "),
        [id_of("\u{2581}\u{2581}"), id_of("\u{2581}")]
    );
    // Decoding strips the prefix's space only.
    for text in [
        "hello world",
        " hello",
        "hello  world!",
        "wow",
        "hello\nworld",
    ] {
        assert_eq!(decode(&t, &encode(&t, text)), text, "{text:?}");
    }
}

#[test]
fn unknown_characters_fall_back_to_bytes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let t = tokenizer(dir.path(), None, true);
    let ids = encode(&t, "hello \u{1F642}");
    let mut expected = vec![id_of("\u{2581}hello"), id_of("\u{2581}")];
    expected.extend("\u{1F642}".bytes().map(byte_id));
    assert_eq!(ids, expected);
    assert_eq!(decode(&t, &ids), "hello \u{1F642}");
    // "x" is not a piece either: one byte token; "é" two.
    assert_eq!(
        encode(&t, "xé"),
        [
            id_of("\u{2581}"),
            byte_id(b'x'),
            byte_id(0xC3),
            byte_id(0xA9)
        ]
    );
    for text in ["日本語 text", "tab\there", "ünïcödé \u{1F600}\u{1F600}"] {
        assert_eq!(decode(&t, &encode(&t, text)), text, "{text:?}");
    }
}

#[test]
fn special_tokens_are_matched_whole_and_skippable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let t = tokenizer(dir.path(), None, true);
    // As in llama.cpp, the text after a special token gets its own space prefix.
    assert_eq!(encode(&t, "<s>hello</s>"), [1, id_of("\u{2581}hello"), 2]);
    let ids = [1, id_of("\u{2581}hello"), id_of("\u{2581}world"), 2];
    assert_eq!(t.decode(&ids, true).expect("decodes"), "hello world");
}

#[test]
fn without_space_prefix_text_is_taken_as_is() {
    let dir = tempfile::tempdir().expect("tempdir");
    let t = tokenizer(dir.path(), Some(false), true);
    assert_eq!(
        encode(&t, "hello world"),
        [id_of("h"), id_of("e"), id_of("llo"), id_of("\u{2581}world")]
    );
    for text in ["hello world", " hello", "\u{1F642}!"] {
        assert_eq!(decode(&t, &encode(&t, text)), text, "{text:?}");
    }
}

#[test]
fn scores_decide_the_merges() {
    // Without scores, vocabulary order stands in for them (SentencePiece stores pieces by
    // score), which gives the same merges here.
    let dir = tempfile::tempdir().expect("tempdir");
    let t = tokenizer(dir.path(), None, false);
    assert_eq!(decode(&t, &encode(&t, "hello world")), "hello world");
    assert_eq!(
        encode(&t, "hello world"),
        [id_of("\u{2581}hello"), id_of("\u{2581}world")]
    );
}

/// A line of `testdata/phi3_spm_tokenizer.jsonl` (see `inference/tools/make_spm_fixture.py`).
#[derive(serde::Deserialize)]
struct Case {
    text: String,
    ids: Vec<u32>,
}

#[test]
fn phi3_vocabulary_matches_sentencepiece() {
    // llama.cpp's vocab-only Phi-3 GGUF (32064 pieces, MIT), and ids made by Google's
    // sentencepiece on llama.cpp's tokenizer test inputs and 400 generated sentences.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let (t, specials, source) =
        load_gguf_tokenizer(&root.join("ggml-vocab-phi-3.gguf")).expect("tokenizer rebuilds");
    assert_eq!(source, TokenizerSource::GgufMetadata);
    assert_eq!(t.get_vocab_size(true), 32_064);
    assert_eq!((specials.bos, specials.eos), (Some(1), Some(32_000)));
    assert!(specials.add_bos);
    let fixture = std::fs::read_to_string(root.join("phi3_spm_tokenizer.jsonl")).expect("fixture");
    let cases: Vec<Case> = fixture
        .lines()
        .map(|l| serde_json::from_str(l).expect("fixture line is JSON"))
        .collect();
    assert!(cases.len() >= 400, "{} cases", cases.len());
    let mut wrong = Vec::new();
    for case in &cases {
        let ids = encode(&t, &case.text);
        if ids != case.ids {
            wrong.push(format!(
                "{:?}\n  got      {ids:?}\n  expected {:?}",
                case.text, case.ids
            ));
        }
        // A literal `▁` decodes as a space (as in sentencepiece).
        if !case.text.contains('\u{2581}') {
            assert_eq!(decode(&t, &ids), case.text, "round trip");
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} texts differ from sentencepiece:\n{}",
        wrong.len(),
        cases.len(),
        wrong.iter().take(5).cloned().collect::<Vec<_>>().join("\n")
    );
    // The chat markers are special tokens, matched whole.
    let ids = encode(&t, "<|user|>\nhi<|end|>\n<|assistant|>\n");
    assert_eq!(ids.first(), Some(&32_010));
    assert!(ids.contains(&32_007) && ids.contains(&32_001), "{ids:?}");
}
