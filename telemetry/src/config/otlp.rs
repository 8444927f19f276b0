//! OTLP export settings: configuration first, then `OTEL_*`, then defaults.

use std::path::PathBuf;
use std::time::Duration;

use super::wire::OtlpWire;
use super::{ConfigError, Env, invalid};

/// The wire protocol to the collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// OTLP/gRPC (default port 4317).
    Grpc,
    /// OTLP/HTTP with protobuf bodies (default port 4318).
    HttpProtobuf,
}

/// Delta or cumulative sums and histograms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Temporality {
    /// Totals since the process started (the OTLP default).
    #[default]
    Cumulative,
    /// Changes since the previous export (recommended with the spool).
    Delta,
}

/// Which signal an [`ExportConfig`] is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Metrics (`/v1/metrics`).
    Metrics,
    /// Traces (`/v1/traces`).
    Traces,
}

impl Signal {
    fn upper(self) -> &'static str {
        match self {
            Signal::Metrics => "METRICS",
            Signal::Traces => "TRACES",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Signal::Metrics => "/v1/metrics",
            Signal::Traces => "/v1/traces",
        }
    }

    fn field(self) -> &'static str {
        match self {
            Signal::Metrics => "otlp",
            Signal::Traces => "traces",
        }
    }
}

/// The on-disk spool.
#[derive(Debug, Clone, PartialEq)]
pub struct SpoolConfig {
    /// The spool directory.
    pub dir: PathBuf,
    /// The size cap in bytes.
    pub max_bytes: u64,
}

/// Resolved OTLP export settings for one signal.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportConfig {
    /// gRPC or HTTP.
    pub protocol: Protocol,
    /// The full URL (for HTTP, including `/v1/metrics` or `/v1/traces`).
    pub endpoint: String,
    /// Request headers: configuration, overridden per key by
    /// `OTEL_EXPORTER_OTLP_[SIGNAL_]HEADERS` (as `opentelemetry-otlp` does).
    pub headers: Vec<(String, String)>,
    /// Time between metric exports.
    pub interval: Duration,
    /// Time limit of one attempt.
    pub timeout: Duration,
    /// Delta or cumulative (metrics).
    pub temporality: Temporality,
    /// Attempts after a failed one.
    pub max_retries: u32,
    /// Wait before the first retry; doubled for each further one.
    pub retry_backoff: Duration,
    /// The on-disk spool (metrics).
    pub spool: Option<SpoolConfig>,
}

/// The default spool size cap: 8 MiB.
pub const DEFAULT_SPOOL_MAX_BYTES: u64 = 8 * 1024 * 1024;
/// The most retries accepted.
pub const MAX_RETRIES: u32 = 10;

fn env_pair(env: &dyn Env, signal: Signal, generic: &str) -> Option<String> {
    let specific = generic.replacen(
        "OTEL_EXPORTER_OTLP_",
        &format!("OTEL_EXPORTER_OTLP_{}_", signal.upper()),
        1,
    );
    env.var(&specific).or_else(|| env.var(generic))
}

fn parse_ms(value: &str, what: &'static str) -> Result<Duration, ConfigError> {
    value
        .trim()
        .parse::<u64>()
        .map(Duration::from_millis)
        .map_err(|_| ConfigError::Env {
            variable: what,
            message: format!("`{value}` is not a number of milliseconds"),
        })
}

/// Percent-decodes `%XX` sequences (header values in `OTEL_*_HEADERS`).
pub(super) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(super) fn parse_headers(s: &str) -> Vec<(String, String)> {
    s.split(',')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            let k = k.trim();
            (!k.is_empty()).then(|| (k.to_ascii_lowercase(), percent_decode(v.trim())))
        })
        .collect()
}

/// Resolves the export settings of `signal`; `None` when export is off.
pub(super) fn resolve(
    signal: Signal,
    wire: Option<&OtlpWire>,
    env: &dyn Env,
) -> Result<Option<ExportConfig>, ConfigError> {
    let field = signal.field();
    let exporter_var = match signal {
        Signal::Metrics => "OTEL_METRICS_EXPORTER",
        Signal::Traces => "OTEL_TRACES_EXPORTER",
    };
    let sdk_disabled = env
        .var("OTEL_SDK_DISABLED")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let env_says_none = env.var(exporter_var).is_some_and(|v| v.trim() == "none");
    let env_endpoint = env_pair(env, signal, "OTEL_EXPORTER_OTLP_ENDPOINT");
    let enabled = match wire.and_then(|w| w.enabled) {
        Some(explicit) => explicit,
        None => wire.is_some() || env_endpoint.is_some(),
    };
    if !enabled || sdk_disabled || env_says_none {
        return Ok(None);
    }
    let w = wire.cloned().unwrap_or_default();

    let protocol_text = w
        .protocol
        .clone()
        .or_else(|| env_pair(env, signal, "OTEL_EXPORTER_OTLP_PROTOCOL"))
        .unwrap_or_else(|| "http/protobuf".to_owned());
    let protocol = match protocol_text.trim() {
        "grpc" => Protocol::Grpc,
        "http/protobuf" => Protocol::HttpProtobuf,
        other => {
            return Err(invalid(
                &format!("{field}.protocol"),
                format!("`{other}` is not supported: use grpc or http/protobuf"),
            ));
        }
    };

    let specific_var = format!("OTEL_EXPORTER_OTLP_{}_ENDPOINT", signal.upper());
    let endpoint = match (&w.endpoint, protocol) {
        (Some(url), Protocol::HttpProtobuf) => with_signal_path(url, signal),
        (Some(url), Protocol::Grpc) => url.clone(),
        (None, Protocol::Grpc) => {
            env_endpoint.unwrap_or_else(|| "http://localhost:4317".to_owned())
        }
        (None, Protocol::HttpProtobuf) => match env.var(&specific_var) {
            Some(url) => url,
            None => match env.var("OTEL_EXPORTER_OTLP_ENDPOINT") {
                Some(base) => format!("{}{}", base.trim_end_matches('/'), signal.path()),
                None => format!("http://localhost:4318{}", signal.path()),
            },
        },
    };
    if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
        return Err(invalid(
            &format!("{field}.endpoint"),
            format!("`{endpoint}` must start with http:// or https://"),
        ));
    }

    let mut headers: Vec<(String, String)> = w
        .headers
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect();
    if let Some(env_headers) = env_pair(env, signal, "OTEL_EXPORTER_OTLP_HEADERS") {
        for (k, v) in parse_headers(&env_headers) {
            headers.retain(|(existing, _)| *existing != k);
            headers.push((k, v));
        }
    }

    let interval = match (w.interval_ms, env.var("OTEL_METRIC_EXPORT_INTERVAL")) {
        (Some(ms), _) => Duration::from_millis(ms),
        (None, Some(v)) => parse_ms(&v, "OTEL_METRIC_EXPORT_INTERVAL")?,
        (None, None) => Duration::from_secs(60),
    };
    if interval < Duration::from_millis(100) {
        return Err(invalid(
            &format!("{field}.interval_ms"),
            "must be at least 100",
        ));
    }
    let timeout = match (
        w.timeout_ms,
        env_pair(env, signal, "OTEL_EXPORTER_OTLP_TIMEOUT"),
    ) {
        (Some(ms), _) => Duration::from_millis(ms),
        (None, Some(v)) => parse_ms(&v, "OTEL_EXPORTER_OTLP_TIMEOUT")?,
        (None, None) => Duration::from_secs(10),
    };
    if timeout.is_zero() {
        return Err(invalid(
            &format!("{field}.timeout_ms"),
            "must be at least 1",
        ));
    }
    let temporality_text = w
        .temporality
        .clone()
        .or_else(|| env.var("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE"))
        .unwrap_or_else(|| "cumulative".to_owned());
    let temporality = match temporality_text.trim().to_ascii_lowercase().as_str() {
        "cumulative" => Temporality::Cumulative,
        "delta" | "lowmemory" => Temporality::Delta,
        other => {
            return Err(invalid(
                &format!("{field}.temporality"),
                format!("`{other}` is not a temporality: use delta or cumulative"),
            ));
        }
    };
    let max_retries = w.max_retries.unwrap_or(2);
    if max_retries > MAX_RETRIES {
        return Err(invalid(
            &format!("{field}.max_retries"),
            format!("must be at most {MAX_RETRIES}"),
        ));
    }
    let spool = match (&w.spool, signal) {
        (None, _) => None,
        (Some(_), Signal::Traces) => {
            return Err(invalid("traces.spool", "the spool keeps metrics only"));
        }
        (Some(s), Signal::Metrics) => {
            let max_bytes = s.max_bytes.unwrap_or(DEFAULT_SPOOL_MAX_BYTES);
            if max_bytes < 1024 {
                return Err(invalid("otlp.spool.max_bytes", "must be at least 1024"));
            }
            Some(SpoolConfig {
                dir: s.dir.clone(),
                max_bytes,
            })
        }
    };
    Ok(Some(ExportConfig {
        protocol,
        endpoint,
        headers,
        interval,
        timeout,
        temporality,
        max_retries,
        retry_backoff: Duration::from_millis(w.retry_backoff_ms.unwrap_or(200)),
        spool,
    }))
}

/// Appends the signal path to an HTTP endpoint that has none.
pub(super) fn with_signal_path(url: &str, signal: Signal) -> String {
    let after_scheme = url.split_once("://").map(|(_, rest)| rest).unwrap_or(url);
    match after_scheme.find('/') {
        Some(i) if !after_scheme[i..].trim_end_matches('/').is_empty() => url.to_owned(),
        _ => format!("{}{}", url.trim_end_matches('/'), signal.path()),
    }
}
