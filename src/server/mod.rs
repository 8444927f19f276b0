//! The guarded OpenAI-compatible HTTP server behind `palisade serve`.
//!
//! `POST /v1/chat/completions` and `POST /v1/completions` (JSON or SSE),
//! `GET /v1/models`, `/healthz`, `/readyz` and `/metrics`. Generations run on
//! the in-process model or on an upstream OpenAI-compatible server (proxy
//! mode); either way the input guard runs before, the output guard on the
//! stream, and telemetry records numbers and rule ids only. A scheduler
//! bounds parallel generations and the queue (429 beyond it); the policy
//! reloads without a restart. See `docs/server.md`.

mod auth;
mod config;
mod convert;
mod error;
mod events;
mod handlers;
mod inprocess;
mod log;
mod metrics;
mod proxy;
mod reload;
mod respond;
mod scheduler;
mod sse;
mod upstream;
mod wire;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use palisade_guard::Guard;
use palisade_inference::{Engine, LoadOptions};
use palisade_telemetry::OtelSink;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::{HallucinationChecks, Palisade};

pub use auth::{ApiKey, MIN_API_KEY_BYTES};
pub use config::{
    Backend, BlockedInputResponse, ConfigError, ConfigFileWire, ServerConfig, ServerWire, load_file,
};
pub use reload::{LoadedPolicy, ReloadError};

use log::info;
use reload::PolicyState;
use scheduler::Scheduler;
use upstream::{Endpoint, Upstream};

/// Upstream model names registered with telemetry at most.
const MAX_UPSTREAM_MODELS: usize = 32;

/// Where generations run, with the guard that is swapped on reload.
pub(crate) enum Generator {
    InProcess(RwLock<Palisade>),
    Upstream(Arc<Upstream>),
}

impl Generator {
    /// The in-process pipeline with the current policy.
    fn palisade(&self) -> Option<Palisade> {
        match self {
            Generator::InProcess(slot) => Some(match slot.read() {
                Ok(p) => p.clone(),
                Err(poisoned) => poisoned.into_inner().clone(),
            }),
            Generator::Upstream(_) => None,
        }
    }

    fn install(&self, guard: Guard) {
        match self {
            Generator::InProcess(slot) => {
                let mut current = match slot.write() {
                    Ok(p) => p,
                    Err(poisoned) => poisoned.into_inner(),
                };
                *current = current.with_guard(guard);
            }
            Generator::Upstream(upstream) => upstream.install(guard),
        }
    }
}

/// Shared by every handler.
pub(crate) struct AppState {
    config: ServerConfig,
    generator: Generator,
    scheduler: Scheduler,
    telemetry: Arc<OtelSink>,
    policy: PolicyState,
    draining: AtomicBool,
    next_id: AtomicU64,
}

impl AppState {
    fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    fn shape(&self, endpoint: Endpoint, model: String) -> respond::Shape {
        let created = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        let prefix = match endpoint {
            Endpoint::Chat => "chatcmpl",
            Endpoint::Completion => "cmpl",
        };
        respond::Shape {
            endpoint,
            id: format!("{prefix}-{created:x}{n:08x}"),
            created,
            model,
        }
    }
}

/// Why the server did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Telemetry did not start.
    #[error("telemetry: {0}")]
    Telemetry(#[from] crate::observability::TelemetrySetupError),
    /// The model's name was refused by telemetry.
    #[error("telemetry: {0}")]
    TelemetryRegister(#[from] palisade_telemetry::TelemetryError),
    /// The policy did not load.
    #[error(transparent)]
    Policy(#[from] ReloadError),
    /// The model is not in the asset cache, or could not be fetched from the Hub.
    #[error(transparent)]
    ModelSource(#[from] crate::assets::ModelSourceError),
    /// The model did not load (the reason is the source, which error chains print once).
    #[error("loading the model")]
    Model(#[from] palisade_inference::LoadError),
    /// The hallucination checks (the sentence embedder) did not load.
    #[error(transparent)]
    HallucinationChecks(#[from] crate::HallucinationChecksError),
    /// The upstream client could not be built.
    #[error("building the upstream client: {0}")]
    Client(#[from] reqwest::Error),
    /// The address could not be bound.
    #[error("binding {addr}: {source} (is another server running there? choose another --listen)")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A loading thread failed.
    #[error("a loading thread stopped unexpectedly")]
    Worker,
}

/// A started server.
pub struct RunningServer {
    addr: SocketAddr,
    state: Arc<AppState>,
    stop: watch::Sender<bool>,
    task: JoinHandle<std::io::Result<()>>,
}

/// How a shutdown went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Whether every request in flight finished within the grace period.
    pub drained: bool,
}

/// Loads the policy and the model (or connects the upstream client), binds
/// `config.listen` and serves until [`RunningServer::shutdown`].
pub async fn start(config: ServerConfig) -> Result<RunningServer, StartError> {
    let policy_path = config.policy.clone();
    let (guard, loaded) = tokio::task::spawn_blocking(move || {
        let policy = reload::load_policy(policy_path.as_deref())?;
        let loaded = LoadedPolicy::of(&policy);
        let guard = crate::build_guard(policy).map_err(ReloadError::from)?;
        Ok::<_, ReloadError>((guard, loaded))
    })
    .await
    .map_err(|_| StartError::Worker)??;
    let telemetry = crate::observability::start_telemetry(config.telemetry.clone(), &guard)?;
    crate::observability::install_trace_layer(&telemetry);
    let generator = match &config.backend {
        Backend::InProcess {
            model,
            threads,
            device,
            embedder,
            consistency_samples,
            cpu_repack,
        } => {
            // A GPU this build cannot use is refused before the model is looked for.
            device.open()?;
            let model = crate::assets::resolve_model(model.as_deref())?;
            let options = LoadOptions {
                threads: *threads,
                device: *device,
                cpu_repack: *cpu_repack,
            };
            // The small embedder (and the checks' settings) first: a bad choice fails before
            // the model is loaded.
            let (embedder, samples) = (embedder.clone(), *consistency_samples);
            let checks = tokio::task::spawn_blocking(move || {
                HallucinationChecks::load(
                    &embedder,
                    samples,
                    &crate::assets::AssetCache::from_env(),
                )
            })
            .await
            .map_err(|_| StartError::Worker)??;
            let engine = tokio::task::spawn_blocking(move || Engine::load(&model, &options))
                .await
                .map_err(|_| StartError::Worker)??;
            telemetry.register_model(engine.model_name())?;
            let palisade =
                Palisade::new(engine, guard, telemetry.clone()).with_hallucination_checks(checks);
            Generator::InProcess(RwLock::new(palisade))
        }
        Backend::Upstream { base_url, api_key } => {
            let upstream = Upstream::new(base_url.clone(), api_key.clone(), guard)?;
            // Telemetry names only models the upstream lists (clients cannot
            // add values); others are reported as `_other`.
            for model in upstream.model_ids(MAX_UPSTREAM_MODELS).await {
                if let Err(err) = telemetry.register_model(&model) {
                    info(format_args!(
                        "telemetry does not accept the model name {model:?}: {err}"
                    ));
                }
            }
            Generator::Upstream(Arc::new(upstream))
        }
    };
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: config.listen,
        source,
    })?;
    let state = Arc::new(AppState {
        scheduler: Scheduler::new(config.parallelism, config.queue_capacity),
        policy: PolicyState::new(config.policy.clone(), loaded),
        config,
        generator,
        telemetry,
        draining: AtomicBool::new(false),
        next_id: AtomicU64::new(0),
    });
    let (stop, mut stopped) = watch::channel(false);
    if let Some(every) = state.config.reload_poll
        && state.policy.path().is_some()
    {
        tokio::spawn(reload::watch_file(
            Arc::clone(&state),
            every,
            stop.subscribe(),
        ));
    }
    let app = handlers::router(Arc::clone(&state));
    // Small SSE frames must leave at once, not wait for Nagle's algorithm.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.wait_for(|s| *s).await;
            })
            .await
    });
    let mode = match &state.generator {
        Generator::InProcess(_) => "in-process model".to_string(),
        Generator::Upstream(u) => format!("proxy for {}", u.base_url()),
    };
    let policy = state.policy.current();
    info(format_args!(
        "listening on http://{addr} ({mode}; policy {} v{}; auth {})",
        policy.name,
        policy.version,
        if state.config.api_key.is_some() {
            "on"
        } else {
            "off"
        }
    ));
    Ok(RunningServer {
        addr,
        state,
        stop,
        task,
    })
}

impl RunningServer {
    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Reloads the policy file now (what SIGHUP does).
    pub async fn reload_policy(&self) -> Result<LoadedPolicy, ReloadError> {
        self.state.reload_policy().await
    }

    /// The policy serving now.
    pub fn policy(&self) -> LoadedPolicy {
        self.state.policy.current()
    }

    /// Stops accepting connections, lets requests in flight finish for up to
    /// the configured grace period, then stops telemetry.
    pub async fn shutdown(self) -> ShutdownReport {
        self.state.draining.store(true, Ordering::SeqCst);
        let _ = self.stop.send(true);
        let running = self.state.scheduler.running();
        info(format_args!(
            "shutting down: draining {running} request(s) in flight"
        ));
        let mut task = self.task;
        let drained = match tokio::time::timeout(self.state.config.shutdown_grace, &mut task).await
        {
            Ok(_) => true,
            Err(_) => {
                task.abort();
                info(format_args!(
                    "grace period over: {} request(s) cut",
                    self.state.scheduler.running()
                ));
                false
            }
        };
        let sink = Arc::clone(&self.state.telemetry);
        let _ =
            tokio::task::spawn_blocking(move || sink.shutdown(std::time::Duration::from_secs(2)))
                .await;
        ShutdownReport { drained }
    }
}
