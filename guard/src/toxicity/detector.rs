//! `type: toxicity` rules: the [`DetectorFactory`] that loads the ONNX model when the guard is
//! built (so a missing library or a bad model fails at policy load), and the [`Detector`] that
//! scores sentences with per-label thresholds.
//!
//! ```yaml
//! output:
//!   - id: toxic-output
//!     type: toxicity
//!     action: block
//!     model: jigsaw-bilstm            # or profanity-svm
//!     labels: {toxic: 0.8, threat: 0.5}
//!     on_error: block                 # fail closed (default); `allow` fails open
//!     stream: hold                    # or `release`: stream at once, cut on a late verdict
//! ```
//!
//! Each sentence (see [`sentence_start`]) is one candidate; its score per label is the maximum over
//! its windows, and it matches when any configured label reaches its threshold (the finding kind
//! is `toxicity.<label>` of the highest such label). A classifier failure at run time is counted
//! in [`super::metrics`]; with `on_error: block` it yields a `toxicity.error` finding with score 1.

use std::sync::Arc;

use super::late::{ReleasedToxicity, release_config};
use super::metrics::record_failure;
use super::stream::ToxicityStream;
use super::{
    JIGSAW_BILSTM, RuntimeConfig, ToxicityError, ToxicityModel, default_thresholds, load_model,
};
use crate::GuardBuilder;
use crate::detector::classifier::{MAX_SENTENCE, next_sentence, sentence_end, sentence_start};
use crate::detector::{Candidate, Detector, DetectorFactory, LateCheck};
use crate::normalize::ViewKind;
use crate::policy::{DetectorSpec, OnError, Rule, StreamMode};
use crate::types::{Action, Direction};

/// Builds toxicity detectors from rules, loading each model once (see [`load_model`]).
#[derive(Debug, Clone, Default)]
pub struct ToxicityFactory {
    config: RuntimeConfig,
}

impl ToxicityFactory {
    /// A factory whose models load with `config` (library path, threads, batch size, models folder).
    pub fn new(config: RuntimeConfig) -> Self {
        ToxicityFactory { config }
    }

    /// A factory configured from the environment ([`RuntimeConfig::from_env`]).
    pub fn from_env() -> Self {
        ToxicityFactory::new(RuntimeConfig::from_env())
    }
}

/// Registers the ONNX toxicity models for `type: toxicity` rules, configured from the
/// environment: `toxicity::register(Guard::builder(policy)).build()`.
pub fn register(builder: GuardBuilder) -> GuardBuilder {
    register_with(builder, RuntimeConfig::from_env())
}

/// Registers the ONNX toxicity models for `type: toxicity` rules with `config` (a library
/// path or model folder of your own).
pub fn register_with(builder: GuardBuilder, config: RuntimeConfig) -> GuardBuilder {
    builder.register("toxicity", Arc::new(ToxicityFactory::new(config)))
}

/// The `(label index, threshold)` pairs of a rule, checked against the model's labels.
pub fn rule_thresholds(
    rule: &Rule,
    model: &dyn ToxicityModel,
) -> Result<Vec<(usize, f32)>, ToxicityError> {
    let (labels, thresholds) = match &rule.detector {
        DetectorSpec::External {
            labels, thresholds, ..
        } => (labels, thresholds),
        other => {
            return Err(ToxicityError::Config {
                rule: rule.id.to_string(),
                detail: format!("is a `{}` rule, not `toxicity`", other.type_name()),
            });
        }
    };
    let single = if rule.threshold > 0.0 {
        rule.threshold
    } else {
        0.5
    };
    let pairs: Vec<(String, f32)> = if !thresholds.is_empty() {
        thresholds.clone()
    } else if !labels.is_empty() {
        labels.iter().map(|l| (l.clone(), single)).collect()
    } else if rule.threshold > 0.0 {
        default_thresholds(model.name())
            .into_iter()
            .map(|(l, _)| (l, single))
            .collect()
    } else {
        default_thresholds(model.name())
    };
    pairs
        .into_iter()
        .map(|(label, t)| {
            model
                .label_index(&label)
                .map(|i| (i, t))
                .ok_or_else(|| ToxicityError::Config {
                    rule: rule.id.to_string(),
                    detail: format!(
                        "model `{}` has no label `{label}` (it has: {})",
                        model.name(),
                        model.labels().join(", ")
                    ),
                })
        })
        .collect()
}

impl DetectorFactory for ToxicityFactory {
    fn build(&self, rule: &Rule) -> Result<Vec<Box<dyn Detector>>, String> {
        let model_name = match &rule.detector {
            DetectorSpec::External { model, .. } => {
                model.clone().unwrap_or_else(|| JIGSAW_BILSTM.to_owned())
            }
            other => return Err(format!("is a `{}` rule, not `toxicity`", other.type_name())),
        };
        let model = load_model(&model_name, &self.config).map_err(|e| {
            record_failure(&rule.id, &model_name, &e, false);
            e.to_string()
        })?;
        Ok(vec![Box::new(
            ToxicityDetector::new(rule, model).map_err(|e| e.to_string())?,
        )])
    }
}

/// Scores each sentence with the model and applies the rule's per-label thresholds.
#[derive(Debug)]
pub struct ToxicityDetector {
    rule_id: Arc<str>,
    model: Arc<dyn ToxicityModel>,
    wanted: Vec<(usize, f32)>,
    kinds: Vec<Arc<str>>,
    on_error: OnError,
    /// `Some(every_words)` for an output rule with `stream: release`.
    release: Option<usize>,
}

impl ToxicityDetector {
    /// The detector of `rule` (a `toxicity` rule) scoring with `model`, which may be any
    /// [`ToxicityModel`], not only a built-in one.
    pub fn new(rule: &Rule, model: Arc<dyn ToxicityModel>) -> Result<Self, ToxicityError> {
        let (on_error, stream, every_words) = match &rule.detector {
            DetectorSpec::External {
                on_error,
                stream,
                every_words,
                ..
            } => (*on_error, *stream, *every_words as usize),
            _ => (OnError::default(), StreamMode::default(), 0),
        };
        let release = (rule.direction == Direction::Output && stream == StreamMode::Release)
            .then_some(every_words);
        if release.is_some() && rule.action == Action::Redact {
            return Err(ToxicityError::Config {
                rule: rule.id.to_string(),
                detail: "`stream: release` sends text before it is scored, so it cannot be \
                         redacted: use `stream: hold` or `action: block`/`warn`"
                    .to_owned(),
            });
        }
        let wanted = rule_thresholds(rule, model.as_ref())?;
        let mut kinds: Vec<Arc<str>> = model
            .labels()
            .iter()
            .map(|l| Arc::from(format!("toxicity.{l}")))
            .collect();
        kinds.push(Arc::from("toxicity.error"));
        Ok(ToxicityDetector {
            rule_id: Arc::clone(&rule.id),
            model,
            wanted,
            kinds,
            on_error,
            release,
        })
    }

    /// The candidate for the sentence `hay[start..end]`.
    fn judge(&self, sentence: &str, start: usize, end: usize) -> Candidate {
        match self.model.score(sentence) {
            Ok(scores) => {
                let best = self
                    .wanted
                    .iter()
                    .filter_map(|&(i, t)| scores.scores.get(i).map(|&s| (i, s, s >= t)))
                    .max_by(|a, b| {
                        (a.2, a.1)
                            .partial_cmp(&(b.2, b.1))
                            .unwrap_or(std::cmp::Ordering::Equal)
                    });
                match best {
                    Some((i, s, true)) => Candidate::whole(start, end, i, s.max(f32::MIN_POSITIVE)),
                    Some((i, _, false)) => Candidate::whole(start, end, i, 0.0),
                    None => Candidate::whole(start, end, 0, 0.0),
                }
            }
            Err(e) => {
                let open = self.on_error == OnError::Allow;
                record_failure(&self.rule_id, self.model.name(), &e, open);
                let error_kind = self.kinds.len() - 1;
                Candidate::whole(start, end, error_kind, if open { 0.0 } else { 1.0 })
            }
        }
    }
}

impl Detector for ToxicityDetector {
    fn kinds(&self) -> &[Arc<str>] {
        &self.kinds
    }

    fn view(&self) -> ViewKind {
        // NFKC with homoglyphs folded: `іdiot` with a Cyrillic `і` reads as `idiot`.
        ViewKind::Folded
    }

    fn max_len(&self) -> usize {
        MAX_SENTENCE
    }

    fn next(&self, hay: &str, from: usize) -> Option<Candidate> {
        let (i, e) = next_sentence(hay, from)?;
        Some(self.judge(&hay[i..e], i, e.max(i + 1)))
    }

    fn late_check(&self) -> Option<Box<dyn LateCheck>> {
        let every_words = self.release?;
        let config = release_config(every_words, self.wanted.clone());
        let stream = ToxicityStream::new(Arc::clone(&self.model), config);
        Some(Box::new(ReleasedToxicity::new(
            stream,
            Arc::clone(&self.rule_id),
            self.on_error,
            self.kinds.len() - 1,
        )))
    }

    fn earliest_pending(&self, hay: &str, from: usize) -> Option<usize> {
        // Hold the last sentence until it ends: it is scored once, whole.
        let mut i = hay.len();
        while i > from {
            i -= 1;
            if hay.is_char_boundary(i) && sentence_start(hay, i) {
                let ended = sentence_end(hay, i).is_some_and(|e| e < hay.len());
                return Some(if ended { hay.len() } else { i });
            }
        }
        Some(hay.len())
    }
}
