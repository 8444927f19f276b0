//! The four fleet dashboards, built from the metric registry: fleet
//! overview, guardrails, quality and rollout. Every query hides groups
//! reported by fewer than `$k` devices (see [`super::promql::visible`]).
//!
//! The quality dashboard gets a distribution panel for every registry
//! histogram under [`QUALITY_PREFIXES`], so a new signal such as
//! `palisade.hallucination.risk` appears without further code.

use super::dashboard::{Dashboard, Panel, PanelKind};
use super::promql::{
    Part, devices_at_least_k, label, labels, last_in_range, rate, selector, visible,
};
use crate::attrs::AttrKey;
use crate::registry::{MetricId as I, MetricKind, MetricSpec, REGISTRY};

/// Registry name prefixes whose metrics are answer-quality signals.
pub const QUALITY_PREFIXES: &[&str] = &["palisade.signal.", "palisade.hallucination."];

/// Title of the stat panel with the exact devices' request total.
pub const REQUESTS_TOTAL: &str = "Requests (exact devices, since start)";
/// Title of the stat panel with the exact devices' refusal total.
pub const REFUSALS_TOTAL: &str = "Refusals (exact devices, since start)";
/// Title of the stat panel with the de-biased refusal rate of `dp` devices.
pub const DP_REFUSAL_RATE: &str = "Refusal rate, de-biased (dp devices, since start)";
/// Title of the stat panel with that rate's standard error.
pub const DP_REFUSAL_RATE_ERROR: &str = "Refusal rate standard error (dp devices)";
/// Title of the stat panel counting devices in shown groups.
pub const DEVICES_TOTAL: &str = "Devices in groups of at least k";

const MODEL: AttrKey = AttrKey::RequestModel;
const CLASS: AttrKey = AttrKey::DeviceClass;
const BY_MODEL_CLASS: &[AttrKey] = &[MODEL, CLASS];
const MODEL_CLASS_LEGEND: &str = "{{gen_ai_request_model}} / {{palisade_device_class}}";
const HIDDEN: &str = "Groups reported by fewer than $k devices are hidden.";

/// `sum by (keys) (visible(expr))`.
fn sum_by(keys: &[AttrKey], id: I, expr: &str) -> String {
    format!("sum by ({}) ({})", labels(keys), visible(id, expr))
}

/// A quantile of histogram `id` over `$__rate_interval`, by `keys`.
fn quantile(q: f64, id: I, keys: &[AttrKey]) -> String {
    let by = if keys.is_empty() {
        "le".to_owned()
    } else {
        format!("le, {}", labels(keys))
    };
    format!(
        "histogram_quantile({q}, sum by ({by}) ({}))",
        visible(id, &rate(id, Part::Bucket, &[]))
    )
}

fn quantiles_panel(id: I, title: &str, keys: &[AttrKey], legend: &str) -> Panel {
    let mut p = Panel::new(
        PanelKind::TimeSeries,
        title,
        "s",
        &format!("p50, p95 and p99 of `{}`. {HIDDEN}", spec_name(id)),
    );
    for q in [0.5, 0.95, 0.99] {
        p = p.query(
            quantile(q, id, keys),
            &format!("p{} {legend}", (q * 100.0).round()),
        );
    }
    p
}

fn spec_name(id: I) -> &'static str {
    crate::registry::spec(id).name
}

/// The per-series de-biased count of randomized-response bits: `(ones - n
/// (1 - p)) / (2p - 1)`, from expressions for ones, reports and p.
fn debiased(ones: &str, reports: &str, p: &str) -> String {
    format!("(({ones}) - ({reports}) * (1 - ({p}))) / (2 * ({p}) - 1)")
}

fn fleet_overview() -> Dashboard {
    let requests = rate(I::ClientOperationDuration, Part::Count, &[]);
    let failed = rate(
        I::ClientOperationDuration,
        Part::Count,
        &[(AttrKey::ErrorType, "inference_error")],
    );
    let tokens = rate(I::ClientTokenUsage, Part::Sum, &[]);
    Dashboard {
        uid: "palisade-fleet-overview",
        title: "Palisade / Fleet overview",
        description: "Requests, latency and throughput across the fleet, by model and device class.",
        panels: vec![
            Panel::new(PanelKind::Stat, DEVICES_TOTAL, "short", HIDDEN).query(
                format!("sum({})", devices_at_least_k(super::promql::group_keys())),
                "devices",
            ),
            Panel::new(
                PanelKind::Stat,
                REQUESTS_TOTAL,
                "short",
                "Requests of devices in `off` or `aggregate` mode, summed over each device's total since it started (a restart resets it).",
            )
            .query(
                format!(
                    "sum({})",
                    visible(
                        I::ClientOperationDuration,
                        &last_in_range(I::ClientOperationDuration, Part::Count)
                    )
                ),
                "requests",
            ),
            Panel::new(PanelKind::TimeSeries, "Requests per second", "reqps", HIDDEN).query(
                sum_by(BY_MODEL_CLASS, I::ClientOperationDuration, &requests),
                MODEL_CLASS_LEGEND,
            ),
            Panel::new(PanelKind::TimeSeries, "Failed requests per second", "reqps", HIDDEN)
                .query(
                    sum_by(&[MODEL], I::ClientOperationDuration, &failed),
                    "{{gen_ai_request_model}}",
                ),
            quantiles_panel(
                I::ServerTimeToFirstToken,
                "Time to first token",
                BY_MODEL_CLASS,
                MODEL_CLASS_LEGEND,
            ),
            quantiles_panel(
                I::ServerTimePerOutputToken,
                "Time per output token",
                BY_MODEL_CLASS,
                MODEL_CLASS_LEGEND,
            ),
            Panel::new(
                PanelKind::TimeSeries,
                "Tokens per second",
                "short",
                &format!("Input and output tokens per second. {HIDDEN}"),
            )
            .query(
                sum_by(
                    &[MODEL, CLASS, AttrKey::TokenType],
                    I::ClientTokenUsage,
                    &tokens,
                ),
                "{{gen_ai_token_type}} {{gen_ai_request_model}} / {{palisade_device_class}}",
            ),
            quantiles_panel(
                I::ClientOperationDuration,
                "Request duration (as the app sees it)",
                &[MODEL],
                "{{gen_ai_request_model}}",
            ),
            quantiles_panel(
                I::ServerRequestDuration,
                "Model time to last token",
                &[MODEL],
                "{{gen_ai_request_model}}",
            ),
        ],
    }
}

fn dp_rate_panel(title: &str, ones: I, what: &str) -> Panel {
    let per_series = debiased(
        &rate(ones, Part::Value, &[]),
        &rate(I::DpReports, Part::Value, &[]),
        &selector(I::DpTruthProbability, Part::Value, &[]),
    );
    Panel::new(
        PanelKind::TimeSeries,
        title,
        "percentunit",
        &format!(
            "Share of {what} among `dp` devices' reports, de-biased per device with its \
             truth probability: (ones - n(1 - p)) / (2p - 1) / n. {HIDDEN}"
        ),
    )
    .query(
        format!(
            "{} / {}",
            sum_by(&[MODEL], I::DpReports, &per_series),
            sum_by(
                &[MODEL],
                I::DpReports,
                &rate(I::DpReports, Part::Value, &[])
            )
        ),
        "{{gen_ai_request_model}}",
    )
}

fn guardrails() -> Dashboard {
    let refusals = rate(I::GuardRefusals, Part::Value, &[]);
    let requests = rate(I::ClientOperationDuration, Part::Count, &[]);
    let reports = last_in_range(I::DpReports, Part::Value);
    let p = format!(
        "last_over_time({}[$__range])",
        selector(I::DpTruthProbability, Part::Value, &[])
    );
    let debiased_total = debiased(&last_in_range(I::DpRefused, Part::Value), &reports, &p);
    let variance = format!("({reports}) * ({p}) * (1 - ({p})) / (2 * ({p}) - 1) ^ 2");
    Dashboard {
        uid: "palisade-guardrails",
        title: "Palisade / Guardrails",
        description: "Refusals (exact, and de-biased for devices with differential privacy) and rule hits.",
        panels: vec![
            Panel::new(
                PanelKind::Stat,
                REFUSALS_TOTAL,
                "short",
                "Refusals of devices in `off` or `aggregate` mode, summed over each device's total since it started.",
            )
            .query(
                format!(
                    "sum({})",
                    visible(I::GuardRefusals, &last_in_range(I::GuardRefusals, Part::Value))
                ),
                "refusals",
            ),
            Panel::new(
                PanelKind::Stat,
                DP_REFUSAL_RATE,
                "percentunit",
                "De-biased share of refused requests among the reports of `dp` devices.",
            )
            .query(
                format!(
                    "sum({}) / sum({})",
                    visible(I::DpRefused, &debiased_total),
                    visible(I::DpReports, &reports)
                ),
                "refusal rate",
            ),
            Panel::new(
                PanelKind::Stat,
                DP_REFUSAL_RATE_ERROR,
                "percentunit",
                "One standard error of the de-biased rate: sqrt(sum n p(1-p)/(2p-1)^2) / sum n.",
            )
            .query(
                format!(
                    "sqrt(sum({})) / sum({})",
                    visible(I::DpReports, &variance),
                    visible(I::DpReports, &reports)
                ),
                "standard error",
            ),
            Panel::new(
                PanelKind::TimeSeries,
                "Refusal rate (exact devices)",
                "percentunit",
                HIDDEN,
            )
            .query(
                format!(
                    "{} / {}",
                    sum_by(BY_MODEL_CLASS, I::GuardRefusals, &refusals),
                    sum_by(BY_MODEL_CLASS, I::ClientOperationDuration, &requests)
                ),
                MODEL_CLASS_LEGEND,
            ),
            dp_rate_panel(
                "Refusal rate, de-biased (dp devices)",
                I::DpRefused,
                "refused requests",
            ),
            dp_rate_panel(
                "Flagged rate, de-biased (dp devices)",
                I::DpFlagged,
                "requests with any rule hit",
            ),
            Panel::new(
                PanelKind::TimeSeries,
                "Rule hits by rule id and action",
                "short",
                &format!("Hits per second. {HIDDEN}"),
            )
            .query(
                sum_by(
                    &[AttrKey::RuleId, AttrKey::Action],
                    I::GuardDecisions,
                    &rate(I::GuardDecisions, Part::Value, &[]),
                ),
                "{{palisade_rule_id}} {{palisade_guard_action}}",
            ),
            quantiles_panel(
                I::GuardDuration,
                "Guard time by detector",
                &[AttrKey::Detector],
                "{{palisade_guard_detector}}",
            ),
            Panel::new(
                PanelKind::TimeSeries,
                "Classifier errors by detector",
                "short",
                &format!("Detector failures per second; the guard used its policy default. {HIDDEN}"),
            )
            .query(
                sum_by(
                    &[AttrKey::Detector],
                    I::ClassifierErrors,
                    &rate(I::ClassifierErrors, Part::Value, &[]),
                ),
                "{{palisade_guard_detector}}",
            ),
            Panel::new(
                PanelKind::TimeSeries,
                "Streaming hold-back p95",
                "bytes",
                HIDDEN,
            )
            .query(
                quantile(0.95, I::StreamHoldback, &[MODEL]),
                "{{gen_ai_request_model}}",
            ),
            Panel::new(
                PanelKind::TimeSeries,
                "Output tokens, noisy sum (dp devices)",
                "short",
                &format!("Sum of clipped, noised output-token counts (unbiased; noise scale and clip below). {HIDDEN}"),
            )
            .query(
                sum_by(&[MODEL], I::DpOutputTokens, &selector(I::DpOutputTokens, Part::Value, &[])),
                "{{gen_ai_request_model}}",
            ),
            dp_parameters(),
        ],
    }
}

fn dp_parameters() -> Panel {
    let mut p = Panel::new(
        PanelKind::TimeSeries,
        "Differential privacy parameters",
        "short",
        &format!(
            "What `dp` devices use: averages per model, and today's budget spent per device class. {HIDDEN}"
        ),
    );
    for (id, what) in [
        (I::DpTruthProbability, "truth probability"),
        (I::DpOutputTokensNoiseScale, "token noise scale"),
        (I::DpOutputTokensClip, "token clip"),
    ] {
        p = p.query(
            format!(
                "avg by ({}) ({})",
                label(MODEL),
                visible(id, &selector(id, Part::Value, &[]))
            ),
            &format!("{what} {{{{gen_ai_request_model}}}}"),
        );
    }
    p.query(
        format!(
            "avg by ({}) ({})",
            label(CLASS),
            visible(
                I::DpEpsilonSpent,
                &selector(I::DpEpsilonSpent, Part::Value, &[])
            )
        ),
        "epsilon spent {{palisade_device_class}}",
    )
}

fn quality_panels(s: &MetricSpec) -> Vec<Panel> {
    let id = s.id;
    let about = format!("`{}`: {} {HIDDEN}", s.name, s.description);
    match s.kind {
        MetricKind::Histogram => {
            let mut quantiles = Panel::new(
                PanelKind::TimeSeries,
                &format!("{} p50 and p90", s.name),
                "short",
                &about,
            );
            for q in [0.5, 0.9] {
                quantiles = quantiles.query(
                    quantile(q, id, &[MODEL]),
                    &format!("p{} {{{{gen_ai_request_model}}}}", (q * 100.0).round()),
                );
            }
            vec![
                Panel::new(
                    PanelKind::Heatmap,
                    &format!("{} distribution", s.name),
                    "short",
                    &about,
                )
                .query(
                    format!(
                        "sum by (le) ({})",
                        visible(id, &rate(id, Part::Bucket, &[]))
                    ),
                    "{{le}}",
                ),
                quantiles,
            ]
        }
        MetricKind::Counter => vec![
            Panel::new(
                PanelKind::TimeSeries,
                &format!("{} per second", s.name),
                "short",
                &about,
            )
            .query(
                sum_by(&[MODEL], id, &rate(id, Part::Value, &[])),
                "{{gen_ai_request_model}}",
            ),
        ],
        MetricKind::Gauge | MetricKind::UpDownCounter => vec![
            Panel::new(PanelKind::TimeSeries, s.name, "short", &about).query(
                format!(
                    "avg by ({}) ({})",
                    label(MODEL),
                    visible(id, &selector(id, Part::Value, &[]))
                ),
                "{{gen_ai_request_model}}",
            ),
        ],
    }
}

fn quality() -> Dashboard {
    Dashboard {
        uid: "palisade-quality",
        title: "Palisade / Quality",
        description: "Distributions of the hallucination signals devices compute from token probabilities.",
        panels: REGISTRY
            .iter()
            .filter(|s| QUALITY_PREFIXES.iter().any(|p| s.name.starts_with(p)))
            .flat_map(quality_panels)
            .collect(),
    }
}

fn exporter_panel(id: I, title: &str) -> Panel {
    Panel::new(
        PanelKind::TimeSeries,
        title,
        "short",
        &format!(
            "`{}`, per second over the fleet; shown when at least $k devices report it.",
            spec_name(id)
        ),
    )
    .query(
        format!("sum({})", visible(id, &rate(id, Part::Value, &[]))),
        "fleet",
    )
}

fn rollout() -> Dashboard {
    let policy_info = selector(I::PolicyInfo, Part::Value, &[]);
    Dashboard {
        uid: "palisade-rollout",
        title: "Palisade / Rollout",
        description: "Which policy versions and models the fleet runs, and whether telemetry gets through.",
        panels: vec![
            Panel::new(
                PanelKind::TimeSeries,
                "Devices per policy version",
                "short",
                "Devices reporting each policy name and hash; versions on fewer than $k devices are hidden.",
            )
            .query(
                format!(
                    "count by ({}) ({policy_info}) >= $k",
                    labels(&[AttrKey::PolicyName, AttrKey::PolicyHash])
                ),
                "{{palisade_policy_name}} {{palisade_policy_hash}}",
            ),
            Panel::new(PanelKind::TimeSeries, "Devices per model", "short", HIDDEN).query(
                devices_at_least_k(&[MODEL]),
                "{{gen_ai_request_model}}",
            ),
            exporter_panel(I::ExporterRecordsDropped, "Records dropped (queue full)"),
            exporter_panel(I::ExporterBatchesDropped, "Batches dropped"),
            exporter_panel(I::ExporterBatchesExported, "Batches exported"),
            exporter_panel(I::ExporterRetries, "Export retries"),
            Panel::new(
                PanelKind::TimeSeries,
                "Batches waiting in device spools",
                "short",
                "Sum over the fleet; shown when at least $k devices report it.",
            )
            .query(
                format!(
                    "sum({})",
                    visible(
                        I::ExporterQueued,
                        &selector(I::ExporterQueued, Part::Value, &[])
                    )
                ),
                "fleet",
            ),
        ],
    }
}

/// Every fleet dashboard, generated from the registry.
pub fn dashboards() -> Vec<Dashboard> {
    vec![fleet_overview(), guardrails(), quality(), rollout()]
}
