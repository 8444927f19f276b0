//! The guarded pipeline: input guard -> model -> output guard -> telemetry.

mod events;
mod hallucination;
mod request;
mod run;
mod stream;

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use palisade_guard::{Guard, Policy};
use palisade_inference::{Engine, LoadOptions};
use palisade_telemetry::{NoopSink, TelemetrySink};

use crate::assets::{AssetCache, MissingAsset, SMOLLM2_135M_INSTRUCT};
use crate::hallucination::RiskModel;

pub use events::{ChatEvent, ChatSummary, Finish, GuardEvent};
pub use request::ChatRequest;
pub use run::ChatError;
pub(crate) use run::{detector_reports, outcome, telemetry_action, telemetry_direction};
pub use stream::ChatEvents;

/// A local model wrapped with a guard policy and a telemetry sink.
///
/// Cheap to clone: clones share the model, the policy and the sink. One chat
/// runs on the model at a time; others wait for it.
#[derive(Clone)]
pub struct Palisade {
    inner: Arc<Inner>,
}

struct Inner {
    /// Shared with every [`Palisade::with_guard`] copy: one model in memory.
    engine: Arc<Mutex<Engine>>,
    guard: Arc<Guard>,
    telemetry: Arc<dyn TelemetrySink>,
    model_name: String,
    /// The embedded hallucination risk model (validated by a unit test; a
    /// model that fails to load leaves the risk unscored rather than failing
    /// requests).
    risk_model: Option<RiskModel>,
}

/// Why a [`Palisade`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The default model is not in the asset cache.
    #[error(transparent)]
    MissingAsset(#[from] MissingAsset),
    /// The policy is invalid.
    #[error(transparent)]
    Policy(#[from] palisade_guard::PolicyError),
    /// The policy's rules could not be compiled.
    #[error(transparent)]
    GuardBuild(#[from] palisade_guard::GuardBuildError),
    /// The model could not be loaded.
    #[error(transparent)]
    Model(#[from] palisade_inference::LoadError),
}

impl Palisade {
    /// Wraps `engine` with `guard`, reporting to `telemetry`.
    pub fn new(engine: Engine, guard: Guard, telemetry: Arc<dyn TelemetrySink>) -> Self {
        let model_name = engine.model_name().to_string();
        Self {
            inner: Arc::new(Inner {
                engine: Arc::new(Mutex::new(engine)),
                guard: Arc::new(guard),
                telemetry,
                model_name,
                risk_model: RiskModel::embedded().ok(),
            }),
        }
    }

    /// The default model from the asset cache (see [`AssetCache::from_env`])
    /// with the embedded default policy and no telemetry.
    pub fn load_default() -> Result<Self, LoadError> {
        let model = AssetCache::from_env().require(&SMOLLM2_135M_INSTRUCT)?;
        let policy =
            Policy::from_yaml_str(crate::DEFAULT_POLICY_YAML, crate::DEFAULT_POLICY_ORIGIN)?;
        Self::load(&model, policy, &LoadOptions::default(), Arc::new(NoopSink))
    }

    /// Loads the GGUF model at `model` and compiles `policy`.
    pub fn load(
        model: &Path,
        policy: Policy,
        options: &LoadOptions,
        telemetry: Arc<dyn TelemetrySink>,
    ) -> Result<Self, LoadError> {
        let guard = crate::build_guard(policy)?;
        let engine = Engine::load_gguf(model, options)?;
        Ok(Self::new(engine, guard, telemetry))
    }

    /// The loaded model's name.
    pub fn model_name(&self) -> &str {
        &self.inner.model_name
    }

    /// The compiled policy.
    pub fn guard(&self) -> &Guard {
        &self.inner.guard
    }

    /// The same model and telemetry sink with another policy (a hot reload).
    /// Chats already running keep the policy they started with; the model
    /// stays loaded once and is shared.
    pub fn with_guard(&self, guard: Guard) -> Palisade {
        Self {
            inner: Arc::new(Inner {
                engine: Arc::clone(&self.inner.engine),
                guard: Arc::new(guard),
                telemetry: Arc::clone(&self.inner.telemetry),
                model_name: self.inner.model_name.clone(),
                risk_model: self.inner.risk_model.clone(),
            }),
        }
    }

    /// Runs `request` on another thread and returns its events as an
    /// iterator. Dropping the iterator cancels the generation within a token.
    pub fn chat(&self, request: ChatRequest) -> ChatEvents {
        ChatEvents::spawn(self.clone(), request)
    }

    /// Runs `request` on this thread, handing each event to `on_event`.
    /// Returning [`std::ops::ControlFlow::Break`] cancels the generation.
    pub fn chat_with(
        &self,
        request: ChatRequest,
        on_event: &mut dyn FnMut(ChatEvent) -> std::ops::ControlFlow<()>,
    ) -> Result<ChatSummary, ChatError> {
        run::run_chat(self, request, on_event)
    }

    fn engine(&self) -> MutexGuard<'_, Engine> {
        // A panic mid-generation leaves nothing half-written that the next
        // generation relies on: each generation resets the KV cache.
        match self.inner.engine.lock() {
            Ok(engine) => engine,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}
