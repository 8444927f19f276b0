//! PromQL building blocks for the fleet dashboards: the Prometheus names of
//! registry metrics (as the collector's prometheus exporter writes them), the
//! dashboard-variable selectors, and the minimum-group filter that hides
//! groups backed by fewer than `$k` devices.

use crate::attrs::AttrKey;
use crate::prometheus::{label_name, prometheus_name};
use crate::registry::{MetricId, MetricKind, spec};

/// Which series of a metric a query reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The value: `_total` for counters, the bare name for gauges and
    /// up-down counters.
    Value,
    /// A histogram's cumulative `_bucket` series.
    Bucket,
    /// A histogram's `_count` series.
    Count,
    /// A histogram's `_sum` series.
    Sum,
}

/// The Prometheus series name of `part` of metric `id`.
pub fn series(id: MetricId, part: Part) -> String {
    let s = spec(id);
    let base = prometheus_name(s.name, s.unit);
    match (part, s.kind) {
        (Part::Value, MetricKind::Counter) => format!("{base}_total"),
        (Part::Value, _) => base,
        (Part::Bucket, _) => format!("{base}_bucket"),
        (Part::Count, _) => format!("{base}_count"),
        (Part::Sum, _) => format!("{base}_sum"),
    }
}

/// The Prometheus label name of an attribute key (dots become underscores).
pub fn label(key: AttrKey) -> String {
    label_name(key.name())
}

/// Comma-separated label names, for `by (...)` and `on (...)`.
pub fn labels(keys: &[AttrKey]) -> String {
    keys.iter()
        .map(|k| label(*k))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The dashboard variable holding the minimum number of devices per group.
pub const K_VAR: &str = "k";
/// The dashboard variable filtering on `palisade.device.class` (multi, `All` = `.*`).
pub const DEVICE_CLASS_VAR: &str = "device_class";
/// The dashboard variable filtering on `gen_ai.request.model` (multi, `All` = `.*`).
pub const MODEL_VAR: &str = "model";

/// The variable filters that apply to metric `id`, plus `extra` matchers.
fn matchers(id: MetricId, extra: &[(AttrKey, &str)]) -> String {
    let attrs = spec(id).attributes;
    let mut parts = Vec::new();
    for (key, var) in [
        (AttrKey::DeviceClass, DEVICE_CLASS_VAR),
        (AttrKey::RequestModel, MODEL_VAR),
    ] {
        if attrs.contains(&key) {
            parts.push(format!("{}=~\"${var}\"", label(key)));
        }
    }
    for (key, value) in extra {
        parts.push(format!("{}=\"{value}\"", label(*key)));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(", "))
    }
}

/// `part` of `id` with the dashboard's variable filters and `extra` matchers.
pub fn selector(id: MetricId, part: Part, extra: &[(AttrKey, &str)]) -> String {
    format!("{}{}", series(id, part), matchers(id, extra))
}

/// `rate(...)` of a selector over Grafana's `$__rate_interval`.
pub fn rate(id: MetricId, part: Part, extra: &[(AttrKey, &str)]) -> String {
    format!("rate({}[$__rate_interval])", selector(id, part, extra))
}

/// The last value of each series within the dashboard range: for counters,
/// the device's total since it started (a restart resets it).
pub fn last_in_range(id: MetricId, part: Part) -> String {
    format!("last_over_time({}[$__range])", selector(id, part, &[]))
}

/// The attributes that identify a device group: those of the device-count
/// gauge `palisade.privacy.devices`.
pub fn group_keys() -> &'static [AttrKey] {
    spec(MetricId::DeviceCount).attributes
}

/// The group keys metric `id` carries.
fn keys_of(id: MetricId) -> Vec<AttrKey> {
    let attrs = spec(id).attributes;
    group_keys()
        .iter()
        .copied()
        .filter(|k| attrs.contains(k))
        .collect()
}

/// Devices per group over `keys`, kept only where at least `$k`.
pub fn devices_at_least_k(keys: &[AttrKey]) -> String {
    format!(
        "sum by ({}) ({}) >= ${K_VAR}",
        labels(keys),
        selector(MetricId::DeviceCount, Part::Value, &[])
    )
}

/// `expr`, a vector of series of metric `id`, restricted to the groups that
/// at least `$k` devices report (by the device-count gauge). A metric with
/// no group attribute (exporter health) is shown only when at least `$k`
/// devices report it at all.
pub fn visible(id: MetricId, expr: &str) -> String {
    let keys = keys_of(id);
    if keys.is_empty() {
        let part = match spec(id).kind {
            MetricKind::Histogram => Part::Count,
            _ => Part::Value,
        };
        return format!(
            "({expr} and on () (count({}) >= ${K_VAR}))",
            series(id, part)
        );
    }
    format!(
        "({expr} and on ({}) ({}))",
        labels(&keys),
        devices_at_least_k(&keys)
    )
}

/// The Palisade series names an expression reads: identifiers starting with
/// `gen_ai_` or `palisade_` that are not attribute labels.
pub fn referenced_series(expr: &str) -> Vec<String> {
    let is_label = |t: &str| AttrKey::ALL.iter().any(|k| label(*k) == t);
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|t| t.starts_with("gen_ai_") || t.starts_with("palisade_"))
        .filter(|t| !is_label(t))
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_collector_translation() {
        for (id, part, name) in [
            (
                MetricId::GuardRefusals,
                Part::Value,
                "palisade_guard_refusals_total",
            ),
            (
                MetricId::ServerTimeToFirstToken,
                Part::Bucket,
                "gen_ai_server_time_to_first_token_seconds_bucket",
            ),
            (
                MetricId::DpTruthProbability,
                Part::Value,
                "palisade_dp_truth_probability_ratio",
            ),
            (
                MetricId::DpOutputTokens,
                Part::Value,
                "palisade_dp_output_tokens",
            ),
        ] {
            assert_eq!(series(id, part), name);
        }
    }

    #[test]
    fn visible_filters_on_the_group_keys_a_metric_carries() {
        let detector = visible(MetricId::GuardDuration, "x");
        assert!(
            detector
                .contains("and on (palisade_policy_hash, palisade_device_class, palisade_app_id)")
        );
        let exporter = visible(MetricId::ExporterRetries, "x");
        assert_eq!(
            exporter,
            "(x and on () (count(palisade_exporter_retries_total) >= $k))"
        );
        assert_eq!(
            referenced_series(&visible(
                MetricId::GuardRefusals,
                "rate(palisade_guard_refusals_total[1m])"
            )),
            ["palisade_guard_refusals_total", "palisade_privacy_devices"]
        );
    }
}
