//! Validated telemetry configuration, from a [`TelemetryWire`] and the
//! standard `OTEL_*` environment variables.

mod env;
mod otlp;
pub mod wire;

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::attrs::{InvalidValue, check_value};

pub use env::{Env, MapEnv, StdEnv};
pub use otlp::{ExportConfig, Protocol, Signal, SpoolConfig, Temporality};
pub use wire::TelemetryWire;

/// How much a device's telemetry reveals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PrivacyMode {
    /// Exact aggregates, no device-count gauge: for a single machine.
    Off,
    /// Exact aggregates plus the device-count gauge for minimum-group
    /// thresholds in fleet views.
    #[default]
    Aggregate,
    /// Local differential privacy: randomized response and noisy counts
    /// within a daily budget; no exact per-request metric leaves the device.
    Dp,
}

impl PrivacyMode {
    /// The configuration spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PrivacyMode::Off => "off",
            PrivacyMode::Aggregate => "aggregate",
            PrivacyMode::Dp => "dp",
        }
    }
}

/// Local differential privacy parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct DpConfig {
    /// The most a device spends per UTC day.
    pub epsilon_per_day: f64,
    /// What one request's report spends, split evenly between its three
    /// items (refused bit, flagged bit, output-token count).
    pub epsilon_per_report: f64,
    /// Output-token counts are clipped to `0..=clip` before noise.
    pub output_token_clip: u32,
    /// The persistent per-device budget ledger.
    pub ledger_path: PathBuf,
}

/// Values for the configuration-sourced attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct StaticAttributes {
    /// `gen_ai.provider.name`.
    pub provider_name: String,
    /// `palisade.app.id`, if configured.
    pub app_id: Option<String>,
    /// `palisade.device.class`, if configured.
    pub device_class: Option<String>,
}

impl Default for StaticAttributes {
    fn default() -> Self {
        Self {
            provider_name: "palisade".to_owned(),
            app_id: None,
            device_class: None,
        }
    }
}

/// The Prometheus exposition.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PrometheusConfig {
    /// Whether [`crate::OtelSink::prometheus_text`] is available.
    pub enabled: bool,
    /// Where the optional built-in listener binds.
    pub listen: Option<SocketAddr>,
}

/// The validated configuration of an [`crate::OtelSink`].
#[derive(Debug, Clone, PartialEq)]
pub struct TelemetryConfig {
    /// The privacy mode.
    pub privacy: PrivacyMode,
    /// Differential privacy parameters (`Some` exactly in `dp` mode).
    pub dp: Option<DpConfig>,
    /// OTLP metric export, if any.
    pub metrics: Option<ExportConfig>,
    /// OTLP trace export, if any.
    pub traces: Option<ExportConfig>,
    /// The Prometheus exposition.
    pub prometheus: PrometheusConfig,
    /// Configuration-sourced attribute values.
    pub attributes: StaticAttributes,
    /// Capacity of the in-process record queue.
    pub queue_capacity: usize,
}

impl Default for TelemetryConfig {
    /// Aggregate mode, no export, Prometheus text available, no listener.
    fn default() -> Self {
        Self {
            privacy: PrivacyMode::Aggregate,
            dp: None,
            metrics: None,
            traces: None,
            prometheus: PrometheusConfig {
                enabled: true,
                listen: None,
            },
            attributes: StaticAttributes::default(),
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
        }
    }
}

/// The default record-queue capacity.
pub const DEFAULT_QUEUE_CAPACITY: usize = 1024;
/// The largest accepted record-queue capacity.
pub const MAX_QUEUE_CAPACITY: usize = 65_536;
/// The default daily privacy budget.
pub const DEFAULT_EPSILON_PER_DAY: f64 = 1.0;
/// The default budget of one request's report.
pub const DEFAULT_EPSILON_PER_REPORT: f64 = 0.25;
/// The largest accepted daily budget.
pub const MAX_EPSILON_PER_DAY: f64 = 10.0;
/// The default clip of output-token counts in `dp` mode.
pub const DEFAULT_OUTPUT_TOKEN_CLIP: u32 = 256;

/// Why a configuration was refused. Messages name the field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// A field has a value outside its allowed set or range.
    #[error("telemetry.{field}: {message}")]
    Invalid {
        /// The dotted field path, e.g. `dp.epsilon_per_day`.
        field: String,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// An environment variable has an invalid value.
    #[error("{variable}: {message}")]
    Env {
        /// The variable.
        variable: &'static str,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// An attribute value is not a short identifier.
    #[error("telemetry.attributes: {0}")]
    Attribute(#[from] InvalidValue),
}

pub(crate) fn invalid(field: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field: field.to_owned(),
        message: message.into(),
    }
}

impl TelemetryConfig {
    /// Validates `wire`, filling unset export fields from the process
    /// environment (`OTEL_*`).
    pub fn from_wire(wire: &TelemetryWire) -> Result<Self, ConfigError> {
        Self::from_wire_with_env(wire, &StdEnv)
    }

    /// Validates `wire`, filling unset export fields from `env`. Explicit
    /// configuration wins over the environment, which wins over defaults.
    pub fn from_wire_with_env(wire: &TelemetryWire, env: &dyn Env) -> Result<Self, ConfigError> {
        let privacy = match wire.privacy.as_deref() {
            None | Some("aggregate") => PrivacyMode::Aggregate,
            Some("off") => PrivacyMode::Off,
            Some("dp") => PrivacyMode::Dp,
            Some(other) => {
                return Err(invalid(
                    "privacy",
                    format!("`{other}` is not a privacy mode: use off, aggregate or dp"),
                ));
            }
        };
        let dp = match privacy {
            PrivacyMode::Dp => Some(dp_config(wire.dp.clone().unwrap_or_default())?),
            _ if wire.dp.is_some() => {
                return Err(invalid("dp", "only allowed with `privacy: dp`"));
            }
            _ => None,
        };
        let attributes = attributes(wire.attributes.clone().unwrap_or_default())?;
        let prometheus = match &wire.prometheus {
            None => PrometheusConfig {
                enabled: true,
                listen: None,
            },
            Some(p) => PrometheusConfig {
                enabled: p.enabled.unwrap_or(true),
                listen: match &p.listen {
                    None => None,
                    Some(addr) => Some(addr.parse().map_err(|_| {
                        invalid(
                            "prometheus.listen",
                            format!("`{addr}` is not an address such as 127.0.0.1:9464"),
                        )
                    })?),
                },
            },
        };
        if prometheus.listen.is_some() && !prometheus.enabled {
            return Err(invalid(
                "prometheus.listen",
                "needs `prometheus.enabled: true`",
            ));
        }
        let queue_capacity = wire.queue_capacity.unwrap_or(DEFAULT_QUEUE_CAPACITY);
        if !(1..=MAX_QUEUE_CAPACITY).contains(&queue_capacity) {
            return Err(invalid(
                "queue_capacity",
                format!("must be between 1 and {MAX_QUEUE_CAPACITY}"),
            ));
        }
        Ok(Self {
            privacy,
            dp,
            metrics: otlp::resolve(Signal::Metrics, wire.otlp.as_ref(), env)?,
            traces: otlp::resolve(Signal::Traces, wire.traces.as_ref(), env)?,
            prometheus,
            attributes,
            queue_capacity,
        })
    }
}

fn dp_config(w: wire::DpWire) -> Result<DpConfig, ConfigError> {
    let per_day = w.epsilon_per_day.unwrap_or(DEFAULT_EPSILON_PER_DAY);
    if !(per_day.is_finite() && per_day > 0.0 && per_day <= MAX_EPSILON_PER_DAY) {
        return Err(invalid(
            "dp.epsilon_per_day",
            format!("must be greater than 0 and at most {MAX_EPSILON_PER_DAY}"),
        ));
    }
    let per_report = w
        .epsilon_per_report
        .unwrap_or(DEFAULT_EPSILON_PER_REPORT.min(per_day));
    if !(per_report.is_finite() && per_report > 0.0 && per_report <= per_day) {
        return Err(invalid(
            "dp.epsilon_per_report",
            "must be greater than 0 and at most dp.epsilon_per_day",
        ));
    }
    let clip = w.output_token_clip.unwrap_or(DEFAULT_OUTPUT_TOKEN_CLIP);
    if clip == 0 {
        return Err(invalid("dp.output_token_clip", "must be at least 1"));
    }
    let ledger_path = w.ledger_path.ok_or_else(|| {
        invalid(
            "dp.ledger_path",
            "is required with `privacy: dp`: the budget ledger must outlive the process",
        )
    })?;
    Ok(DpConfig {
        epsilon_per_day: per_day,
        epsilon_per_report: per_report,
        output_token_clip: clip,
        ledger_path,
    })
}

fn attributes(w: wire::AttributesWire) -> Result<StaticAttributes, ConfigError> {
    let provider_name = w.provider_name.unwrap_or_else(|| "palisade".to_owned());
    check_value("provider name", &provider_name)?;
    if let Some(app) = &w.app_id {
        check_value("app id", app)?;
    }
    if let Some(class) = &w.device_class {
        check_value("device class", class)?;
    }
    Ok(StaticAttributes {
        provider_name,
        app_id: w.app_id,
        device_class: w.device_class,
    })
}

#[cfg(test)]
mod tests;
