//! Applies samples to the instruments, on the telemetry worker thread.

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use opentelemetry::{KeyValue, Value};

use crate::allowlist::Allowlist;
use crate::attrs::AttrKey;
use crate::bound::{Key, Series};
use crate::export::health::Health;
use crate::instruments::{Exact, Instruments, key};
use crate::record::{Direction, Outcome};
use crate::registry::MetricId;
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

impl AsRef<[KeyValue]> for Attrs {
    fn as_ref(&self) -> &[KeyValue] {
        self.as_slice()
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
    pub(crate) series: Series,
}

/// The most (model, policy) groups tracked for the device-count gauge.
const MAX_GROUPS: usize = 16;

/// Attribute values shared by a sample's series.
struct Ctx<'a> {
    allow: &'a Allowlist,
    provider: &'a Value,
    device_class: Option<&'a Value>,
    app_id: Option<&'a Value>,
    model: u16,
    policy: u16,
}

impl Ctx<'_> {
    fn config(&self, attrs: &mut Attrs) {
        if let Some(c) = self.device_class {
            attrs.push(AttrKey::DeviceClass, c.clone());
        }
        if let Some(a) = self.app_id {
            attrs.push(AttrKey::AppId, a.clone());
        }
    }

    /// model, policy hash, device class, app id
    fn base(&self) -> Attrs {
        let mut a = Attrs::new();
        a.push(AttrKey::RequestModel, self.allow.models.value(self.model))
            .push(AttrKey::PolicyHash, self.allow.policies.value(self.policy));
        self.config(&mut a);
        a
    }

    /// operation, provider, model, [error.type], policy hash, config
    fn genai(&self, error: bool) -> Attrs {
        let mut a = Attrs::new();
        a.push(AttrKey::OperationName, Value::from("chat"))
            .push(AttrKey::ProviderName, self.provider.clone())
            .push(AttrKey::RequestModel, self.allow.models.value(self.model));
        if error {
            a.push(AttrKey::ErrorType, Value::from("inference_error"));
        }
        a.push(AttrKey::PolicyHash, self.allow.policies.value(self.policy));
        self.config(&mut a);
        a
    }

    fn key(&self, metric: MetricId, slot: u8, a: u16, b: u16) -> Key {
        Key {
            metric,
            slot,
            ids: [self.model, self.policy, a, b],
        }
    }
}

fn direction_slot(d: Direction) -> u8 {
    match d {
        Direction::Input => 0,
        Direction::Output => 1,
    }
}

impl Recorder {
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
    pub(crate) fn record(&mut self, s: &Sample, allow: &Allowlist) {
        self.note_group(s.model, s.policy);
        let ctx = Ctx {
            allow,
            provider: &self.provider,
            device_class: self.device_class.as_ref(),
            app_id: self.app_id.as_ref(),
            model: s.model,
            policy: s.policy,
        };
        if let Some(exact) = &self.instruments.exact {
            record_exact(exact, &mut self.series, &ctx, s);
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
                    let series = &mut self.series;
                    let base = || ctx.base();
                    series.counters.measure(
                        &dp.reports,
                        ctx.key(MetricId::DpReports, 0, 0, 0),
                        1,
                        base,
                    );
                    series.counters.measure(
                        &dp.refused,
                        ctx.key(MetricId::DpRefused, 0, 0, 0),
                        u64::from(r.refused),
                        base,
                    );
                    series.counters.measure(
                        &dp.flagged,
                        ctx.key(MetricId::DpFlagged, 0, 0, 0),
                        u64::from(r.flagged),
                        base,
                    );
                    series.up_down.measure(
                        &dp.output_tokens,
                        ctx.key(MetricId::DpOutputTokens, 0, 0, 0),
                        r.output_tokens,
                        base,
                    );
                }
                Ok(None) | Err(_) => Health::add(&self.health.dp_suppressed, 1),
            }
        }
    }
}

fn record_exact(exact: &Exact, series: &mut Series, ctx: &Ctx<'_>, s: &Sample) {
    use MetricId as I;
    let model_ran = s.outcome != Outcome::BlockedInput;
    let success = matches!(s.outcome, Outcome::Completed | Outcome::Length);
    let error = s.outcome == Outcome::Error;
    let (hist, counters) = (&mut series.f64_histograms, &mut series.counters);

    hist.measure(
        &exact.operation_duration,
        ctx.key(I::ClientOperationDuration, u8::from(error), 0, 0),
        s.total.as_secs_f64(),
        || ctx.genai(error),
    );
    if model_ran {
        let last_token = s
            .time_to_first_token
            .map(|t| t + s.decode)
            .unwrap_or(s.total);
        hist.measure(
            &exact.request_duration,
            ctx.key(I::ServerRequestDuration, u8::from(error), 0, 0),
            last_token.as_secs_f64(),
            || ctx.genai(error),
        );
        for (slot, kind, n) in [
            (0, "input", s.prompt_tokens),
            (1, "output", s.completion_tokens),
        ] {
            series.u64_histograms.measure(
                &exact.token_usage,
                ctx.key(I::ClientTokenUsage, slot, 0, 0),
                n,
                || {
                    let mut a = ctx.genai(false);
                    a.push(AttrKey::TokenType, Value::from(kind));
                    a
                },
            );
        }
    }
    if success {
        if let Some(ttft) = s.time_to_first_token {
            hist.measure(
                &exact.time_to_first_token,
                ctx.key(I::ServerTimeToFirstToken, 0, 0, 0),
                ttft.as_secs_f64(),
                || ctx.genai(false),
            );
        }
        if s.completion_tokens > 1 {
            let per = s.decode.as_secs_f64() / (s.completion_tokens - 1) as f64;
            hist.measure(
                &exact.time_per_output_token,
                ctx.key(I::ServerTimePerOutputToken, 0, 0, 0),
                per,
                || ctx.genai(false),
            );
        }
    }

    for hit in s.hits() {
        let slot = direction_slot(hit.direction) * 4 + hit.action as u8;
        counters.measure(
            &exact.decisions,
            ctx.key(I::GuardDecisions, slot, hit.rule, hit.kind),
            u64::from(hit.count),
            || {
                let mut a = Attrs::new();
                a.push(AttrKey::Direction, direction(hit.direction))
                    .push(AttrKey::RuleId, ctx.allow.rules.value(hit.rule))
                    .push(AttrKey::FindingKind, ctx.allow.kinds.value(hit.kind))
                    .push(AttrKey::Action, Value::from(hit.action.as_str()))
                    .extend(&ctx.base());
                a
            },
        );
    }
    let refused = match s.outcome {
        Outcome::BlockedInput => Some(Direction::Input),
        Outcome::BlockedOutput => Some(Direction::Output),
        _ => None,
    };
    if let Some(d) = refused {
        counters.measure(
            &exact.refusals,
            ctx.key(I::GuardRefusals, direction_slot(d), 0, 0),
            1,
            || {
                let mut a = Attrs::new();
                a.push(AttrKey::Direction, direction(d)).extend(&ctx.base());
                a
            },
        );
    }
    // Detector series carry the policy hash and configuration, not the model.
    let detector_attrs = |d: Option<(Direction, u16)>| {
        let mut a = Attrs::new();
        match d {
            Some((dir, det)) => {
                a.push(AttrKey::Direction, direction(dir))
                    .push(AttrKey::Detector, ctx.allow.detectors.value(det));
            }
            None => {
                a.push(AttrKey::Detector, Value::from(ALL_DETECTORS));
            }
        }
        a.push(AttrKey::PolicyHash, ctx.allow.policies.value(ctx.policy));
        ctx.config(&mut a);
        a
    };
    let detector_key = |metric: MetricId, slot: u8, det: u16| Key {
        metric,
        slot,
        ids: [0, ctx.policy, det, 0],
    };
    hist.measure(
        &exact.guard_duration,
        detector_key(I::GuardDuration, 2, 0),
        s.guard.as_secs_f64(),
        || detector_attrs(None),
    );
    for d in s.detectors() {
        let slot = direction_slot(d.direction);
        let attrs = || detector_attrs(Some((d.direction, d.detector)));
        hist.measure(
            &exact.guard_duration,
            detector_key(I::GuardDuration, slot, d.detector),
            d.elapsed.as_secs_f64(),
            attrs,
        );
        if d.errors > 0 {
            counters.measure(
                &exact.classifier_errors,
                detector_key(I::ClassifierErrors, slot, d.detector),
                u64::from(d.errors),
                attrs,
            );
        }
    }

    if let Some(b) = s.stream_holdback_bytes {
        series.u64_histograms.measure(
            &exact.holdback,
            ctx.key(I::StreamHoldback, 0, 0, 0),
            u64::from(b),
            || ctx.base(),
        );
    }
    let signals = [
        (&exact.mean_logprob, I::SignalMeanLogprob, s.mean_logprob),
        (&exact.mean_entropy, I::SignalMeanEntropy, s.mean_entropy),
        (&exact.max_entropy, I::SignalMaxEntropy, s.max_entropy),
        (
            &exact.low_confidence,
            I::SignalLowConfidence,
            s.low_confidence_fraction,
        ),
        (&exact.repetition, I::SignalRepetition, s.repetition),
        (&exact.min_logprob, I::SignalMinLogprob, s.min_logprob),
        (
            &exact.context_similarity,
            I::SignalContextSimilarity,
            s.context_similarity,
        ),
        (
            &exact.sample_consistency,
            I::SignalSampleConsistency,
            s.sample_consistency,
        ),
        (
            &exact.hallucination_risk,
            I::HallucinationRisk,
            s.hallucination_risk,
        ),
    ];
    for (h, id, value) in signals {
        if let Some(v) = value {
            hist.measure(h, ctx.key(id, 0, 0, 0), f64::from(v), || ctx.base());
        }
    }
    let counts = [
        (
            &exact.ungrounded_numbers,
            I::SignalUngroundedNumbers,
            s.ungrounded_numbers,
        ),
        (
            &exact.low_confidence_run,
            I::SignalLowConfidenceRun,
            s.longest_low_confidence_run,
        ),
        (
            &exact.ungrounded_dates,
            I::SignalUngroundedDates,
            s.ungrounded_dates,
        ),
        (
            &exact.ungrounded_entities,
            I::SignalUngroundedEntities,
            s.ungrounded_entities,
        ),
    ];
    for (h, id, value) in counts {
        if let Some(n) = value {
            series
                .u64_histograms
                .measure(h, ctx.key(id, 0, 0, 0), u64::from(n), || ctx.base());
        }
    }
}
