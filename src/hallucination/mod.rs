//! Hallucination signals computed locally: decoding signals from the token
//! stream (in `palisade_telemetry::SignalAccumulator`, which sees numbers
//! only), grounding checks of the answer against its context (text work,
//! here), and one calibrated risk score combining them.
//!
//! `palisade eval hallucination` measures them on HaluEval by teacher
//! forcing; `docs/hallucination.md` has the figures.

pub mod eval;
pub mod features;
pub mod grounding;
pub mod halueval;
pub mod risk;

pub use features::{AnswerSignals, FEATURE_COUNT, FEATURE_NAMES, Features};
pub use grounding::{GroundingCounts, check_grounding};
pub use risk::{RiskModel, RiskModelError};
