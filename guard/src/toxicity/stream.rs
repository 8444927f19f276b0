//! Classifying streamed output: checkpoints, a sliding window, a final pass, hold or release.
//!
//! As deltas arrive, the stream sets a checkpoint at every sentence end (`.`, `!` or `?` before
//! white space, or a newline) and, when `every_words` is set, whenever that many words arrived
//! without one. At each checkpoint the classifier scores a sliding window: the last
//! [`ToxicityModel::window_tokens`] words before it, so context from earlier sentences counts.
//! When the stream finishes, a final pass scores the whole text in overlapping windows.
//!
//! * [`StreamMode::Hold`]: text is released only once a checkpoint after it has passed; a block
//!   withholds everything not yet released.
//! * [`StreamMode::Release`]: text is released at once; a block arrives late and cuts the stream
//!   (the caller stops sending and reports the block), but what was sent stays sent.

use std::sync::Arc;

use super::detector::rule_thresholds;
use super::error::ToxicityError;
use super::{JIGSAW_BILSTM, RuntimeConfig, TextScores, ToxicityModel, load_model};
use crate::policy::{DetectorSpec, Rule};

pub use crate::policy::StreamMode;

/// Settings of one streaming toxicity check.
#[derive(Debug, Clone)]
pub struct StreamConfig {
    /// Hold text until scored, or release it at once.
    pub mode: StreamMode,
    /// Also set a checkpoint after this many words without a sentence end (0: sentences only).
    pub every_words: usize,
    /// `(label index, threshold)` pairs: a score at or above a threshold blocks.
    pub thresholds: Vec<(usize, f32)>,
}

/// Why a stream was blocked.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamBlock {
    /// The label that crossed its threshold.
    pub label: Arc<str>,
    /// Its score.
    pub score: f32,
    /// Byte range of the offending window in the whole streamed text.
    pub start: usize,
    /// End of that range.
    pub end: usize,
    /// Whether text judged by this verdict had already been released: at a checkpoint, text after
    /// the previous checkpoint (only in `release` mode); in the final pass, any of the window.
    pub late: bool,
    /// Whether the final pass over the whole text found it.
    pub final_pass: bool,
}

/// What one call to [`ToxicityStream::push`] or [`ToxicityStream::finish`] yields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StreamStep {
    /// Text that may be sent on now.
    pub release: String,
    /// Set once, when the stream is blocked: stop sending.
    pub block: Option<StreamBlock>,
}

/// The streaming classifier state of one response.
#[derive(Debug)]
pub struct ToxicityStream {
    model: Arc<dyn ToxicityModel>,
    config: StreamConfig,
    text: String,
    released: usize,
    checked: usize,
    blocked: bool,
    finished: bool,
}

/// Byte offsets just after each checkpoint in `text[from..]`.
fn checkpoints(text: &str, from: usize, every_words: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut words = 0;
    let mut in_word = false;
    let mut prev: Option<char> = None;
    for (off, c) in text[from..].char_indices() {
        let i = from + off;
        if c.is_whitespace() {
            if in_word {
                words += 1;
            }
            in_word = false;
            let sentence_end = c == '\n' || matches!(prev, Some('.' | '!' | '?'));
            if sentence_end || (every_words > 0 && words >= every_words) {
                out.push(i);
                words = 0;
            }
        } else {
            in_word = true;
        }
        prev = Some(c);
    }
    out
}

/// Start of the `n`-th last white-space separated word before `end`.
fn window_start(text: &str, end: usize, n: usize) -> usize {
    let mut words = 0;
    let mut in_word = false;
    for (i, c) in text[..end].char_indices().rev() {
        if c.is_whitespace() {
            if in_word {
                words += 1;
                if words == n {
                    return i + c.len_utf8();
                }
            }
            in_word = false;
        } else {
            in_word = true;
        }
    }
    0
}

impl ToxicityStream {
    /// A new stream scored by `model`.
    pub fn new(model: Arc<dyn ToxicityModel>, config: StreamConfig) -> Self {
        ToxicityStream {
            model,
            config,
            text: String::new(),
            released: 0,
            checked: 0,
            blocked: false,
            finished: false,
        }
    }

    /// The stream of an output `toxicity` rule: its model (loaded once per process), thresholds,
    /// `stream:` mode and `every_words:`.
    pub fn for_rule(rule: &Rule, config: &RuntimeConfig) -> Result<Self, ToxicityError> {
        let DetectorSpec::External {
            model,
            stream,
            every_words,
            ..
        } = &rule.detector
        else {
            return Err(ToxicityError::Config {
                rule: rule.id.to_string(),
                detail: format!("is a `{}` rule, not `toxicity`", rule.detector.type_name()),
            });
        };
        let model = load_model(model.as_deref().unwrap_or(JIGSAW_BILSTM), config)?;
        let thresholds = rule_thresholds(rule, model.as_ref())?;
        let config = StreamConfig {
            mode: *stream,
            every_words: *every_words as usize,
            thresholds,
        };
        Ok(ToxicityStream::new(model, config))
    }

    /// The model scoring this stream.
    pub fn model(&self) -> &Arc<dyn ToxicityModel> {
        &self.model
    }

    /// Everything pushed so far.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Bytes released so far.
    pub fn released(&self) -> usize {
        self.released
    }

    fn verdict(&self, scores: &TextScores, offset: usize, final_pass: bool) -> Option<StreamBlock> {
        let judged_from = if final_pass { 0 } else { self.checked };
        for &(label, threshold) in &self.config.thresholds {
            if let Some(w) = scores.first_window_over(label, threshold) {
                let (start, end) = (offset + w.start, offset + w.end);
                return Some(StreamBlock {
                    label: Arc::clone(self.model.labels().get(label)?),
                    score: w.scores[label],
                    start,
                    end,
                    late: self.released > start.max(judged_from),
                    final_pass,
                });
            }
        }
        None
    }

    fn take_release(&mut self, upto: usize) -> String {
        let upto = upto.max(self.released);
        let out = self.text[self.released..upto].to_owned();
        self.released = upto;
        out
    }

    /// Appends `delta`, scores any new checkpoint, and returns what may be released.
    ///
    /// On an error nothing new is released; the caller applies the rule's `on_error`.
    pub fn push(&mut self, delta: &str) -> Result<StreamStep, ToxicityError> {
        if self.blocked || self.finished {
            return Ok(StreamStep::default());
        }
        let scan_from = self.checked;
        self.text.push_str(delta);
        if let Some(&cp) = checkpoints(&self.text, scan_from, self.config.every_words).last() {
            let start = window_start(&self.text, cp, self.model.window_tokens());
            let scores = self.model.score(&self.text[start..cp])?;
            if let Some(block) = self.verdict(&scores, start, false) {
                self.blocked = true;
                return Ok(StreamStep {
                    release: String::new(),
                    block: Some(block),
                });
            }
            self.checked = cp;
        }
        let upto = match self.config.mode {
            StreamMode::Hold => self.checked,
            StreamMode::Release => self.text.len(),
        };
        Ok(StreamStep {
            release: self.take_release(upto),
            block: None,
        })
    }

    /// Ends the stream: the final pass over the whole text, then the rest is released or blocked.
    pub fn finish(&mut self) -> Result<StreamStep, ToxicityError> {
        if self.blocked || self.finished {
            return Ok(StreamStep::default());
        }
        self.finished = true;
        let scores = self.model.score(&self.text)?;
        if let Some(block) = self.verdict(&scores, 0, true) {
            self.blocked = true;
            return Ok(StreamStep {
                release: String::new(),
                block: Some(block),
            });
        }
        let end = self.text.len();
        Ok(StreamStep {
            release: self.take_release(end),
            block: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_at_sentence_ends_and_word_counts() {
        let t = "One two. Three four five six\nseven eight nine ten";
        assert_eq!(checkpoints(t, 0, 0), vec![8, 28]);
        assert_eq!(checkpoints(t, 0, 3), vec![8, 24, 28, 45]);
        assert_eq!(checkpoints(t, 9, 0), vec![28]);
    }

    #[test]
    fn window_start_counts_words_back() {
        let t = "a b c d e";
        assert_eq!(window_start(t, t.len(), 2), 6);
        assert_eq!(window_start(t, t.len(), 10), 0);
        assert_eq!(window_start(t, 5, 1), 4);
    }
}
