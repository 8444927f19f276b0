//! placeholder
#![forbid(unsafe_code)]

#[cfg(feature = "onnx")]
pub mod toxicity;
