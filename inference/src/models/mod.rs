//! Model families behind one interface. One family (and file format) per file.

pub mod attention_cpu;
pub mod gemma2_gguf;
pub mod gemma2_safetensors;
pub mod gemma3_gguf;
pub mod gemma3_safetensors;
pub mod gemma_quantized;
pub mod gguf_blocks;
pub mod hf_checkpoint;
pub mod llama_gguf;
pub mod llama_safetensors;
pub mod phi3_gguf;
pub mod phi3_safetensors;
pub mod q4_1_cpu;
pub mod quantized;
pub mod qwen2_gguf;
pub mod qwen2_safetensors;
pub mod qwen3_gguf;
pub mod repack;
pub mod safetensors_lm;

use candle_core::quantized::gguf_file;
use candle_transformers::models::quantized_qwen2;

use quantized::{ContextRule, GgufLm, QuantizedWeights};

use crate::error::LoadError;
use crate::gguf_meta::GgufMeta;
use repack::GgufReader;

/// A causal language model with a KV cache, as the generation loop sees it.
pub trait CausalLm: Send {
    /// Feeds `tokens` at positions `position..position + tokens.len()` (the KV cache must
    /// hold exactly `position` earlier tokens) and returns the logits for the next token.
    fn forward(&mut self, tokens: &[u32], position: usize) -> candle_core::Result<Vec<f32>>;

    /// Forgets every cached position (start of a new, unrelated sequence).
    fn clear_kv_cache(&mut self) -> candle_core::Result<()>;

    /// The longest sequence (prompt + completion) the model can process.
    fn context_length(&self) -> usize;

    /// Longest prompt slice the model accepts in one forward pass.
    fn prefill_chunk(&self) -> usize {
        PREFILL_CHUNK
    }
}

/// GGUF architectures (`general.architecture`) this crate can run.
pub const SUPPORTED_GGUF_ARCHITECTURES: &[&str] =
    &["llama", "qwen2", "qwen3", "phi3", "gemma2", "gemma3"];

/// Builds the model for a GGUF file whose header and metadata are in `content`, on `device`.
pub fn load_gguf_model(
    meta: &GgufMeta<'_>,
    content: gguf_file::Content,
    reader: &mut GgufReader,
    device: &candle_core::Device,
) -> Result<Box<dyn CausalLm>, LoadError> {
    let architecture = meta.str("general.architecture")?;
    let source = GgufSource {
        meta,
        content,
        reader,
        device,
    };
    match architecture {
        "llama" => {
            let context = llama_gguf::CONTEXT.resolve(meta)?;
            source.load(llama_gguf::CONTEXT, llama_gguf::build(context))
        }
        "qwen2" => source.load(
            qwen2_gguf::CONTEXT,
            quantized_qwen2::ModelWeights::from_gguf,
        ),
        "qwen3" => source.load(qwen3_gguf::CONTEXT, qwen3_gguf::build),
        "phi3" => source.load(phi3_gguf::CONTEXT, phi3_gguf::build),
        "gemma2" => {
            let context = gemma2_gguf::CONTEXT.resolve(meta)?;
            source.load(gemma2_gguf::CONTEXT, gemma2_gguf::build(context))
        }
        "gemma3" => {
            let context = gemma3_gguf::CONTEXT.resolve(meta)?;
            source.load(gemma3_gguf::CONTEXT, gemma3_gguf::build(context))
        }
        other => Err(LoadError::UnsupportedArchitecture {
            path: meta.path().to_path_buf(),
            architecture: other.to_string(),
            supported: SUPPORTED_GGUF_ARCHITECTURES.join(", "),
        }),
    }
}

/// An open GGUF file waiting for its family's loader.
struct GgufSource<'a, 'm> {
    meta: &'a GgufMeta<'m>,
    content: gguf_file::Content,
    reader: &'a mut GgufReader,
    device: &'a candle_core::Device,
}

impl GgufSource<'_, '_> {
    fn load<W: QuantizedWeights + 'static>(
        self,
        rule: ContextRule,
        build: impl FnOnce(
            gguf_file::Content,
            &mut GgufReader,
            &candle_core::Device,
        ) -> candle_core::Result<W>,
    ) -> Result<Box<dyn CausalLm>, LoadError> {
        let model = GgufLm::load(
            self.meta,
            self.content,
            self.reader,
            self.device,
            rule,
            build,
        )?;
        Ok(Box::new(model))
    }
}

/// Maps a candle error raised while building weights to a [`LoadError`].
pub(crate) fn weights_error(meta: &GgufMeta<'_>, e: &candle_core::Error) -> LoadError {
    LoadError::Weights {
        path: meta.path().to_path_buf(),
        reason: e.to_string(),
        fix: "the file may be truncated or use a tensor layout this loader does not know; \
              delete it and run `palisade fetch` again, or use a GGUF made by a recent \
              llama.cpp"
            .to_string(),
    }
}

/// Longest prompt slice fed to the model in one forward pass (bounds the attention matrix).
pub(crate) const PREFILL_CHUNK: usize = 256;

/// Runs a forward pass over `tokens` in chunks of at most [`CausalLm::prefill_chunk`] tokens
/// (bounding the attention matrix of a long prompt) and returns the last logits.
pub(crate) fn forward_chunked(
    model: &mut dyn CausalLm,
    tokens: &[u32],
    position: usize,
) -> candle_core::Result<Vec<f32>> {
    let chunk = model.prefill_chunk();
    let mut logits = Vec::new();
    let mut pos = position;
    for piece in tokens.chunks(chunk.max(1)) {
        logits = model.forward(piece, pos)?;
        pos += piece.len();
    }
    Ok(logits)
}
