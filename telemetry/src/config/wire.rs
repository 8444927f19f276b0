//! The configuration as written in a file: every field optional, unknown
//! fields rejected. [`super::TelemetryConfig::from_wire`] validates it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

/// The `telemetry:` section of Palisade's configuration.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TelemetryWire {
    /// `off`, `aggregate` (default) or `dp`.
    pub privacy: Option<String>,
    /// Local differential privacy settings, used when `privacy: dp`.
    pub dp: Option<DpWire>,
    /// OTLP metric export; absent means "from `OTEL_*` variables, if set".
    pub otlp: Option<OtlpWire>,
    /// OTLP trace export of the request, guard, prefill and decode spans.
    pub traces: Option<OtlpWire>,
    /// The Prometheus text endpoint.
    pub prometheus: Option<PrometheusWire>,
    /// Attribute values from configuration.
    pub attributes: Option<AttributesWire>,
    /// Capacity of the in-process record queue (default 1024).
    pub queue_capacity: Option<usize>,
}

/// `telemetry.dp`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DpWire {
    /// The daily privacy budget (default 1.0).
    pub epsilon_per_day: Option<f64>,
    /// What one request's report spends (default 0.25).
    pub epsilon_per_report: Option<f64>,
    /// Output-token counts are clipped to this before noise (default 256).
    pub output_token_clip: Option<u32>,
    /// The persistent budget ledger (required in `dp` mode).
    pub ledger_path: Option<PathBuf>,
}

/// `telemetry.otlp` and `telemetry.traces`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OtlpWire {
    /// Set to `false` to turn export off even when `OTEL_*` variables are set.
    pub enabled: Option<bool>,
    /// `grpc` or `http/protobuf`.
    pub protocol: Option<String>,
    /// The collector URL.
    pub endpoint: Option<String>,
    /// Extra request headers (e.g. authorization).
    pub headers: Option<BTreeMap<String, String>>,
    /// Time between metric exports.
    pub interval_ms: Option<u64>,
    /// Time limit of one export attempt.
    pub timeout_ms: Option<u64>,
    /// `delta` or `cumulative` (metrics only).
    pub temporality: Option<String>,
    /// Attempts after the first failed one (default 2, at most 10).
    pub max_retries: Option<u32>,
    /// Wait before the first retry, doubled for each further one (default 200).
    pub retry_backoff_ms: Option<u64>,
    /// The on-disk spool for offline devices (metrics only).
    pub spool: Option<SpoolWire>,
}

/// `telemetry.otlp.spool`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SpoolWire {
    /// The spool directory (created if missing).
    pub dir: PathBuf,
    /// Size cap of the spool (default 8 MiB); the oldest batches go first.
    pub max_bytes: Option<u64>,
}

/// `telemetry.prometheus`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PrometheusWire {
    /// Whether the text exposition is available (default true).
    pub enabled: Option<bool>,
    /// Address of the optional built-in `/metrics` listener, e.g. `127.0.0.1:9464`.
    pub listen: Option<String>,
}

/// `telemetry.attributes`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AttributesWire {
    /// `gen_ai.provider.name` (default `palisade`).
    pub provider_name: Option<String>,
    /// `palisade.app.id`.
    pub app_id: Option<String>,
    /// `palisade.device.class`.
    pub device_class: Option<String>,
}
