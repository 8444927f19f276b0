//! Evaluating the signals on labelled answers (HaluEval): score each answer
//! by teacher forcing, then report AUROC per signal, for the combined risk
//! score (fitted on one half of the rows, reported on the other) and for a
//! length-only baseline.

use palisade_guard::toxicity::eval::roc_auc;
use palisade_inference::embedding::{EmbedError, SentenceEmbedder};
use palisade_inference::{Engine, GenerateError, TokenScore};
use palisade_telemetry::SignalAccumulator;
use serde::{Deserialize, Serialize};

use super::consistency::{SampledMode, sample_answers, sample_consistency};
use super::features::{AnswerSignals, FEATURE_NAMES, Features, RISK_DIRECTION};
use super::grounding::check_grounding;
use super::halueval::HaluEvalRow;
use super::risk::{RiskModel, RiskModelWire, Signs};
use super::similarity::context_similarity;

/// One answer scored by teacher forcing: what a dump file holds per line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoredAnswer {
    /// The row's index in the data file (0-based).
    pub row: usize,
    /// Whether this is the row's hallucinated answer.
    pub hallucinated: bool,
    /// Per answer token: `[id, logprob, entropy]`.
    pub tokens: Vec<(u32, f32, f32)>,
    /// Answers the model sampled for the row's prompt (the sampled mode;
    /// empty when it was off).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub samples: Vec<String>,
}

impl ScoredAnswer {
    /// The answer's signals: decoding signals from its tokens, grounding
    /// against `context`, and with an `embedder` the context similarity and
    /// (when the answer carries samples) the sample consistency.
    pub fn signals(
        &self,
        answer: &str,
        context: &str,
        embedder: Option<&SentenceEmbedder>,
    ) -> Result<AnswerSignals, EmbedError> {
        let mut acc = SignalAccumulator::new();
        for &(id, logprob, entropy) in &self.tokens {
            acc.observe(id, logprob, entropy);
        }
        let (similarity, consistency) = match embedder {
            Some(e) => (
                context_similarity(e, answer, context)?,
                sample_consistency(e, answer, &self.samples)?,
            ),
            None => (None, None),
        };
        Ok(AnswerSignals {
            decoding: acc.summary(),
            grounding: Some(check_grounding(answer, context)),
            similarity,
            consistency,
        })
    }
}

/// Scores both answers of `row` (the row's index is `index`) by teacher
/// forcing; in the sampled mode, also samples answers to the row's prompt.
pub fn score_row(
    engine: &mut Engine,
    row: &HaluEvalRow,
    index: usize,
    sampled: &SampledMode,
) -> Result<[ScoredAnswer; 2], GenerateError> {
    let prompt = engine
        .render_chat(&row.messages, true)
        .map_err(|e| GenerateError::Tokenize {
            reason: e.to_string(),
        })?;
    let prompt_ids = engine.encode_prompt(&prompt)?;
    let samples = sample_answers(
        engine,
        &prompt,
        &SampledMode {
            seed: sampled.seed.wrapping_add(index as u64 * 1000),
            ..*sampled
        },
    )?;
    let mut score = |answer: &str, hallucinated: bool| -> Result<ScoredAnswer, GenerateError> {
        let ids = engine.encode_continuation(answer)?;
        let scores = engine.score_continuation(&prompt_ids, &ids)?;
        Ok(ScoredAnswer {
            row: index,
            hallucinated,
            tokens: scores
                .iter()
                .map(|s: &TokenScore| (s.token_id, s.logprob, s.entropy))
                .collect(),
            samples: samples.clone(),
        })
    };
    Ok([score(&row.right, false)?, score(&row.hallucinated, true)?])
}

/// One labelled answer, reduced to what the report needs.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledAnswer {
    /// The row it came from (decides the train/test split).
    pub row: usize,
    /// The label.
    pub hallucinated: bool,
    /// Its feature vector.
    pub features: Features,
    /// Its length in tokens.
    pub tokens: usize,
}

/// AUROC of one signal on the held-out rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SignalAuroc {
    /// The signal's name.
    pub signal: String,
    /// AUROC with the signal's fixed risk direction; `None` without both classes.
    pub auroc: Option<f64>,
    /// How many held-out answers measured it (embedding signals may be missing).
    pub answers: usize,
}

/// The evaluation's results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HallucinationReport {
    /// Rows used to fit the combination (even row indexes).
    pub train_rows: usize,
    /// Held-out rows the figures are computed on (odd row indexes).
    pub test_rows: usize,
    /// Per signal, on the held-out rows.
    pub signals: Vec<SignalAuroc>,
    /// The answer's length in tokens (longer = riskier), on the held-out rows.
    pub length_baseline: Option<f64>,
    /// The combined risk score, fitted on the training rows, on the held-out rows.
    pub combined: Option<f64>,
    /// Mean squared error of the risk as a probability, held-out rows.
    pub brier: Option<f64>,
    /// Expected calibration error over 10 equal-width bins, held-out rows.
    pub calibration_error: Option<f64>,
    /// The fitted model (`None` when the training rows lack a class).
    pub model: Option<RiskModelWire>,
    /// Whether the fit held each weight to its signal's risk direction.
    pub signs_constrained: bool,
}

/// L2 penalty of the combination's fit (on standardized weights).
pub const FIT_L2: f64 = 1e-3;

fn is_train(row: usize) -> bool {
    row.is_multiple_of(2)
}

/// Fits the combination on the even rows (weights held to their risk directions unless
/// `signs` is [`Signs::Free`]) and reports on the odd ones.
pub fn evaluate(answers: &[LabelledAnswer], trained_on: &str, signs: Signs) -> HallucinationReport {
    let (train, test): (Vec<&LabelledAnswer>, Vec<&LabelledAnswer>) =
        answers.iter().partition(|a| is_train(a.row));
    let rows = |set: &[&LabelledAnswer]| {
        let mut r: Vec<usize> = set.iter().map(|a| a.row).collect();
        r.dedup();
        r.len()
    };
    let labels: Vec<bool> = test.iter().map(|a| a.hallucinated).collect();
    let signals = FEATURE_NAMES
        .iter()
        .enumerate()
        .map(|(i, name)| {
            // Only the answers that measured the signal.
            let (scores, measured): (Vec<f32>, Vec<bool>) = test
                .iter()
                .filter(|a| !a.features.is_missing(i))
                .map(|a| {
                    (
                        (RISK_DIRECTION[i] * a.features.values[i]) as f32,
                        a.hallucinated,
                    )
                })
                .unzip();
            SignalAuroc {
                signal: (*name).to_owned(),
                auroc: roc_auc(&scores, &measured),
                answers: scores.len(),
            }
        })
        .collect();
    let lengths: Vec<f32> = test.iter().map(|a| a.tokens as f32).collect();
    let train_features: Vec<Features> = train.iter().map(|a| a.features).collect();
    let train_labels: Vec<bool> = train.iter().map(|a| a.hallucinated).collect();
    let model = RiskModel::fit(&train_features, &train_labels, FIT_L2, signs, trained_on);
    let risks: Option<Vec<f32>> = model
        .as_ref()
        .map(|m| test.iter().map(|a| m.score(&a.features)).collect());
    HallucinationReport {
        train_rows: rows(&train),
        test_rows: rows(&test),
        signals,
        length_baseline: roc_auc(&lengths, &labels),
        combined: risks.as_ref().and_then(|r| roc_auc(r, &labels)),
        brier: risks.as_ref().and_then(|r| brier(r, &labels)),
        calibration_error: risks
            .as_ref()
            .and_then(|r| calibration_error(r, &labels, 10)),
        model: model.map(|m| m.to_wire()),
        signs_constrained: signs == Signs::Constrained,
    }
}

/// Mean squared error of probabilities against 0/1 labels.
pub fn brier(risks: &[f32], labels: &[bool]) -> Option<f64> {
    (!risks.is_empty()).then(|| {
        risks
            .iter()
            .zip(labels)
            .map(|(r, l)| (f64::from(*r) - f64::from(u8::from(*l))).powi(2))
            .sum::<f64>()
            / risks.len() as f64
    })
}

/// Expected calibration error: the count-weighted mean, over `bins` equal-width
/// bins of predicted risk, of |mean risk - fraction positive|.
pub fn calibration_error(risks: &[f32], labels: &[bool], bins: usize) -> Option<f64> {
    if risks.is_empty() || bins == 0 {
        return None;
    }
    // Per bin: summed risk and summed labels; sum |risk - positives| / n equals the
    // count-weighted mean of |mean risk - fraction positive|.
    let mut sums = vec![(0.0f64, 0.0f64); bins];
    for (r, l) in risks.iter().zip(labels) {
        let r = f64::from(r.clamp(0.0, 1.0));
        let bin = ((r * bins as f64) as usize).min(bins - 1);
        sums[bin].0 += r;
        sums[bin].1 += f64::from(u8::from(*l));
    }
    let n = risks.len() as f64;
    Some(sums.iter().map(|(risk, pos)| (risk - pos).abs() / n).sum())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hallucination::features::FEATURE_COUNT;

    fn answer(row: usize, hallucinated: bool, entity: f64, tokens: usize) -> LabelledAnswer {
        let mut values = [0.0; FEATURE_COUNT];
        values[9] = entity;
        values[0] = if hallucinated { -2.0 } else { -1.0 } + (row % 7) as f64 * 0.2;
        values[11] = if row % 4 == 1 { 0.5 } else { f64::NAN };
        values[12] = f64::NAN;
        LabelledAnswer {
            row,
            hallucinated,
            features: Features { values },
            tokens,
        }
    }

    #[test]
    fn fits_on_even_rows_and_reports_on_odd_ones() {
        let mut answers = Vec::new();
        for row in 0..40 {
            answers.push(answer(row, false, 0.0, 5));
            answers.push(answer(row, true, if row % 3 == 0 { 0.7 } else { 0.0 }, 5));
        }
        let report = evaluate(&answers, "synthetic", Signs::Constrained);
        assert_eq!((report.train_rows, report.test_rows), (20, 20));
        assert_eq!(
            report.length_baseline,
            Some(0.5),
            "equal lengths carry no signal"
        );
        let combined = report.combined.expect("both classes");
        let logprob = report.signals[0].auroc.expect("both classes");
        assert!(logprob > 0.7, "{logprob}");
        assert!(
            combined >= logprob,
            "combined {combined}, logprob {logprob}"
        );
        assert!(report.model.is_some());
        assert!(report.brier.expect("some") < 0.25);
        // Missing signals are left out of their AUROC, not counted as zero.
        assert_eq!(report.signals[0].answers, 40);
        assert_eq!(
            (report.signals[11].answers, report.signals[11].auroc),
            (20, Some(0.5))
        );
        assert_eq!(
            (report.signals[12].answers, report.signals[12].auroc),
            (0, None)
        );
    }

    #[test]
    fn calibration_metrics_on_known_inputs() {
        assert_eq!(brier(&[1.0, 0.0], &[true, false]), Some(0.0));
        assert_eq!(brier(&[0.5, 0.5], &[true, false]), Some(0.25));
        // Perfectly calibrated: risk 0.5, half positive.
        let ece = calibration_error(&[0.5; 4], &[true, false, true, false], 10).expect("some");
        assert!(ece.abs() < 1e-12);
        let ece = calibration_error(&[0.9; 2], &[false, false], 10).expect("some");
        assert!((ece - 0.9).abs() < 1e-6);
        assert_eq!(calibration_error(&[], &[], 10), None);
    }
}
