//! The engine: a loaded model with its tokenizer and chat template.

mod device;
mod safetensors;
mod score;

pub use score::TokenScore;

pub use device::{DeviceChoice, DeviceParseError};

use std::path::{Path, PathBuf};
use std::time::Instant;

use tokenizers::Tokenizer;

use crate::chat::{ChatMessage, ChatTemplate, TemplateFamily, detect_family_for};
use crate::error::{GenerateError, LoadError, TemplateError};
use crate::gguf_meta::{GgufMeta, open_gguf};
use crate::models::repack::CpuRepack;
use crate::models::{CausalLm, forward_chunked, load_gguf_model};
use crate::params::GenerationParams;
use crate::processors::BoxedProcessor;
use crate::stream::TokenStream;
use crate::threads;
use crate::tokenizer::{self, SpecialIds, TokenizerSource};

/// Token strings that end a turn or a document in common chat formats; those that are special
/// tokens of the vocabulary stop generation (with
/// [`FinishReason::Stop`](crate::FinishReason::Stop)).
const END_TOKENS: &[&str] = &[
    "<|im_end|>",
    "<|endoftext|>",
    "<|eot_id|>",
    "<|end_of_text|>",
    "<|end|>",
    "<end_of_turn>",
    "</s>",
];

/// How to load a model.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// CPU threads for candle's kernels; `None` keeps `CANDLE_NUM_THREADS` /
    /// `RAYON_NUM_THREADS` or candle's default (one per physical core). Process-wide and
    /// fixed by the first load: see [`crate::threads`].
    pub threads: Option<usize>,
    /// Where the model runs (default: the CPU).
    pub device: DeviceChoice,
    /// Requantization of GGUF tensors that lack SIMD kernels on the CPU (default: off).
    pub cpu_repack: CpuRepack,
}

/// A loaded model, its tokenizer and chat template. Generation borrows it mutably (the KV
/// cache lives in the model), so one engine serves one request at a time.
pub struct Engine {
    pub(crate) model: Box<dyn CausalLm>,
    pub(crate) tokenizer: Tokenizer,
    pub(crate) stop_tokens: Vec<u32>,
    pub(crate) context_length: usize,
    name: String,
    path: PathBuf,
    specials: SpecialIds,
    template: ChatTemplate,
    tokenizer_source: TokenizerSource,
    threads: usize,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("name", &self.name)
            .field("path", &self.path)
            .field("context_length", &self.context_length)
            .field("tokenizer_source", &self.tokenizer_source)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Loads `path`: a Hugging Face checkpoint folder ([`Engine::load_safetensors`]) when it is
    /// a directory, else a GGUF file ([`Engine::load_gguf`]).
    pub fn load(path: &Path, opts: &LoadOptions) -> Result<Engine, LoadError> {
        if path.is_dir() {
            Engine::load_safetensors(path, opts)
        } else {
            Engine::load_gguf(path, opts)
        }
    }

    /// Loads a GGUF model. The tokenizer is rebuilt from the GGUF metadata unless a
    /// `tokenizer.json` sits next to the file; the chat template is the file's
    /// `tokenizer.chat_template`, or a built-in one for the vocabulary's chat format.
    pub fn load_gguf(path: &Path, opts: &LoadOptions) -> Result<Engine, LoadError> {
        let threads = threads::configure(opts.threads)?;
        // An unavailable device fails before the file is read.
        let device = opts.device.open()?;
        let (file, content) = open_gguf(path)?;
        let metadata = content.metadata.clone();
        let meta = GgufMeta::new(path, &metadata);

        let name = match meta.opt_str("general.name")? {
            Some(n) if !n.trim().is_empty() => n.trim().to_string(),
            _ => path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "model".to_string()),
        };
        let (tokenizer, specials, tokenizer_source) = tokenizer::load_for_gguf(&meta)?;
        let token_text = |id: Option<u32>| {
            id.and_then(|id| tokenizer.id_to_token(id))
                .unwrap_or_default()
        };
        let (bos, eos) = (token_text(specials.bos), token_text(specials.eos));
        let architecture = meta.str("general.architecture")?;
        let family = detect_family_for(&tokenizer, architecture);
        let template = match meta.opt_str("tokenizer.chat_template")? {
            Some(source) => ChatTemplate::new(source, true, bos, eos),
            None => ChatTemplate::fallback(family, bos, eos),
        }
        .map_err(|e| LoadError::ChatTemplate {
            path: path.to_path_buf(),
            reason: format!("{e:#}"),
        })?;
        let stop_tokens = stop_tokens(&tokenizer, &specials, family);

        let (mut reader, content) =
            crate::models::repack::prepare(path, file, content, opts.cpu_repack, &device)?;
        let model = load_gguf_model(&meta, content, &mut reader, &device)?;
        let context_length = model.context_length();
        Ok(Engine {
            model,
            tokenizer,
            stop_tokens,
            context_length,
            name,
            path: path.to_path_buf(),
            specials,
            template,
            tokenizer_source,
            threads,
        })
    }

    /// The model's name (`general.name`, else the file stem).
    pub fn model_name(&self) -> &str {
        &self.name
    }

    /// Path of the model file.
    pub fn model_path(&self) -> &Path {
        &self.path
    }

    /// Longest prompt + completion, in tokens.
    pub fn context_length(&self) -> usize {
        self.context_length
    }

    /// The tokenizer.
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// Where the tokenizer came from.
    pub fn tokenizer_source(&self) -> &TokenizerSource {
        &self.tokenizer_source
    }

    /// The chat template in use.
    pub fn chat_template(&self) -> &ChatTemplate {
        &self.template
    }

    /// Token ids that end generation with `FinishReason::Stop` (EOS and end-of-turn).
    pub fn stop_token_ids(&self) -> &[u32] {
        &self.stop_tokens
    }

    /// CPU threads candle uses in this process.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Renders a conversation with the model's chat template.
    pub fn render_chat(
        &self,
        messages: &[ChatMessage],
        add_generation_prompt: bool,
    ) -> Result<String, TemplateError> {
        self.template.render(messages, add_generation_prompt)
    }

    /// Tokenizes `prompt` as generation would (special tokens in the text are recognised; BOS
    /// is prepended when the model asks for it and the text does not start with it).
    pub fn encode_prompt(&self, prompt: &str) -> Result<Vec<u32>, GenerateError> {
        let encoding =
            self.tokenizer
                .encode(prompt, false)
                .map_err(|e| GenerateError::Tokenize {
                    reason: e.to_string(),
                })?;
        let mut ids = encoding.get_ids().to_vec();
        if let (true, Some(bos)) = (self.specials.add_bos, self.specials.bos)
            && ids.first() != Some(&bos)
        {
            ids.insert(0, bos);
        }
        Ok(ids)
    }

    /// Next-token logits (raw, indexed by token id) after the token sequence `ids`, computed
    /// from scratch (the KV cache is reset). Useful for scoring and for tests.
    pub fn next_token_logits(&mut self, ids: &[u32]) -> Result<Vec<f32>, GenerateError> {
        if ids.is_empty() {
            return Err(GenerateError::EmptyPrompt);
        }
        if ids.len() > self.context_length {
            return Err(GenerateError::ContextOverflow {
                prompt_tokens: ids.len(),
                context_length: self.context_length,
                max_prompt: self.context_length,
            });
        }
        let model = self.model.as_mut();
        let logits = model
            .clear_kv_cache()
            .and_then(|()| forward_chunked(model, ids, 0));
        logits.map_err(|e| GenerateError::Forward {
            position: 0,
            reason: e.to_string(),
        })
    }

    /// Starts generating a continuation of `prompt` (already chat-formatted if needed).
    ///
    /// Parameters and prompt length are checked here, before any compute; the forward passes
    /// run as the returned stream is iterated.
    pub fn generate(
        &mut self,
        prompt: &str,
        params: &GenerationParams,
    ) -> Result<TokenStream<'_>, GenerateError> {
        self.generate_with(prompt, params, Vec::new())
    }

    /// Like [`generate`](Self::generate), with logits processors applied at every step.
    pub fn generate_with<'a>(
        &'a mut self,
        prompt: &str,
        params: &GenerationParams,
        processors: Vec<BoxedProcessor<'a>>,
    ) -> Result<TokenStream<'a>, GenerateError> {
        let started = Instant::now();
        params.validate()?;
        let ids = self.encode_prompt(prompt)?;
        if ids.is_empty() {
            return Err(GenerateError::EmptyPrompt);
        }
        if ids.len() >= self.context_length {
            return Err(GenerateError::ContextOverflow {
                prompt_tokens: ids.len(),
                context_length: self.context_length,
                max_prompt: self.context_length.saturating_sub(1),
            });
        }
        Ok(TokenStream::new(self, ids, params, processors, started))
    }
}

fn stop_tokens(tokenizer: &Tokenizer, specials: &SpecialIds, family: TemplateFamily) -> Vec<u32> {
    let mut ids: Vec<u32> = specials.eos.into_iter().collect();
    let added = tokenizer.get_added_vocabulary();
    for t in family.end_of_turn_tokens().iter().chain(END_TOKENS) {
        if let Some(id) = tokenizer.token_to_id(t)
            && added.is_special_token(t)
            && !ids.contains(&id)
        {
            ids.push(id);
        }
    }
    ids
}
