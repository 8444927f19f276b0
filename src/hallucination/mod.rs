//! Hallucination signals computed locally: decoding signals from the token
//! stream (in `palisade_telemetry::SignalAccumulator`, which sees numbers
//! only), grounding checks of the answer against its context (text work,
//! here: lexical, and semantic with a sentence embedder), consistency with
//! sampled answers (optional), and one calibrated risk score combining them.
//!
//! `palisade eval hallucination` measures them on HaluEval by teacher
//! forcing; `docs/hallucination.md` has the figures.

pub mod consistency;
pub mod eval;
pub mod features;
pub mod grounding;
pub mod halueval;
pub mod risk;
pub mod similarity;

pub use consistency::{SampledMode, sample_answers, sample_consistency};
pub use features::{AnswerSignals, FEATURE_COUNT, FEATURE_NAMES, Features};
pub use grounding::{GroundingCounts, check_grounding};
pub use risk::{RiskModel, RiskModelError, Signs};
pub use similarity::{ContextSimilarity, context_similarity};
