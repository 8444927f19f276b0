use super::*;

const VOCAB: &[&str] = &[
    "P", "a", "r", "i", "s", " ", "Par", "is", "Paris", " Paris", "ari", "x", "PAR", "IS", "ab",
    "c", "d", "bc", "b", "", "\u{e9}", "caf",
];

fn bytes() -> Vec<Vec<u8>> {
    VOCAB.iter().map(|t| t.as_bytes().to_vec()).collect()
}

fn id(t: &str) -> u32 {
    VOCAB.iter().position(|v| *v == t).expect("in vocab") as u32
}

fn banned_after(p: &mut BannedSequences, generated: &[&str]) -> Vec<&'static str> {
    let ids: Vec<u32> = generated.iter().map(|t| id(t)).collect();
    let mut logits = vec![0.0f32; VOCAB.len()];
    p.process(&ids, &mut logits);
    VOCAB
        .iter()
        .zip(&logits)
        .filter(|(_, l)| **l == f32::NEG_INFINITY)
        .map(|(t, _)| *t)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

fn set(tokens: &[&'static str]) -> Vec<&'static str> {
    let mut v = tokens.to_vec();
    v.sort_unstable();
    v
}

#[test]
fn tokens_containing_the_phrase_are_always_banned() {
    let mut p = BannedSequences::from_token_bytes(bytes(), &["Paris"], false).expect("builds");
    assert_eq!(p.always_banned_count(), 2);
    assert_eq!(banned_after(&mut p, &[]), set(&["Paris", " Paris"]));
}

#[test]
fn every_spelling_across_tokens_is_banned() {
    let mut p = BannedSequences::from_token_bytes(bytes(), &["Paris"], false).expect("builds");
    assert_eq!(
        banned_after(&mut p, &["Par"]),
        set(&["Paris", " Paris", "is"])
    );
    assert_eq!(
        banned_after(&mut p, &["Par", "i"]),
        set(&["s", "Paris", " Paris"])
    );
    // "P" + "ari" is still incomplete: only the following "s" is banned.
    assert_eq!(banned_after(&mut p, &[" ", "P"]), set(&["Paris", " Paris"]));
    assert_eq!(
        banned_after(&mut p, &[" ", "P", "ari"]),
        set(&["s", "Paris", " Paris"])
    );
}

#[test]
fn overlapping_phrases_match_on_suffixes() {
    let mut p = BannedSequences::from_token_bytes(bytes(), &["abcd", "bc"], false).expect("builds");
    // "ab" is a partial "abcd"; adding "c" completes the suffix "bc".
    let after_ab = banned_after(&mut p, &["ab"]);
    assert!(
        after_ab.contains(&"c") && after_ab.contains(&"bc"),
        "{after_ab:?}"
    );
    assert!(!after_ab.contains(&"d"));
}

#[test]
fn case_insensitive_and_unicode() {
    let mut p = BannedSequences::from_token_bytes(bytes(), &["paris"], true).expect("builds");
    assert_eq!(
        banned_after(&mut p, &["PAR"]),
        set(&["Paris", " Paris", "is", "IS"])
    );
    let mut p = BannedSequences::from_token_bytes(bytes(), &["caf\u{e9}"], false).expect("builds");
    assert_eq!(banned_after(&mut p, &["caf"]), set(&["\u{e9}"]));
}

#[test]
fn a_new_generation_resets_the_state() {
    let mut p = BannedSequences::from_token_bytes(bytes(), &["Paris"], false).expect("builds");
    assert!(banned_after(&mut p, &["x", "Par"]).contains(&"is"));
    assert!(!banned_after(&mut p, &["x"]).contains(&"is"));
}

#[test]
fn empty_phrase_is_rejected() {
    let err = BannedSequences::from_token_bytes(bytes(), &["ok", ""], false).expect_err("empty");
    assert!(matches!(
        err,
        BannedSequencesError::EmptyPhrase { index: 1 }
    ));
}

/// Random walks over the vocabulary, always picking among allowed tokens: the text must never
/// contain a banned phrase, and the walk must not be over-restricted.
#[test]
fn random_generation_never_emits_a_banned_phrase() {
    use rand::{Rng, SeedableRng};
    let phrases = ["Paris", "is a", "bcd", "\u{e9}\u{e9}"];
    let mut p = BannedSequences::from_token_bytes(bytes(), &phrases, false).expect("builds");
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    for _ in 0..200 {
        let mut generated: Vec<u32> = Vec::new();
        let mut text = Vec::new();
        for _ in 0..60 {
            let mut logits = vec![0.0f32; VOCAB.len()];
            p.process(&generated, &mut logits);
            let allowed: Vec<u32> = (0..VOCAB.len() as u32)
                .filter(|&i| logits[i as usize].is_finite())
                .collect();
            assert!(allowed.len() >= 5, "over-restricted: {allowed:?}");
            let next = allowed[rng.random_range(0..allowed.len())];
            generated.push(next);
            text.extend_from_slice(VOCAB[next as usize].as_bytes());
        }
        let text = String::from_utf8(text).expect("utf-8");
        for phrase in phrases {
            assert!(!text.contains(phrase), "{phrase:?} in {text:?}");
        }
    }
}
