//! Next-token sampling (our own, not candle's `LogitsProcessor`), so that every step also
//! reports the chosen token's log-probability, the distribution's entropy and the top
//! alternatives.
//!
//! One step, in order:
//! 1. statistics of the model's raw distribution (softmax of the raw logits at temperature 1):
//!    `logprob`, `entropy`, `top_logprobs` — see [`distribution`];
//! 2. logits processors (e.g. banned sequences), in the order given;
//! 3. repetition penalty over the last `repeat_last_n` tokens of prompt + completion;
//! 4. `temperature == 0`: greedy argmax (ties: lowest id). Otherwise divide by temperature,
//!    then top-k, softmax, top-p, min-p (the Hugging Face order), and draw from the remainder
//!    with a `StdRng` seeded from `seed` (same seed, same build => same tokens).

pub mod distribution;
pub mod filters;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::error::GenerateError;
use crate::params::GenerationParams;
use crate::processors::BoxedProcessor;
use distribution::{DistributionStats, top_logprobs};

/// The outcome of one sampling step.
#[derive(Debug, Clone, PartialEq)]
pub struct Sampled {
    /// Chosen token.
    pub token: u32,
    /// Its natural-log probability under the raw distribution.
    pub logprob: f32,
    /// Entropy (nats) of the raw distribution.
    pub entropy: f32,
    /// The most likely tokens of the raw distribution with their log-probabilities.
    pub top_logprobs: Vec<(u32, f32)>,
}

/// Stateful sampler: the settings plus the seeded random generator.
#[derive(Debug, Clone)]
pub struct Sampler {
    temperature: f64,
    top_k: Option<usize>,
    top_p: Option<f64>,
    min_p: Option<f64>,
    repetition_penalty: f32,
    repeat_last_n: usize,
    top_logprobs: usize,
    rng: StdRng,
}

impl Sampler {
    /// A sampler for `params` (which should have passed [`GenerationParams::validate`]).
    pub fn new(params: &GenerationParams) -> Self {
        Self {
            temperature: params.temperature,
            top_k: params.top_k,
            top_p: params.top_p,
            min_p: params.min_p,
            repetition_penalty: params.repetition_penalty,
            repeat_last_n: params.repeat_last_n,
            top_logprobs: params.top_logprobs,
            rng: StdRng::seed_from_u64(params.seed),
        }
    }

    /// Whether this sampler always picks the most likely (processed) token.
    pub fn is_greedy(&self) -> bool {
        self.temperature <= 0.0
    }

    /// Samples the next token from `logits` (modified in place by processors and penalties).
    ///
    /// `history` is prompt + completion so far (for the repetition penalty), `completion` the
    /// completion alone (for processors), `step` the 0-based completion index (for errors).
    pub fn sample(
        &mut self,
        logits: &mut [f32],
        history: &[u32],
        completion: &[u32],
        processors: &mut [BoxedProcessor<'_>],
        step: usize,
    ) -> Result<Sampled, GenerateError> {
        let stats =
            DistributionStats::from_logits(logits).ok_or(GenerateError::NoCandidate { step })?;
        let top = top_logprobs(logits, &stats, self.top_logprobs);
        // Processors and the penalty modify `logits`; the chosen token's logprob must come
        // from the raw ones, so keep a copy when anything will modify them.
        let modifies = !processors.is_empty() || self.repetition_penalty != 1.0;
        let raw: Option<Vec<f32>> = modifies.then(|| logits.to_vec());

        for p in processors.iter_mut() {
            p.process(completion, logits);
        }
        let window_start = history.len().saturating_sub(self.repeat_last_n);
        filters::apply_repetition_penalty(
            logits,
            &history[window_start..],
            self.repetition_penalty,
        );

        let token = if self.is_greedy() {
            argmax(logits)
        } else {
            self.draw(logits)
        }
        .ok_or(GenerateError::NoCandidate { step })?;

        let chosen_raw = raw
            .as_deref()
            .unwrap_or(logits)
            .get(token as usize)
            .copied()
            .unwrap_or(f32::NEG_INFINITY);
        Ok(Sampled {
            token,
            logprob: stats.logprob(chosen_raw),
            entropy: stats.entropy as f32,
            top_logprobs: top,
        })
    }

    fn draw(&mut self, logits: &[f32]) -> Option<u32> {
        let mut c = filters::candidates(logits, self.temperature);
        if let Some(k) = self.top_k {
            filters::top_k(&mut c, k);
        }
        filters::softmax(&mut c);
        if let Some(p) = self.top_p.filter(|&p| p < 1.0) {
            filters::drop_negligible_for_top_p(&mut c, p);
            filters::sort_desc(&mut c);
            filters::top_p(&mut c, p);
        }
        if let Some(m) = self.min_p {
            filters::min_p(&mut c, m);
        }
        let u: f64 = self.rng.random();
        filters::pick(&c, u)
    }
}

/// Index of the largest finite logit (ties: lowest index); `None` if none is finite.
pub fn argmax(logits: &[f32]) -> Option<u32> {
    let max = distribution::max_where(logits, |l| !l.is_nan());
    if max == f32::NEG_INFINITY {
        return None;
    }
    let first = logits.iter().position(|&l| l == max)?;
    u32::try_from(first).ok()
}

#[cfg(test)]
mod tests;
