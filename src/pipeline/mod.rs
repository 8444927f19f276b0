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

use crate::assets::{
    AssetCache, EmbedderChoice, EmbedderError, MissingAsset, SMOLLM2_135M_INSTRUCT,
};
use crate::hallucination::consistency::MAX_SAMPLES;
use crate::hallucination::{RiskModel, SampledMode};
use palisade_inference::embedding::SentenceEmbedder;

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

#[derive(Clone)]
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
    checks: HallucinationChecks,
}

/// The optional hallucination checks that need a model of their own: the
/// sentence embedder (context similarity) and the sampled mode (consistency
/// across sampled answers, which also needs the embedder). Both off by default.
#[derive(Clone, Debug, Default)]
pub struct HallucinationChecks {
    /// The sentence embedder; `None` leaves the embedding signals unmeasured.
    pub embedder: Option<Arc<SentenceEmbedder>>,
    /// The sampled mode; measured only with an embedder.
    pub sampled: SampledMode,
}

/// Why the hallucination checks could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum HallucinationChecksError {
    /// The sampled mode was asked for without an embedder.
    #[error(
        "the sampled mode ({samples} consistency samples) compares answers with the sentence \
         embedder, which is off; fix: also set the embedder (`--embedder default`), or set 0 samples"
    )]
    SamplesWithoutEmbedder {
        /// The samples asked for.
        samples: usize,
    },
    /// Too many samples.
    #[error(
        "{samples} consistency samples is more than {MAX_SAMPLES}; fix: use 1 to {MAX_SAMPLES} \
         (each costs one more generation per answer)"
    )]
    TooManySamples {
        /// The samples asked for.
        samples: usize,
    },
    /// The embedder did not load.
    #[error("the sentence embedder: {0}")]
    Embedder(#[from] EmbedderError),
}

impl HallucinationChecks {
    /// Validates the choice and loads the embedder from `cache` or its folder.
    pub fn load(
        embedder: &EmbedderChoice,
        samples: usize,
        cache: &AssetCache,
    ) -> Result<Self, HallucinationChecksError> {
        if samples > MAX_SAMPLES {
            return Err(HallucinationChecksError::TooManySamples { samples });
        }
        if samples > 0 && *embedder == EmbedderChoice::Off {
            return Err(HallucinationChecksError::SamplesWithoutEmbedder { samples });
        }
        Ok(Self {
            embedder: embedder.load(cache)?.map(Arc::new),
            sampled: SampledMode::with_samples(samples),
        })
    }
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
                checks: HallucinationChecks::default(),
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
        let mut inner = (*self.inner).clone();
        inner.guard = Arc::new(guard);
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The same model, policy and sink with these hallucination checks.
    pub fn with_hallucination_checks(&self, checks: HallucinationChecks) -> Palisade {
        let mut inner = (*self.inner).clone();
        inner.checks = checks;
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The hallucination checks in use.
    pub fn hallucination_checks(&self) -> &HallucinationChecks {
        &self.inner.checks
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
