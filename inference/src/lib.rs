//! Local LLM inference for Palisade: Candle models, tokenizers rebuilt from GGUF metadata,
//! chat templates, our own sampler, and a pull-based token stream that reports each token's
//! log-probability and the entropy of the model's distribution.
//!
//! ```no_run
//! use palisade_inference::{ChatMessage, Engine, GenerationParams, LoadOptions};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut engine = Engine::load_gguf("model.gguf".as_ref(), &LoadOptions::default())?;
//! let prompt = engine.render_chat(&[ChatMessage::user("What is the capital of France?")], true)?;
//! let mut stream = engine.generate(&prompt, &GenerationParams::greedy(64))?;
//! for event in &mut stream {
//!     print!("{}", event?.text);
//! }
//! println!("\n{:?} {:?}", stream.finish_reason(), stream.usage());
//! # Ok(()) }
//! ```
//!
//! This crate knows nothing of policies: guardrails act on its inputs and outputs.

// `unsafe` is denied everywhere except one commented function in `threads` that sets the
// environment variables candle sizes its thread pools from, and the two commented calls into
// the AVX2 Q4_1 kernel in `models::q4_1_cpu` (made with proof of a run-time CPU check).
#![deny(unsafe_code)]

pub mod chat;
pub mod detok;
pub mod embedding;
mod engine;
mod error;
pub mod gguf_meta;
#[cfg(feature = "hub")]
pub mod hub;
pub mod models;
mod params;
pub mod processors;
pub mod sampling;
pub mod stop;
mod stream;
pub mod threads;
pub mod tokenizer;

pub use chat::{ChatMessage, ChatTemplate, Role};
pub use embedding::{EmbedError, EmbedderFiles, EmbedderLoadError, SentenceEmbedder};
pub use engine::{DeviceChoice, DeviceParseError, Engine, LoadOptions, TokenScore};
pub use error::{GenerateError, LoadError, TemplateError};
pub use models::repack::CpuRepack;
pub use params::{FinishReason, GenerationParams, Timings, Usage};
pub use processors::{BannedSequences, BoxedProcessor, LogitsProcessor};
pub use stream::{TokenEvent, TokenStream};
pub use tokenizers;
