//! The compiled guard: rules turned into detectors, shared by whole-text checks and streams.

mod compile;
mod core;
pub mod length;

use std::sync::Arc;

use crate::detector::{DetectorFactory, Registry};
use crate::policy::Policy;
use crate::stream::OutputStream;
use crate::types::{Decision, Direction, Verdict};
use crate::vault::RedactionVault;

pub(crate) use self::compile::Side;
pub(crate) use self::core::{Core, LateRule};

/// Why a policy could not be compiled into a guard.
#[derive(Debug, thiserror::Error)]
pub enum GuardBuildError {
    /// A rule's `type:` is implemented outside this crate and nothing was registered for it.
    #[error("rule `{rule_id}` uses detector type `{type_name}`, which is not registered")]
    MissingDetector {
        /// The rule.
        rule_id: String,
        /// The unregistered type.
        type_name: String,
    },
    /// A detector refused the rule's options.
    #[error("rule `{rule_id}`: {message}")]
    Detector {
        /// The rule.
        rule_id: String,
        /// What is wrong.
        message: String,
    },
}

pub(crate) struct Inner {
    pub(crate) policy: Policy,
    pub(crate) input: Side,
    pub(crate) output: Side,
}

impl Inner {
    pub(crate) fn side(&self, direction: Direction) -> &Side {
        match direction {
            Direction::Input => &self.input,
            Direction::Output => &self.output,
        }
    }
}

/// A compiled policy. Cheap to clone (shares its state), `Send + Sync`.
#[derive(Clone)]
pub struct Guard {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("policy", &self.inner.policy.name())
            .field("hash", &self.inner.policy.hash())
            .finish()
    }
}

/// Compiles a policy, with factories for externally implemented detector types.
#[derive(Debug)]
pub struct GuardBuilder {
    policy: Policy,
    registry: Registry,
}

impl GuardBuilder {
    /// Registers the factory for rules of `type_name` (such as `"toxicity"`).
    pub fn register(mut self, type_name: &str, factory: Arc<dyn DetectorFactory>) -> Self {
        self.registry.register(type_name, factory);
        self
    }

    /// Uses every factory of `registry`.
    pub fn registry(mut self, registry: Registry) -> Self {
        self.registry = registry;
        self
    }

    /// Compiles every enabled rule.
    pub fn build(self) -> Result<Guard, GuardBuildError> {
        let input = Side::compile(&self.policy, Direction::Input, &self.registry)?;
        let output = Side::compile(&self.policy, Direction::Output, &self.registry)?;
        Ok(Guard {
            inner: Arc::new(Inner {
                policy: self.policy,
                input,
                output,
            }),
        })
    }
}

impl Guard {
    /// Compiles a policy that uses only built-in detector types.
    pub fn new(policy: Policy) -> Result<Guard, GuardBuildError> {
        Guard::builder(policy).build()
    }

    /// A builder, to register external detector types first.
    pub fn builder(policy: Policy) -> GuardBuilder {
        GuardBuilder {
            policy,
            registry: Registry::new(),
        }
    }

    /// The policy this guard enforces.
    pub fn policy(&self) -> &Policy {
        &self.inner.policy
    }

    /// Checks a whole text.
    pub fn check(&self, direction: Direction, text: &str) -> Decision {
        self.check_with_vault(direction, text, None)
    }

    /// Checks a whole text; for output, restorable placeholders of `vault` (from the input
    /// check of the same request) are put back, and new placeholders continue its numbering.
    pub fn check_with_vault(
        &self,
        direction: Direction,
        text: &str,
        vault: Option<&RedactionVault>,
    ) -> Decision {
        self.check_inner(direction, text, vault, false)
    }

    /// [`Guard::check_with_vault`], also measuring each detector's time and run-time failures
    /// into [`Decision::costs`] (two clock reads per detector).
    pub fn check_measured(
        &self,
        direction: Direction,
        text: &str,
        vault: Option<&RedactionVault>,
    ) -> Decision {
        self.check_inner(direction, text, vault, true)
    }

    fn check_inner(
        &self,
        direction: Direction,
        text: &str,
        vault: Option<&RedactionVault>,
        measure: bool,
    ) -> Decision {
        let mut core = Core::new(self.inner.clone(), direction, vault);
        if measure {
            core.measure();
        }
        let step = core.scan_whole(text);
        let verdict = step
            .findings
            .iter()
            .map(|f| f.action.verdict())
            .max()
            .unwrap_or(Verdict::Allow);
        Decision {
            verdict,
            findings: step.findings,
            text: step.text,
            block: step.block,
            costs: core.costs(),
            vault: core.into_vault(),
        }
    }

    /// A streaming guard for the model's output. `vault` is the input check's vault: its
    /// restorable placeholders are put back as they stream past.
    pub fn output_stream(&self, vault: Option<&RedactionVault>) -> OutputStream {
        let mut core = Core::new(self.inner.clone(), Direction::Output, vault);
        let late = core.hand_over_late();
        OutputStream::new(core, late)
    }

    /// Every finding kind the enabled rules of both directions can report (`pii.email`,
    /// `toxicity.insult`, `length`, ...), sorted and without duplicates: the values telemetry
    /// may export as `palisade.finding.kind`.
    pub fn finding_kinds(&self) -> Vec<Arc<str>> {
        let mut kinds: Vec<Arc<str>> = [&self.inner.input, &self.inner.output]
            .into_iter()
            .flat_map(|side| {
                let lengths = (!side.lengths.is_empty()).then(|| side.length_kind.clone());
                side.scanners
                    .iter()
                    .flat_map(|s| s.detector.kinds().iter().cloned())
                    .chain(lengths)
            })
            .collect();
        kinds.sort();
        kinds.dedup();
        kinds
    }

    /// Whether any enabled rule of `direction` exists.
    pub fn has_rules(&self, direction: Direction) -> bool {
        !self.inner.side(direction).is_empty()
    }
}
