//! The pull-based token stream: each `next()` runs one forward pass (the first one runs the
//! prefill), so dropping the stream stops the computation.

use std::time::Instant;

use crate::detok::IncrementalDecoder;
use crate::engine::Engine;
use crate::error::GenerateError;
use crate::models::forward_chunked;
use crate::params::{FinishReason, GenerationParams, Timings, Usage};
use crate::processors::BoxedProcessor;
use crate::sampling::Sampler;
use crate::stop::{StopMatcher, StopOutcome};

/// One generated token.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenEvent {
    /// Text this token adds, UTF-8. Empty while a multi-byte character is incomplete or
    /// while text that may start a stop string is held back. The final event of a stream also
    /// carries any held-back text; an end-of-turn token itself adds no text.
    pub text: String,
    /// Token id.
    pub token_id: u32,
    /// Natural-log probability of this token under the model's raw distribution (softmax of
    /// the raw logits at temperature 1, before penalties, processors and truncation).
    pub logprob: f32,
    /// Entropy in nats of that raw distribution.
    pub entropy: f32,
    /// The `params.top_logprobs` most likely tokens of that distribution, best first.
    pub top_logprobs: Vec<(u32, f32)>,
}

/// Iterator over generated tokens. See [`Engine::generate`].
pub struct TokenStream<'a> {
    engine: &'a mut Engine,
    processors: Vec<BoxedProcessor<'a>>,
    sampler: Sampler,
    history: Vec<u32>,
    prompt_len: usize,
    max_tokens: usize,
    decoder: IncrementalDecoder,
    stops: StopMatcher,
    finish: Option<FinishReason>,
    done: bool,
    started: Instant,
    first_token_at: Option<Instant>,
    last_token_at: Option<Instant>,
}

impl<'a> TokenStream<'a> {
    pub(crate) fn new(
        engine: &'a mut Engine,
        prompt: Vec<u32>,
        params: &GenerationParams,
        processors: Vec<BoxedProcessor<'a>>,
        started: Instant,
    ) -> Self {
        let prompt_len = prompt.len();
        Self {
            engine,
            processors,
            sampler: Sampler::new(params),
            history: prompt,
            prompt_len,
            max_tokens: params.max_tokens,
            decoder: IncrementalDecoder::new(true),
            stops: StopMatcher::new(&params.stop),
            finish: None,
            done: false,
            started,
            first_token_at: None,
            last_token_at: None,
        }
    }

    /// Why generation ended; `None` while it is running (or after an error).
    pub fn finish_reason(&self) -> Option<FinishReason> {
        self.finish
    }

    /// Prompt and completion token counts so far.
    pub fn usage(&self) -> Usage {
        Usage {
            prompt_tokens: self.prompt_len,
            completion_tokens: self.history.len() - self.prompt_len,
        }
    }

    /// Time to first token and decode time so far.
    pub fn timings(&self) -> Timings {
        match self.first_token_at {
            None => Timings::default(),
            Some(first) => Timings {
                prefill: first.duration_since(self.started),
                decode: self
                    .last_token_at
                    .map(|last| last.duration_since(first))
                    .unwrap_or_default(),
            },
        }
    }

    /// The prompt's token ids (BOS included when the model adds one).
    pub fn prompt_ids(&self) -> &[u32] {
        &self.history[..self.prompt_len]
    }

    /// The completion's token ids so far.
    pub fn completion_ids(&self) -> &[u32] {
        &self.history[self.prompt_len..]
    }

    fn finish(&mut self, reason: FinishReason) {
        self.finish = Some(reason);
        self.done = true;
    }

    fn step(&mut self) -> Result<Option<TokenEvent>, GenerateError> {
        let completion_len = self.history.len() - self.prompt_len;
        if completion_len >= self.max_tokens {
            self.finish(FinishReason::Length);
            return Ok(None);
        }
        let engine = &mut *self.engine;
        let logits = if completion_len == 0 {
            engine
                .model
                .clear_kv_cache()
                .and_then(|()| forward_chunked(engine.model.as_mut(), &self.history, 0))
        } else {
            let position = self.history.len() - 1;
            engine.model.forward(&self.history[position..], position)
        };
        let mut logits = logits.map_err(|e| GenerateError::Forward {
            position: self.history.len() - 1,
            reason: e.to_string(),
        })?;
        let sampled = self.sampler.sample(
            &mut logits,
            &self.history,
            &self.history[self.prompt_len..],
            &mut self.processors,
            completion_len,
        )?;
        let now = Instant::now();
        self.first_token_at.get_or_insert(now);
        self.last_token_at = Some(now);
        let token = sampled.token;
        self.history.push(token);

        let mut text = String::new();
        let mut ended = None;
        if engine.stop_tokens.contains(&token) {
            ended = Some(FinishReason::Stop);
        } else {
            let delta = self
                .decoder
                .push(&engine.tokenizer, token)
                .map_err(|reason| GenerateError::Detokenize {
                    token_id: token,
                    reason,
                })?;
            match self.stops.push(&delta) {
                StopOutcome::Stopped(released) => {
                    text = released;
                    ended = Some(FinishReason::StopSequence);
                }
                StopOutcome::Continue(released) => text = released,
            }
            let full = self.history.len() >= engine.context_length;
            if ended.is_none() && (completion_len + 1 >= self.max_tokens || full) {
                ended = Some(FinishReason::Length);
            }
        }
        if matches!(ended, Some(FinishReason::Stop | FinishReason::Length)) {
            // Release what the decoder and the stop matcher still hold; the tail may itself
            // complete a stop string.
            let tail = self.decoder.flush(&engine.tokenizer).map_err(|reason| {
                GenerateError::Detokenize {
                    token_id: token,
                    reason,
                }
            })?;
            match self.stops.push(&tail) {
                StopOutcome::Stopped(released) => {
                    text.push_str(&released);
                    ended = Some(FinishReason::StopSequence);
                }
                StopOutcome::Continue(released) => {
                    text.push_str(&released);
                    text.push_str(&self.stops.flush());
                }
            }
        }
        if let Some(reason) = ended {
            self.finish(reason);
        }
        Ok(Some(TokenEvent {
            text,
            token_id: token,
            logprob: sampled.logprob,
            entropy: sampled.entropy,
            top_logprobs: sampled.top_logprobs,
        }))
    }
}

impl Iterator for TokenStream<'_> {
    type Item = Result<TokenEvent, GenerateError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.step() {
            Ok(Some(event)) => Some(Ok(event)),
            Ok(None) => None,
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}
