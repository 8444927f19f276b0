//! The closed metric registry: every instrument Palisade can export.
//!
//! Nothing outside this table is ever created. `docs/telemetry.md` carries a
//! table generated from it by [`markdown_table`]; a test fails when the
//! committed table is stale.

use crate::attrs::AttrKey;

/// The instrument kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// A monotonic sum.
    Counter,
    /// A sum that can go down.
    UpDownCounter,
    /// An explicit-bucket histogram.
    Histogram,
    /// The last value.
    Gauge,
}

impl MetricKind {
    /// The name used in the documentation table.
    pub const fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::UpDownCounter => "updowncounter",
            MetricKind::Histogram => "histogram",
            MetricKind::Gauge => "gauge",
        }
    }
}

/// In which privacy modes a metric is exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exposure {
    /// Exact per-request aggregates: `off` and `aggregate` only.
    Exact,
    /// Locally differentially private reports: `dp` only.
    Dp,
    /// Configuration, de-biasing parameters and exporter health: every mode.
    Always,
    /// The device-count gauge for minimum-group thresholds: `aggregate` and `dp`.
    Grouped,
}

impl Exposure {
    /// The modes, as written in the documentation table.
    pub const fn as_str(self) -> &'static str {
        match self {
            Exposure::Exact => "off, aggregate",
            Exposure::Dp => "dp",
            Exposure::Always => "off, aggregate, dp",
            Exposure::Grouped => "aggregate, dp",
        }
    }
}

/// One instrument of the registry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricSpec {
    /// Its identity in code.
    pub id: MetricId,
    /// The exported name.
    pub name: &'static str,
    /// The instrument kind.
    pub kind: MetricKind,
    /// The UCUM unit.
    pub unit: &'static str,
    /// The exported description.
    pub description: &'static str,
    /// Explicit histogram bucket boundaries (empty for other kinds).
    pub buckets: &'static [f64],
    /// The attribute keys its series may carry (a subset of the allowlist).
    pub attributes: &'static [AttrKey],
    /// The privacy modes in which it is exported.
    pub exposure: Exposure,
    /// The most distinct attribute sets it keeps; further ones are folded
    /// into one extra series marked `otel.metric.overflow=true`.
    pub cardinality_limit: usize,
}

macro_rules! metric_ids {
    ($($id:ident),* $(,)?) => {
        /// The identity of each registered metric.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[allow(missing_docs)]
        pub enum MetricId { $($id),* }

        impl MetricId {
            /// Every id, in registry order.
            pub const ALL: &'static [MetricId] = &[$(MetricId::$id),*];
        }
    };
}

metric_ids!(
    ClientOperationDuration,
    ClientTokenUsage,
    ServerRequestDuration,
    ServerTimeToFirstToken,
    ServerTimePerOutputToken,
    GuardDecisions,
    GuardRefusals,
    GuardDuration,
    ClassifierErrors,
    StreamHoldback,
    PolicyInfo,
    SignalMeanLogprob,
    SignalMeanEntropy,
    SignalMaxEntropy,
    SignalLowConfidence,
    SignalRepetition,
    SignalUngroundedNumbers,
    SignalMinLogprob,
    SignalLowConfidenceRun,
    SignalUngroundedDates,
    SignalUngroundedEntities,
    SignalContextSimilarity,
    SignalSampleConsistency,
    HallucinationRisk,
    DeviceCount,
    DpReports,
    DpRefused,
    DpFlagged,
    DpOutputTokens,
    DpTruthProbability,
    DpOutputTokensNoiseScale,
    DpOutputTokensClip,
    DpEpsilonSpent,
    ExporterQueued,
    ExporterRecordsDropped,
    ExporterBatchesDropped,
    ExporterBatchesExported,
    ExporterRetries,
);

/// Bucket advice of the GenAI semantic conventions for operation and request
/// durations (seconds).
pub const DURATION_BUCKETS: &[f64] = &[
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];
/// Bucket advice for `gen_ai.client.token.usage`.
pub const TOKEN_BUCKETS: &[f64] = &[
    1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0,
    16777216.0, 67108864.0,
];
/// Bucket advice for time to first token, extended past 10 s for CPU prefill
/// of long prompts.
pub const TTFT_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
    15.0, 20.0, 30.0, 60.0, 120.0,
];
/// Bucket advice for time per output token.
pub const TPOT_BUCKETS: &[f64] = &[
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5,
];
/// Guard latency buckets (seconds): 10 µs to 1 s.
pub const GUARD_BUCKETS: &[f64] = &[
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1, 0.25, 0.5, 1.0,
];
/// Streaming hold-back buckets (bytes).
pub const HOLDBACK_BUCKETS: &[f64] = &[
    0.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 4096.0,
];
/// Mean token log-probability buckets (nats, all <= 0).
pub const LOGPROB_BUCKETS: &[f64] = &[
    -8.0, -6.0, -4.0, -3.0, -2.0, -1.5, -1.0, -0.75, -0.5, -0.25, -0.1, -0.05, 0.0,
];
/// Entropy buckets (nats).
pub const ENTROPY_BUCKETS: &[f64] = &[
    0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0,
];
/// Buckets for fractions and scores in `0..=1`.
pub const FRACTION_BUCKETS: &[f64] = &[0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0];
/// Minimum token log-probability buckets (nats): the least likely token of an
/// answer is often far below the mean.
pub const MIN_LOGPROB_BUCKETS: &[f64] = &[
    -20.0, -15.0, -12.0, -10.0, -8.0, -6.0, -4.0, -3.0, -2.0, -1.0, -0.5, 0.0,
];
/// Buckets for cosine similarities (sentence embeddings rarely go below 0).
pub const SIMILARITY_BUCKETS: &[f64] = &[0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0];
/// Buckets for the hallucination risk score in `0..=1`.
pub const RISK_BUCKETS: &[f64] = &[0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0];
/// Buckets for small counts.
pub const COUNT_BUCKETS: &[f64] = &[0.0, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0];

use AttrKey as K;

/// Attributes shared by every per-request `palisade.*` metric.
const BASE: &[AttrKey] = &[K::RequestModel, K::PolicyHash, K::DeviceClass, K::AppId];
const GENAI_DURATION: &[AttrKey] = &[
    K::OperationName,
    K::ProviderName,
    K::RequestModel,
    K::ErrorType,
    K::PolicyHash,
    K::DeviceClass,
    K::AppId,
];
const GENAI_SUCCESS: &[AttrKey] = &[
    K::OperationName,
    K::ProviderName,
    K::RequestModel,
    K::PolicyHash,
    K::DeviceClass,
    K::AppId,
];
const GENAI_TOKENS: &[AttrKey] = &[
    K::OperationName,
    K::ProviderName,
    K::RequestModel,
    K::TokenType,
    K::PolicyHash,
    K::DeviceClass,
    K::AppId,
];
const DECISIONS: &[AttrKey] = &[
    K::Direction,
    K::RuleId,
    K::FindingKind,
    K::Action,
    K::RequestModel,
    K::PolicyHash,
    K::DeviceClass,
    K::AppId,
];
const REFUSALS: &[AttrKey] = &[
    K::Direction,
    K::RequestModel,
    K::PolicyHash,
    K::DeviceClass,
    K::AppId,
];
const DETECTOR: &[AttrKey] = &[
    K::Direction,
    K::Detector,
    K::PolicyHash,
    K::DeviceClass,
    K::AppId,
];
const POLICY: &[AttrKey] = &[K::PolicyName, K::PolicyHash, K::DeviceClass, K::AppId];
const CONFIG: &[AttrKey] = &[K::DeviceClass, K::AppId];
const NONE: &[AttrKey] = &[];

#[allow(clippy::too_many_arguments)]
const fn m(
    id: MetricId,
    name: &'static str,
    kind: MetricKind,
    unit: &'static str,
    buckets: &'static [f64],
    attributes: &'static [AttrKey],
    exposure: Exposure,
    cardinality_limit: usize,
    description: &'static str,
) -> MetricSpec {
    MetricSpec {
        id,
        name,
        kind,
        unit,
        description,
        buckets,
        attributes,
        exposure,
        cardinality_limit,
    }
}

use Exposure::{Always, Dp, Exact, Grouped};
use MetricId as I;
use MetricKind::{Counter, Gauge, Histogram, UpDownCounter};

/// The registry, in documentation order.
#[rustfmt::skip]
pub const REGISTRY: &[MetricSpec] = &[
    m(I::ClientOperationDuration, "gen_ai.client.operation.duration", Histogram, "s",
      DURATION_BUCKETS, GENAI_DURATION, Exact, 64,
      "GenAI operation duration: the whole guarded request as the app sees it."),
    m(I::ClientTokenUsage, "gen_ai.client.token.usage", Histogram, "{token}",
      TOKEN_BUCKETS, GENAI_TOKENS, Exact, 64,
      "Number of input and output tokens used."),
    m(I::ServerRequestDuration, "gen_ai.server.request.duration", Histogram, "s",
      DURATION_BUCKETS, GENAI_DURATION, Exact, 64,
      "Model server request duration: time to the last output token."),
    m(I::ServerTimeToFirstToken, "gen_ai.server.time_to_first_token", Histogram, "s",
      TTFT_BUCKETS, GENAI_SUCCESS, Exact, 64,
      "Time to generate the first token, for successful responses."),
    m(I::ServerTimePerOutputToken, "gen_ai.server.time_per_output_token", Histogram, "s",
      TPOT_BUCKETS, GENAI_SUCCESS, Exact, 64,
      "Time per output token after the first, for successful responses."),
    m(I::GuardDecisions, "palisade.guard.decisions", Counter, "{decision}",
      &[], DECISIONS, Exact, 1024,
      "Rule hits by direction, rule id, finding kind and action."),
    m(I::GuardRefusals, "palisade.guard.refusals", Counter, "{request}",
      &[], REFUSALS, Exact, 64,
      "Requests refused by the input guard or cut by the output guard."),
    m(I::GuardDuration, "palisade.guard.duration", Histogram, "s",
      GUARD_BUCKETS, DETECTOR, Exact, 128,
      "Time spent in each guard detector per request."),
    m(I::ClassifierErrors, "palisade.guard.classifier.errors", Counter, "{error}",
      &[], DETECTOR, Exact, 128,
      "Detector (classifier) failures; the guard fell back to its policy default."),
    m(I::StreamHoldback, "palisade.guard.stream.holdback", Histogram, "By",
      HOLDBACK_BUCKETS, BASE, Exact, 64,
      "Largest number of output bytes the streaming guard held back in a request."),
    m(I::PolicyInfo, "palisade.policy.info", Gauge, "{policy}",
      &[], POLICY, Always, 16,
      "1 for each registered policy, with its name and hash."),
    m(I::SignalMeanLogprob, "palisade.signal.mean_logprob", Histogram, "1",
      LOGPROB_BUCKETS, BASE, Exact, 64,
      "Mean log-probability (nats) of the generated tokens."),
    m(I::SignalMeanEntropy, "palisade.signal.mean_entropy", Histogram, "1",
      ENTROPY_BUCKETS, BASE, Exact, 64,
      "Mean entropy (nats) of the next-token distributions."),
    m(I::SignalMaxEntropy, "palisade.signal.max_entropy", Histogram, "1",
      ENTROPY_BUCKETS, BASE, Exact, 64,
      "Largest entropy (nats) of a next-token distribution in the answer."),
    m(I::SignalLowConfidence, "palisade.signal.low_confidence_fraction", Histogram, "1",
      FRACTION_BUCKETS, BASE, Exact, 64,
      "Fraction of generated tokens whose probability was below the low-confidence threshold."),
    m(I::SignalRepetition, "palisade.signal.repetition", Histogram, "1",
      FRACTION_BUCKETS, BASE, Exact, 64,
      "Repetition score of the answer: fraction of repeated token n-grams."),
    m(I::SignalUngroundedNumbers, "palisade.signal.ungrounded_numbers", Histogram, "{number}",
      COUNT_BUCKETS, BASE, Exact, 64,
      "Numbers in the answer that appear nowhere in the prompt."),
    m(I::SignalMinLogprob, "palisade.signal.min_logprob", Histogram, "1",
      MIN_LOGPROB_BUCKETS, BASE, Exact, 64,
      "Smallest log-probability (nats) of a generated token."),
    m(I::SignalLowConfidenceRun, "palisade.signal.low_confidence_run", Histogram, "{token}",
      COUNT_BUCKETS, BASE, Exact, 64,
      "Longest run of consecutive low-confidence tokens in the answer."),
    m(I::SignalUngroundedDates, "palisade.signal.ungrounded_dates", Histogram, "{date}",
      COUNT_BUCKETS, BASE, Exact, 64,
      "Dates in the answer that appear nowhere in the prompt."),
    m(I::SignalUngroundedEntities, "palisade.signal.ungrounded_entities", Histogram, "{entity}",
      COUNT_BUCKETS, BASE, Exact, 64,
      "Capitalised names in the answer that appear nowhere in the prompt."),
    m(I::SignalContextSimilarity, "palisade.signal.context_similarity", Histogram, "1",
      SIMILARITY_BUCKETS, BASE, Exact, 64,
      "Least supported answer sentence: its best cosine similarity to a prompt sentence."),
    m(I::SignalSampleConsistency, "palisade.signal.sample_consistency", Histogram, "1",
      SIMILARITY_BUCKETS, BASE, Exact, 64,
      "Mean cosine similarity of the answer to answers sampled for the same prompt."),
    m(I::HallucinationRisk, "palisade.hallucination.risk", Histogram, "1",
      RISK_BUCKETS, BASE, Exact, 64,
      "Calibrated probability (0 to 1) that the answer is hallucinated, from the signals above."),
    m(I::DeviceCount, "palisade.privacy.devices", Gauge, "{device}",
      &[], BASE, Grouped, 16,
      "1 per device and attribute set: summed by the fleet to hide groups of fewer than k devices."),
    m(I::DpReports, "palisade.dp.reports", Counter, "{report}",
      &[], BASE, Dp, 16,
      "Differentially private request reports sent within the daily privacy budget."),
    m(I::DpRefused, "palisade.dp.refused", Counter, "{report}",
      &[], BASE, Dp, 16,
      "Reports whose randomized-response `refused` bit is 1."),
    m(I::DpFlagged, "palisade.dp.flagged", Counter, "{report}",
      &[], BASE, Dp, 16,
      "Reports whose randomized-response `flagged` bit (any rule hit) is 1."),
    m(I::DpOutputTokens, "palisade.dp.output_tokens", UpDownCounter, "{token}",
      &[], BASE, Dp, 16,
      "Sum of clipped output-token counts, each with two-sided geometric noise."),
    m(I::DpTruthProbability, "palisade.dp.truth_probability", Gauge, "1",
      &[], BASE, Dp, 16,
      "Probability that a randomized-response bit is reported truthfully."),
    m(I::DpOutputTokensNoiseScale, "palisade.dp.output_tokens.noise_scale", Gauge, "{token}",
      &[], BASE, Dp, 16,
      "Scale (clip / epsilon) of the geometric noise added to each output-token count."),
    m(I::DpOutputTokensClip, "palisade.dp.output_tokens.clip", Gauge, "{token}",
      &[], BASE, Dp, 16,
      "Output-token counts are clipped to this value before noise is added."),
    m(I::DpEpsilonSpent, "palisade.dp.epsilon_spent", Gauge, "1",
      &[], CONFIG, Dp, 4,
      "Privacy budget spent today (UTC) out of the configured epsilon per day."),
    m(I::ExporterQueued, "palisade.exporter.queued", Gauge, "{batch}",
      &[], NONE, Always, 1,
      "Metric batches waiting for delivery in the on-disk spool."),
    m(I::ExporterRecordsDropped, "palisade.exporter.records.dropped", Counter, "{record}",
      &[], NONE, Exact, 1,
      "Request records dropped because the in-process queue was full."),
    m(I::ExporterBatchesDropped, "palisade.exporter.batches.dropped", Counter, "{batch}",
      &[], NONE, Always, 1,
      "Metric batches dropped: export failed and no spool, or evicted from a full spool."),
    m(I::ExporterBatchesExported, "palisade.exporter.batches.exported", Counter, "{batch}",
      &[], NONE, Always, 1,
      "Metric batches delivered, live or replayed from the spool."),
    m(I::ExporterRetries, "palisade.exporter.retries", Counter, "{retry}",
      &[], NONE, Always, 1,
      "Export attempts repeated after a failure (bounded per batch)."),
];

/// The registry entry of `id`.
pub fn spec(id: MetricId) -> &'static MetricSpec {
    // `REGISTRY` lists every id in `MetricId` order (checked by a test).
    &REGISTRY[id as usize]
}

/// The registry entry named `name`.
pub fn by_name(name: &str) -> Option<&'static MetricSpec> {
    REGISTRY.iter().find(|s| s.name == name)
}

fn fmt_buckets(buckets: &[f64]) -> String {
    if buckets.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = buckets.iter().map(|b| format!("{b}")).collect();
    parts.join(", ")
}

/// The documentation tables (metrics, then attributes), exactly as committed
/// in `docs/telemetry.md` between the generated-table markers.
pub fn markdown_table() -> String {
    let mut out = String::new();
    out.push_str("| metric | kind | unit | attributes | buckets | modes | max series |\n");
    out.push_str("|---|---|---|---|---|---|---|\n");
    for s in REGISTRY {
        let attrs: Vec<String> = s
            .attributes
            .iter()
            .map(|a| format!("`{}`", a.name()))
            .collect();
        out.push_str(&format!(
            "| `{}` | {} | `{}` | {} | {} | {} | {} |\n",
            s.name,
            s.kind.as_str(),
            s.unit,
            attrs.join(", "),
            fmt_buckets(s.buckets),
            s.exposure.as_str(),
            s.cardinality_limit,
        ));
    }
    out.push('\n');
    out.push_str("| metric | description |\n|---|---|\n");
    for s in REGISTRY {
        out.push_str(&format!("| `{}` | {} |\n", s.name, s.description));
    }
    out.push('\n');
    out.push_str("| attribute | values |\n|---|---|\n");
    for key in AttrKey::ALL {
        out.push_str(&format!("| `{}` | {} |\n", key.name(), key.values()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_lists_every_id_in_order() {
        assert_eq!(REGISTRY.len(), MetricId::ALL.len());
        for (i, id) in MetricId::ALL.iter().enumerate() {
            assert_eq!(REGISTRY[i].id, *id, "entry {i}");
            assert_eq!(spec(*id).id, *id);
        }
    }

    #[test]
    fn names_are_unique_and_histograms_have_sorted_buckets() {
        for (i, s) in REGISTRY.iter().enumerate() {
            assert!(
                REGISTRY[i + 1..].iter().all(|o| o.name != s.name),
                "{}",
                s.name
            );
            assert_eq!(by_name(s.name).map(|f| f.id), Some(s.id));
            if s.kind == MetricKind::Histogram {
                assert!(!s.buckets.is_empty(), "{}", s.name);
                assert!(s.buckets.windows(2).all(|w| w[0] < w[1]), "{}", s.name);
            } else {
                assert!(s.buckets.is_empty(), "{}", s.name);
            }
            assert!(s.cardinality_limit >= 1);
        }
    }

    #[test]
    fn genai_metrics_follow_the_semantic_conventions() {
        let ttft = spec(MetricId::ServerTimeToFirstToken);
        assert_eq!(ttft.unit, "s");
        assert_eq!(
            &ttft.buckets[..16],
            &[
                0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0,
                7.5, 10.0
            ]
        );
        assert!(ttft.buckets.iter().any(|b| *b > 10.0));
        let usage = spec(MetricId::ClientTokenUsage);
        assert_eq!((usage.unit, usage.buckets.len()), ("{token}", 14));
        assert!(usage.attributes.contains(&AttrKey::TokenType));
        for id in [
            MetricId::ClientOperationDuration,
            MetricId::ClientTokenUsage,
            MetricId::ServerRequestDuration,
            MetricId::ServerTimeToFirstToken,
            MetricId::ServerTimePerOutputToken,
        ] {
            let s = spec(id);
            assert!(s.name.starts_with("gen_ai."));
            for required in [
                AttrKey::OperationName,
                AttrKey::ProviderName,
                AttrKey::RequestModel,
            ] {
                assert!(
                    s.attributes.contains(&required),
                    "{} lacks {required:?}",
                    s.name
                );
            }
        }
    }
}
