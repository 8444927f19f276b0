//! OpenTelemetry instruments created from the registry, for one privacy mode.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use opentelemetry::metrics::{Counter, Histogram, Meter, UpDownCounter};
use opentelemetry::{Key, KeyValue, Value};

use crate::allowlist::Allowlist;
use crate::attrs::AttrKey;
use crate::config::{PrivacyMode, StaticAttributes};
use crate::export::health::Health;
use crate::privacy::{DpParams, DpReporter};
use crate::registry::{Exposure, MetricId, spec};

/// Whether `id` is exported in `mode`.
pub(crate) fn exported(id: MetricId, mode: PrivacyMode) -> bool {
    match (spec(id).exposure, mode) {
        (Exposure::Always, _) => true,
        (Exposure::Exact, m) => m != PrivacyMode::Dp,
        (Exposure::Dp, m) => m == PrivacyMode::Dp,
        (Exposure::Grouped, m) => m != PrivacyMode::Off,
    }
}

pub(crate) fn key(k: AttrKey) -> Key {
    Key::from_static_str(k.name())
}

fn f64_hist(meter: &Meter, id: MetricId) -> Histogram<f64> {
    let s = spec(id);
    meter
        .f64_histogram(s.name)
        .with_unit(s.unit)
        .with_description(s.description)
        .with_boundaries(s.buckets.to_vec())
        .build()
}

fn u64_hist(meter: &Meter, id: MetricId) -> Histogram<u64> {
    let s = spec(id);
    meter
        .u64_histogram(s.name)
        .with_unit(s.unit)
        .with_description(s.description)
        .with_boundaries(s.buckets.to_vec())
        .build()
}

fn counter(meter: &Meter, id: MetricId) -> Counter<u64> {
    let s = spec(id);
    meter
        .u64_counter(s.name)
        .with_unit(s.unit)
        .with_description(s.description)
        .build()
}

/// The exact per-request instruments (`off` and `aggregate`).
pub(crate) struct Exact {
    pub(crate) operation_duration: Histogram<f64>,
    pub(crate) token_usage: Histogram<u64>,
    pub(crate) request_duration: Histogram<f64>,
    pub(crate) time_to_first_token: Histogram<f64>,
    pub(crate) time_per_output_token: Histogram<f64>,
    pub(crate) decisions: Counter<u64>,
    pub(crate) refusals: Counter<u64>,
    pub(crate) guard_duration: Histogram<f64>,
    pub(crate) classifier_errors: Counter<u64>,
    pub(crate) holdback: Histogram<u64>,
    pub(crate) mean_logprob: Histogram<f64>,
    pub(crate) mean_entropy: Histogram<f64>,
    pub(crate) max_entropy: Histogram<f64>,
    pub(crate) low_confidence: Histogram<f64>,
    pub(crate) repetition: Histogram<f64>,
    pub(crate) ungrounded_numbers: Histogram<u64>,
    pub(crate) min_logprob: Histogram<f64>,
    pub(crate) low_confidence_run: Histogram<u64>,
    pub(crate) ungrounded_dates: Histogram<u64>,
    pub(crate) ungrounded_entities: Histogram<u64>,
    pub(crate) context_similarity: Histogram<f64>,
    pub(crate) sample_consistency: Histogram<f64>,
    pub(crate) hallucination_risk: Histogram<f64>,
}

impl Exact {
    fn new(meter: &Meter) -> Self {
        use MetricId as I;
        Self {
            operation_duration: f64_hist(meter, I::ClientOperationDuration),
            token_usage: u64_hist(meter, I::ClientTokenUsage),
            request_duration: f64_hist(meter, I::ServerRequestDuration),
            time_to_first_token: f64_hist(meter, I::ServerTimeToFirstToken),
            time_per_output_token: f64_hist(meter, I::ServerTimePerOutputToken),
            decisions: counter(meter, I::GuardDecisions),
            refusals: counter(meter, I::GuardRefusals),
            guard_duration: f64_hist(meter, I::GuardDuration),
            classifier_errors: counter(meter, I::ClassifierErrors),
            holdback: u64_hist(meter, I::StreamHoldback),
            mean_logprob: f64_hist(meter, I::SignalMeanLogprob),
            mean_entropy: f64_hist(meter, I::SignalMeanEntropy),
            max_entropy: f64_hist(meter, I::SignalMaxEntropy),
            low_confidence: f64_hist(meter, I::SignalLowConfidence),
            repetition: f64_hist(meter, I::SignalRepetition),
            ungrounded_numbers: u64_hist(meter, I::SignalUngroundedNumbers),
            min_logprob: f64_hist(meter, I::SignalMinLogprob),
            low_confidence_run: u64_hist(meter, I::SignalLowConfidenceRun),
            ungrounded_dates: u64_hist(meter, I::SignalUngroundedDates),
            ungrounded_entities: u64_hist(meter, I::SignalUngroundedEntities),
            context_similarity: f64_hist(meter, I::SignalContextSimilarity),
            sample_consistency: f64_hist(meter, I::SignalSampleConsistency),
            hallucination_risk: f64_hist(meter, I::HallucinationRisk),
        }
    }
}

/// The `dp` instruments and the reporter that feeds them.
pub(crate) struct Dp {
    pub(crate) reports: Counter<u64>,
    pub(crate) refused: Counter<u64>,
    pub(crate) flagged: Counter<u64>,
    pub(crate) output_tokens: UpDownCounter<i64>,
    pub(crate) reporter: Arc<Mutex<DpReporter>>,
}

/// State the observable instruments read at each collection.
pub(crate) struct Observed {
    pub(crate) allow: Arc<RwLock<Arc<Allowlist>>>,
    pub(crate) statics: Arc<StaticAttributes>,
    pub(crate) health: Arc<Health>,
    /// (model, policy) index pairs seen in requests: the device's groups.
    pub(crate) groups: Arc<Mutex<Vec<(u16, u16)>>>,
}

/// Every instrument of one sink.
pub(crate) struct Instruments {
    pub(crate) exact: Option<Exact>,
    pub(crate) dp: Option<Dp>,
}

fn read_allow(allow: &RwLock<Arc<Allowlist>>) -> Arc<Allowlist> {
    match allow.read() {
        Ok(a) => Arc::clone(&a),
        Err(poisoned) => Arc::clone(&poisoned.into_inner()),
    }
}

/// The configured device class and app id as attributes.
pub(crate) fn config_attrs(statics: &StaticAttributes) -> Vec<KeyValue> {
    let mut out = Vec::with_capacity(2);
    if let Some(c) = &statics.device_class {
        out.push(KeyValue::new(key(AttrKey::DeviceClass), c.clone()));
    }
    if let Some(a) = &statics.app_id {
        out.push(KeyValue::new(key(AttrKey::AppId), a.clone()));
    }
    out
}

/// The base attributes of a (model, policy) group.
pub(crate) fn group_attrs(
    allow: &Allowlist,
    statics: &StaticAttributes,
    model: u16,
    policy: u16,
) -> Vec<KeyValue> {
    let mut out = vec![
        KeyValue::new(key(AttrKey::RequestModel), allow.models.value(model)),
        KeyValue::new(key(AttrKey::PolicyHash), allow.policies.value(policy)),
    ];
    out.extend(config_attrs(statics));
    out
}

fn register_observables(
    meter: &Meter,
    mode: PrivacyMode,
    obs: &Observed,
    dp: Option<(&DpParams, Arc<Mutex<DpReporter>>)>,
) {
    use MetricId as I;
    let s = spec(I::PolicyInfo);
    let (allow, statics) = (obs.allow.clone(), obs.statics.clone());
    meter
        .u64_observable_gauge(s.name)
        .with_unit(s.unit)
        .with_description(s.description)
        .with_callback(move |o| {
            let a = read_allow(&allow);
            for (i, hash) in a.policies.registered() {
                let mut attrs = vec![
                    KeyValue::new(
                        key(AttrKey::PolicyName),
                        a.policy_names
                            .get(usize::from(i))
                            .cloned()
                            .unwrap_or_else(|| Value::from("")),
                    ),
                    KeyValue::new(key(AttrKey::PolicyHash), hash.clone()),
                ];
                attrs.extend(config_attrs(&statics));
                o.observe(1, &attrs);
            }
        })
        .build();

    if exported(I::DeviceCount, mode) {
        let s = spec(I::DeviceCount);
        let (allow, statics, groups) = (obs.allow.clone(), obs.statics.clone(), obs.groups.clone());
        meter
            .u64_observable_gauge(s.name)
            .with_unit(s.unit)
            .with_description(s.description)
            .with_callback(move |o| {
                let a = read_allow(&allow);
                let seen = match groups.lock() {
                    Ok(g) => g.clone(),
                    Err(poisoned) => poisoned.into_inner().clone(),
                };
                for (model, policy) in seen {
                    o.observe(1, &group_attrs(&a, &statics, model, policy));
                }
            })
            .build();
    }

    let health_counter = |id: MetricId, read: fn(&Health) -> &AtomicU64| {
        if !exported(id, mode) {
            return;
        }
        let s = spec(id);
        let health = obs.health.clone();
        meter
            .u64_observable_counter(s.name)
            .with_unit(s.unit)
            .with_description(s.description)
            .with_callback(move |o| o.observe(read(&health).load(Ordering::Relaxed), &[]))
            .build();
    };
    health_counter(I::ExporterRecordsDropped, |h| &h.records_dropped);
    health_counter(I::ExporterBatchesDropped, |h| &h.batches_dropped);
    health_counter(I::ExporterBatchesExported, |h| &h.batches_exported);
    health_counter(I::ExporterRetries, |h| &h.retries);
    let s = spec(I::ExporterQueued);
    let health = obs.health.clone();
    meter
        .u64_observable_gauge(s.name)
        .with_unit(s.unit)
        .with_description(s.description)
        .with_callback(move |o| o.observe(health.queued.load(Ordering::Relaxed), &[]))
        .build();

    if let Some((params, reporter)) = dp {
        let constant = |id: MetricId, value: f64| {
            let s = spec(id);
            let (allow, statics, groups) =
                (obs.allow.clone(), obs.statics.clone(), obs.groups.clone());
            meter
                .f64_observable_gauge(s.name)
                .with_unit(s.unit)
                .with_description(s.description)
                .with_callback(move |o| {
                    let a = read_allow(&allow);
                    let seen = match groups.lock() {
                        Ok(g) => g.clone(),
                        Err(poisoned) => poisoned.into_inner().clone(),
                    };
                    for (model, policy) in seen {
                        o.observe(value, &group_attrs(&a, &statics, model, policy));
                    }
                })
                .build();
        };
        constant(I::DpTruthProbability, params.bits.truth_probability());
        constant(I::DpOutputTokensNoiseScale, params.tokens.scale());
        constant(I::DpOutputTokensClip, f64::from(params.tokens.clip()));
        let s = spec(I::DpEpsilonSpent);
        let statics = obs.statics.clone();
        meter
            .f64_observable_gauge(s.name)
            .with_unit(s.unit)
            .with_description(s.description)
            .with_callback(move |o| {
                let spent = match reporter.lock() {
                    Ok(r) => r.ledger().spent(std::time::SystemTime::now()),
                    Err(poisoned) => poisoned
                        .into_inner()
                        .ledger()
                        .spent(std::time::SystemTime::now()),
                };
                o.observe(spent, &config_attrs(&statics));
            })
            .build();
    }
}

impl Instruments {
    /// Creates the instruments of `mode` on `meter`.
    pub(crate) fn new(
        meter: &Meter,
        mode: PrivacyMode,
        obs: &Observed,
        dp: Option<DpReporter>,
    ) -> Self {
        use MetricId as I;
        let exact = (mode != PrivacyMode::Dp).then(|| Exact::new(meter));
        let dp = dp.map(|reporter| {
            let params = reporter.params();
            let reporter = Arc::new(Mutex::new(reporter));
            register_observables(meter, mode, obs, Some((&params, reporter.clone())));
            let s = spec(I::DpOutputTokens);
            Dp {
                reports: counter(meter, I::DpReports),
                refused: counter(meter, I::DpRefused),
                flagged: counter(meter, I::DpFlagged),
                output_tokens: meter
                    .i64_up_down_counter(s.name)
                    .with_unit(s.unit)
                    .with_description(s.description)
                    .build(),
                reporter,
            }
        });
        if dp.is_none() {
            register_observables(meter, mode, obs, None);
        }
        Self { exact, dp }
    }
}
