//! The numbers the risk score combines: decoding signals (from the token
//! stream, or from teacher forcing) and grounding counts, in a fixed order.

use palisade_telemetry::SignalSummary;

use super::grounding::GroundingCounts;

/// How many features the risk score combines.
pub const FEATURE_COUNT: usize = 11;

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
];

/// Which way each feature points: `+1` when a larger value means more risk,
/// `-1` when a smaller one does (log-probabilities). Single-signal AUROCs are
/// reported in this orientation, fixed in advance.
pub const RISK_DIRECTION: [f64; FEATURE_COUNT] =
    [-1.0, -1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0];

/// The lowest log-probability kept (nats): a `-inf` token is clamped here.
pub const MIN_LOGPROB_FLOOR: f32 = -30.0;

/// Everything known about one answer.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AnswerSignals {
    /// The decoding signals.
    pub decoding: SignalSummary,
    /// The grounding counts, when the request had a context.
    pub grounding: Option<GroundingCounts>,
}

/// The feature vector of one answer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Features {
    /// One value per [`FEATURE_NAMES`] entry. Counts are `ln(1 + n)`; a missing
    /// signal is 0.
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
            ],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_signals_are_zero_and_minus_infinity_is_floored() {
        let empty = Features::from(&AnswerSignals::default());
        assert_eq!(empty.values, [0.0; FEATURE_COUNT]);
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
        };
        let v = Features::from(&signals).values;
        assert_eq!(v[1], f64::from(MIN_LOGPROB_FLOOR));
        assert!((v[5] - 4f64.ln()).abs() < 1e-12);
        assert!((v[9] - 2f64.ln()).abs() < 1e-12);
        assert!((v[10] - 0.25).abs() < 1e-12);
    }
}
