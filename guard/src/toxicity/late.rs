//! `stream: release` for output toxicity rules: the answer streams to the caller at once, the
//! classifier scores it at checkpoints and in a final pass ([`ToxicityStream`]), and a verdict over
//! a threshold cuts the stream late. The output stream runs this instead of the rule's detector,
//! which holds each sentence until it is scored (`stream: hold`, the default).

use std::sync::Arc;

use super::ToxicityError;
use super::metrics::record_failure;
use super::stream::{StreamConfig, StreamStep, ToxicityStream};
use crate::detector::{Candidate, LateCheck};
use crate::policy::OnError;

/// The late check of one response.
#[derive(Debug)]
pub(crate) struct ReleasedToxicity {
    stream: ToxicityStream,
    rule_id: Arc<str>,
    on_error: OnError,
    /// Index of the `toxicity.error` kind.
    error_kind: usize,
}

impl ReleasedToxicity {
    pub(crate) fn new(
        stream: ToxicityStream,
        rule_id: Arc<str>,
        on_error: OnError,
        error_kind: usize,
    ) -> Self {
        ReleasedToxicity {
            stream,
            rule_id,
            on_error,
            error_kind,
        }
    }

    /// A candidate over the offending window (kind: its label), or, after a failure, a
    /// `toxicity.error` candidate when the rule fails closed.
    fn verdict(&mut self, step: Result<StreamStep, ToxicityError>) -> Option<Candidate> {
        match step {
            Ok(step) => {
                let block = step.block?;
                let labels = self.stream.model().labels();
                let kind = labels.iter().position(|l| **l == *block.label)?;
                let end = block.end.max(block.start + 1);
                Some(Candidate::whole(
                    block.start,
                    end,
                    kind,
                    block.score.max(f32::MIN_POSITIVE),
                ))
            }
            Err(e) => {
                let open = self.on_error == OnError::Allow;
                record_failure(&self.rule_id, self.stream.model().name(), &e, open);
                let at = self.stream.text().len();
                (!open).then(|| Candidate::whole(at, at + 1, self.error_kind, 1.0))
            }
        }
    }
}

impl LateCheck for ReleasedToxicity {
    fn push(&mut self, released: &str) -> Option<Candidate> {
        let step = self.stream.push(released);
        self.verdict(step)
    }

    fn finish(&mut self) -> Option<Candidate> {
        let step = self.stream.finish();
        self.verdict(step)
    }
}

/// The settings of a release-mode stream.
pub(crate) fn release_config(every_words: usize, thresholds: Vec<(usize, f32)>) -> StreamConfig {
    StreamConfig {
        mode: super::stream::StreamMode::Release,
        every_words,
        thresholds,
    }
}
