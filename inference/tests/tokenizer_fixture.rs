//! The tokenizer rebuilt from GGUF metadata against reference ids produced by two independent
//! implementations (see inference/tools/make_tokenizer_fixture.py).

mod common;

use palisade_inference::tokenizer::{TokenizerSource, load_gguf_tokenizer};

const FIXTURE: &str = include_str!("../testdata/smollm2_tokenizer.jsonl");

#[derive(serde::Deserialize)]
struct Case {
    text: String,
    ids: Vec<u32>,
}

fn cases() -> Vec<Case> {
    FIXTURE
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("fixture line is JSON"))
        .collect()
}

#[test]
fn fixture_covers_the_required_cases() {
    let cases = cases();
    assert!(cases.len() >= 30);
    let has = |s: &str| cases.iter().any(|c| c.text.contains(s));
    for needle in [
        "<|im_start|>",
        "<|im_end|>",
        "\u{1F600}",
        "   ",
        "\t",
        "fn main",
        "é",
        "日本",
    ] {
        assert!(has(needle), "fixture lacks {needle:?}");
    }
}

#[test]
fn gguf_tokenizer_matches_reference_ids() {
    let (tokenizer, specials, source) =
        load_gguf_tokenizer(&common::smollm2_path()).expect("tokenizer loads");
    assert_eq!(source, TokenizerSource::GgufMetadata);
    assert_eq!(tokenizer.get_vocab_size(true), 49_152);
    assert_eq!(specials.bos, Some(1));
    assert_eq!(specials.eos, Some(2));
    assert!(!specials.add_bos);
    let mut failures = Vec::new();
    for case in cases() {
        let enc = tokenizer
            .encode(case.text.as_str(), false)
            .expect("encodes");
        if enc.get_ids() != case.ids.as_slice() {
            failures.push(format!(
                "{:?}\n  expected {:?}\n  got      {:?}",
                case.text,
                case.ids,
                enc.get_ids()
            ));
        }
        let decoded = tokenizer.decode(&case.ids, false).expect("decodes");
        assert_eq!(decoded, case.text, "round trip of {:?}", case.text);
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn special_tokens_are_special() {
    let (tokenizer, _, _) = load_gguf_tokenizer(&common::smollm2_path()).expect("tokenizer loads");
    let ids = [1u32, 4093, 198, 19556, 2];
    assert_eq!(
        tokenizer.decode(&ids, true).expect("decodes"),
        "user\nHello"
    );
    assert_eq!(
        tokenizer.decode(&ids, false).expect("decodes"),
        "<|im_start|>user\nHello<|im_end|>"
    );
    assert_eq!(tokenizer.token_to_id("<|im_end|>"), Some(2));
}

#[test]
fn tokenizer_json_next_to_the_model_wins() {
    let model = common::smollm2_path();
    let (tokenizer, _, _) = load_gguf_tokenizer(&model).expect("tokenizer loads");
    let dir = tempfile::tempdir().expect("tempdir");
    let linked = dir.path().join("model.gguf");
    std::os::unix::fs::symlink(&model, &linked).expect("symlink");
    // A sidecar that differs observably: one extra added token.
    let mut sidecar = tokenizer.clone();
    sidecar
        .add_special_tokens([tokenizers::AddedToken::from("<|palisade_marker|>", true)])
        .expect("adds");
    let json = dir.path().join("tokenizer.json");
    sidecar.save(&json, false).expect("saves");
    let (loaded, specials, source) = load_gguf_tokenizer(&linked).expect("tokenizer loads");
    assert_eq!(source, TokenizerSource::File(json));
    assert_eq!(
        specials.eos,
        Some(2),
        "special ids still come from the GGUF"
    );
    assert_eq!(loaded.token_to_id("<|palisade_marker|>"), Some(49_152));
    // A broken sidecar is an error, not a silent fallback.
    std::fs::write(dir.path().join("tokenizer.json"), "{ not json").expect("writes");
    let err = load_gguf_tokenizer(&linked).expect_err("broken sidecar");
    assert!(err.to_string().contains("tokenizer.json"), "{err}");
}

#[test]
fn token_bytes_concatenate_to_the_text() {
    let (tokenizer, _, _) = load_gguf_tokenizer(&common::smollm2_path()).expect("tokenizer loads");
    let bytes = palisade_inference::tokenizer::bytes::token_bytes(&tokenizer);
    assert_eq!(bytes.len(), 49_152);
    assert!(bytes[2].is_empty(), "<|im_end|> is special: no text");
    for case in cases() {
        let joined: Vec<u8> = case
            .ids
            .iter()
            .flat_map(|&id| bytes[id as usize].clone())
            .collect();
        let expected = tokenizer.decode(&case.ids, true).expect("decodes");
        assert_eq!(joined, expected.into_bytes(), "{:?}", case.text);
    }
}
