//! One guarded chat, start to end.

use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use palisade_guard::{
    Action, DetectorCost, Direction, Finding, RedactionVault, StreamChunk, Verdict,
};
use palisade_inference::{FinishReason, Role, Usage};
use palisade_telemetry::trace::{self, Stage};
use palisade_telemetry::{self as telemetry, DetectorReport, Outcome, RequestRecord, RuleHit};
use tracing::Span;

use super::hallucination::{self, AnswerJudgement, AnswerTracker};
use super::{ChatEvent, ChatRequest, ChatSummary, Finish, GuardEvent, Palisade};

/// Why a chat failed (a refusal by a guard is not a failure: it ends normally
/// with [`Finish::BlockedInput`] or [`Finish::BlockedOutput`]).
#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    /// The request has no message to answer.
    #[error("the request has no messages: send at least one user message")]
    NoMessages,
    /// The chat template could not be rendered.
    #[error(transparent)]
    Template(#[from] palisade_inference::TemplateError),
    /// Generation failed.
    #[error(transparent)]
    Generate(#[from] palisade_inference::GenerateError),
    /// The worker thread running the chat died.
    #[error("the chat worker thread stopped unexpectedly: {0}")]
    Worker(String),
}

/// The state of one chat as it runs: what to tell the caller and telemetry.
struct Chat<'a> {
    on_event: &'a mut dyn FnMut(ChatEvent) -> ControlFlow<()>,
    started: Instant,
    guard_time: Duration,
    hits: Vec<RuleHit>,
    findings: usize,
    input_verdict: Verdict,
    output_verdict: Verdict,
    cancelled: bool,
    /// What each detector cost, input and output.
    costs: Vec<(Direction, DetectorCost)>,
    /// The most output bytes the streaming guard held back at once.
    holdback_max_bytes: usize,
    /// The `palisade.request` span; stage spans are its children.
    span: Span,
    /// Released text held back until the final answer is judged (when a
    /// `type: hallucination` rule may block it).
    held: Option<String>,
}

impl Chat<'_> {
    fn emit(&mut self, event: ChatEvent) {
        if !self.cancelled && (self.on_event)(event).is_break() {
            self.cancelled = true;
        }
    }

    fn guarded<T>(&mut self, scan: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let out = scan();
        self.guard_time += start.elapsed();
        out
    }

    /// Runs `f` inside a new stage span of this request.
    fn stage<T>(&self, stage: Stage, f: impl FnOnce(&Span) -> T) -> T {
        let span = self.span.in_scope(|| trace::stage_span(stage));
        span.in_scope(|| f(&span))
    }

    /// Records findings and tells the caller, returning their verdict.
    fn report(&mut self, direction: Direction, findings: Vec<Finding>) -> Verdict {
        let verdict = findings
            .iter()
            .map(|f| f.action.verdict())
            .max()
            .unwrap_or(Verdict::Allow);
        if findings.is_empty() {
            return verdict;
        }
        self.findings += findings.len();
        self.hits.extend(findings.iter().map(|f| RuleHit {
            direction: telemetry_direction(direction),
            rule_id: f.rule_id.to_string(),
            kind: f.kind.to_string(),
            action: telemetry_action(f.action),
        }));
        match direction {
            Direction::Input => self.input_verdict = self.input_verdict.max(verdict),
            Direction::Output => self.output_verdict = self.output_verdict.max(verdict),
        }
        self.emit(ChatEvent::Guard(GuardEvent {
            direction,
            verdict,
            findings,
        }));
        verdict
    }

    /// Releases a chunk of guarded output; returns the block, if any.
    fn release(&mut self, chunk: StreamChunk) -> Option<Finish> {
        self.report(Direction::Output, chunk.findings);
        if let Some(held) = self.held.as_mut() {
            held.push_str(&chunk.text);
        } else if !chunk.text.is_empty() {
            self.emit(ChatEvent::Delta(chunk.text));
        }
        chunk.block.map(|block| Finish::BlockedOutput {
            rule_id: block.rule_id,
            message: block.message,
        })
    }
}

/// Timings gathered from the token stream.
#[derive(Default)]
struct Signals {
    time_to_first_token: Option<Duration>,
    first_token_at: Option<Instant>,
}

pub(super) fn run_chat(
    palisade: &Palisade,
    request: ChatRequest,
    on_event: &mut dyn FnMut(ChatEvent) -> ControlFlow<()>,
) -> Result<ChatSummary, ChatError> {
    if request.messages.is_empty() {
        return Err(ChatError::NoMessages);
    }
    let guard = &palisade.inner.guard;
    let span = trace::request_span(&palisade.inner.model_name);
    let mut chat = Chat {
        on_event,
        started: Instant::now(),
        guard_time: Duration::ZERO,
        hits: Vec::new(),
        findings: 0,
        input_verdict: Verdict::Allow,
        output_verdict: Verdict::Allow,
        cancelled: false,
        costs: Vec::new(),
        holdback_max_bytes: 0,
        span,
        held: None,
    };

    // Input guard: every user message, before the model sees anything.
    let mut messages = request.messages;
    let mut vault = RedactionVault::default();
    for message in messages.iter_mut().filter(|m| m.role == Role::User) {
        let started = Instant::now();
        let decision = chat.stage(Stage::InputGuard, |span| {
            let decision = guard.check_measured(Direction::Input, &message.content, Some(&vault));
            trace::record_rule_ids(span, decision.findings.iter().map(|f| &*f.rule_id));
            decision
        });
        chat.guard_time += started.elapsed();
        chat.costs
            .extend(decision.costs.into_iter().map(|c| (Direction::Input, c)));
        chat.report(Direction::Input, decision.findings);
        if let Some(block) = decision.block {
            let finish = Finish::BlockedInput {
                rule_id: block.rule_id,
                message: block.message,
            };
            return Ok(finish_chat(
                palisade,
                chat,
                finish,
                Usage::default(),
                Signals::default(),
                AnswerJudgement::default(),
            ));
        }
        if decision.verdict == Verdict::Redact {
            message.content = decision.text;
        }
        // Placeholders of later messages continue this vault's numbering.
        vault = decision.vault;
    }

    let mut answer = AnswerTracker::new(&messages);
    if hallucination::holds_answer(guard.policy()) {
        chat.held = Some(String::new());
    }
    let mut engine = palisade.engine();
    let prompt = engine.render_chat(&messages, true)?;
    let mut output = guard.output_stream(Some(&vault)).measured();
    let output_span = chat.span.in_scope(|| trace::stage_span(Stage::OutputGuard));
    let mut model_span = chat.span.in_scope(|| trace::stage_span(Stage::Prefill));
    let mut tokens = model_span.in_scope(|| engine.generate(&prompt, &request.params))?;
    let mut signals = Signals::default();
    let mut finish = None;
    while let Some(event) = model_span.in_scope(|| tokens.next()) {
        let event = event?;
        if signals.first_token_at.is_none() {
            signals.time_to_first_token = Some(chat.started.elapsed());
            signals.first_token_at = Some(Instant::now());
            model_span = chat.span.in_scope(|| trace::stage_span(Stage::Decode));
        }
        answer.observe(&event);
        let chunk = output_span.in_scope(|| chat.guarded(|| output.push(&event.text)));
        chat.holdback_max_bytes = chat.holdback_max_bytes.max(output.held_bytes());
        finish = chat.release(chunk);
        if finish.is_none() && chat.cancelled {
            finish = Some(Finish::Cancelled);
        }
        if finish.is_some() {
            break;
        }
    }
    let usage = tokens.usage();
    let reason = tokens.finish_reason();
    drop(tokens);
    drop(model_span);
    drop(engine);

    let finish = match finish {
        Some(finish) => finish,
        None => {
            let chunk = output_span.in_scope(|| chat.guarded(|| output.finish()));
            chat.release(chunk).unwrap_or(match reason {
                Some(FinishReason::Length) => Finish::Length,
                Some(FinishReason::StopSequence) => Finish::StopSequence,
                Some(FinishReason::Stop) | None => Finish::Stop,
            })
        }
    };
    // The sampled mode: more answers to the same prompt, for a complete answer, once its
    // text is out (only a blocking hallucination rule still holds it).
    let checks = &palisade.inner.checks;
    let complete = matches!(finish, Finish::Stop | Finish::StopSequence | Finish::Length);
    let samples = if complete && checks.sampled.is_on() && checks.embedder.is_some() {
        let mut engine = palisade.engine();
        chat.span
            .in_scope(|| answer.sample(&mut engine, &prompt, &checks.sampled))
    } else {
        Vec::new()
    };
    let judgement = answer.judge(
        palisade.inner.risk_model.as_ref(),
        checks.embedder.as_deref(),
        &samples,
    );
    let finish = judge_answer(
        palisade,
        &mut chat,
        finish,
        &judgement,
        answer.answer_bytes(),
    );
    let output_rules = chat
        .hits
        .iter()
        .filter(|h| h.direction == telemetry::Direction::Output);
    trace::record_rule_ids(&output_span, output_rules.map(|h| h.rule_id.as_str()));
    chat.costs
        .extend(output.costs().into_iter().map(|c| (Direction::Output, c)));
    Ok(finish_chat(
        palisade, chat, finish, usage, signals, judgement,
    ))
}

/// Applies the policy's `type: hallucination` rules to a complete answer and
/// releases the text held back for them, unless one blocks.
fn judge_answer(
    palisade: &Palisade,
    chat: &mut Chat<'_>,
    finish: Finish,
    judgement: &AnswerJudgement,
    answer_bytes: usize,
) -> Finish {
    let complete = matches!(finish, Finish::Stop | Finish::StopSequence | Finish::Length);
    let mut finish = finish;
    if let (true, Some(risk)) = (complete, judgement.risk) {
        let policy = palisade.inner.guard.policy();
        let findings = hallucination::findings(policy, risk, answer_bytes);
        let block = findings
            .iter()
            .find(|f| f.action == Action::Block)
            .map(|f| {
                let message = policy
                    .hallucination_rules()
                    .find(|r| r.id == f.rule_id)
                    .map(|r| r.block_message())
                    .unwrap_or_default();
                Finish::BlockedOutput {
                    rule_id: f.rule_id.to_string(),
                    message,
                }
            });
        chat.report(Direction::Output, findings);
        finish = block.unwrap_or(finish);
    }
    // Held text is released only for a complete answer that no rule blocked.
    let held = chat.held.take();
    let released = matches!(finish, Finish::Stop | Finish::StopSequence | Finish::Length);
    if let Some(text) = held.filter(|t| released && !t.is_empty()) {
        chat.emit(ChatEvent::Delta(text));
    }
    finish
}

/// Builds the summary, records telemetry and emits [`ChatEvent::Done`].
fn finish_chat(
    palisade: &Palisade,
    mut chat: Chat<'_>,
    finish: Finish,
    usage: Usage,
    signals: Signals,
    judgement: AnswerJudgement,
) -> ChatSummary {
    let total = chat.started.elapsed();
    let decode = signals
        .first_token_at
        .map(|at| at.elapsed())
        .unwrap_or_default();
    let summary = ChatSummary {
        finish,
        usage,
        time_to_first_token: signals.time_to_first_token,
        decode,
        total,
        guard: chat.guard_time,
        input_verdict: chat.input_verdict,
        output_verdict: chat.output_verdict,
        findings: chat.findings,
        hallucination_risk: judgement.risk,
    };
    trace::record_rule_ids(&chat.span, chat.hits.iter().map(|h| h.rule_id.as_str()));
    trace::record_outcome(&chat.span, outcome(&summary.finish));
    let decoding = judgement.signals.decoding;
    let grounding = judgement.signals.grounding;
    let record = RequestRecord {
        model: palisade.inner.model_name.clone(),
        policy_hash: palisade.inner.guard.policy().hash().to_string(),
        outcome: outcome(&summary.finish),
        prompt_tokens: usage.prompt_tokens as u64,
        completion_tokens: usage.completion_tokens as u64,
        time_to_first_token: summary.time_to_first_token,
        decode,
        total,
        guard: chat.guard_time,
        mean_logprob: decoding.mean_logprob,
        mean_entropy: decoding.mean_entropy,
        rule_hits: std::mem::take(&mut chat.hits),
        max_entropy: decoding.max_entropy,
        low_confidence_fraction: decoding.low_confidence_fraction,
        repetition: decoding.repetition,
        ungrounded_numbers: grounding.map(|g| g.ungrounded_numbers),
        min_logprob: decoding.min_logprob,
        longest_low_confidence_run: decoding.longest_low_confidence_run,
        ungrounded_dates: grounding.map(|g| g.ungrounded_dates),
        ungrounded_entities: grounding.map(|g| g.ungrounded_entities),
        context_similarity: judgement.signals.similarity.map(|s| s.min),
        sample_consistency: judgement.signals.consistency,
        hallucination_risk: judgement.risk,
        stream_holdback_bytes: (usage.completion_tokens > 0)
            .then(|| u32::try_from(chat.holdback_max_bytes).unwrap_or(u32::MAX)),
        detectors: detector_reports(&chat.costs),
    };
    palisade.inner.telemetry.record_request(&record);
    chat.emit(ChatEvent::Done(summary.clone()));
    summary
}

/// One report per direction and detector type, summing the rules that use it.
pub(crate) fn detector_reports(costs: &[(Direction, DetectorCost)]) -> Vec<DetectorReport> {
    let mut reports: Vec<DetectorReport> = Vec::new();
    for (direction, cost) in costs {
        let direction = telemetry_direction(*direction);
        match reports
            .iter_mut()
            .find(|r| r.direction == direction && r.detector == *cost.detector)
        {
            Some(report) => {
                report.elapsed += cost.elapsed;
                report.errors = report.errors.saturating_add(cost.failures);
            }
            None => reports.push(DetectorReport {
                direction,
                detector: cost.detector.to_string(),
                elapsed: cost.elapsed,
                errors: cost.failures,
            }),
        }
    }
    reports
}

pub(crate) fn outcome(finish: &Finish) -> Outcome {
    match finish {
        Finish::Stop | Finish::StopSequence => Outcome::Completed,
        Finish::Length => Outcome::Length,
        Finish::BlockedInput { .. } => Outcome::BlockedInput,
        Finish::BlockedOutput { .. } => Outcome::BlockedOutput,
        Finish::Cancelled => Outcome::Cancelled,
    }
}

pub(crate) fn telemetry_direction(direction: Direction) -> telemetry::Direction {
    match direction {
        Direction::Input => telemetry::Direction::Input,
        Direction::Output => telemetry::Direction::Output,
    }
}

pub(crate) fn telemetry_action(action: Action) -> telemetry::RuleAction {
    match action {
        Action::Block => telemetry::RuleAction::Block,
        Action::Redact => telemetry::RuleAction::Redact,
        Action::Warn => telemetry::RuleAction::Warn,
        Action::Shadow => telemetry::RuleAction::Shadow,
    }
}
