//! The numbers the risk score combines: decoding signals (from the token
//! stream, or from teacher forcing), grounding counts, and the optional
//! embedding signals (context similarity, sample consistency), in a fixed order.

use palisade_telemetry::SignalSummary;

use super::grounding::GroundingCounts;
use super::similarity::ContextSimilarity;

/// How many features the risk score combines.
pub const FEATURE_COUNT: usize = 13;

/// The features' names, in [`Features::values`] order (also the keys of a
/// saved risk model).
pub const FEATURE_NAMES: [&str; FEATURE_COUNT] = [
    "mean_logprob",
    "min_logprob",
    "mean_entropy",
    "max_entropy",
    "low_confidence_fraction",
    "low_confidence_run",
    "repetition",
    "ungrounded_numbers",
    "ungrounded_dates",
    "ungrounded_entities",
    "novel_word_fraction",
    "context_similarity",
    "sample_consistency",
];

/// Which way each feature points: `+1` when a larger value means more risk,
/// `-1` when a smaller one does (log-probabilities). Single-signal AUROCs are
/// reported in this orientation, fixed in advance.
pub const RISK_DIRECTION: [f64; FEATURE_COUNT] = [
    -1.0, -1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, -1.0, -1.0,
];

/// The lowest log-probability kept (nats): a `-inf` token is clamped here.
pub const MIN_LOGPROB_FLOOR: f32 = -30.0;

/// Everything known about one answer.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AnswerSignals {
    /// The decoding signals.
    pub decoding: SignalSummary,
    /// The grounding counts, when the request had a context.
    pub grounding: Option<GroundingCounts>,
    /// Semantic similarity of the answer's sentences to the context, when a
    /// sentence embedder is loaded and the request had a context.
    pub similarity: Option<ContextSimilarity>,
    /// Mean similarity of the answer to other answers sampled for the same
    /// prompt, in the sampled mode.
    pub consistency: Option<f32>,
}

/// The feature vector of one answer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Features {
    /// One value per [`FEATURE_NAMES`] entry. Counts are `ln(1 + n)`. A
    /// missing decoding or grounding signal is 0; a missing embedding signal
    /// (no embedder, no context, sampled mode off) is NaN, which the risk
    /// model reads as "at its mean" (see [`Features::is_missing`]).
    pub values: [f64; FEATURE_COUNT],
}

fn count(n: u32) -> f64 {
    f64::from(n).ln_1p()
}

impl From<&AnswerSignals> for Features {
    fn from(s: &AnswerSignals) -> Self {
        let d = &s.decoding;
        let f = |v: Option<f32>| v.filter(|x| x.is_finite()).map_or(0.0, f64::from);
        let g = s.grounding.unwrap_or_default();
        Features {
            values: [
                f(d.mean_logprob),
                f(d.min_logprob.map(|v| v.max(MIN_LOGPROB_FLOOR))),
                f(d.mean_entropy),
                f(d.max_entropy),
                f(d.low_confidence_fraction),
                count(d.longest_low_confidence_run.unwrap_or(0)),
                f(d.repetition),
                count(g.ungrounded_numbers),
                count(g.ungrounded_dates),
                count(g.ungrounded_entities),
                f64::from(g.novel_word_fraction()),
                s.similarity.map_or(f64::NAN, |c| f64::from(c.min)),
                s.consistency.map_or(f64::NAN, f64::from),
            ],
        }
    }
}

impl Features {
    /// Whether feature `i` was not measured for this answer.
    pub fn is_missing(&self, i: usize) -> bool {
        self.values.get(i).is_none_or(|v| v.is_nan())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_signals_are_zero_and_minus_infinity_is_floored() {
        let empty = Features::from(&AnswerSignals::default());
        assert_eq!(empty.values[..11], [0.0; 11]);
        assert!(empty.is_missing(11) && empty.is_missing(12));
        assert!(!empty.is_missing(0));
        let signals = AnswerSignals {
            decoding: SignalSummary {
                min_logprob: Some(f32::NEG_INFINITY),
                longest_low_confidence_run: Some(3),
                ..SignalSummary::default()
            },
            grounding: Some(GroundingCounts {
                ungrounded_entities: 1,
                content_words: 4,
                novel_content_words: 1,
                ..GroundingCounts::default()
            }),
            similarity: Some(ContextSimilarity {
                min: 0.25,
                mean: 0.5,
                sentences: 2,
            }),
            consistency: Some(0.75),
        };
        let v = Features::from(&signals).values;
        assert_eq!(v[1], f64::from(MIN_LOGPROB_FLOOR));
        assert!((v[5] - 4f64.ln()).abs() < 1e-12);
        assert!((v[9] - 2f64.ln()).abs() < 1e-12);
        assert!((v[10] - 0.25).abs() < 1e-12);
        assert_eq!((v[11], v[12]), (0.25, 0.75));
    }
}
