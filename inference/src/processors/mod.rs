//! Logits processors: hooks that edit the next-token logits before sampling (after the
//! raw-distribution statistics are taken, before the repetition penalty).

pub mod banned;

pub use banned::{BannedSequences, BannedSequencesError};

/// Edits next-token logits; set a logit to `f32::NEG_INFINITY` to forbid a token.
pub trait LogitsProcessor {
    /// Called once per step with the completion generated so far (not the prompt) and the
    /// logits over the whole vocabulary, indexed by token id.
    fn process(&mut self, generated: &[u32], logits: &mut [f32]);
}

impl<F: FnMut(&[u32], &mut [f32])> LogitsProcessor for F {
    fn process(&mut self, generated: &[u32], logits: &mut [f32]) {
        self(generated, logits)
    }
}

/// An owned processor as [`Engine::generate_with`](crate::Engine::generate_with) takes them.
pub type BoxedProcessor<'a> = Box<dyn LogitsProcessor + Send + 'a>;
