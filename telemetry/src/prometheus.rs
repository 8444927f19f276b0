//! The Prometheus text exposition (format 0.0.4), rendered from the same
//! instruments as OTLP through a cumulative manual reader.
//!
//! Names follow the OpenTelemetry-to-Prometheus rules: dots become
//! underscores, the unit is appended (`s` → `_seconds`, `By` → `_bytes`,
//! `1` → `_ratio`; `{annotations}` add nothing) and counters end in `_total`.

use std::fmt::Write as _;
use std::sync::{Arc, Weak};
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, Metric, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::reader::MetricReader;
use opentelemetry_sdk::metrics::{InstrumentKind, ManualReader, Pipeline, Temporality};

/// A [`ManualReader`] the sink keeps a handle to after registering it.
#[derive(Debug, Clone)]
pub(crate) struct SharedReader(pub(crate) Arc<ManualReader>);

impl MetricReader for SharedReader {
    fn register_pipeline(&self, pipeline: Weak<Pipeline>) {
        self.0.register_pipeline(pipeline);
    }
    fn collect(&self, rm: &mut ResourceMetrics) -> OTelSdkResult {
        self.0.collect(rm)
    }
    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }
    fn temporality(&self, kind: InstrumentKind) -> Temporality {
        self.0.temporality(kind)
    }
}

/// Collects from `reader` and renders the text exposition.
pub(crate) fn render(reader: &ManualReader) -> Result<String, String> {
    let mut rm = ResourceMetrics::default();
    reader.collect(&mut rm).map_err(|e| e.to_string())?;
    let mut out = String::new();
    for scope in rm.scope_metrics() {
        for metric in scope.metrics() {
            render_metric(&mut out, metric);
        }
    }
    Ok(out)
}

/// The Prometheus name for an OpenTelemetry metric name and unit.
pub fn prometheus_name(name: &str, unit: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let suffix = match unit {
        "s" => "seconds",
        "ms" => "milliseconds",
        "By" => "bytes",
        "1" => "ratio",
        _ => "",
    };
    if !suffix.is_empty() && !out.ends_with(suffix) {
        out.push('_');
        out.push_str(suffix);
    }
    out
}

pub(crate) fn label_name(key: &str) -> String {
    key.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn escape(value: &str, quote: bool) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quote => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out
}

fn labels<'a>(attrs: impl Iterator<Item = &'a KeyValue>, extra: Option<(&str, &str)>) -> String {
    let mut parts: Vec<String> = attrs
        .map(|kv| {
            format!(
                "{}=\"{}\"",
                label_name(kv.key.as_str()),
                escape(&kv.value.as_str(), true)
            )
        })
        .collect();
    if let Some((k, v)) = extra {
        parts.push(format!("{k}=\"{v}\""));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

/// A sample value in exposition syntax.
trait PromValue: Copy {
    fn text(self) -> String;
}

impl PromValue for f64 {
    fn text(self) -> String {
        if self.is_nan() {
            "NaN".to_owned()
        } else if self.is_infinite() {
            if self > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
        } else {
            format!("{self}")
        }
    }
}

impl PromValue for u64 {
    fn text(self) -> String {
        self.to_string()
    }
}

impl PromValue for i64 {
    fn text(self) -> String {
        self.to_string()
    }
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {}", escape(help, false));
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn render_data<T: PromValue>(out: &mut String, metric: &Metric, data: &MetricData<T>) {
    let base = prometheus_name(metric.name(), metric.unit());
    let help = metric.description();
    match data {
        MetricData::Gauge(g) => {
            header(out, &base, help, "gauge");
            for p in g.data_points() {
                let _ = writeln!(
                    out,
                    "{base}{} {}",
                    labels(p.attributes(), None),
                    p.value().text()
                );
            }
        }
        MetricData::Sum(s) => {
            let (name, kind) = if s.is_monotonic() {
                (format!("{base}_total"), "counter")
            } else {
                (base.clone(), "gauge")
            };
            header(out, &name, help, kind);
            for p in s.data_points() {
                let _ = writeln!(
                    out,
                    "{name}{} {}",
                    labels(p.attributes(), None),
                    p.value().text()
                );
            }
        }
        MetricData::Histogram(h) => {
            header(out, &base, help, "histogram");
            for p in h.data_points() {
                let mut cumulative = 0u64;
                for (bound, count) in p.bounds().zip(p.bucket_counts()) {
                    cumulative += count;
                    let le = bound.text();
                    let _ = writeln!(
                        out,
                        "{base}_bucket{} {cumulative}",
                        labels(p.attributes(), Some(("le", &le)))
                    );
                }
                let _ = writeln!(
                    out,
                    "{base}_bucket{} {}",
                    labels(p.attributes(), Some(("le", "+Inf"))),
                    p.count()
                );
                let _ = writeln!(
                    out,
                    "{base}_sum{} {}",
                    labels(p.attributes(), None),
                    p.sum().text()
                );
                let _ = writeln!(
                    out,
                    "{base}_count{} {}",
                    labels(p.attributes(), None),
                    p.count()
                );
            }
        }
        // Never configured by the registry.
        MetricData::ExponentialHistogram(_) => {}
    }
}

fn render_metric(out: &mut String, metric: &Metric) {
    match metric.data() {
        AggregatedMetrics::F64(d) => render_data(out, metric, d),
        AggregatedMetrics::U64(d) => render_data(out, metric, d),
        AggregatedMetrics::I64(d) => render_data(out, metric, d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_otel_to_prometheus_rules() {
        assert_eq!(
            prometheus_name("gen_ai.client.operation.duration", "s"),
            "gen_ai_client_operation_duration_seconds"
        );
        assert_eq!(
            prometheus_name("gen_ai.client.token.usage", "{token}"),
            "gen_ai_client_token_usage"
        );
        assert_eq!(
            prometheus_name("palisade.guard.stream.holdback", "By"),
            "palisade_guard_stream_holdback_bytes"
        );
        assert_eq!(
            prometheus_name("palisade.dp.truth_probability", "1"),
            "palisade_dp_truth_probability_ratio"
        );
    }

    #[test]
    fn label_values_are_escaped() {
        let kv = [KeyValue::new("palisade.rule.id", "a\"b\\c\nd")];
        assert_eq!(
            labels(kv.iter(), Some(("le", "0.5"))),
            r#"{palisade_rule_id="a\"b\\c\nd",le="0.5"}"#
        );
        assert_eq!(labels([].iter(), None), "");
        assert_eq!(f64::INFINITY.text(), "+Inf");
        assert_eq!(0.00001f64.text(), "0.00001");
    }
}
