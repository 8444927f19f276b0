//! The per-request record: the only shape in which a request reaches telemetry.

use std::time::Duration;

/// Which side of the model a guard decision was made on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// The request, before the model runs.
    Input,
    /// The model's streamed answer.
    Output,
}

impl Direction {
    /// The low-cardinality attribute value for this direction.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Input => "input",
            Direction::Output => "output",
        }
    }
}

/// The action a rule took, as exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuleAction {
    /// The request or answer was refused.
    Block,
    /// A span was replaced by a placeholder.
    Redact,
    /// Allowed and recorded.
    Warn,
    /// Measured only; the user saw no effect.
    Shadow,
}

impl RuleAction {
    /// The low-cardinality attribute value for this action.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleAction::Block => "block",
            RuleAction::Redact => "redact",
            RuleAction::Warn => "warn",
            RuleAction::Shadow => "shadow",
        }
    }
}

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The model finished its answer (end of turn or a stop sequence).
    Completed,
    /// The answer hit the max-token limit.
    Length,
    /// The input guard refused the request; the model did not run.
    BlockedInput,
    /// The output guard cut the answer.
    BlockedOutput,
    /// The caller went away before the end.
    Cancelled,
    /// Inference failed.
    Error,
}

impl Outcome {
    /// The low-cardinality attribute value for this outcome.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::Length => "length",
            Outcome::BlockedInput => "blocked_input",
            Outcome::BlockedOutput => "blocked_output",
            Outcome::Cancelled => "cancelled",
            Outcome::Error => "error",
        }
    }

    /// Whether the guard refused the request or cut its answer.
    pub fn is_refusal(self) -> bool {
        matches!(self, Outcome::BlockedInput | Outcome::BlockedOutput)
    }
}

/// One rule that fired. `rule_id` and `kind` come from the loaded policy (a
/// bounded set), never from the text that was scanned.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RuleHit {
    /// Input or output.
    pub direction: Direction,
    /// The stable rule id from the policy.
    pub rule_id: String,
    /// The finding kind from the fixed taxonomy, e.g. `pii.email`.
    pub kind: String,
    /// What the rule did.
    pub action: RuleAction,
}

/// Everything telemetry learns about one request: numbers and policy-defined
/// identifiers only.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRecord {
    /// The model's name (from its metadata), a bounded value.
    pub model: String,
    /// The sha256 of the loaded policy's canonical form.
    pub policy_hash: String,
    /// How the request ended.
    pub outcome: Outcome,
    /// Tokens in the rendered prompt (0 when the model did not run).
    pub prompt_tokens: u64,
    /// Tokens the model generated.
    pub completion_tokens: u64,
    /// From the start of the request to the first released token.
    pub time_to_first_token: Option<Duration>,
    /// Time spent decoding after the first token.
    pub decode: Duration,
    /// The whole request, guards included.
    pub total: Duration,
    /// Time spent in the input and output guards together.
    pub guard: Duration,
    /// Mean log-probability of the generated tokens.
    pub mean_logprob: Option<f32>,
    /// Mean entropy (nats) of the next-token distributions.
    pub mean_entropy: Option<f32>,
    /// Every rule that fired, in order.
    pub rule_hits: Vec<RuleHit>,
    /// Largest entropy (nats) of a next-token distribution in the answer.
    pub max_entropy: Option<f32>,
    /// Fraction of generated tokens below the low-confidence probability
    /// (see [`crate::SignalAccumulator`]).
    pub low_confidence_fraction: Option<f32>,
    /// Fraction of the answer's token trigrams that repeat an earlier one.
    pub repetition: Option<f32>,
    /// Numbers in the answer that appear nowhere in the prompt (counted by
    /// the caller; telemetry never sees the text).
    pub ungrounded_numbers: Option<u32>,
    /// Smallest log-probability (nats) of a generated token.
    pub min_logprob: Option<f32>,
    /// Longest run of consecutive low-confidence tokens.
    pub longest_low_confidence_run: Option<u32>,
    /// Dates in the answer that appear nowhere in the prompt (counted by the
    /// caller).
    pub ungrounded_dates: Option<u32>,
    /// Capitalised names in the answer that appear nowhere in the prompt
    /// (counted by the caller).
    pub ungrounded_entities: Option<u32>,
    /// Over the answer's sentences, the smallest best-match cosine similarity
    /// to a sentence of the prompt (computed by the caller with a sentence
    /// embedder; telemetry never sees the text).
    pub context_similarity: Option<f32>,
    /// Mean cosine similarity of the answer to answers sampled for the same
    /// prompt (the optional sampled mode).
    pub sample_consistency: Option<f32>,
    /// The calibrated hallucination risk in `0..=1`.
    pub hallucination_risk: Option<f32>,
    /// Largest number of output bytes the streaming guard held back.
    pub stream_holdback_bytes: Option<u32>,
    /// Time and failures per guard detector.
    pub detectors: Vec<DetectorReport>,
}

impl RequestRecord {
    /// A record of a request to `model` under the policy `policy_hash` that ended with
    /// `outcome`: no tokens, zero durations, no rule hits, no signals and no detector reports.
    /// Set what the caller measured with struct update syntax.
    pub fn new(model: impl Into<String>, policy_hash: impl Into<String>, outcome: Outcome) -> Self {
        RequestRecord {
            model: model.into(),
            policy_hash: policy_hash.into(),
            outcome,
            prompt_tokens: 0,
            completion_tokens: 0,
            time_to_first_token: None,
            decode: Duration::ZERO,
            total: Duration::ZERO,
            guard: Duration::ZERO,
            mean_logprob: None,
            mean_entropy: None,
            rule_hits: Vec::new(),
            max_entropy: None,
            low_confidence_fraction: None,
            repetition: None,
            ungrounded_numbers: None,
            min_logprob: None,
            longest_low_confidence_run: None,
            ungrounded_dates: None,
            ungrounded_entities: None,
            context_similarity: None,
            sample_consistency: None,
            hallucination_risk: None,
            stream_holdback_bytes: None,
            detectors: Vec::new(),
        }
    }
}

/// What one guard detector cost in one request. `detector` is a detector
/// name from the loaded policy (e.g. `pii`, `keywords`), never text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DetectorReport {
    /// Input or output.
    pub direction: Direction,
    /// The detector's name.
    pub detector: String,
    /// Time spent in it.
    pub elapsed: Duration,
    /// How many times it failed (e.g. a classifier that could not run).
    pub errors: u32,
}
