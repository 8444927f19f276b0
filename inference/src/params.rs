//! Generation parameters and the bookkeeping types a token stream reports.

use std::time::Duration;

use crate::error::GenerateError;

/// How to generate a completion.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationParams {
    /// Most tokens to generate (the end-of-turn token counts). Default 256.
    pub max_tokens: usize,
    /// Softmax temperature; `0` means greedy (argmax). Default 0.7.
    pub temperature: f64,
    /// Keep only the k most likely tokens. Default `None` (off).
    pub top_k: Option<usize>,
    /// Nucleus sampling: keep the smallest set of tokens whose probability reaches p, in
    /// `(0, 1]`. Default `Some(0.9)`.
    pub top_p: Option<f64>,
    /// Keep tokens at least `min_p` times as likely as the best, in `[0, 1]`. Default `None`.
    pub min_p: Option<f64>,
    /// CTRL-style repetition penalty (> 0; 1 = off). Default 1.1.
    pub repetition_penalty: f32,
    /// How many recent tokens (prompt included) the penalty looks at. Default 64.
    pub repeat_last_n: usize,
    /// Seed of the sampler's random generator: same seed, same output. Default 42.
    pub seed: u64,
    /// Stop strings: generation ends *before* the first occurrence of any of them, and no
    /// part of it is ever emitted. Empty strings are not allowed. Default none.
    pub stop: Vec<String>,
    /// How many alternatives (with log-probabilities) each [`TokenEvent`] carries. Default 0.
    ///
    /// [`TokenEvent`]: crate::TokenEvent
    pub top_logprobs: usize,
}

impl Default for GenerationParams {
    fn default() -> Self {
        Self {
            max_tokens: 256,
            temperature: 0.7,
            top_k: None,
            top_p: Some(0.9),
            min_p: None,
            repetition_penalty: 1.1,
            repeat_last_n: 64,
            seed: 42,
            stop: Vec::new(),
            top_logprobs: 0,
        }
    }
}

impl GenerationParams {
    /// Greedy decoding (temperature 0, no penalty) of at most `max_tokens` tokens.
    pub fn greedy(max_tokens: usize) -> Self {
        Self {
            max_tokens,
            temperature: 0.0,
            top_p: None,
            repetition_penalty: 1.0,
            ..Self::default()
        }
    }

    /// Checks every parameter is in range.
    pub fn validate(&self) -> Result<(), GenerateError> {
        let invalid =
            |name, problem: String, fix| GenerateError::InvalidParams { name, problem, fix };
        if !self.temperature.is_finite() || self.temperature < 0.0 {
            return Err(invalid(
                "temperature",
                format!("{} is not a finite number >= 0", self.temperature),
                "use 0 for greedy decoding or a positive value such as 0.7",
            ));
        }
        if self.top_k == Some(0) {
            return Err(invalid(
                "top_k",
                "0 would remove every token".into(),
                "use None to disable top-k, or a value >= 1",
            ));
        }
        if let Some(p) = self.top_p
            && !(p > 0.0 && p <= 1.0)
        {
            return Err(invalid(
                "top_p",
                format!("{p} is outside (0, 1]"),
                "use a value in (0, 1], or None to disable",
            ));
        }
        if let Some(m) = self.min_p
            && !(0.0..=1.0).contains(&m)
        {
            return Err(invalid(
                "min_p",
                format!("{m} is outside [0, 1]"),
                "use a value in [0, 1], or None to disable",
            ));
        }
        if !self.repetition_penalty.is_finite() || self.repetition_penalty <= 0.0 {
            return Err(invalid(
                "repetition_penalty",
                format!("{} is not a finite number > 0", self.repetition_penalty),
                "use 1.0 to disable, or a value such as 1.1",
            ));
        }
        if self.stop.iter().any(String::is_empty) {
            return Err(invalid(
                "stop",
                "contains an empty string, which would match immediately".into(),
                "remove empty stop strings",
            ));
        }
        Ok(())
    }
}

/// Why a generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FinishReason {
    /// The model produced its end-of-sequence or end-of-turn token.
    Stop,
    /// `max_tokens` were generated, or the context window is full.
    Length,
    /// The text reached one of the stop strings.
    StopSequence,
}

impl FinishReason {
    /// The OpenAI-style name (`"stop"`, `"length"`, `"stop_sequence"`).
    pub fn as_str(self) -> &'static str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
            FinishReason::StopSequence => "stop_sequence",
        }
    }
}

/// Token counts of a generation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Tokens in the prompt (BOS included when the model adds one).
    pub prompt_tokens: usize,
    /// Tokens sampled so far (an end-of-turn token counts).
    pub completion_tokens: usize,
}

/// Wall-clock time spent by a generation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timings {
    /// Time to first token: prompt tokenization, prefill and the first sampling step.
    pub prefill: Duration,
    /// Time from the first token to the last one (the remaining forward passes).
    pub decode: Duration,
}

impl Timings {
    /// Decode speed in tokens per second over `completion_tokens` (the first token is
    /// produced by the prefill, so `completion_tokens - 1` tokens are decoded).
    pub fn decode_tokens_per_second(&self, completion_tokens: usize) -> Option<f64> {
        let secs = self.decode.as_secs_f64();
        (completion_tokens > 1 && secs > 0.0).then(|| (completion_tokens - 1) as f64 / secs)
    }
}
