//! What a guarded chat yields: guard decisions, text deltas and a summary.

use std::fmt;
use std::time::Duration;

use palisade_guard::{Direction, Finding, Verdict};
use palisade_inference::{Timings, Usage};

/// One event of a guarded chat, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatEvent {
    /// A guard made a decision that was not a plain "allow" (a rule fired).
    Guard(GuardEvent),
    /// Text released to the caller: it has passed the output guard.
    Delta(String),
    /// The end, always last.
    Done(ChatSummary),
}

/// A guard decision, described by rule ids, kinds and offsets: never by text.
#[derive(Debug, Clone, PartialEq)]
pub struct GuardEvent {
    /// Input (before the model) or output (the streamed answer).
    pub direction: Direction,
    /// The strongest action taken.
    pub verdict: Verdict,
    /// The rules that fired.
    pub findings: Vec<Finding>,
}

impl fmt::Display for GuardEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.direction, self.verdict)?;
        let mut first = true;
        for finding in &self.findings {
            f.write_str(if first { ": " } else { ", " })?;
            first = false;
            write!(
                f,
                "{} ({} {})",
                finding.rule_id, finding.kind, finding.action
            )?;
        }
        Ok(())
    }
}

/// Why a chat ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finish {
    /// The model ended its turn.
    Stop,
    /// A stop sequence was generated.
    StopSequence,
    /// The max-token limit was reached.
    Length,
    /// The input guard refused the request; the model did not run.
    BlockedInput {
        /// The rule that blocked.
        rule_id: String,
        /// The policy's message for the user.
        message: String,
    },
    /// The output guard cut the answer; generation stopped there.
    BlockedOutput {
        /// The rule that blocked.
        rule_id: String,
        /// The policy's message for the user.
        message: String,
    },
    /// The caller stopped listening; generation stopped.
    Cancelled,
}

impl Finish {
    /// A short, stable name: `stop`, `length`, `blocked_input`, ...
    pub fn as_str(&self) -> &'static str {
        match self {
            Finish::Stop => "stop",
            Finish::StopSequence => "stop_sequence",
            Finish::Length => "length",
            Finish::BlockedInput { .. } => "blocked_input",
            Finish::BlockedOutput { .. } => "blocked_output",
            Finish::Cancelled => "cancelled",
        }
    }
}

/// Numbers about a finished chat.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatSummary {
    /// Why it ended.
    pub finish: Finish,
    /// Prompt and generated token counts (zero when the model did not run).
    pub usage: Usage,
    /// From the request's start to the model's first token.
    pub time_to_first_token: Option<Duration>,
    /// Decoding time after the first token.
    pub decode: Duration,
    /// The whole request.
    pub total: Duration,
    /// Time spent in the guards.
    pub guard: Duration,
    /// The input guard's verdict.
    pub input_verdict: Verdict,
    /// The output guard's verdict (allow when the model did not run).
    pub output_verdict: Verdict,
    /// How many rules fired, input and output together.
    pub findings: usize,
    /// The answer's calibrated hallucination risk (0 to 1); `None` when the
    /// model generated nothing.
    pub hallucination_risk: Option<f32>,
}

impl ChatSummary {
    /// Generated tokens per second of decoding (tokens after the first).
    pub fn decode_tokens_per_second(&self) -> Option<f64> {
        let timings = Timings {
            prefill: Duration::ZERO,
            decode: self.decode,
        };
        timings.decode_tokens_per_second(self.usage.completion_tokens)
    }
}

impl fmt::Display for ChatSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "tokens in {} out {}",
            self.usage.prompt_tokens, self.usage.completion_tokens
        )?;
        match self.time_to_first_token {
            Some(ttft) => write!(f, " | ttft {:.0} ms", ttft.as_secs_f64() * 1e3)?,
            None => f.write_str(" | ttft -")?,
        }
        match self.decode_tokens_per_second() {
            Some(rate) => write!(f, " | {rate:.1} tok/s")?,
            None => f.write_str(" | - tok/s")?,
        }
        write!(
            f,
            " | guard input {} output {} ({} findings, {:.0} us)",
            self.input_verdict,
            self.output_verdict,
            self.findings,
            self.guard.as_secs_f64() * 1e6
        )?;
        if let Some(risk) = self.hallucination_risk {
            write!(f, " | hallucination risk {risk:.2}")?;
        }
        write!(f, " | finish {}", self.finish.as_str())?;
        if let Finish::BlockedInput { rule_id, .. } | Finish::BlockedOutput { rule_id, .. } =
            &self.finish
        {
            write!(f, " by {rule_id}")?;
        }
        Ok(())
    }
}
