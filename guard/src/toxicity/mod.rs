//! ONNX toxicity classifiers behind `type: toxicity` rules (cargo feature `onnx`).
//!
//! Two model families are built in (see `models/PROVENANCE.md`):
//! * [`JIGSAW_BILSTM`]: a Keras BiLSTM with six labels (`toxic`, `severe_toxic`, `obscene`,
//!   `threat`, `insult`, `identity_hate`), fed by a Rust copy of the Keras word tokenizer
//!   ([`keras_tokenizer`]) in windows of 100 words;
//! * [`PROFANITY_SVM`]: a TF-IDF + linear SVM with one label (`profanity`) that takes raw strings.
//!
//! ONNX Runtime is loaded at run time ([`runtime`]); each model gets one session, created once per
//! process by [`load_model`] and shared by every rule and thread, with concurrent requests batched
//! together ([`batch`]). Long inputs are scored in overlapping windows and a text's score is the
//! maximum over its windows ([`window`]).
//!
//! Policies use them through [`ToxicityFactory`], registered with the guard builder:
//! [`register_with`]`(Guard::builder(policy), config)`, or [`register`]`(Guard::builder(policy))`
//! for the settings of the environment.
//! Streamed output can also be checked with [`stream::ToxicityStream`] (checkpoints, a sliding
//! window, a final pass, `hold` or `release`).

pub mod assets;
pub mod batch;
pub mod bilstm;
pub mod detector;
mod elf;
pub mod error;
pub mod eval;
pub mod keras_tokenizer;
mod late;
pub mod metrics;
pub mod runtime;
pub mod stream;
pub mod svm;
pub mod window;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

pub use assets::{JIGSAW_BILSTM, KNOWN_MODELS, ModelSource, PROFANITY_SVM};
pub use detector::{ToxicityFactory, register, register_with};
pub use error::ToxicityError;
pub use runtime::RuntimeConfig;

/// The scores of one window of a text.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowScores {
    /// Byte offset where the window's first word starts (0 for an empty window).
    pub start: usize,
    /// Byte offset where the window's last word ends.
    pub end: usize,
    /// One probability per label, in [`ToxicityModel::labels`] order.
    pub scores: Vec<f32>,
}

/// The scores of one text: per label, the maximum over its windows.
#[derive(Debug, Clone, PartialEq)]
pub struct TextScores {
    /// One probability per label, in [`ToxicityModel::labels`] order.
    pub scores: Vec<f32>,
    /// Every window, in text order.
    pub windows: Vec<WindowScores>,
}

impl TextScores {
    /// The first window whose score for `label` is at least `threshold`.
    pub fn first_window_over(&self, label: usize, threshold: f32) -> Option<&WindowScores> {
        self.windows
            .iter()
            .find(|w| w.scores.get(label).is_some_and(|&s| s >= threshold))
    }
}

/// A loaded toxicity classifier.
pub trait ToxicityModel: Send + Sync + fmt::Debug {
    /// The model's name (`jigsaw-bilstm`, ...).
    fn name(&self) -> &str;
    /// The labels, in score order.
    fn labels(&self) -> &[Arc<str>];
    /// How many words the model reads at once (the window length).
    fn window_tokens(&self) -> usize;
    /// Scores every text; all windows of all texts go to the model together.
    fn score_texts(&self, texts: &[&str]) -> Result<Vec<TextScores>, ToxicityError>;

    /// Scores one text.
    fn score(&self, text: &str) -> Result<TextScores, ToxicityError> {
        self.score_texts(&[text])?
            .pop()
            .ok_or_else(|| ToxicityError::Run {
                model: self.name().to_owned(),
                reason: "no result for the text".to_owned(),
            })
    }

    /// The index of `label`, if the model has it.
    fn label_index(&self, label: &str) -> Option<usize> {
        self.labels().iter().position(|l| &**l == label)
    }
}

type CacheKey = (String, ModelSource);
static MODELS: Mutex<Option<HashMap<CacheKey, Arc<dyn ToxicityModel>>>> = Mutex::new(None);

/// Loads `name` from the configured folder (or the built-in copy), once per process: later calls
/// with the same name and folder return the same shared model, whatever their other settings.
pub fn load_model(
    name: &str,
    config: &RuntimeConfig,
) -> Result<Arc<dyn ToxicityModel>, ToxicityError> {
    assets::check_known(name)?;
    let source = ModelSource::from_dir(config.models_dir.as_deref());
    let key = (name.to_owned(), source.clone());
    let mut cache = MODELS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(model) = cache.as_ref().and_then(|c| c.get(&key)) {
        return Ok(Arc::clone(model));
    }
    let model = load_uncached(name, &source, config)?;
    cache
        .get_or_insert_with(HashMap::new)
        .insert(key, Arc::clone(&model));
    Ok(model)
}

/// Loads a fresh, unshared copy of `name` from `source` (benchmarks of cold start use this).
pub fn load_uncached(
    name: &str,
    source: &ModelSource,
    config: &RuntimeConfig,
) -> Result<Arc<dyn ToxicityModel>, ToxicityError> {
    assets::check_known(name)?;
    Ok(match name {
        PROFANITY_SVM => Arc::new(svm::SvmModel::load(name, source, config)?),
        _ => Arc::new(bilstm::BilstmModel::load(name, source, config)?),
    })
}

/// The thresholds a `toxicity` rule uses when it names none: for `jigsaw-bilstm`, `toxic` at 0.5
/// plus `severe_toxic` and `threat` at 0.5; for `profanity-svm`, `profanity` at 0.5.
pub fn default_thresholds(model: &str) -> Vec<(String, f32)> {
    let pairs: &[(&str, f32)] = match model {
        PROFANITY_SVM => &[("profanity", 0.5)],
        _ => &[("toxic", 0.5), ("severe_toxic", 0.5), ("threat", 0.5)],
    };
    pairs.iter().map(|&(l, t)| (l.to_owned(), t)).collect()
}
