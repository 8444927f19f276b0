//! Detectors: the pluggable matchers behind policy rules.
//!
//! A [`Detector`] reports *candidates* in a haystack (one of the normalised views of the text).
//! The engine asks for the leftmost candidate that starts at or after a cursor, acts on it and
//! moves the cursor to its end, so the candidates of one detector never overlap.
//!
//! Two promises let the streaming guard release text early and still produce exactly what a
//! whole-text scan produces:
//! * locality: whether `[start, end)` is a candidate, and its score, depends only on the haystack
//!   from one character before `start` to one character after `end`;
//! * boundedness: no candidate is longer than [`Detector::max_len`] bytes.
//!
//! A detector may also supply a [`Liveness`] automaton that tells the engine the earliest position
//! where a candidate could still be in progress, so that the stream holds back only the pending
//! partial match instead of `max_len` bytes.

pub mod anchor_windows;
pub mod classifier;
pub mod encoded;
pub(crate) mod hinted_search;
pub mod injection;
pub mod ip_starts;
pub mod keywords;
pub mod liveness;
pub mod obfuscated;
pub mod pattern_set;
pub mod pii;
pub mod pii_starts;
pub mod regex_rule;
pub mod restore;
pub mod secret_assignment;
pub mod secrets;
pub mod skeleton;
mod swar;
pub mod validators;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

pub use liveness::Liveness;

use crate::normalize::ViewKind;
use crate::policy::Rule;

/// How many characters before a candidate a detector may look at (the stream keeps at least this
/// many visible characters of context before every cursor).
pub const CONTEXT_CHARS: usize = 20;

/// One candidate match, in byte offsets of the haystack the detector was given.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    /// Start of the whole match; the engine orders and commits candidates by it.
    pub start: usize,
    /// End of the whole match; the next search starts here.
    pub end: usize,
    /// Start of the part to report and act on (within `start..end`).
    pub span_start: usize,
    /// End of the part to report and act on (within `start..end`).
    pub span_end: usize,
    /// Index into [`Detector::kinds`].
    pub kind: usize,
    /// Confidence in `0.0..=1.0`; `0.0` rejects the candidate (it is skipped, not reported).
    pub score: f32,
}

impl Candidate {
    /// A candidate whose reported span is the whole match.
    pub fn whole(start: usize, end: usize, kind: usize, score: f32) -> Self {
        Candidate {
            start,
            end,
            span_start: start,
            span_end: end,
            kind,
            score,
        }
    }
}

/// Judges streamed output after it was released, for rules that choose `stream: release`: text
/// goes to the caller at once and a late verdict cuts the stream. The output stream builds one per
/// response with [`Detector::late_check`] and feeds it everything it releases; whole-text checks
/// use the detector itself. Candidates are in byte offsets of the released text.
pub trait LateCheck: Send + fmt::Debug {
    /// Takes the next released text; returns a candidate once a verdict is reached.
    fn push(&mut self, released: &str) -> Option<Candidate>;
    /// The stream ended: a last pass over everything released.
    fn finish(&mut self) -> Option<Candidate>;
}

/// A matcher compiled for one rule (a rule may compile to several detectors, one per view).
pub trait Detector: Send + Sync + fmt::Debug {
    /// The taxonomy kinds this detector reports, indexed by [`Candidate::kind`].
    fn kinds(&self) -> &[Arc<str>];
    /// Which normalised view of the text this detector reads.
    fn view(&self) -> ViewKind;
    /// An upper bound on `end - start` of every candidate, in bytes of the view.
    fn max_len(&self) -> usize;
    /// The leftmost candidate with `start >= from` in `hay`, or `None`. `hay[..from]` is context
    /// (at least one character of it is kept when streaming). Rejected candidates (score 0) must be
    /// returned too, so that the scan resumes after them in every mode.
    fn next(&self, hay: &str, from: usize) -> Option<Candidate>;
    /// An automaton recognising every prefix of a candidate, used by streams to find the earliest
    /// position where a candidate may still be in progress. `None` means "assume any of the last
    /// [`Detector::max_len`] bytes may be".
    fn liveness(&self) -> Option<&Liveness> {
        None
    }
    /// Builds ahead of time what streaming needs and a detector would otherwise build on the
    /// first stream (output rules call it once they are compiled, so that no response waits for
    /// it).
    fn prepare_to_stream(&self) {}
    /// For detectors without a [`Liveness`] automaton: the earliest position `>= from` where a
    /// candidate may still be in progress at the end of `hay` (`hay.len()` if none). `None` (the
    /// default) falls back to [`Detector::liveness`], then to [`Detector::max_len`].
    fn earliest_pending(&self, hay: &str, from: usize) -> Option<usize> {
        let _ = (hay, from);
        None
    }

    /// For output rules that score after release (`stream: release`): a fresh late check for one
    /// response. An output stream then skips this detector and runs the late check instead.
    fn late_check(&self) -> Option<Box<dyn LateCheck>> {
        None
    }
}

thread_local! {
    static RUNTIME_FAILURES: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Counts one run-time failure of a detector on this thread (a classifier that could not score,
/// say). Detectors call it whatever their `on_error` choice; measured checks
/// ([`crate::Guard::check_measured`], [`crate::OutputStream::measured`]) attribute the failures
/// counted during a detector's call to that detector.
pub fn count_runtime_failure() {
    RUNTIME_FAILURES.with(|c| c.set(c.get().wrapping_add(1)));
}

/// The failures counted on this thread so far (monotonic, wrapping).
pub(crate) fn runtime_failures() -> u64 {
    RUNTIME_FAILURES.with(std::cell::Cell::get)
}

/// Builds the detectors of rules whose `type:` is implemented outside this crate (such as
/// `toxicity`, backed by an ONNX classifier).
pub trait DetectorFactory: Send + Sync {
    /// Compiles the detectors for one rule; an error message names what is wrong.
    fn build(&self, rule: &Rule) -> Result<Vec<Box<dyn Detector>>, String>;
}

/// Detector factories for external rule types, keyed by the rule's `type:`.
#[derive(Default, Clone)]
pub struct Registry {
    factories: HashMap<String, Arc<dyn DetectorFactory>>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<_> = self.factories.keys().collect();
        names.sort();
        f.debug_struct("Registry").field("types", &names).finish()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers the factory for rules of `type_name` (e.g. `"toxicity"`).
    pub fn register(&mut self, type_name: &str, factory: Arc<dyn DetectorFactory>) -> &mut Self {
        self.factories.insert(type_name.to_owned(), factory);
        self
    }

    /// The factory for `type_name`.
    pub fn get(&self, type_name: &str) -> Option<&Arc<dyn DetectorFactory>> {
        self.factories.get(type_name)
    }
}

/// Every candidate `d` reports in `hay`, each search resuming after the last candidate (tests
/// compare detectors with it).
#[cfg(test)]
pub(crate) fn all_candidates(d: &dyn Detector, hay: &str) -> Vec<Candidate> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(c) = d.next(hay, from) {
        from = c.end.max(c.start + 1);
        out.push(c);
    }
    out
}

/// Whether `c` counts as part of a word for whole-word matching.
pub fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The character before byte `i` of `s`, if any.
pub fn char_before(s: &str, i: usize) -> Option<char> {
    s.get(..i).and_then(|p| p.chars().next_back())
}

/// The character at byte `i` of `s`, if any.
pub fn char_at(s: &str, i: usize) -> Option<char> {
    s.get(i..).and_then(|p| p.chars().next())
}
