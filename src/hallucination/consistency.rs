//! The sampled mode (off by default): sample `k` more answers to the same
//! prompt and measure how well the answer agrees with them. A model that
//! knows the answer tends to say the same thing each time; a hallucinated
//! answer tends to drift from sample to sample (the SelfCheckGPT idea, with
//! sentence embeddings as the similarity).
//!
//! It costs `k` extra generations per answer, so it is opt-in:
//! `--consistency-samples K` on `palisade chat`, `serve` and `eval hallucination`.

use palisade_inference::embedding::{EmbedError, SentenceEmbedder, cosine};
use palisade_inference::{Engine, GenerateError, GenerationParams};

/// How the sampled mode samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SampledMode {
    /// Answers sampled per checked answer (`k`); 0 turns the mode off.
    pub samples: usize,
    /// Longest sample, in tokens.
    pub max_tokens: usize,
    /// The samples' softmax temperature.
    pub temperature: f64,
    /// Seed of the first sample; sample `j` uses `seed + j`.
    pub seed: u64,
}

impl Default for SampledMode {
    /// The mode off ([`SampledMode::OFF`]).
    fn default() -> Self {
        Self::OFF
    }
}

/// The most answers the sampled mode may sample per answer.
pub const MAX_SAMPLES: usize = 16;

impl SampledMode {
    /// The mode off.
    pub const OFF: SampledMode = SampledMode {
        samples: 0,
        max_tokens: 48,
        temperature: 0.7,
        seed: 0x5a3d,
    };

    /// `k` samples of at most 48 tokens at temperature 0.7 (the chat default: samples of
    /// what the model would say; at temperature 1 a small model's samples are noise).
    pub fn with_samples(k: usize) -> Self {
        Self {
            samples: k,
            ..Self::OFF
        }
    }

    /// Whether the mode is on.
    pub fn is_on(&self) -> bool {
        self.samples > 0
    }

    fn params(&self, j: usize) -> GenerationParams {
        GenerationParams {
            max_tokens: self.max_tokens,
            temperature: self.temperature,
            top_p: Some(0.95),
            repetition_penalty: 1.0,
            seed: self.seed.wrapping_add(j as u64),
            ..GenerationParams::default()
        }
    }
}

/// Samples `mode.samples` answers to `prompt` (a rendered chat prompt),
/// each with its own seed.
pub fn sample_answers(
    engine: &mut Engine,
    prompt: &str,
    mode: &SampledMode,
) -> Result<Vec<String>, GenerateError> {
    let mut out = Vec::with_capacity(mode.samples);
    for j in 0..mode.samples {
        let mut text = String::new();
        for event in engine.generate(prompt, &mode.params(j))? {
            text.push_str(&event?.text);
        }
        out.push(text);
    }
    Ok(out)
}

/// Agreement between an answer and `samples`, other answers sampled for the
/// same prompt: the mean cosine similarity of the answer's embedding with each
/// sample's. `None` without samples or for an empty answer.
pub fn sample_consistency(
    embedder: &SentenceEmbedder,
    answer: &str,
    samples: &[String],
) -> Result<Option<f32>, EmbedError> {
    if samples.is_empty() || answer.trim().is_empty() {
        return Ok(None);
    }
    let mut texts: Vec<&str> = vec![answer.trim()];
    texts.extend(samples.iter().map(|s| s.trim()));
    let embeddings = embedder.embed(&texts)?;
    let (first, rest) = embeddings.split_at(1);
    let total: f32 = rest.iter().map(|s| cosine(&first[0], s)).sum();
    Ok(Some(total / rest.len() as f32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_differ_by_seed_only() {
        let mode = SampledMode::with_samples(3);
        assert!(mode.is_on() && !SampledMode::OFF.is_on());
        let (a, b) = (mode.params(0), mode.params(1));
        a.validate().expect("valid sampling parameters");
        assert_ne!(a.seed, b.seed);
        assert_eq!(
            GenerationParams { seed: 0, ..a },
            GenerationParams { seed: 0, ..b }
        );
    }
}
