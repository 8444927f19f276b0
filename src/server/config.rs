//! Server configuration: the file's wire types, the overlay of flags and
//! environment variables on the file, and the validated [`ServerConfig`].
//!
//! Precedence, highest first: command-line flags, environment variables
//! (`PALISADE_*`), the config file (`--config`), built-in defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use palisade_inference::{CpuRepack, DeviceChoice, DeviceParseError};
use serde::Deserialize;

use crate::assets::EmbedderChoice;
use crate::telemetry::{TelemetryConfig, TelemetryWire};

use super::auth::ApiKey;

/// Default address: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Default largest request body.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
/// Default time limit of one request, queueing included.
pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 120_000;
/// Default time given to requests in flight at shutdown.
pub const DEFAULT_SHUTDOWN_GRACE_MS: u64 = 30_000;
/// Default interval between checks of the policy file for changes.
pub const DEFAULT_RELOAD_POLL_MS: u64 = 1_000;
/// Default answer length when a request gives none.
pub const DEFAULT_MAX_TOKENS: usize = 256;
/// Default number of requests waiting for a slot before 429.
pub const DEFAULT_QUEUE_CAPACITY: usize = 64;
/// Default parallel generations in proxy mode (in-process mode: 1, the model runs one at a time).
pub const DEFAULT_PROXY_PARALLELISM: usize = 16;

/// The config file (YAML): a `server:` section and an optional `telemetry:` section.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFileWire {
    /// The server settings.
    #[serde(default)]
    pub server: ServerWire,
    /// Telemetry settings (see `docs/telemetry.md`).
    #[serde(default)]
    pub telemetry: Option<TelemetryWire>,
}

/// The `server:` section; also what flags and environment variables set.
/// Every field is optional; [`ServerWire::over`] layers one source on another.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServerWire {
    /// `host:port` to bind (default `127.0.0.1:8080`).
    pub listen: Option<String>,
    /// Bearer token clients must send; required when `listen` is not loopback.
    pub api_key: Option<String>,
    /// Base URL of an OpenAI-compatible server to guard (proxy mode), e.g. `http://127.0.0.1:8081/v1`.
    pub upstream: Option<String>,
    /// Bearer token sent to the upstream.
    pub upstream_api_key: Option<String>,
    /// Policy file (default: the embedded default policy). Relative to the config file.
    pub policy: Option<PathBuf>,
    /// GGUF model for in-process mode (default: SmolLM2 from the asset cache). Relative to the config file.
    pub model: Option<PathBuf>,
    /// Compute threads of the in-process model (default: all cores).
    pub threads: Option<usize>,
    /// Device of the in-process model: `cpu` (default), `cuda[:N]` or `metal[:N]` (the GPU
    /// ones need a build with the `cuda` or `metal` feature).
    pub device: Option<String>,
    /// Generations running at once (default 1 in-process, 16 in proxy mode).
    pub parallelism: Option<usize>,
    /// Requests that may wait for a slot; one more gets 429 (default 64).
    pub queue_capacity: Option<usize>,
    /// Time limit of one request, queueing included (default 120000).
    pub request_timeout_ms: Option<u64>,
    /// Largest accepted request body (default 1 MiB).
    pub max_body_bytes: Option<usize>,
    /// Time requests in flight get to finish at shutdown (default 30000).
    pub shutdown_grace_ms: Option<u64>,
    /// How often the policy file is checked for changes; 0 turns watching off (default 1000).
    pub reload_poll_ms: Option<u64>,
    /// Answer to a blocked input: `content_filter` (default; a normal answer with
    /// `finish_reason: content_filter`) or `error` (HTTP 400, code `content_filter`).
    pub blocked_input: Option<String>,
    /// Answer length when a request sets none (default 256).
    pub default_max_tokens: Option<usize>,
    /// Sentence embedder of the hallucination signals (in-process mode): `off` (default),
    /// `default` (all-MiniLM-L6-v2 from the asset cache) or a model folder (relative to the
    /// config file).
    pub embedder: Option<String>,
    /// The sampled mode (in-process mode): answers sampled per answer to measure its
    /// consistency; 0 (default) is off; needs `embedder`.
    pub consistency_samples: Option<usize>,
    /// Requantization of GGUF tensors without fast CPU kernels (in-process mode): `off`
    /// (default), `q8_0` or `q4_0`.
    pub cpu_repack: Option<String>,
}

impl ServerWire {
    /// Every field set here wins; the others come from `lower`.
    pub fn over(self, lower: ServerWire) -> ServerWire {
        ServerWire {
            listen: self.listen.or(lower.listen),
            api_key: self.api_key.or(lower.api_key),
            upstream: self.upstream.or(lower.upstream),
            upstream_api_key: self.upstream_api_key.or(lower.upstream_api_key),
            policy: self.policy.or(lower.policy),
            model: self.model.or(lower.model),
            threads: self.threads.or(lower.threads),
            device: self.device.or(lower.device),
            parallelism: self.parallelism.or(lower.parallelism),
            queue_capacity: self.queue_capacity.or(lower.queue_capacity),
            request_timeout_ms: self.request_timeout_ms.or(lower.request_timeout_ms),
            max_body_bytes: self.max_body_bytes.or(lower.max_body_bytes),
            shutdown_grace_ms: self.shutdown_grace_ms.or(lower.shutdown_grace_ms),
            reload_poll_ms: self.reload_poll_ms.or(lower.reload_poll_ms),
            blocked_input: self.blocked_input.or(lower.blocked_input),
            default_max_tokens: self.default_max_tokens.or(lower.default_max_tokens),
            embedder: self.embedder.or(lower.embedder),
            consistency_samples: self.consistency_samples.or(lower.consistency_samples),
            cpu_repack: self.cpu_repack.or(lower.cpu_repack),
        }
    }

    /// Makes relative `policy`, `model` and embedder folder paths relative to `dir` (the
    /// config file's folder).
    fn resolve_paths(mut self, dir: &Path) -> ServerWire {
        let resolve = |p: PathBuf| if p.is_relative() { dir.join(p) } else { p };
        self.policy = self.policy.map(resolve);
        self.model = self.model.map(resolve);
        // Only a folder is a path; `off`, `default` and invalid values are kept for validation.
        self.embedder = self.embedder.map(|e| match e.parse::<EmbedderChoice>() {
            Ok(EmbedderChoice::Folder(path)) => resolve(path).to_string_lossy().into_owned(),
            _ => e,
        });
        self
    }
}

/// Why a configuration was rejected.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("reading the config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The config file is not valid YAML for this schema (the message has line and column).
    #[error("{path}: {message} (see docs/server.md for the config file's keys)")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, where.
        message: String,
    },
    /// A value is out of range or inconsistent.
    #[error("{key}: {problem}; {fix}")]
    Invalid {
        /// The setting (file key; flags and variables use the same name).
        key: &'static str,
        /// What is wrong.
        problem: String,
        /// How to fix it.
        fix: &'static str,
    },
}

/// Reads a config file.
pub fn load_file(path: &Path) -> Result<ConfigFileWire, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut wire: ConfigFileWire =
        serde_saphyr::from_str(&text).map_err(|err| ConfigError::Parse {
            path: path.to_path_buf(),
            message: err.to_string(),
        })?;
    let dir = path.parent().unwrap_or(Path::new("."));
    wire.server = wire.server.resolve_paths(dir);
    Ok(wire)
}

/// Where generations run.
#[derive(Debug, Clone, PartialEq)]
pub enum Backend {
    /// The Candle model, in this process.
    InProcess {
        /// GGUF file or Hugging Face folder; `None`: the default model from the asset cache.
        model: Option<PathBuf>,
        /// Compute threads; `None`: all cores.
        threads: Option<usize>,
        /// Where the model runs.
        device: DeviceChoice,
        /// The sentence embedder of the hallucination signals.
        embedder: EmbedderChoice,
        /// Consistency samples per answer (the sampled mode; 0: off).
        consistency_samples: usize,
        /// Requantization of GGUF tensors without fast CPU kernels.
        cpu_repack: CpuRepack,
    },
    /// An OpenAI-compatible server, guarded by this one.
    Upstream {
        /// Base URL without a trailing slash, e.g. `http://127.0.0.1:8081/v1`.
        base_url: String,
        /// Bearer token for the upstream.
        api_key: Option<String>,
    },
}

/// What a blocked input answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockedInputResponse {
    /// A normal completion whose content is the policy's message, `finish_reason: content_filter`.
    ContentFilter,
    /// HTTP 400 with error code `content_filter` and the policy's message.
    Error,
}

impl From<palisade_guard::policy::InputBlockResponse> for BlockedInputResponse {
    fn from(choice: palisade_guard::policy::InputBlockResponse) -> Self {
        match choice {
            palisade_guard::policy::InputBlockResponse::ContentFilter => Self::ContentFilter,
            palisade_guard::policy::InputBlockResponse::Error => Self::Error,
        }
    }
}

/// A validated server configuration.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to bind.
    pub listen: SocketAddr,
    /// Bearer token clients must present (`None`: no auth; only allowed on loopback).
    pub api_key: Option<ApiKey>,
    /// Where generations run.
    pub backend: Backend,
    /// Policy file (`None`: the embedded default policy, never reloaded).
    pub policy: Option<PathBuf>,
    /// Generations running at once.
    pub parallelism: usize,
    /// Requests that may wait for a slot.
    pub queue_capacity: usize,
    /// Time limit of one request, queueing included.
    pub request_timeout: Duration,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Time requests in flight get at shutdown.
    pub shutdown_grace: Duration,
    /// Interval of policy-file checks (`None`: no watching).
    pub reload_poll: Option<Duration>,
    /// What a blocked input answers.
    pub blocked_input: BlockedInputResponse,
    /// Answer length when a request sets none.
    pub default_max_tokens: usize,
    /// Telemetry settings (validated; `OTEL_*` variables applied).
    pub telemetry: TelemetryConfig,
}

fn invalid(key: &'static str, problem: String, fix: &'static str) -> ConfigError {
    ConfigError::Invalid { key, problem, fix }
}

fn positive(key: &'static str, value: Option<usize>, default: usize) -> Result<usize, ConfigError> {
    match value {
        Some(0) => Err(invalid(
            key,
            "0 is not allowed".into(),
            "use a value of at least 1",
        )),
        Some(v) => Ok(v),
        None => Ok(default),
    }
}

impl ServerConfig {
    /// Validates `server` (flags and environment already layered over the file).
    pub fn new(server: ServerWire, telemetry: TelemetryConfig) -> Result<Self, ConfigError> {
        let listen_text = server.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
        let listen: SocketAddr = listen_text.parse().map_err(|_| {
            invalid(
                "listen",
                format!("{listen_text:?} is not an address"),
                "write host:port with a numeric host, e.g. 127.0.0.1:8080 or [::1]:8080",
            )
        })?;
        let api_key = server.api_key.as_deref().map(ApiKey::new).transpose()?;
        if api_key.is_none() && !listen.ip().is_loopback() {
            return Err(invalid(
                "api_key",
                format!("binding to {listen} (not loopback) without an API key"),
                "set --api-key, PALISADE_API_KEY or server.api_key, or listen on 127.0.0.1",
            ));
        }
        let embedder = match server.embedder.as_deref() {
            None => EmbedderChoice::Off,
            Some(text) => text.parse().map_err(|e: String| {
                invalid(
                    "embedder",
                    e,
                    "use off, default or the folder of a BERT embedder",
                )
            })?,
        };
        let consistency_samples = server.consistency_samples.unwrap_or(0);
        if server.upstream.is_some() && (embedder != EmbedderChoice::Off || consistency_samples > 0)
        {
            return Err(invalid(
                "embedder",
                "the hallucination checks need the in-process model's token stream, and proxy \
                 mode (upstream) has none"
                    .into(),
                "remove embedder and consistency_samples, or drop upstream to serve in-process",
            ));
        }
        let backend = match server.upstream {
            Some(url) => Backend::Upstream {
                base_url: upstream_url(&url)?,
                api_key: server.upstream_api_key,
            },
            None => Backend::InProcess {
                model: server.model,
                threads: server.threads,
                device: match server.device.as_deref() {
                    None => DeviceChoice::Cpu,
                    Some(text) => text.parse().map_err(|e: DeviceParseError| {
                        invalid("device", e.to_string(), "use cpu, cuda[:N] or metal[:N]")
                    })?,
                },
                embedder,
                consistency_samples,
                cpu_repack: match server.cpu_repack.as_deref() {
                    None => CpuRepack::Off,
                    Some(text) => text
                        .parse()
                        .map_err(|e: String| invalid("cpu_repack", e, "use off, q8_0 or q4_0"))?,
                },
            },
        };
        let default_parallelism = match backend {
            Backend::InProcess { .. } => 1,
            Backend::Upstream { .. } => DEFAULT_PROXY_PARALLELISM,
        };
        let blocked_input = match server.blocked_input.as_deref() {
            None | Some("content_filter") => BlockedInputResponse::ContentFilter,
            Some("error") => BlockedInputResponse::Error,
            Some(other) => {
                return Err(invalid(
                    "blocked_input",
                    format!("unknown value {other:?}"),
                    "use content_filter or error",
                ));
            }
        };
        let timeout_ms = server
            .request_timeout_ms
            .unwrap_or(DEFAULT_REQUEST_TIMEOUT_MS);
        if timeout_ms == 0 {
            return Err(invalid(
                "request_timeout_ms",
                "0 is not allowed".into(),
                "use a positive number of milliseconds",
            ));
        }
        let poll_ms = server.reload_poll_ms.unwrap_or(DEFAULT_RELOAD_POLL_MS);
        Ok(Self {
            listen,
            api_key,
            backend,
            policy: server.policy,
            parallelism: positive("parallelism", server.parallelism, default_parallelism)?,
            queue_capacity: server.queue_capacity.unwrap_or(DEFAULT_QUEUE_CAPACITY),
            request_timeout: Duration::from_millis(timeout_ms),
            max_body_bytes: positive(
                "max_body_bytes",
                server.max_body_bytes,
                DEFAULT_MAX_BODY_BYTES,
            )?,
            shutdown_grace: Duration::from_millis(
                server
                    .shutdown_grace_ms
                    .unwrap_or(DEFAULT_SHUTDOWN_GRACE_MS),
            ),
            reload_poll: (poll_ms > 0).then(|| Duration::from_millis(poll_ms)),
            blocked_input,
            default_max_tokens: positive(
                "default_max_tokens",
                server.default_max_tokens,
                DEFAULT_MAX_TOKENS,
            )?,
            telemetry,
        })
    }
}

fn upstream_url(url: &str) -> Result<String, ConfigError> {
    let trimmed = url.trim_end_matches('/');
    if trimmed.starts_with("https://") {
        return Err(invalid(
            "upstream",
            format!("{url:?} uses https, which this build does not speak"),
            "guard a local server over http, e.g. http://127.0.0.1:8081/v1",
        ));
    }
    if !trimmed.starts_with("http://") || trimmed.len() <= "http://".len() {
        return Err(invalid(
            "upstream",
            format!("{url:?} is not an http URL"),
            "give the upstream's base URL, e.g. http://127.0.0.1:8081/v1",
        ));
    }
    Ok(trimmed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(listen: &str) -> ServerWire {
        ServerWire {
            listen: Some(listen.into()),
            ..ServerWire::default()
        }
    }

    #[test]
    fn flags_win_over_the_file() {
        let file = ServerWire {
            listen: Some("127.0.0.1:1".into()),
            parallelism: Some(3),
            ..ServerWire::default()
        };
        let merged = wire("127.0.0.1:2").over(file);
        assert_eq!(merged.listen.as_deref(), Some("127.0.0.1:2"));
        assert_eq!(merged.parallelism, Some(3));
    }

    #[test]
    fn off_loopback_needs_a_key() {
        let err = ServerConfig::new(wire("0.0.0.0:8080"), TelemetryConfig::default())
            .expect_err("must be rejected");
        assert!(err.to_string().contains("api_key"), "{err}");
        let mut with_key = wire("0.0.0.0:8080");
        with_key.api_key = Some("a-long-enough-secret".into());
        assert!(ServerConfig::new(with_key, TelemetryConfig::default()).is_ok());
    }

    #[test]
    fn bad_values_say_how_to_fix() {
        let mut bad = wire("127.0.0.1:8080");
        bad.blocked_input = Some("drop".into());
        let err = ServerConfig::new(bad, TelemetryConfig::default()).expect_err("rejected");
        assert!(err.to_string().contains("content_filter or error"), "{err}");
        let mut gpu = wire("127.0.0.1:8080");
        gpu.device = Some("tpu".into());
        let err = ServerConfig::new(gpu, TelemetryConfig::default()).expect_err("rejected");
        assert!(err.to_string().contains("cuda[:N]"), "{err}");
        let mut repack = wire("127.0.0.1:8080");
        repack.cpu_repack = Some("q4_1".into());
        let err = ServerConfig::new(repack, TelemetryConfig::default()).expect_err("rejected");
        assert!(err.to_string().contains("q8_0"), "{err}");
        let mut https = wire("127.0.0.1:8080");
        https.upstream = Some("https://example.com/v1".into());
        assert!(ServerConfig::new(https, TelemetryConfig::default()).is_err());
    }

    #[test]
    fn hallucination_checks_are_in_process_only_and_paths_follow_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("serve.yaml");
        std::fs::write(
            &path,
            "server:\n  embedder: models/minilm\n  consistency_samples: 2\n",
        )
        .expect("write");
        let file = load_file(&path).expect("valid");
        let config =
            ServerConfig::new(file.server.clone(), TelemetryConfig::default()).expect("valid");
        match config.backend {
            Backend::InProcess {
                embedder,
                consistency_samples,
                ..
            } => {
                assert_eq!(
                    embedder,
                    EmbedderChoice::Folder(dir.path().join("models/minilm"))
                );
                assert_eq!(consistency_samples, 2);
            }
            other => panic!("in-process expected, got {other:?}"),
        }
        let mut proxy = file.server;
        proxy.upstream = Some("http://127.0.0.1:8081/v1".into());
        let err = ServerConfig::new(proxy, TelemetryConfig::default()).expect_err("rejected");
        assert!(err.to_string().contains("proxy mode"), "{err}");
        let mut default = wire("127.0.0.1:8080");
        default.embedder = Some("default".into());
        let config = ServerConfig::new(default.clone(), TelemetryConfig::default()).expect("ok");
        assert!(matches!(
            config.backend,
            Backend::InProcess {
                embedder: EmbedderChoice::Default,
                consistency_samples: 0,
                ..
            }
        ));
        default.embedder = Some(String::new());
        assert!(ServerConfig::new(default, TelemetryConfig::default()).is_err());
    }

    #[test]
    fn unknown_file_keys_are_rejected_with_a_position() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("serve.yaml");
        std::fs::write(&path, "server:\n  listen: 127.0.0.1:9\n  paralelism: 2\n").expect("write");
        let err = load_file(&path).expect_err("rejected");
        let text = err.to_string();
        assert!(
            text.contains("paralelism") && text.contains("serve.yaml"),
            "{text}"
        );
    }
}
