//! Starting telemetry for a loaded policy and model: the configuration file,
//! the [`OtelSink`], its allowlist of policy and model identifiers, and the
//! trace layer. Every command that runs the model goes through here, so the
//! CLI and the server export the same way.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use palisade_guard::{Direction, Guard};
use palisade_telemetry::{
    ConfigError, OtelSink, PolicyInfo, TelemetryConfig, TelemetryError, TelemetryWire,
};

/// Why telemetry could not be started.
#[derive(Debug, thiserror::Error)]
pub enum TelemetrySetupError {
    /// The configuration file could not be read.
    #[error("reading the telemetry configuration {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The configuration file is not valid YAML of the expected shape.
    #[error(
        "{}:{line}:{column}: {message} (see docs/telemetry.md for the `telemetry` keys)",
        path.display()
    )]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line (0 when unknown).
        line: u64,
        /// 1-based column (0 when unknown).
        column: u64,
        /// What is wrong.
        message: String,
    },
    /// A value is out of range or the `OTEL_*` environment is invalid.
    #[error("{origin}: {source}")]
    Invalid {
        /// The file, or `environment`.
        origin: String,
        /// What is wrong.
        source: ConfigError,
    },
    /// The sink could not start, or a policy or model identifier was refused.
    #[error(transparent)]
    Start(#[from] TelemetryError),
}

/// Reads the telemetry configuration: the YAML file at `path` (the keys of
/// the `telemetry:` section at its top level), or, without a file, the
/// defaults. Either way, unset export settings come from the standard
/// `OTEL_*` environment variables.
pub fn read_telemetry_config(path: Option<&Path>) -> Result<TelemetryConfig, TelemetrySetupError> {
    let (wire, origin) = match path {
        None => (TelemetryWire::default(), "environment".to_owned()),
        Some(path) => {
            let text =
                std::fs::read_to_string(path).map_err(|source| TelemetrySetupError::Read {
                    path: path.to_owned(),
                    source,
                })?;
            (parse_wire(&text, path)?, path.display().to_string())
        }
    };
    TelemetryConfig::from_wire(&wire)
        .map_err(|source| TelemetrySetupError::Invalid { origin, source })
}

fn parse_wire(text: &str, path: &Path) -> Result<TelemetryWire, TelemetrySetupError> {
    if text.trim().is_empty() {
        return Ok(TelemetryWire::default());
    }
    serde_saphyr::from_str(text).map_err(|e| {
        let (line, column, message) = palisade_guard::policy::yaml_error_parts(&e);
        TelemetrySetupError::Syntax {
            path: path.to_owned(),
            line,
            column,
            message,
        }
    })
}

/// What telemetry may know of a compiled policy: its name, hash, rule ids,
/// finding kinds and detector types. These become the only values of the
/// rule, kind and detector attributes.
pub fn policy_info(guard: &Guard) -> PolicyInfo {
    let policy = guard.policy();
    let rules: Vec<_> = [Direction::Input, Direction::Output]
        .into_iter()
        .flat_map(|d| policy.rules(d).iter())
        .collect();
    let mut detectors: Vec<String> = rules
        .iter()
        .map(|r| r.detector.type_name().to_owned())
        .collect();
    detectors.sort();
    detectors.dedup();
    PolicyInfo {
        name: policy.name().to_owned(),
        hash: policy.hash().to_owned(),
        rule_ids: rules.iter().map(|r| r.id.to_string()).collect(),
        finding_kinds: guard
            .finding_kinds()
            .iter()
            .map(|k| k.to_string())
            .collect(),
        detectors,
    }
}

/// Starts the sink of `config` and registers `guard`'s policy. Register the
/// model with [`OtelSink::register_model`] once it is loaded.
pub fn start_telemetry(
    config: TelemetryConfig,
    guard: &Guard,
) -> Result<Arc<OtelSink>, TelemetrySetupError> {
    let sink = OtelSink::start(config)?;
    sink.register_policy(&policy_info(guard))?;
    Ok(sink)
}

/// Installs the sink's trace layer as the process-wide `tracing` subscriber
/// when traces are configured. Returns whether it was installed (`false`
/// without trace export, or when another subscriber is already set).
pub fn install_trace_layer(sink: &OtelSink) -> bool {
    use tracing_subscriber::layer::SubscriberExt;
    let Some(layer) = sink.tracing_layer() else {
        return false;
    };
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::set_global_default(subscriber).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_key_names_file_line_and_column() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("telemetry.yaml");
        std::fs::write(&path, "privacy: aggregate\nexporter: otlp\n").expect("write");
        let err = read_telemetry_config(Some(&path)).expect_err("unknown key");
        let text = err.to_string();
        assert!(text.contains("telemetry.yaml:2:1"), "{text}");
        assert!(text.contains("exporter"), "{text}");
    }

    #[test]
    fn invalid_value_names_the_field() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("telemetry.yaml");
        std::fs::write(&path, "privacy: secret\n").expect("write");
        let err = read_telemetry_config(Some(&path)).expect_err("bad mode");
        assert!(err.to_string().contains("telemetry.privacy"), "{err}");
    }

    #[test]
    fn empty_file_means_defaults() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("telemetry.yaml");
        std::fs::write(&path, "\n").expect("write");
        let config = read_telemetry_config(Some(&path)).expect("defaults");
        assert_eq!(config.privacy, palisade_telemetry::PrivacyMode::Aggregate);
    }

    #[test]
    fn policy_info_lists_rules_kinds_and_detectors() {
        let policy = palisade_guard::Policy::from_yaml_str(
            crate::DEFAULT_POLICY_YAML,
            crate::DEFAULT_POLICY_ORIGIN,
        )
        .expect("default policy");
        let guard = crate::build_guard(policy).expect("guard");
        let info = policy_info(&guard);
        assert_eq!(info.hash, guard.policy().hash());
        assert!(info.rule_ids.len() >= 3, "{:?}", info.rule_ids);
        assert!(
            info.finding_kinds.iter().any(|k| k == "pii.email"),
            "{:?}",
            info.finding_kinds
        );
        assert!(
            info.detectors.iter().any(|d| d == "pii"),
            "{:?}",
            info.detectors
        );
    }
}
