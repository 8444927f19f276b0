//! `palisade serve`: the guarded OpenAI-compatible server.
//!
//! Settings come from flags, then `PALISADE_*` variables, then the config
//! file (`--config`), then defaults; see `docs/server.md`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use palisade::inference::DeviceChoice;
use palisade::observability::read_telemetry_config;
use palisade::server::{self, ServerConfig, ServerWire};
use palisade::telemetry::TelemetryConfig;

/// Arguments of `palisade serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Config file (YAML with `server:` and `telemetry:` sections).
    #[arg(long, value_name = "FILE", env = "PALISADE_CONFIG")]
    config: Option<PathBuf>,
    /// Address to bind (default 127.0.0.1:8080).
    #[arg(long, value_name = "HOST:PORT", env = "PALISADE_LISTEN")]
    listen: Option<String>,
    /// Bearer token clients must send; required off loopback.
    #[arg(
        long,
        value_name = "KEY",
        env = "PALISADE_API_KEY",
        hide_env_values = true
    )]
    api_key: Option<String>,
    /// Guard this OpenAI-compatible server instead of running the model in-process.
    #[arg(long, value_name = "URL", env = "PALISADE_UPSTREAM")]
    upstream: Option<String>,
    /// Bearer token for the upstream.
    #[arg(
        long,
        value_name = "KEY",
        env = "PALISADE_UPSTREAM_API_KEY",
        hide_env_values = true
    )]
    upstream_api_key: Option<String>,
    /// Policy file (default: the embedded default policy); reloaded on SIGHUP and on change.
    #[arg(long, value_name = "FILE", env = "PALISADE_POLICY")]
    policy: Option<PathBuf>,
    /// GGUF file or Hugging Face folder for in-process mode, or
    /// hf:OWNER/NAME[@REVISION][/FILE.gguf] (builds with the `hub` feature); default:
    /// SmolLM2-135M-Instruct from the cache.
    #[arg(long, value_name = "PATH", env = "PALISADE_MODEL")]
    model: Option<PathBuf>,
    /// Compute threads of the in-process model (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Device of the in-process model: cpu (default), cuda[:N] or metal[:N]
    /// (GPUs need a build with `--features cuda` or `--features metal`).
    #[arg(long, value_name = "DEVICE", env = "PALISADE_DEVICE")]
    device: Option<DeviceChoice>,
    /// Generations at once (default 1 in-process, 16 in proxy mode).
    #[arg(long)]
    parallelism: Option<usize>,
    /// Requests that may wait for a slot before 429 (default 64).
    #[arg(long)]
    queue_capacity: Option<usize>,
    /// Time limit of a request, queueing included (default 120000).
    #[arg(long, value_name = "MS")]
    request_timeout_ms: Option<u64>,
    /// Largest request body (default 1048576).
    #[arg(long, value_name = "BYTES")]
    max_body_bytes: Option<usize>,
    /// Time requests in flight get at shutdown (default 30000).
    #[arg(long, value_name = "MS")]
    shutdown_grace_ms: Option<u64>,
    /// Policy file check interval; 0: no watching (default 1000).
    #[arg(long, value_name = "MS")]
    reload_poll_ms: Option<u64>,
    /// Answer to a blocked input: content_filter (default) or error (HTTP 400).
    #[arg(long, value_name = "MODE")]
    blocked_input: Option<String>,
    /// Answer length when a request sets none (default 256).
    #[arg(long)]
    default_max_tokens: Option<usize>,
    /// Telemetry configuration (YAML, the keys of docs/telemetry.md); replaces
    /// the config file's `telemetry:` section.
    #[arg(long, value_name = "FILE", env = "PALISADE_TELEMETRY")]
    telemetry: Option<PathBuf>,
    /// Sentence embedder of the hallucination signals: off (default), default
    /// (all-MiniLM-L6-v2 from the asset cache) or a model folder.
    #[arg(long, value_name = "off|default|DIR", env = "PALISADE_EMBEDDER")]
    embedder: Option<String>,
    /// The sampled mode: answers sampled per answer to measure its consistency (needs
    /// --embedder; default 0, off).
    #[arg(long, value_name = "K")]
    consistency_samples: Option<usize>,
    /// Requantize GGUF tensors without fast CPU kernels at load: off (default), q8_0 or q4_0.
    #[arg(long, value_name = "off|q8_0|q4_0", env = "PALISADE_CPU_REPACK")]
    cpu_repack: Option<String>,
}

impl ServeArgs {
    fn overrides(&self) -> ServerWire {
        ServerWire {
            listen: self.listen.clone(),
            api_key: self.api_key.clone(),
            upstream: self.upstream.clone(),
            upstream_api_key: self.upstream_api_key.clone(),
            policy: self.policy.clone(),
            model: self.model.clone(),
            threads: self.threads,
            device: self.device.map(|d| d.to_string()),
            parallelism: self.parallelism,
            queue_capacity: self.queue_capacity,
            request_timeout_ms: self.request_timeout_ms,
            max_body_bytes: self.max_body_bytes,
            shutdown_grace_ms: self.shutdown_grace_ms,
            reload_poll_ms: self.reload_poll_ms,
            blocked_input: self.blocked_input.clone(),
            default_max_tokens: self.default_max_tokens,
            embedder: self.embedder.clone(),
            consistency_samples: self.consistency_samples,
            cpu_repack: self.cpu_repack.clone(),
        }
    }
}

/// Runs `palisade serve` until SIGINT or SIGTERM; SIGHUP reloads the policy.
pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let file = match &args.config {
        Some(path) => server::load_file(path)?,
        None => server::ConfigFileWire::default(),
    };
    let telemetry = match &args.telemetry {
        Some(path) => read_telemetry_config(Some(path))?,
        None => TelemetryConfig::from_wire(&file.telemetry.unwrap_or_default())
            .context("the config file's telemetry section")?,
    };
    let config = ServerConfig::new(args.overrides().over(file.server), telemetry)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("palisade-serve")
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(serve(config))
}

async fn serve(config: ServerConfig) -> anyhow::Result<ExitCode> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangup = signal(SignalKind::hangup()).context("listening for SIGHUP")?;
    let mut terminate = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("listening for SIGINT")?;
    let running = server::start(config).await?;
    loop {
        tokio::select! {
            _ = hangup.recv() => {
                // Errors are logged by the server; the old policy keeps serving.
                let _ = running.reload_policy().await;
            }
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
        }
    }
    let report = running.shutdown().await;
    Ok(if report.drained {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
