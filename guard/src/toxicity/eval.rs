//! Measuring a toxicity model on a labelled JSONL set: ROC-AUC per label, and precision and recall
//! of a rule's per-label thresholds.
//!
//! Each line of the set is `{"text": ..., "label": 0 | 1, "source": ...}` (other keys are
//! ignored), as written by `tools/make_toxicity_eval.py`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::ToxicityModel;
use super::error::ToxicityError;

/// One labelled text.
#[derive(Debug, Clone, Deserialize)]
pub struct Sample {
    /// The text.
    pub text: String,
    /// 1 (or true): toxic; 0: benign.
    #[serde(deserialize_with = "de_label")]
    pub label: bool,
    /// Where it came from (reported per source).
    #[serde(default)]
    pub source: String,
}

fn de_label<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum L {
        B(bool),
        N(u8),
    }
    match L::deserialize(d)? {
        L::B(b) => Ok(b),
        L::N(0) => Ok(false),
        L::N(1) => Ok(true),
        L::N(n) => Err(serde::de::Error::custom(format!(
            "label must be 0 or 1, got {n}"
        ))),
    }
}

/// Why a labelled set could not be read.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// The file could not be read.
    #[error("cannot read the labelled set {path}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A line is not a sample.
    #[error(
        "{path}:{line}: not a sample ({reason}); expected {{\"text\": \"...\", \"label\": 0 or 1}}"
    )]
    Parse {
        /// The file.
        path: String,
        /// 1-based line number.
        line: usize,
        /// The JSON error.
        reason: String,
    },
    /// The model failed.
    #[error(transparent)]
    Model(#[from] ToxicityError),
}

/// Reads a JSONL labelled set; blank lines are skipped.
pub fn read_jsonl(path: &Path) -> Result<Vec<Sample>, EvalError> {
    let text = std::fs::read_to_string(path).map_err(|source| EvalError::Read {
        path: path.display().to_string(),
        source,
    })?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| EvalError::Parse {
                path: path.display().to_string(),
                line: i + 1,
                reason: e.to_string(),
            })
        })
        .collect()
}

/// ROC-AUC of `scores` against `labels` (Mann-Whitney U, ties counted half); `None` when one
/// class is absent.
pub fn roc_auc(scores: &[f32], labels: &[bool]) -> Option<f64> {
    let mut pairs: Vec<(f32, bool)> = scores.iter().copied().zip(labels.iter().copied()).collect();
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let pos = pairs.iter().filter(|p| p.1).count() as f64;
    let neg = pairs.len() as f64 - pos;
    if pos == 0.0 || neg == 0.0 {
        return None;
    }
    // Sum of the (average, 1-based) ranks of the positives.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < pairs.len() {
        let mut j = i;
        while j < pairs.len() && pairs[j].0 == pairs[i].0 {
            j += 1;
        }
        let avg_rank = (i + 1 + j) as f64 / 2.0;
        rank_sum += avg_rank * pairs[i..j].iter().filter(|p| p.1).count() as f64;
        i = j;
    }
    Some((rank_sum - pos * (pos + 1.0) / 2.0) / (pos * neg))
}

/// Counts of a binary decision against the labels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Confusion {
    /// Toxic and flagged.
    pub tp: usize,
    /// Benign but flagged.
    pub fp: usize,
    /// Toxic but passed.
    pub fn_: usize,
    /// Benign and passed.
    pub tn: usize,
}

impl Confusion {
    /// tp / (tp + fp); 0 when nothing was flagged.
    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }
    /// tp / (tp + fn); 0 when there are no positives.
    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }
    /// Harmonic mean of precision and recall.
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
    fn add(&mut self, flagged: bool, toxic: bool) {
        match (flagged, toxic) {
            (true, true) => self.tp += 1,
            (true, false) => self.fp += 1,
            (false, true) => self.fn_ += 1,
            (false, false) => self.tn += 1,
        }
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// The result of [`evaluate`].
#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    /// The model's name.
    pub model: String,
    /// Number of samples.
    pub samples: usize,
    /// Number of toxic samples.
    pub positives: usize,
    /// ROC-AUC of each label's score (text score: max over windows).
    pub auc_per_label: BTreeMap<String, Option<f64>>,
    /// ROC-AUC of the maximum over all labels.
    pub auc_any_label: Option<f64>,
    /// The thresholds applied (a text is flagged when any label reaches its threshold).
    pub thresholds: BTreeMap<String, f32>,
    /// The rule's decisions against the labels.
    pub at_thresholds: Confusion,
    /// Per source: (samples, flagged).
    pub per_source: BTreeMap<String, (usize, usize)>,
    /// Wall time of scoring, in seconds.
    pub seconds: f64,
}

/// Scores every sample (in batches of `batch` texts) and compares with the labels.
pub fn evaluate(
    model: &Arc<dyn ToxicityModel>,
    samples: &[Sample],
    thresholds: &[(String, f32)],
    batch: usize,
) -> Result<EvalReport, EvalError> {
    let labels = model.labels();
    let mut wanted = Vec::new();
    for (name, t) in thresholds {
        let i = model
            .label_index(name)
            .ok_or_else(|| ToxicityError::Config {
                rule: "eval".to_owned(),
                detail: format!(
                    "model `{}` has no label `{name}` (it has: {})",
                    model.name(),
                    labels.join(", ")
                ),
            })?;
        wanted.push((i, *t));
    }
    let started = Instant::now();
    let mut all = Vec::with_capacity(samples.len());
    for chunk in samples.chunks(batch.max(1)) {
        let texts: Vec<&str> = chunk.iter().map(|s| s.text.as_str()).collect();
        all.extend(model.score_texts(&texts)?.into_iter().map(|s| s.scores));
    }
    let seconds = started.elapsed().as_secs_f64();
    let truth: Vec<bool> = samples.iter().map(|s| s.label).collect();
    let mut auc_per_label = BTreeMap::new();
    for (i, l) in labels.iter().enumerate() {
        let col: Vec<f32> = all.iter().map(|s| s[i]).collect();
        auc_per_label.insert(l.to_string(), roc_auc(&col, &truth));
    }
    let any: Vec<f32> = all
        .iter()
        .map(|s| s.iter().copied().fold(0.0, f32::max))
        .collect();
    let mut conf = Confusion::default();
    let mut per_source: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for (s, scores) in samples.iter().zip(&all) {
        let flagged = wanted.iter().any(|&(i, t)| scores[i] >= t);
        conf.add(flagged, s.label);
        let e = per_source.entry(s.source.clone()).or_default();
        e.0 += 1;
        e.1 += usize::from(flagged);
    }
    Ok(EvalReport {
        model: model.name().to_owned(),
        samples: samples.len(),
        positives: truth.iter().filter(|&&t| t).count(),
        auc_per_label,
        auc_any_label: roc_auc(&any, &truth),
        thresholds: thresholds.iter().cloned().collect(),
        at_thresholds: conf,
        per_source,
        seconds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_of_known_orderings() {
        assert_eq!(
            roc_auc(&[0.1, 0.2, 0.8, 0.9], &[false, false, true, true]),
            Some(1.0)
        );
        assert_eq!(
            roc_auc(&[0.9, 0.8, 0.2, 0.1], &[false, false, true, true]),
            Some(0.0)
        );
        // one inversion out of four pairs
        assert_eq!(
            roc_auc(&[0.1, 0.6, 0.5, 0.9], &[false, false, true, true]),
            Some(0.75)
        );
        // all tied: chance
        assert_eq!(roc_auc(&[0.5; 4], &[false, true, false, true]), Some(0.5));
        assert_eq!(roc_auc(&[0.5, 0.6], &[true, true]), None);
    }

    #[test]
    fn confusion_ratios() {
        let mut c = Confusion::default();
        for (f, t) in [
            (true, true),
            (true, false),
            (false, true),
            (true, true),
            (false, false),
        ] {
            c.add(f, t);
        }
        assert_eq!((c.tp, c.fp, c.fn_, c.tn), (2, 1, 1, 1));
        assert!((c.precision() - 2.0 / 3.0).abs() < 1e-12);
        assert!((c.recall() - 2.0 / 3.0).abs() < 1e-12);
    }
}
