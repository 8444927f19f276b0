//! Core value types shared by the policy model, the engine and the streaming guard.

use std::fmt;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::vault::RedactionVault;

/// Which side of the model a text is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Text sent to the model (the user's prompt).
    Input,
    /// Text produced by the model.
    Output,
}

impl Direction {
    /// The lower-case name used in policies and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Input => "input",
            Direction::Output => "output",
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The overall outcome of a check, ordered by strictness: `Allow < Warn < Redact < Block`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Nothing enforced matched.
    Allow,
    /// Only `warn` rules matched: the text passes unchanged and the findings are recorded.
    Warn,
    /// At least one span was replaced by a placeholder.
    Redact,
    /// A `block` rule matched: the text is refused.
    Block,
}

impl Verdict {
    /// The lower-case name used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allow => "allow",
            Verdict::Warn => "warn",
            Verdict::Redact => "redact",
            Verdict::Block => "block",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a rule does when its detector matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Refuse the text with the rule's message.
    Block,
    /// Replace the matched span with a typed placeholder such as `[EMAIL_1]`.
    Redact,
    /// Allow the text and record the finding.
    Warn,
    /// Only measure: the finding is recorded but never changes the verdict.
    Shadow,
}

impl Action {
    /// The lower-case name used in policies and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Block => "block",
            Action::Redact => "redact",
            Action::Warn => "warn",
            Action::Shadow => "shadow",
        }
    }

    /// The verdict this action contributes when it fires.
    pub fn verdict(self) -> Verdict {
        match self {
            Action::Block => Verdict::Block,
            Action::Redact => Verdict::Redact,
            Action::Warn => Verdict::Warn,
            Action::Shadow => Verdict::Allow,
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How serious a rule's findings are; recorded with each finding for telemetry.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Informational.
    Low,
    /// The default.
    #[default]
    Medium,
    /// Serious.
    High,
    /// Must never pass.
    Critical,
}

impl Severity {
    /// The lower-case name used in policies and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// One match of one rule.
///
/// `start` and `end` are byte offsets into the original (un-normalised) text that was checked;
/// for a stream, into the concatenation of every delta pushed so far.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// The stable id of the rule that matched.
    pub rule_id: Arc<str>,
    /// The taxonomy kind, e.g. `pii.email`, `secret.aws_access_key_id`, `keyword.competitors`.
    pub kind: Arc<str>,
    /// The rule's action.
    pub action: Action,
    /// The rule's severity.
    pub severity: Severity,
    /// Byte offset of the first byte of the match.
    pub start: usize,
    /// Byte offset one past the last byte of the match.
    pub end: usize,
    /// Detector confidence in `0.0..=1.0`.
    pub score: f32,
}

/// Why a text was blocked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockInfo {
    /// The id of the rule that blocked.
    pub rule_id: String,
    /// The rule's message (or a default naming the rule).
    pub message: String,
}

/// The result of checking a whole text.
#[derive(Debug, Clone)]
pub struct Decision {
    /// The strictest outcome among the enforced findings.
    pub verdict: Verdict,
    /// Every finding, including `shadow` ones, ordered by `(start, rule order, end)`.
    pub findings: Vec<Finding>,
    /// The text that is safe to pass on: redactions applied and, after a `block`, only the part
    /// before the blocked span (exactly what a stream of the same text would have released).
    pub text: String,
    /// Set when the verdict is [`Verdict::Block`].
    pub block: Option<BlockInfo>,
    /// The placeholders introduced by this check and the originals they replaced.
    pub vault: RedactionVault,
    /// What each detector cost: filled by [`crate::Guard::check_measured`], empty otherwise.
    pub costs: Vec<DetectorCost>,
}

/// The time one rule's detector spent, and its run-time failures, in one check or stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectorCost {
    /// The rule.
    pub rule_id: Arc<str>,
    /// The rule's detector type (`pii`, `keywords`, `toxicity`, ...).
    pub detector: Arc<str>,
    /// Time spent in the detector.
    pub elapsed: std::time::Duration,
    /// Run-time failures it met (e.g. a classifier that could not score), whether the rule
    /// then failed open or closed.
    pub failures: u32,
}

impl Decision {
    /// Whether the text was blocked.
    pub fn is_blocked(&self) -> bool {
        self.block.is_some()
    }
}
