//! The hallucination part of a chat: decoding signals gathered token by token,
//! grounding of the final answer against the request's context, the risk
//! score, and the policy's `type: hallucination` rules judged on it.
//!
//! The answer text stays here, on the request's thread; telemetry receives
//! the counts and the score only.

use std::sync::Arc;

use palisade_guard::{Action, Finding, Policy};
use palisade_inference::embedding::{EmbedError, SentenceEmbedder};
use palisade_inference::{ChatMessage, Engine, Role, TokenEvent};
use palisade_telemetry::SignalAccumulator;

use crate::hallucination::{
    AnswerSignals, Features, GroundingCounts, RiskModel, SampledMode, check_grounding,
    context_similarity, sample_answers, sample_consistency,
};

/// The finding kind of a `type: hallucination` rule that fired.
pub const HALLUCINATION_KIND: &str = "hallucination.risk";

/// Gathers what the risk score needs while the answer is generated.
pub(super) struct AnswerTracker {
    decoding: SignalAccumulator,
    answer: String,
    context: String,
}

/// The signals of a finished answer.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct AnswerJudgement {
    /// Decoding signals and grounding counts.
    pub signals: AnswerSignals,
    /// The calibrated risk, when the answer has tokens and a risk model is loaded.
    pub risk: Option<f32>,
}

impl AnswerTracker {
    /// A tracker for an answer to `messages` (as the model sees them, redacted): the system
    /// and user messages are the context the answer should be grounded in.
    pub(super) fn new(messages: &[ChatMessage]) -> Self {
        let mut context = String::new();
        for m in messages
            .iter()
            .filter(|m| matches!(m.role, Role::System | Role::User))
        {
            context.push_str(&m.content);
            context.push('\n');
        }
        Self {
            decoding: SignalAccumulator::new(),
            answer: String::new(),
            context,
        }
    }

    /// Adds one generated token.
    pub(super) fn observe(&mut self, event: &TokenEvent) {
        self.decoding
            .observe(event.token_id, event.logprob, event.entropy);
        self.answer.push_str(&event.text);
    }

    /// Samples more answers to `prompt` for the sampled mode; none when the
    /// answer is empty or sampling fails (logged: the request still succeeds).
    pub(super) fn sample(
        &self,
        engine: &mut Engine,
        prompt: &str,
        mode: &SampledMode,
    ) -> Vec<String> {
        if self.answer.trim().is_empty() {
            return Vec::new();
        }
        sample_answers(engine, prompt, mode).unwrap_or_else(|err| {
            tracing::warn!(error = %err, "the sampled mode could not sample; consistency not measured");
            Vec::new()
        })
    }

    /// The signals and the risk of the answer so far. With an `embedder`,
    /// also the context similarity, and the consistency with `samples`.
    pub(super) fn judge(
        &self,
        model: Option<&RiskModel>,
        embedder: Option<&SentenceEmbedder>,
        samples: &[String],
    ) -> AnswerJudgement {
        if self.decoding.tokens() == 0 {
            return AnswerJudgement::default();
        }
        let has_context = !self.context.trim().is_empty();
        let grounding: Option<GroundingCounts> =
            has_context.then(|| check_grounding(&self.answer, &self.context));
        let similarity = embedder.filter(|_| has_context).and_then(|e| {
            embedded(
                "context similarity",
                context_similarity(e, &self.answer, &self.context),
            )
        });
        let consistency = embedder.and_then(|e| {
            embedded(
                "sample consistency",
                sample_consistency(e, &self.answer, samples),
            )
        });
        let signals = AnswerSignals {
            decoding: self.decoding.summary(),
            grounding,
            similarity,
            consistency,
        };
        AnswerJudgement {
            signals,
            risk: model.map(|m| m.score(&Features::from(&signals))),
        }
    }
}

/// The value of an embedding signal; a failure is logged and leaves it
/// unmeasured (the request still succeeds).
fn embedded<T>(what: &str, result: Result<Option<T>, EmbedError>) -> Option<T> {
    result.unwrap_or_else(|err| {
        tracing::warn!(error = %err, "{what} not measured");
        None
    })
}

/// Whether any enabled hallucination rule blocks: the answer must then be held back until it
/// has been judged.
pub(super) fn holds_answer(policy: &Policy) -> bool {
    policy
        .hallucination_rules()
        .any(|r| r.action == Action::Block)
}

/// The findings of the policy's hallucination rules for an answer of risk `risk`
/// (`answer_bytes` long), in policy order.
pub(super) fn findings(policy: &Policy, risk: f32, answer_bytes: usize) -> Vec<Finding> {
    policy
        .hallucination_rules()
        .filter(|r| risk >= r.threshold)
        .map(|r| Finding {
            rule_id: Arc::clone(&r.id),
            kind: Arc::from(HALLUCINATION_KIND),
            action: r.action,
            severity: r.severity,
            start: 0,
            end: answer_bytes,
            score: risk,
        })
        .collect()
}

impl AnswerTracker {
    /// Bytes of answer text seen so far.
    pub(super) fn answer_bytes(&self) -> usize {
        self.answer.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy::from_yaml_str(
            "version: '1'\nname: h\noutput:\n  - id: unsure\n    type: hallucination\n    action: warn\n    threshold: 0.5\n  - id: wild\n    type: hallucination\n    action: block\n    threshold: 0.9\n",
            "h.yaml",
        )
        .expect("valid")
    }

    #[test]
    fn rules_fire_at_their_threshold() {
        let p = policy();
        assert!(holds_answer(&p));
        assert!(findings(&p, 0.2, 10).is_empty());
        let f = findings(&p, 0.5, 10);
        assert_eq!(f.len(), 1);
        assert_eq!(
            (&*f[0].rule_id, &*f[0].kind, f[0].score),
            ("unsure", HALLUCINATION_KIND, 0.5)
        );
        let f = findings(&p, 0.95, 10);
        assert_eq!(
            f.iter().map(|f| f.action).collect::<Vec<_>>(),
            [Action::Warn, Action::Block]
        );
        let none = Policy::from_yaml_str("version: '1'\nname: n\n", "n.yaml").expect("valid");
        assert!(!holds_answer(&none));
    }

    #[test]
    fn an_answer_is_judged_against_system_and_user_messages() {
        let messages = [
            ChatMessage::system("Knowledge: The Oberoi Group has its head office in Delhi."),
            ChatMessage::user("Where is the Oberoi Group's head office?"),
        ];
        let mut tracker = AnswerTracker::new(&messages);
        assert_eq!(tracker.judge(None, None, &[]), AnswerJudgement::default());
        for (id, text) in [(1, "It is in"), (2, " Mumbai"), (3, " since 1990.")] {
            tracker.observe(&TokenEvent {
                text: text.to_owned(),
                token_id: id,
                logprob: -0.5,
                entropy: 1.0,
                top_logprobs: Vec::new(),
            });
        }
        let model = RiskModel::embedded().expect("valid");
        let judged = tracker.judge(Some(&model), None, &[]);
        let grounding = judged.signals.grounding.expect("has context");
        assert_eq!(
            (grounding.ungrounded_entities, grounding.ungrounded_numbers),
            (1, 1)
        );
        assert_eq!(judged.signals.decoding.mean_logprob, Some(-0.5));
        assert!(judged.risk.is_some_and(|r| (0.0..=1.0).contains(&r)));
        assert_eq!(tracker.answer_bytes(), "It is in Mumbai since 1990.".len());
    }
}
