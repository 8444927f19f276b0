//! The streaming output guard.

use crate::engine::Core;
use crate::types::{BlockInfo, DetectorCost, Finding};
use crate::vault::RedactionVault;

/// What a stream releases after a push.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StreamChunk {
    /// Text that is safe to send to the caller now (redactions applied).
    pub text: String,
    /// Findings that became final with this chunk.
    pub findings: Vec<Finding>,
    /// Set once, when the stream is blocked; nothing is released after it.
    pub block: Option<BlockInfo>,
}

/// Guards a token stream. Text is released as soon as no rule can still match across the
/// boundary; only the longest possible pending match is held back. The concatenation of every
/// released chunk equals the `text` of a whole-text check of the same output, and the findings
/// are the same, for any chunking.
#[derive(Debug)]
pub struct OutputStream {
    core: Core,
    finished: bool,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("held_bytes", &self.held_bytes())
            .finish()
    }
}

impl OutputStream {
    pub(crate) fn new(core: Core) -> Self {
        OutputStream {
            core,
            finished: false,
        }
    }

    /// Measures each detector's time and run-time failures from now on (see
    /// [`OutputStream::costs`]); costs a few tens of nanoseconds per detector and push.
    pub fn measured(mut self) -> Self {
        self.core.measure();
        self
    }

    /// What each detector cost so far; empty unless [`OutputStream::measured`].
    pub fn costs(&self) -> Vec<DetectorCost> {
        self.core.costs()
    }

    /// Adds the next piece of model output and returns what can be released.
    pub fn push(&mut self, delta: &str) -> StreamChunk {
        if self.finished || self.core.is_blocked() {
            return StreamChunk::default();
        }
        self.core.feed(delta);
        self.chunk(false)
    }

    /// Ends the stream: releases everything still held (after the last checks).
    pub fn finish(&mut self) -> StreamChunk {
        if self.finished || self.core.is_blocked() {
            self.finished = true;
            return StreamChunk::default();
        }
        self.finished = true;
        self.chunk(true)
    }

    fn chunk(&mut self, at_end: bool) -> StreamChunk {
        let step = self.core.scan(at_end);
        StreamChunk {
            text: step.text,
            findings: step.findings,
            block: step.block,
        }
    }

    /// Bytes received but not yet released (0 once blocked).
    pub fn held_bytes(&self) -> usize {
        self.core.held_bytes()
    }

    /// Whether a rule blocked the stream.
    pub fn is_blocked(&self) -> bool {
        self.core.is_blocked()
    }

    /// The vault: the input's placeholders plus any the output introduced.
    pub fn vault(&self) -> &RedactionVault {
        self.core.vault()
    }
}
