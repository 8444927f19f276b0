//! Errors of the toxicity classifiers: each names what failed, where, and how to fix it.

use std::path::PathBuf;

/// Why a toxicity model could not be loaded or run.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ToxicityError {
    /// No ONNX Runtime shared library was found in any of the places searched.
    #[error(
        "ONNX Runtime library not found (looked in: {searched}); run `palisade fetch`, or set \
         ORT_DYLIB_PATH (or the runtime's `library` option) to libonnxruntime.so.1.31.1"
    )]
    LibraryNotFound {
        /// The candidate paths, in search order, joined with `, `.
        searched: String,
    },
    /// The library exists but could not be loaded (wrong file, wrong version, missing symbols).
    #[error(
        "cannot load ONNX Runtime from {path}: {reason}; it must be libonnxruntime >= 1.24 \
         (1.31.1 is tested): run `palisade fetch` or point ORT_DYLIB_PATH at a good copy"
    )]
    LibraryLoad {
        /// The library file.
        path: PathBuf,
        /// ONNX Runtime's or the loader's message.
        reason: String,
    },
    /// A model name the policy asked for is not one this build knows.
    #[error("unknown toxicity model `{name}`; known models: {known}")]
    UnknownModel {
        /// The name as written.
        name: String,
        /// The known names, joined with `, `.
        known: String,
    },
    /// A model file (ONNX, vocabulary or config) is missing or unreadable.
    #[error(
        "cannot read {what} of toxicity model `{model}` at {path}: {reason}; regenerate it with tools/convert_toxicity.py"
    )]
    ModelFile {
        /// The model's name.
        model: String,
        /// Which file (`ONNX graph`, `vocabulary`, `config`).
        what: &'static str,
        /// Where it was looked for.
        path: PathBuf,
        /// The I/O or parse error.
        reason: String,
    },
    /// ONNX Runtime rejected the model file (corrupt, truncated or not ONNX).
    #[error(
        "ONNX Runtime cannot load toxicity model `{model}` from {origin}: {reason}; the file is corrupt or not ONNX, regenerate it with tools/convert_toxicity.py"
    )]
    ModelLoad {
        /// The model's name.
        model: String,
        /// The file path, or `embedded` for the copy built into the binary.
        origin: String,
        /// ONNX Runtime's message.
        reason: String,
    },
    /// The model's inputs or outputs are not the ones the runtime expects.
    #[error("toxicity model `{model}` has the wrong interface: {detail}; expected {expected}")]
    Interface {
        /// The model's name.
        model: String,
        /// What was found.
        detail: String,
        /// What was expected.
        expected: String,
    },
    /// A policy option is invalid.
    #[error("toxicity rule `{rule}`: {detail}")]
    Config {
        /// The rule id.
        rule: String,
        /// What is wrong and how to fix it.
        detail: String,
    },
    /// Running the model failed.
    #[error("toxicity model `{model}` failed at run time: {reason}")]
    Run {
        /// The model's name.
        model: String,
        /// ONNX Runtime's message.
        reason: String,
    },
}

impl ToxicityError {
    /// A short stable name for telemetry (`library`, `model`, `interface`, `config`, `run`).
    pub fn kind(&self) -> &'static str {
        match self {
            ToxicityError::LibraryNotFound { .. } | ToxicityError::LibraryLoad { .. } => "library",
            ToxicityError::UnknownModel { .. }
            | ToxicityError::ModelFile { .. }
            | ToxicityError::ModelLoad { .. } => "model",
            ToxicityError::Interface { .. } => "interface",
            ToxicityError::Config { .. } => "config",
            ToxicityError::Run { .. } => "run",
        }
    }
}
