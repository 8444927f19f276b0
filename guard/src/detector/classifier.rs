//! The registration point for text classifiers (such as the ONNX toxicity model): a
//! [`TextClassifier`] scores sentences, [`ClassifierFactory`] turns it into detectors for rules of
//! an external `type:` like `toxicity`.
//!
//! ```
//! use std::sync::Arc;
//! use palisade_guard::{Guard, Policy, Direction, Verdict};
//! use palisade_guard::detector::classifier::{ClassifierFactory, TextClassifier};
//!
//! struct Shouting;
//! impl TextClassifier for Shouting {
//!     fn labels(&self) -> &[String] {
//!         static L: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
//!         L.get_or_init(|| vec!["shouting".to_owned()])
//!     }
//!     fn classify(&self, text: &str) -> Vec<f32> {
//!         let letters = text.chars().filter(|c| c.is_alphabetic()).count().max(1);
//!         let upper = text.chars().filter(|c| c.is_uppercase()).count();
//!         vec![upper as f32 / letters as f32]
//!     }
//! }
//!
//! let policy = Policy::from_yaml_str(
//!     "version: '1'\nname: t\ninput:\n  - {id: tox, type: toxicity, action: block, threshold: 0.8}\n",
//!     "inline",
//! ).unwrap();
//! let guard = Guard::builder(policy)
//!     .register("toxicity", Arc::new(ClassifierFactory::new("toxicity", Arc::new(Shouting))))
//!     .build()
//!     .unwrap();
//! let d = guard.check(Direction::Input, "Hello there. STOP SHOUTING AT ME. Bye.");
//! assert_eq!(d.verdict, Verdict::Block);
//! assert_eq!(&*d.findings[0].kind, "toxicity.shouting");
//! ```

use std::sync::Arc;

use super::{Candidate, Detector, DetectorFactory, char_at};
use crate::normalize::ViewKind;
use crate::policy::{DetectorSpec, Rule};

/// A model that scores a piece of text for each of its labels.
pub trait TextClassifier: Send + Sync {
    /// The labels, in the order of [`TextClassifier::classify`]'s scores.
    fn labels(&self) -> &[String];
    /// One score in `0.0..=1.0` per label.
    fn classify(&self, text: &str) -> Vec<f32>;
}

/// Sentences longer than this are classified on their first `MAX_SENTENCE` bytes.
pub const MAX_SENTENCE: usize = 1024;

/// Builds [`ClassifierDetector`]s for rules of one external type.
pub struct ClassifierFactory {
    prefix: String,
    classifier: Arc<dyn TextClassifier>,
}

impl ClassifierFactory {
    /// Findings get the kind `<prefix>.<label>`.
    pub fn new(prefix: &str, classifier: Arc<dyn TextClassifier>) -> Self {
        ClassifierFactory {
            prefix: prefix.to_owned(),
            classifier,
        }
    }
}

impl DetectorFactory for ClassifierFactory {
    fn build(&self, rule: &Rule) -> Result<Vec<Box<dyn Detector>>, String> {
        let all = self.classifier.labels();
        let wanted: Vec<usize> = match &rule.detector {
            DetectorSpec::External { labels, .. } if !labels.is_empty() => labels
                .iter()
                .map(|l| {
                    all.iter().position(|a| a == l).ok_or_else(|| {
                        format!(
                            "the classifier has no label `{l}` (it has: {})",
                            all.join(", ")
                        )
                    })
                })
                .collect::<Result<_, _>>()?,
            _ => (0..all.len()).collect(),
        };
        let min_score = if rule.threshold > 0.0 {
            rule.threshold
        } else {
            0.5
        };
        Ok(vec![Box::new(ClassifierDetector {
            kinds: all
                .iter()
                .map(|l| Arc::from(format!("{}.{l}", self.prefix)))
                .collect(),
            classifier: self.classifier.clone(),
            wanted,
            min_score,
        })])
    }
}

/// Classifies each sentence; reports the highest-scoring wanted label when it reaches the score
/// floor.
pub struct ClassifierDetector {
    kinds: Vec<Arc<str>>,
    classifier: Arc<dyn TextClassifier>,
    wanted: Vec<usize>,
    min_score: f32,
}

impl std::fmt::Debug for ClassifierDetector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClassifierDetector")
            .field("kinds", &self.kinds)
            .finish()
    }
}

/// Whether a sentence starts at byte `i`: a non-space character at the start of the text, after a
/// newline, after `.`, `!` or `?` and whitespace, or after more than 16 whitespace characters.
/// Looks back at most [`SENTENCE_CONTEXT`] characters.
pub fn sentence_start(hay: &str, i: usize) -> bool {
    let Some(c) = char_at(hay, i) else {
        return false;
    };
    if c.is_whitespace() {
        return false;
    }
    let mut spaces = 0;
    for p in hay[..i].chars().rev() {
        if p == '\n' {
            return true;
        }
        if p.is_whitespace() {
            spaces += 1;
            if spaces > 16 {
                return true;
            }
            continue;
        }
        return spaces > 0 && matches!(p, '.' | '!' | '?');
    }
    true
}

/// How many characters before a position [`sentence_start`] may read.
pub const SENTENCE_CONTEXT: usize = 18;

/// The end of the sentence starting at `s`: after the first `.`, `!` or `?` followed by whitespace,
/// or before a newline, or `MAX_SENTENCE` bytes on. `None` if the text ends first.
pub fn sentence_end(hay: &str, s: usize) -> Option<usize> {
    let limit = s + MAX_SENTENCE;
    for (off, c) in hay[s..].char_indices() {
        let i = s + off;
        if i + c.len_utf8() > limit {
            return Some(i);
        }
        if c == '\n' {
            return Some(i);
        }
        if matches!(c, '.' | '!' | '?') && char_at(hay, i + 1).is_some_and(char::is_whitespace) {
            return Some(i + 1);
        }
    }
    None
}

/// The first sentence starting at or after `from`: its start and its end as [`sentence_end`]
/// gives it, or the end of `hay` if the text ends first.
pub fn next_sentence(hay: &str, from: usize) -> Option<(usize, usize)> {
    (from..hay.len())
        .find(|&i| hay.is_char_boundary(i) && sentence_start(hay, i))
        .map(|i| (i, sentence_end(hay, i).unwrap_or(hay.len())))
}

impl Detector for ClassifierDetector {
    fn kinds(&self) -> &[Arc<str>] {
        &self.kinds
    }

    fn view(&self) -> ViewKind {
        ViewKind::Original
    }

    fn max_len(&self) -> usize {
        MAX_SENTENCE
    }

    fn next(&self, hay: &str, from: usize) -> Option<Candidate> {
        let (i, e) = next_sentence(hay, from)?;
        let scores = self.classifier.classify(&hay[i..e]);
        let best = self
            .wanted
            .iter()
            .filter_map(|&k| scores.get(k).map(|&s| (k, s)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        let (kind, score) = best.unwrap_or((0, 0.0));
        let score = if score >= self.min_score { score } else { 0.0 };
        Some(Candidate::whole(i, e.max(i + 1), kind, score))
    }

    fn earliest_pending(&self, hay: &str, from: usize) -> Option<usize> {
        // The last sentence start whose sentence has not ended yet is pending.
        let mut i = hay.len();
        while i > from {
            i -= 1;
            if hay.is_char_boundary(i) && sentence_start(hay, i) {
                return Some(if sentence_end(hay, i).is_some_and(|e| e < hay.len()) {
                    hay.len()
                } else {
                    i
                });
            }
        }
        Some(hay.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences() {
        let t = "One. Two!  Three\nFour";
        let starts: Vec<usize> = (0..t.len()).filter(|&i| sentence_start(t, i)).collect();
        assert_eq!(starts, vec![0, 5, 11, 17]);
        assert_eq!(sentence_end(t, 0), Some(4));
        assert_eq!(sentence_end(t, 17), None);
    }
}
