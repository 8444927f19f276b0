//! `palisade.hallucination.risk`: a logistic regression over the answer's
//! [`Features`], fitted on labelled answers (HaluEval) so that its output is a
//! calibrated probability that the answer is hallucinated.
//!
//! A model is saved as JSON (`models/hallucination_risk.json`, written by
//! `palisade eval hallucination --save-model`); the default one is embedded.

use serde::{Deserialize, Serialize};

use super::features::{FEATURE_COUNT, FEATURE_NAMES, Features, RISK_DIRECTION};

/// Whether a fit may give a feature a weight against its risk direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signs {
    /// Each weight keeps its feature's [`RISK_DIRECTION`] or is 0: a quirk of the training
    /// data (in HaluEval QA, right answers are bare names and hallucinated ones full
    /// sentences) cannot turn a signal's meaning around, e.g. make a well-supported answer
    /// riskier. The default.
    Constrained,
    /// Any sign: the best fit to the training data, quirks included.
    Free,
}

/// The default model, fitted on HaluEval QA (see `docs/hallucination.md`).
pub const DEFAULT_RISK_MODEL_JSON: &str = include_str!("../../models/hallucination_risk.json");

/// The name under which the embedded default model reports errors.
pub const DEFAULT_RISK_MODEL_ORIGIN: &str = "models/hallucination_risk.json (embedded)";

/// A risk model as saved: standardization, weights and provenance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskModelWire {
    /// Feature names, in order; must equal [`FEATURE_NAMES`].
    pub features: Vec<String>,
    /// Per-feature mean subtracted before weighting.
    pub mean: Vec<f64>,
    /// Per-feature scale divided by before weighting (> 0).
    pub scale: Vec<f64>,
    /// Per-feature weight.
    pub weights: Vec<f64>,
    /// The intercept.
    pub bias: f64,
    /// What it was fitted on, for humans.
    pub trained_on: String,
}

/// A validated risk model.
#[derive(Debug, Clone, PartialEq)]
pub struct RiskModel {
    mean: [f64; FEATURE_COUNT],
    scale: [f64; FEATURE_COUNT],
    weights: [f64; FEATURE_COUNT],
    bias: f64,
    trained_on: String,
}

/// Why a saved risk model was rejected.
#[derive(Debug, thiserror::Error)]
pub enum RiskModelError {
    /// Not valid JSON for [`RiskModelWire`].
    #[error(
        "{origin}:{line}:{column}: {reason}; fix: regenerate it with `palisade eval hallucination --save-model FILE`"
    )]
    Parse {
        /// Where the model came from.
        origin: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What serde reported.
        reason: String,
    },
    /// The feature list differs from this build's.
    #[error(
        "{origin}: features {found:?} differ from this build's {expected:?}; fix: refit with `palisade eval hallucination --save-model FILE`"
    )]
    Features {
        /// Where the model came from.
        origin: String,
        /// The names in the file.
        found: Vec<String>,
        /// The names this build computes.
        expected: Vec<&'static str>,
    },
    /// A vector has the wrong length or a value is not finite (or a scale is not positive).
    #[error(
        "{origin}: `{field}` {problem}; fix: refit with `palisade eval hallucination --save-model FILE`"
    )]
    Value {
        /// Where the model came from.
        origin: String,
        /// The offending field.
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
}

fn array(
    origin: &str,
    field: &'static str,
    values: &[f64],
    positive: bool,
) -> Result<[f64; FEATURE_COUNT], RiskModelError> {
    let error = |problem: String| RiskModelError::Value {
        origin: origin.to_owned(),
        field,
        problem,
    };
    let out: [f64; FEATURE_COUNT] = values.try_into().map_err(|_| {
        error(format!(
            "has {} values, expected {FEATURE_COUNT}",
            values.len()
        ))
    })?;
    if let Some(bad) = out
        .iter()
        .find(|v| !v.is_finite() || (positive && **v <= 0.0))
    {
        return Err(error(format!(
            "holds {bad}, expected finite{} numbers",
            if positive { " positive" } else { "" }
        )));
    }
    Ok(out)
}

impl RiskModel {
    /// Parses and validates a saved model; `origin` names it in errors.
    pub fn from_json(json: &str, origin: &str) -> Result<Self, RiskModelError> {
        let wire: RiskModelWire =
            serde_json::from_str(json).map_err(|e| RiskModelError::Parse {
                origin: origin.to_owned(),
                line: e.line(),
                column: e.column(),
                reason: e.to_string(),
            })?;
        Self::try_from_wire(wire, origin)
    }

    /// Validates `wire`; `origin` names it in errors.
    pub fn try_from_wire(wire: RiskModelWire, origin: &str) -> Result<Self, RiskModelError> {
        if wire.features.iter().map(String::as_str).ne(FEATURE_NAMES) {
            return Err(RiskModelError::Features {
                origin: origin.to_owned(),
                found: wire.features,
                expected: FEATURE_NAMES.to_vec(),
            });
        }
        if !wire.bias.is_finite() {
            return Err(RiskModelError::Value {
                origin: origin.to_owned(),
                field: "bias",
                problem: format!("is {}, expected a finite number", wire.bias),
            });
        }
        Ok(RiskModel {
            mean: array(origin, "mean", &wire.mean, false)?,
            scale: array(origin, "scale", &wire.scale, true)?,
            weights: array(origin, "weights", &wire.weights, false)?,
            bias: wire.bias,
            trained_on: wire.trained_on,
        })
    }

    /// The embedded default model.
    pub fn embedded() -> Result<Self, RiskModelError> {
        Self::from_json(DEFAULT_RISK_MODEL_JSON, DEFAULT_RISK_MODEL_ORIGIN)
    }

    /// The model in its saved form.
    pub fn to_wire(&self) -> RiskModelWire {
        RiskModelWire {
            features: FEATURE_NAMES.iter().map(|s| (*s).to_owned()).collect(),
            mean: self.mean.to_vec(),
            scale: self.scale.to_vec(),
            weights: self.weights.to_vec(),
            bias: self.bias,
            trained_on: self.trained_on.clone(),
        }
    }

    /// What the model was fitted on.
    pub fn trained_on(&self) -> &str {
        &self.trained_on
    }

    /// The risk in `0..=1` of an answer with these features.
    pub fn score(&self, features: &Features) -> f32 {
        sigmoid(self.logit(&self.standardize(&features.values))) as f32
    }

    /// A missing (NaN) feature standardizes to 0: the feature at its mean,
    /// adding nothing to the logit.
    fn standardize(&self, x: &[f64; FEATURE_COUNT]) -> [f64; FEATURE_COUNT] {
        std::array::from_fn(|i| {
            if x[i].is_nan() {
                0.0
            } else {
                (x[i] - self.mean[i]) / self.scale[i]
            }
        })
    }

    fn logit(&self, z: &[f64; FEATURE_COUNT]) -> f64 {
        self.bias + z.iter().zip(&self.weights).map(|(a, w)| a * w).sum::<f64>()
    }

    /// Fits a model by L2-regularised logistic regression (`l2` on the
    /// standardized weights, not the bias) on `rows` with `labels` (`true`:
    /// hallucinated), with weights kept to their risk direction when `signs` says so
    /// (projected gradient descent). Returns `None` when a class is missing.
    pub fn fit(
        rows: &[Features],
        labels: &[bool],
        l2: f64,
        signs: Signs,
        trained_on: &str,
    ) -> Option<Self> {
        let n = rows.len().min(labels.len());
        let positives = labels[..n].iter().filter(|l| **l).count();
        if positives == 0 || positives == n {
            return None;
        }
        let nf = n as f64;
        // Mean and scale of each feature over the rows that measured it.
        let mut mean = [0.0; FEATURE_COUNT];
        let mut scale = [0.0; FEATURE_COUNT];
        let mut measured = [0usize; FEATURE_COUNT];
        for r in &rows[..n] {
            for (i, v) in r.values.iter().enumerate().filter(|(_, v)| !v.is_nan()) {
                mean[i] += v;
                measured[i] += 1;
            }
        }
        for (m, &k) in mean.iter_mut().zip(&measured) {
            *m = if k > 0 { *m / k as f64 } else { 0.0 };
        }
        for r in &rows[..n] {
            for (i, v) in r.values.iter().enumerate().filter(|(_, v)| !v.is_nan()) {
                scale[i] += (v - mean[i]).powi(2) / measured[i] as f64;
            }
        }
        for s in &mut scale {
            // A constant (or never measured) feature keeps weight 0 and scale 1.
            *s = if *s > 1e-12 { s.sqrt() } else { 1.0 };
        }
        let mut model = RiskModel {
            mean,
            scale,
            weights: [0.0; FEATURE_COUNT],
            bias: (positives as f64 / (nf - positives as f64)).ln(),
            trained_on: trained_on.to_owned(),
        };
        let z: Vec<[f64; FEATURE_COUNT]> = rows[..n]
            .iter()
            .map(|r| model.standardize(&r.values))
            .collect();
        // Plain gradient descent: the loss is convex and the inputs standardized.
        let rate = 0.5;
        for _ in 0..4000 {
            let mut grad_w = [0.0; FEATURE_COUNT];
            let mut grad_b = 0.0;
            for (zi, &yi) in z.iter().zip(&labels[..n]) {
                let err = sigmoid(model.logit(zi)) - if yi { 1.0 } else { 0.0 };
                grad_b += err / nf;
                for (g, x) in grad_w.iter_mut().zip(zi) {
                    *g += err * x / nf;
                }
            }
            for ((w, g), direction) in model.weights.iter_mut().zip(&grad_w).zip(RISK_DIRECTION) {
                *w -= rate * (g + l2 * *w);
                if signs == Signs::Constrained && *w * direction < 0.0 {
                    *w = 0.0;
                }
            }
            model.bias -= rate * grad_b;
        }
        Some(model)
    }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn features(v: [f64; 2]) -> Features {
        let mut values = [0.0; FEATURE_COUNT];
        values[0] = v[0];
        values[9] = v[1];
        Features { values }
    }

    #[test]
    fn the_embedded_model_loads_and_scores_in_range() {
        let model = RiskModel::embedded().expect("valid");
        for v in [[-5.0, 3.0], [0.0, 0.0], [-0.1, 0.0]] {
            let r = model.score(&features(v));
            assert!((0.0..=1.0).contains(&r), "{r}");
        }
        let round = RiskModel::try_from_wire(model.to_wire(), "test").expect("round trip");
        assert_eq!(round, model);
    }

    #[test]
    fn fitting_separates_and_calibrates() {
        // Hallucinated answers: low logprob and ungrounded names, with overlap.
        let mut rows = Vec::new();
        let mut labels = Vec::new();
        for i in 0..200 {
            let t = f64::from(i) / 200.0;
            let bad = i % 2 == 0;
            let lp = if bad { -2.0 + t } else { -1.0 + t };
            rows.push(features([lp, if bad && i % 3 == 0 { 1.0 } else { 0.0 }]));
            labels.push(bad);
        }
        let model =
            RiskModel::fit(&rows, &labels, 1e-3, Signs::Free, "synthetic").expect("two classes");
        let high = model.score(&features([-1.9, 1.0]));
        let low = model.score(&features([-0.1, 0.0]));
        assert!(high > 0.8 && low < 0.2, "high {high}, low {low}");
        let mean_risk: f64 =
            rows.iter().map(|r| f64::from(model.score(r))).sum::<f64>() / rows.len() as f64;
        assert!((mean_risk - 0.5).abs() < 0.02, "mean {mean_risk}");
        assert!(RiskModel::fit(&rows, &vec![true; rows.len()], 0.0, Signs::Free, "x").is_none());
    }

    #[test]
    fn a_missing_feature_counts_as_its_mean_in_fitting_and_scoring() {
        // Feature 11 is measured on half the rows and separates the classes there.
        let mut rows = Vec::new();
        let mut labels = Vec::new();
        for i in 0..200 {
            let bad = i % 2 == 0;
            let mut f = features([if bad { -1.5 } else { -1.0 }, 0.0]);
            f.values[11] = if i % 4 < 2 {
                if bad { 0.2 } else { 0.8 }
            } else {
                f64::NAN
            };
            rows.push(f);
            labels.push(bad);
        }
        let model = RiskModel::fit(&rows, &labels, 1e-3, Signs::Constrained, "synthetic")
            .expect("two classes");
        assert!((model.mean[11] - 0.5).abs() < 1e-9, "{}", model.mean[11]);
        assert!(model.weights[11] < 0.0, "low similarity is riskier");
        let mut missing = features([-1.25, 0.0]);
        missing.values[11] = f64::NAN;
        let mut at_mean = missing;
        at_mean.values[11] = 0.5;
        assert_eq!(model.score(&missing), model.score(&at_mean));
        assert!(model.score(&rows[0]).is_finite());
    }

    #[test]
    fn constrained_signs_zero_a_weight_that_points_against_its_direction() {
        // Feature 9 (ungrounded entities: more = riskier) is higher on the right answers here.
        let mut rows = Vec::new();
        let mut labels = Vec::new();
        for i in 0..200 {
            let bad = i % 2 == 0;
            let t = f64::from(i % 10) / 10.0;
            rows.push(features([
                if bad { -1.5 } else { -1.0 } + t,
                if bad { 0.0 } else { 1.0 },
            ]));
            labels.push(bad);
        }
        let free = RiskModel::fit(&rows, &labels, 1e-3, Signs::Free, "x").expect("fit");
        let constrained =
            RiskModel::fit(&rows, &labels, 1e-3, Signs::Constrained, "x").expect("fit");
        assert!(
            free.weights[9] < -0.5,
            "the data's quirk: {}",
            free.weights[9]
        );
        assert_eq!(constrained.weights[9], 0.0);
        assert!(constrained.weights[0] < 0.0, "logprob keeps its direction");
        for (w, d) in constrained.weights.iter().zip(RISK_DIRECTION) {
            assert!(w * d >= 0.0, "{:?}", constrained.weights);
        }
    }

    #[test]
    fn bad_files_say_where_and_how_to_fix() {
        let err = RiskModel::from_json("{\"features\": [}", "m.json").expect_err("bad json");
        let text = err.to_string();
        assert!(text.starts_with("m.json:1:"), "{text}");
        assert!(text.contains("--save-model"), "{text}");
        let mut wire = RiskModel::embedded().expect("valid").to_wire();
        wire.scale[2] = 0.0;
        let err = RiskModel::try_from_wire(wire.clone(), "m.json").expect_err("zero scale");
        assert!(err.to_string().contains("`scale`"), "{err}");
        wire.features.pop();
        assert!(matches!(
            RiskModel::try_from_wire(wire, "m.json"),
            Err(RiskModelError::Features { .. })
        ));
    }
}
