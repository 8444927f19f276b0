//! Semantic grounding: is each sentence of the answer close in meaning to
//! some sentence of its context? Sentences are embedded with a sentence
//! embedder (all-MiniLM-L6-v2 by default) and compared by cosine similarity.
//!
//! Unlike the lexical checks in [`super::grounding`], a paraphrase scores as
//! supported; an answer sentence about something the context never mentions
//! scores low, whatever its words.

use palisade_guard::detector::classifier::next_sentence;
use palisade_inference::embedding::{EmbedError, SentenceEmbedder, cosine};

/// At most this many context sentences are embedded (the first ones); a
/// longer context is cut, bounding the work per answer.
pub const MAX_CONTEXT_SENTENCES: usize = 64;

/// At most this many answer sentences are compared (the first ones).
pub const MAX_ANSWER_SENTENCES: usize = 32;

/// How well an answer's sentences are supported by its context.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ContextSimilarity {
    /// Over the answer's sentences, the smallest best-match similarity: the
    /// least supported sentence.
    pub min: f32,
    /// The mean best-match similarity of the answer's sentences.
    pub mean: f32,
    /// How many answer sentences were compared.
    pub sentences: u32,
}

/// The sentences of `text`, trimmed, empty ones dropped: a sentence ends
/// after `.`, `!` or `?` followed by whitespace, or at a newline (the rules
/// of the guard's classifier detectors).
pub fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some((start, end)) = next_sentence(text, from) {
        let end = (end.max(start + 1)..=text.len())
            .find(|&e| text.is_char_boundary(e))
            .unwrap_or(text.len());
        let sentence = text[start..end].trim();
        if !sentence.is_empty() {
            out.push(sentence);
        }
        from = end;
    }
    out
}

/// Compares every answer sentence with every context sentence; `None` when
/// either text has no sentence.
pub fn context_similarity(
    embedder: &SentenceEmbedder,
    answer: &str,
    context: &str,
) -> Result<Option<ContextSimilarity>, EmbedError> {
    let mut answer_sentences = sentences(answer);
    answer_sentences.truncate(MAX_ANSWER_SENTENCES);
    let mut context_sentences = sentences(context);
    context_sentences.truncate(MAX_CONTEXT_SENTENCES);
    if answer_sentences.is_empty() || context_sentences.is_empty() {
        return Ok(None);
    }
    let mut texts = answer_sentences.clone();
    texts.extend(&context_sentences);
    let embeddings = embedder.embed(&texts)?;
    let (answers, contexts) = embeddings.split_at(answer_sentences.len());
    let best: Vec<f32> = answers
        .iter()
        .map(|a| {
            contexts
                .iter()
                .map(|c| cosine(a, c))
                .fold(f32::NEG_INFINITY, f32::max)
        })
        .collect();
    Ok(Some(ContextSimilarity {
        min: best.iter().copied().fold(f32::INFINITY, f32::min),
        mean: best.iter().sum::<f32>() / best.len() as f32,
        sentences: best.len() as u32,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_split_on_terminators_and_newlines() {
        assert_eq!(
            sentences("Delhi is big. It is old!\nKnowledge: 3.5 m?  Yes"),
            ["Delhi is big.", "It is old!", "Knowledge: 3.5 m?", "Yes"]
        );
        assert_eq!(sentences("Delhi"), ["Delhi"]);
        assert!(sentences("  \n \n").is_empty());
        assert_eq!(sentences("Déjà vu. Über"), ["Déjà vu.", "Über"]);
    }
}
