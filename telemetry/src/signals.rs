//! Hallucination signals computed from per-token numbers: log-probabilities,
//! entropies and token ids. No text enters here.

use std::collections::HashSet;

/// A token whose probability is below this counts as low-confidence.
pub const LOW_CONFIDENCE_PROBABILITY: f32 = 0.2;

/// The length of the token n-grams compared by the repetition score.
pub const REPETITION_NGRAM: usize = 3;

/// Gathers per-token numbers during generation and summarizes them into the
/// signal fields of a [`crate::RequestRecord`].
#[derive(Debug, Clone)]
pub struct SignalAccumulator {
    tokens: usize,
    logprob_sum: f64,
    entropy_sum: f64,
    max_entropy: f32,
    min_logprob: f32,
    low_confidence: usize,
    low_confidence_run: usize,
    longest_low_confidence_run: usize,
    ids: Vec<u32>,
}

/// The summary of a [`SignalAccumulator`]; every field is `None` when no
/// token was generated.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct SignalSummary {
    /// Mean log-probability (nats).
    pub mean_logprob: Option<f32>,
    /// Smallest log-probability (nats) of a token: the least expected token.
    pub min_logprob: Option<f32>,
    /// Mean entropy (nats).
    pub mean_entropy: Option<f32>,
    /// Largest entropy (nats).
    pub max_entropy: Option<f32>,
    /// Fraction of tokens below [`LOW_CONFIDENCE_PROBABILITY`].
    pub low_confidence_fraction: Option<f32>,
    /// Longest run of consecutive low-confidence tokens.
    pub longest_low_confidence_run: Option<u32>,
    /// Fraction of token trigrams that repeat an earlier trigram (`None` for
    /// answers shorter than one trigram).
    pub repetition: Option<f32>,
}

impl Default for SignalAccumulator {
    fn default() -> Self {
        Self::new()
    }
}

impl SignalAccumulator {
    /// An empty accumulator.
    pub fn new() -> Self {
        Self {
            tokens: 0,
            logprob_sum: 0.0,
            entropy_sum: 0.0,
            max_entropy: 0.0,
            min_logprob: f32::INFINITY,
            low_confidence: 0,
            low_confidence_run: 0,
            longest_low_confidence_run: 0,
            ids: Vec::new(),
        }
    }

    /// Adds one generated token: its id, its log-probability and the entropy
    /// of the distribution it was drawn from. Non-finite values are ignored
    /// for the sums but the token still counts.
    pub fn observe(&mut self, token_id: u32, logprob: f32, entropy: f32) {
        self.tokens += 1;
        self.ids.push(token_id);
        if logprob.is_finite() {
            self.logprob_sum += f64::from(logprob);
        }
        if !logprob.is_nan() {
            self.min_logprob = self.min_logprob.min(logprob);
        }
        let low = logprob < LOW_CONFIDENCE_PROBABILITY.ln();
        if low {
            self.low_confidence += 1;
            self.low_confidence_run += 1;
            self.longest_low_confidence_run =
                self.longest_low_confidence_run.max(self.low_confidence_run);
        } else {
            self.low_confidence_run = 0;
        }
        if entropy.is_finite() {
            self.entropy_sum += f64::from(entropy);
            self.max_entropy = self.max_entropy.max(entropy);
        }
    }

    /// Tokens observed so far.
    pub fn tokens(&self) -> usize {
        self.tokens
    }

    /// The signals for the tokens seen so far.
    pub fn summary(&self) -> SignalSummary {
        if self.tokens == 0 {
            return SignalSummary::default();
        }
        let n = self.tokens as f64;
        let grams = self.ids.len().saturating_sub(REPETITION_NGRAM - 1);
        let repetition = (grams > 0).then(|| {
            let mut seen = HashSet::with_capacity(grams);
            let repeated = self
                .ids
                .windows(REPETITION_NGRAM)
                .filter(|w| !seen.insert(*w))
                .count();
            repeated as f32 / grams as f32
        });
        SignalSummary {
            mean_logprob: Some((self.logprob_sum / n) as f32),
            min_logprob: (self.min_logprob != f32::INFINITY).then_some(self.min_logprob),
            mean_entropy: Some((self.entropy_sum / n) as f32),
            max_entropy: Some(self.max_entropy),
            low_confidence_fraction: Some((self.low_confidence as f64 / n) as f32),
            longest_low_confidence_run: Some(
                u32::try_from(self.longest_low_confidence_run).unwrap_or(u32::MAX),
            ),
            repetition,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_has_no_signals() {
        assert_eq!(SignalAccumulator::new().summary(), SignalSummary::default());
    }

    #[test]
    fn summarizes_means_maxima_and_fractions() {
        let mut acc = SignalAccumulator::new();
        acc.observe(1, -0.1, 0.5);
        acc.observe(2, -3.0, 2.5); // p = 0.05: low confidence
        acc.observe(3, -0.2, 1.0);
        acc.observe(4, f32::NEG_INFINITY, f32::NAN);
        let s = acc.summary();
        assert!((s.mean_logprob.expect("some") - (-3.3 / 4.0)).abs() < 1e-6);
        assert!((s.mean_entropy.expect("some") - 1.0).abs() < 1e-6);
        assert_eq!(s.max_entropy, Some(2.5));
        assert_eq!(s.low_confidence_fraction, Some(0.5));
        assert_eq!(s.min_logprob, Some(f32::NEG_INFINITY));
        assert_eq!(s.longest_low_confidence_run, Some(1));
        assert_eq!(s.repetition, Some(0.0));
    }

    #[test]
    fn tracks_the_least_likely_token_and_the_longest_unsure_run() {
        let mut acc = SignalAccumulator::new();
        for lp in [-0.1, -2.0, -2.5, -0.3, -4.0, -1.9, -3.0, -0.05] {
            acc.observe(1, lp, 1.0);
        }
        let s = acc.summary();
        assert_eq!(s.min_logprob, Some(-4.0));
        // ln 0.2 = -1.609: -2.0 -2.5 | -4.0 -1.9 -3.0 -> longest run 3.
        assert_eq!(s.longest_low_confidence_run, Some(3));
        assert_eq!(s.low_confidence_fraction, Some(5.0 / 8.0));
    }

    #[test]
    fn repetition_counts_repeated_trigrams() {
        let mut acc = SignalAccumulator::new();
        for id in [7, 8, 9, 7, 8, 9, 7, 8] {
            acc.observe(id, -0.5, 1.0);
        }
        // 6 trigrams: 789 897 978 789 897 978 -> the last three repeat.
        assert_eq!(acc.summary().repetition, Some(0.5));
        let mut short = SignalAccumulator::new();
        short.observe(1, -0.5, 1.0);
        short.observe(1, -0.5, 1.0);
        assert_eq!(short.summary().repetition, None);
    }
}
