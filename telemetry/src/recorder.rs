//! Applies samples to the instruments, on the telemetry worker thread.

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use opentelemetry::{KeyValue, Value};

use crate::allowlist::Allowlist;
use crate::attrs::AttrKey;
use crate::export::health::Health;
use crate::instruments::{Instruments, key};
use crate::record::{Direction, Outcome};
use crate::sample::Sample;

/// The detector value of the whole guard's time per request.
pub(crate) const ALL_DETECTORS: &str = "_all";

/// Most attributes on one series.
const MAX_ATTRS: usize = 10;

/// A fixed-capacity attribute list built on the stack.
struct Attrs {
    kv: [KeyValue; MAX_ATTRS],
    len: usize,
}

impl Attrs {
    fn new() -> Self {
        Self {
            kv: std::array::from_fn(|_| KeyValue::new("", "")),
            len: 0,
        }
    }

    fn push(&mut self, k: AttrKey, v: Value) -> &mut Self {
        if self.len < MAX_ATTRS {
            self.kv[self.len] = KeyValue::new(key(k), v);
            self.len += 1;
        }
        self
    }

    fn extend(&mut self, other: &Attrs) -> &mut Self {
        for kv in other.as_slice() {
            if self.len < MAX_ATTRS {
                self.kv[self.len] = kv.clone();
                self.len += 1;
            }
        }
        self
    }

    fn as_slice(&self) -> &[KeyValue] {
        &self.kv[..self.len]
    }
}

fn direction(d: Direction) -> Value {
    Value::from(d.as_str())
}

/// What the worker needs to record samples.
pub(crate) struct Recorder {
    pub(crate) instruments: Instruments,
    pub(crate) provider: Value,
    pub(crate) device_class: Option<Value>,
    pub(crate) app_id: Option<Value>,
    pub(crate) health: Arc<Health>,
    pub(crate) groups: Arc<Mutex<Vec<(u16, u16)>>>,
}

/// The most (model, policy) groups tracked for the device-count gauge.
const MAX_GROUPS: usize = 16;

impl Recorder {
    fn config(&self, attrs: &mut Attrs) {
        if let Some(c) = &self.device_class {
            attrs.push(AttrKey::DeviceClass, c.clone());
        }
        if let Some(a) = &self.app_id {
            attrs.push(AttrKey::AppId, a.clone());
        }
    }

    fn note_group(&self, model: u16, policy: u16) {
        let mut groups = match self.groups.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        if !groups.contains(&(model, policy)) && groups.len() < MAX_GROUPS {
            groups.push((model, policy));
        }
    }

    /// Records one sample.
    pub(crate) fn record(&self, s: &Sample, allow: &Allowlist) {
        self.note_group(s.model, s.policy);
        let model = allow.models.value(s.model);
        let policy = allow.policies.value(s.policy);
        // model, policy hash, device class, app id
        let mut base = Attrs::new();
        base.push(AttrKey::RequestModel, model.clone())
            .push(AttrKey::PolicyHash, policy.clone());
        self.config(&mut base);

        if let Some(exact) = &self.instruments.exact {
            self.record_exact(exact, s, allow, &base, model, policy);
        }
        if let Some(dp) = &self.instruments.dp {
            let report = {
                let mut reporter = match dp.reporter.lock() {
                    Ok(r) => r,
                    Err(poisoned) => poisoned.into_inner(),
                };
                reporter.report(
                    s.outcome.is_refusal(),
                    s.flagged,
                    s.completion_tokens,
                    SystemTime::now(),
                )
            };
            match report {
                Ok(Some(r)) => {
                    let attrs = base.as_slice();
                    dp.reports.add(1, attrs);
                    dp.refused.add(u64::from(r.refused), attrs);
                    dp.flagged.add(u64::from(r.flagged), attrs);
                    dp.output_tokens.add(r.output_tokens, attrs);
                }
                Ok(None) | Err(_) => Health::add(&self.health.dp_suppressed, 1),
            }
        }
    }

    fn record_exact(
        &self,
        exact: &crate::instruments::Exact,
        s: &Sample,
        allow: &Allowlist,
        base: &Attrs,
        model: Value,
        policy: Value,
    ) {
        let model_ran = s.outcome != Outcome::BlockedInput;
        let success = matches!(s.outcome, Outcome::Completed | Outcome::Length);
        // GenAI attributes: operation, provider, model, [error.type], policy, config.
        let mut genai = Attrs::new();
        genai
            .push(AttrKey::OperationName, Value::from("chat"))
            .push(AttrKey::ProviderName, self.provider.clone())
            .push(AttrKey::RequestModel, model);
        let mut with_error = Attrs::new();
        with_error.extend(&genai);
        if s.outcome == Outcome::Error {
            with_error.push(AttrKey::ErrorType, Value::from("inference_error"));
        }
        for a in [&mut genai, &mut with_error] {
            a.push(AttrKey::PolicyHash, policy.clone());
            self.config(a);
        }

        exact
            .operation_duration
            .record(s.total.as_secs_f64(), with_error.as_slice());
        if model_ran {
            let last_token = s
                .time_to_first_token
                .map(|t| t + s.decode)
                .unwrap_or(s.total);
            exact
                .request_duration
                .record(last_token.as_secs_f64(), with_error.as_slice());
            for (kind, n) in [("input", s.prompt_tokens), ("output", s.completion_tokens)] {
                let mut attrs = Attrs::new();
                attrs
                    .extend(&genai)
                    .push(AttrKey::TokenType, Value::from(kind));
                exact.token_usage.record(n, attrs.as_slice());
            }
        }
        if success {
            if let Some(ttft) = s.time_to_first_token {
                exact
                    .time_to_first_token
                    .record(ttft.as_secs_f64(), genai.as_slice());
            }
            if s.completion_tokens > 1 {
                let per = s.decode.as_secs_f64() / (s.completion_tokens - 1) as f64;
                exact.time_per_output_token.record(per, genai.as_slice());
            }
        }

        for hit in s.hits() {
            let mut attrs = Attrs::new();
            attrs
                .push(AttrKey::Direction, direction(hit.direction))
                .push(AttrKey::RuleId, allow.rules.value(hit.rule))
                .push(AttrKey::FindingKind, allow.kinds.value(hit.kind))
                .push(AttrKey::Action, Value::from(hit.action.as_str()))
                .extend(base);
            exact.decisions.add(u64::from(hit.count), attrs.as_slice());
        }
        let refused = match s.outcome {
            Outcome::BlockedInput => Some(Direction::Input),
            Outcome::BlockedOutput => Some(Direction::Output),
            _ => None,
        };
        if let Some(d) = refused {
            let mut attrs = Attrs::new();
            attrs.push(AttrKey::Direction, direction(d)).extend(base);
            exact.refusals.add(1, attrs.as_slice());
        }
        let mut config = Attrs::new();
        config.push(AttrKey::PolicyHash, policy);
        self.config(&mut config);
        let mut all = Attrs::new();
        all.push(AttrKey::Detector, Value::from(ALL_DETECTORS))
            .extend(&config);
        exact
            .guard_duration
            .record(s.guard.as_secs_f64(), all.as_slice());
        for d in s.detectors() {
            let mut attrs = Attrs::new();
            attrs
                .push(AttrKey::Direction, direction(d.direction))
                .push(AttrKey::Detector, allow.detectors.value(d.detector))
                .extend(&config);
            exact
                .guard_duration
                .record(d.elapsed.as_secs_f64(), attrs.as_slice());
            if d.errors > 0 {
                exact
                    .classifier_errors
                    .add(u64::from(d.errors), attrs.as_slice());
            }
        }

        let base = base.as_slice();
        if let Some(b) = s.stream_holdback_bytes {
            exact.holdback.record(u64::from(b), base);
        }
        let signals = [
            (&exact.mean_logprob, s.mean_logprob),
            (&exact.mean_entropy, s.mean_entropy),
            (&exact.max_entropy, s.max_entropy),
            (&exact.low_confidence, s.low_confidence_fraction),
            (&exact.repetition, s.repetition),
        ];
        for (hist, value) in signals {
            if let Some(v) = value {
                hist.record(f64::from(v), base);
            }
        }
        if let Some(n) = s.ungrounded_numbers {
            exact.ungrounded_numbers.record(u64::from(n), base);
        }
    }
}
