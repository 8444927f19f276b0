//! Palisade: guardrails and privacy-preserving telemetry for local language
//! models.
//!
//! The [`Palisade`] type wraps a Candle model with a guard policy and a
//! telemetry sink. A chat request passes the input guard, runs on the model,
//! and every streamed token passes the output guard before it is released;
//! telemetry receives numbers and rule ids, never text.
//!
//! ```no_run
//! use palisade::{ChatEvent, ChatRequest, Palisade};
//!
//! let palisade = Palisade::load_default()?;
//! let request = ChatRequest::user("What is the capital of France?");
//! for event in palisade.chat(request) {
//!     match event? {
//!         ChatEvent::Delta(text) => print!("{text}"),
//!         ChatEvent::Guard(decision) => eprintln!("guard: {decision}"),
//!         ChatEvent::Done(summary) => eprintln!("\n{summary}"),
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

pub mod assets;
pub mod hallucination;
pub mod observability;
mod pipeline;
pub mod server;

pub use palisade_guard as guard;
pub use palisade_inference as inference;
pub use palisade_telemetry as telemetry;
pub use pipeline::{
    ChatError, ChatEvent, ChatEvents, ChatRequest, ChatSummary, Finish, GuardEvent,
    HallucinationChecks, HallucinationChecksError, LoadError, Palisade,
};

/// Compiles `policy` with every detector this build supports registered
/// (the ONNX toxicity classifiers among them). Use this rather than
/// [`guard::Guard::new`], which knows only the built-in detectors.
pub fn build_guard(policy: guard::Policy) -> Result<guard::Guard, guard::GuardBuildError> {
    guard::toxicity::register(guard::Guard::builder(policy)).build()
}

/// The default policy, embedded in the binary (`policies/default.yaml`).
pub const DEFAULT_POLICY_YAML: &str = include_str!("../policies/default.yaml");

/// The name under which the embedded default policy reports errors.
pub const DEFAULT_POLICY_ORIGIN: &str = "policies/default.yaml (embedded)";

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
