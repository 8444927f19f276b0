//! SentencePiece (BPE) vocabularies of GGUF files (`tokenizer.ggml.model = "llama"`: Llama 2,
//! Mistral, TinyLlama, Phi-3, Gemma), rebuilt as a Hugging Face BPE the way `transformers`'
//! `LlamaConverter` does:
//!
//! - merges derived from the vocabulary: every split of a piece into two pieces of the
//!   vocabulary, ranked by the piece's score (highest first; ties in vocabulary order), so BPE
//!   applies the merge SentencePiece would (the highest-scoring piece first);
//! - `byte_fallback`: a character outside the vocabulary becomes its UTF-8 bytes `<0x..>`;
//! - normalizer: a leading `▁` when `tokenizer.ggml.add_space_prefix` (default true) — like
//!   llama.cpp, before every run of text, also after a special token — then `' '` -> `▁`;
//! - decoder: `▁` -> `' '`, byte fallback, fuse, and the leading space stripped when a prefix
//!   was added.

use std::collections::HashMap;

use tokenizers::Tokenizer;
use tokenizers::decoders::DecoderWrapper;
use tokenizers::decoders::byte_fallback::ByteFallback;
use tokenizers::decoders::fuse::Fuse;
use tokenizers::decoders::sequence::Sequence as DecoderSequence;
use tokenizers::decoders::strip::Strip;
use tokenizers::models::bpe::{BPE, Vocab};
use tokenizers::normalizers::{
    NormalizerWrapper, Prepend, Replace, Sequence as NormalizerSequence,
};

/// SentencePiece's word-boundary marker (U+2581), which stands for a space.
pub const SPACE_MARKER: &str = "\u{2581}";

/// What a SentencePiece vocabulary needs besides its pieces.
#[derive(Debug, Clone, Copy)]
pub struct SpmOptions<'a> {
    /// `tokenizer.ggml.scores`, one per piece (higher merges first). Without scores the
    /// vocabulary order is used (lower id first), as SentencePiece stores pieces by score.
    pub scores: Option<&'a [f32]>,
    /// The unknown piece (`<unk>`), when the vocabulary has one.
    pub unk: Option<&'a str>,
    /// Whether a `▁` is put before the text (`tokenizer.ggml.add_space_prefix`).
    pub add_space_prefix: bool,
}

/// The BPE merges equivalent to SentencePiece's score-ordered merging of `pieces`.
pub fn merges_from_scores(pieces: &[&str], scores: Option<&[f32]>) -> Vec<(String, String)> {
    let mut ids: HashMap<&str, usize> = HashMap::with_capacity(pieces.len());
    for (id, piece) in pieces.iter().enumerate() {
        ids.entry(piece).or_insert(id);
    }
    // (score, id of the merged piece, id left, id right)
    let mut merges: Vec<(f32, usize, usize, usize)> = Vec::new();
    for (id, piece) in pieces.iter().enumerate() {
        if ids.get(piece) != Some(&id) {
            continue; // a repeated piece keeps its first id
        }
        let score = scores
            .and_then(|s| s.get(id).copied())
            .unwrap_or(-(id as f32));
        for (split, _) in piece.char_indices().skip(1) {
            let (left, right) = piece.split_at(split);
            if let (Some(&l), Some(&r)) = (ids.get(left), ids.get(right)) {
                merges.push((score, id, l, r));
            }
        }
    }
    // Highest score first; then vocabulary order of the piece, then of its two halves.
    merges.sort_by(|a, b| {
        b.0.total_cmp(&a.0)
            .then(a.1.cmp(&b.1))
            .then((a.2, a.3).cmp(&(b.2, b.3)))
    });
    merges
        .into_iter()
        .map(|(_, _, l, r)| (pieces[l].to_string(), pieces[r].to_string()))
        .collect()
}

/// Builds the tokenizer (without added tokens) for the SentencePiece vocabulary `pieces`.
pub fn sentencepiece_bpe(pieces: &[&str], options: SpmOptions<'_>) -> Result<Tokenizer, String> {
    let mut vocab = Vocab::with_capacity(pieces.len());
    for (id, piece) in pieces.iter().enumerate() {
        let id = u32::try_from(id).map_err(|_| "vocabulary too large".to_string())?;
        vocab.entry((*piece).to_string()).or_insert(id);
    }
    let merges = merges_from_scores(pieces, options.scores);
    let mut builder = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .byte_fallback(true)
        .fuse_unk(true);
    if let Some(unk) = options.unk {
        builder = builder.unk_token(unk.to_string());
    }
    let bpe = builder.build().map_err(|e| format!("BPE model: {e}"))?;

    let mut tokenizer = Tokenizer::new(bpe);
    let to_marker = Replace::new(" ", SPACE_MARKER).map_err(|e| format!("normalizer: {e}"))?;
    let normalizer: NormalizerWrapper = if options.add_space_prefix {
        NormalizerSequence::new(vec![
            Prepend::new(SPACE_MARKER.to_string()).into(),
            to_marker.into(),
        ])
        .into()
    } else {
        to_marker.into()
    };
    tokenizer
        .with_normalizer(Some(normalizer))
        .map_err(|e| format!("normalizer: {e}"))?;
    let from_marker = Replace::new(SPACE_MARKER, " ").map_err(|e| format!("decoder: {e}"))?;
    let mut decoders: Vec<DecoderWrapper> = vec![
        from_marker.into(),
        ByteFallback::default().into(),
        Fuse::default().into(),
    ];
    if options.add_space_prefix {
        decoders.push(Strip::new(' ', 1, 0).into());
    }
    tokenizer.with_decoder(Some(DecoderSequence::new(decoders)));
    Ok(tokenizer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_follow_the_merged_piece_score() {
        let pieces = ["<unk>", "a", "b", "c", "ab", "bc", "abc"];
        // "bc" outranks "ab"; "abc" can be made two ways.
        let scores = [0.0, -1.0, -1.0, -1.0, -5.0, -2.0, -3.0];
        let merges = merges_from_scores(&pieces, Some(&scores));
        let pairs: Vec<(&str, &str)> = merges
            .iter()
            .map(|(l, r)| (l.as_str(), r.as_str()))
            .collect();
        assert_eq!(pairs, [("b", "c"), ("a", "bc"), ("ab", "c"), ("a", "b")]);
    }
}
