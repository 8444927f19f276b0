//! Error types: one per stage (loading, chat templating, generation).
//!
//! Every message says what went wrong, where, and how to fix it.

use std::path::PathBuf;

/// Failure to load a model, its tokenizer or its chat template.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The model file does not exist.
    #[error(
        "model file not found: {path}\n  fix: run `palisade fetch` to download the default model \
         assets, or pass the path of an existing .gguf file"
    )]
    ModelNotFound {
        /// Path that was looked up.
        path: PathBuf,
    },
    /// The model file exists but could not be read.
    #[error("cannot read model file {path}: {source}\n  fix: check the file permissions")]
    Io {
        /// Path of the file.
        path: PathBuf,
        /// Underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a valid GGUF file (or is truncated).
    #[error(
        "{path} is not a readable GGUF file: {reason}\n  fix: the download may be incomplete or \
         corrupt; delete it and run `palisade fetch` again"
    )]
    InvalidGguf {
        /// Path of the file.
        path: PathBuf,
        /// What the parser reported.
        reason: String,
    },
    /// A metadata key the loader needs is absent or has the wrong type.
    #[error(
        "{path}: GGUF metadata key `{key}` is {problem}\n  fix: the file was produced by an \
         incompatible converter; re-export it with a recent llama.cpp `convert_hf_to_gguf.py`"
    )]
    Metadata {
        /// Path of the file.
        path: PathBuf,
        /// Metadata key.
        key: String,
        /// What is wrong with it ("missing", "not a string", ...).
        problem: String,
    },
    /// The model architecture has no implementation here.
    #[error(
        "{path}: model architecture `{architecture}` is not supported (supported: {supported})\n  \
         fix: use a GGUF model of a supported family"
    )]
    UnsupportedArchitecture {
        /// Path of the file.
        path: PathBuf,
        /// Value of `general.architecture`.
        architecture: String,
        /// Comma-separated list of supported architectures.
        supported: String,
    },
    /// The tokenizer could not be built (from GGUF metadata or tokenizer.json).
    #[error("cannot build the tokenizer from {source_desc}: {reason}\n  fix: {fix}")]
    Tokenizer {
        /// Where the tokenizer came from (file path or "GGUF metadata of ...").
        source_desc: String,
        /// What failed.
        reason: String,
        /// How to fix it.
        fix: String,
    },
    /// The chat template shipped with the model does not compile.
    #[error(
        "the chat template of {path} does not compile: {reason}\n  fix: the model's \
         `tokenizer.chat_template` is not valid Jinja for minijinja; report it with the model name"
    )]
    ChatTemplate {
        /// Path of the model file.
        path: PathBuf,
        /// Compiler message.
        reason: String,
    },
    /// Candle failed while building the model weights.
    #[error("cannot build model weights from {path}: {reason}\n  fix: {fix}")]
    Weights {
        /// Path of the file.
        path: PathBuf,
        /// What candle reported.
        reason: String,
        /// How to fix it.
        fix: String,
    },
    /// The requested thread count conflicts with the process-wide one already in force.
    #[error(
        "threads = {requested} requested, but candle's thread pools were already sized to \
         {in_force} threads by an earlier model load in this process (they are process-wide and \
         cannot be resized)\n  fix: pass the same thread count (or none) for every model, or set \
         it once at startup"
    )]
    ThreadsAlreadySet {
        /// The value asked for now.
        requested: usize,
        /// The value fixed earlier.
        in_force: usize,
    },
    /// The requested GPU is not compiled in or cannot be opened.
    #[error(
        "cannot run the model on {device}: {reason}\n  fix: build with `--features cuda` (needs \
         the CUDA toolkit) or `--features metal` (macOS) for that GPU, or load on the CPU \
         (`--device cpu`, `DeviceChoice::Cpu`: the default)"
    )]
    DeviceUnavailable {
        /// The device asked for.
        device: crate::engine::DeviceChoice,
        /// Why it cannot be used.
        reason: String,
    },
    /// `threads` was zero.
    #[error("threads = 0 is invalid\n  fix: pass at least 1, or None for one per physical core")]
    ZeroThreads,
}

/// Failure to render a chat template.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The template called `raise_exception(msg)` (e.g. roles not alternating).
    #[error(
        "the model's chat template rejected the conversation: {message}\n  fix: adjust the \
         messages (e.g. alternate user/assistant roles, one leading system message)"
    )]
    Rejected {
        /// Message passed to `raise_exception`.
        message: String,
    },
    /// The template failed to render for another reason.
    #[error(
        "chat template rendering failed: {reason}\n  fix: the model's template uses a Jinja \
         feature not supported here; report it with the model name"
    )]
    Render {
        /// minijinja's description (with template line).
        reason: String,
    },
}

/// Failure during (or before) generation.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// A generation parameter is out of range.
    #[error("invalid generation parameter `{name}`: {problem}\n  fix: {fix}")]
    InvalidParams {
        /// Parameter name.
        name: &'static str,
        /// What is wrong.
        problem: String,
        /// Accepted range.
        fix: &'static str,
    },
    /// The prompt tokenized to nothing.
    #[error("the prompt is empty (0 tokens)\n  fix: pass a non-empty prompt")]
    EmptyPrompt,
    /// The prompt leaves no room in the context window (checked before any compute).
    #[error(
        "the prompt is {prompt_tokens} tokens but the model's context window is \
         {context_length} tokens (at least one must remain for the reply)\n  fix: shorten the \
         prompt or conversation history to at most {max_prompt} tokens"
    )]
    ContextOverflow {
        /// Tokens in the prompt.
        prompt_tokens: usize,
        /// Context window of the model.
        context_length: usize,
        /// Largest prompt accepted.
        max_prompt: usize,
    },
    /// Tokenizing the prompt failed.
    #[error("cannot tokenize the prompt: {reason}\n  fix: check the prompt is valid text")]
    Tokenize {
        /// Tokenizer's message.
        reason: String,
    },
    /// Detokenizing generated ids failed.
    #[error(
        "cannot decode generated token {token_id}: {reason}\n  fix: this is a tokenizer bug; report it with the model name"
    )]
    Detokenize {
        /// Offending id.
        token_id: u32,
        /// Tokenizer's message.
        reason: String,
    },
    /// The model forward pass failed.
    #[error(
        "model forward pass failed at position {position}: {reason}\n  fix: this is a bug or an out-of-memory condition; retry with a shorter prompt"
    )]
    Forward {
        /// Sequence position being computed.
        position: usize,
        /// What candle reported.
        reason: String,
    },
    /// Every token was filtered out (e.g. logits processors banned all of them).
    #[error(
        "no token can be sampled at step {step}: every candidate has zero probability\n  fix: relax the logits processors or banned sequences"
    )]
    NoCandidate {
        /// Generation step (0-based).
        step: usize,
    },
}
