//! What every GGUF family shares: candle's quantized `ModelWeights` behind [`CausalLm`], and
//! the context length read from `<arch>.context_length`. Each family file only says how to
//! build its weights and what its backend can address.

use candle_core::quantized::gguf_file;
use candle_core::{DType, Device, Tensor};

use super::{CausalLm, weights_error};
use crate::error::LoadError;
use crate::gguf_meta::GgufMeta;
use crate::models::repack::GgufReader;

/// The part of a candle quantized model the engine calls.
pub trait QuantizedWeights: Send {
    /// Logits for the last position of `input` (shape `(1, seq)`), as `(1, vocab)`.
    fn forward(&mut self, input: &Tensor, position: usize) -> candle_core::Result<Tensor>;

    /// Forgets every cached position. Backends that reset their cache when fed position 0
    /// may do nothing here.
    fn clear_kv_cache(&mut self);
}

/// How a family's context length is found and bounded.
#[derive(Debug, Clone, Copy)]
pub struct ContextRule {
    /// Metadata key holding the trained context length (`<arch>.context_length`).
    pub key: &'static str,
    /// Whether candle's loader needs the key (it sizes its rotary tables from it).
    pub required: bool,
    /// Largest context the candle backend can compute (`None`: as declared).
    pub backend_max: Option<usize>,
}

impl ContextRule {
    /// The context is `key`, which candle's loader needs; no other cap.
    pub const fn required(key: &'static str) -> Self {
        Self {
            key,
            required: true,
            backend_max: None,
        }
    }

    /// The context is `key` capped at `backend_max` (`backend_max` when the key is absent).
    pub const fn capped(key: &'static str, backend_max: usize) -> Self {
        Self {
            key,
            required: false,
            backend_max: Some(backend_max),
        }
    }

    /// The usable context length for the file described by `meta`: the declared length capped
    /// at `backend_max`; `backend_max` when the key is absent and optional.
    pub fn resolve(&self, meta: &GgufMeta<'_>) -> Result<usize, LoadError> {
        let declared = meta
            .opt_u64(self.key)?
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX));
        let missing = || LoadError::Metadata {
            path: meta.path().to_path_buf(),
            key: self.key.to_string(),
            problem: "missing".to_string(),
        };
        let length = match (declared, self.backend_max) {
            (Some(n), Some(max)) => n.min(max),
            (Some(n), None) => n,
            (None, Some(max)) if !self.required => max,
            (None, _) => return Err(missing()),
        };
        if length == 0 {
            return Err(LoadError::Metadata {
                path: meta.path().to_path_buf(),
                key: self.key.to_string(),
                problem: "zero".to_string(),
            });
        }
        Ok(length)
    }
}

/// A quantized GGUF model of any family, on the CPU or a GPU.
pub struct GgufLm<W> {
    weights: W,
    device: Device,
    context_length: usize,
}

impl<W: QuantizedWeights> GgufLm<W> {
    /// Resolves the context length with `rule` (before reading any tensor, so a bad header
    /// fails fast), then reads the weights described by `content` from `reader` onto `device`
    /// with `build`.
    pub fn load(
        meta: &GgufMeta<'_>,
        content: gguf_file::Content,
        reader: &mut GgufReader,
        device: &Device,
        rule: ContextRule,
        build: impl FnOnce(gguf_file::Content, &mut GgufReader, &Device) -> candle_core::Result<W>,
    ) -> Result<Self, LoadError> {
        let context_length = rule.resolve(meta)?;
        let device = device.clone();
        let weights = build(content, reader, &device).map_err(|e| weights_error(meta, &e))?;
        Ok(Self {
            weights,
            device,
            context_length,
        })
    }
}

impl<W: QuantizedWeights> CausalLm for GgufLm<W> {
    fn forward(&mut self, tokens: &[u32], position: usize) -> candle_core::Result<Vec<f32>> {
        let input = Tensor::new(tokens, &self.device)?.unsqueeze(0)?;
        let logits = self.weights.forward(&input, position)?;
        // (1, vocab) -> (vocab)
        logits.squeeze(0)?.to_dtype(DType::F32)?.to_vec1()
    }

    fn clear_kv_cache(&mut self) -> candle_core::Result<()> {
        self.weights.clear_kv_cache();
        Ok(())
    }

    fn context_length(&self) -> usize {
        self.context_length
    }
}

/// Implements [`QuantizedWeights`] for a candle `ModelWeights` type from its inherent
/// `forward`, and its inherent `clear_kv_cache` (`clear`) or nothing (`resets_at_position_0`:
/// the model drops its cache when fed position 0, which is how the engine starts a sequence).
macro_rules! impl_quantized_weights {
    ($weights:ty, clear) => {
        impl_quantized_weights!(@impl $weights, |w| <$weights>::clear_kv_cache(w));
    };
    ($weights:ty, resets_at_position_0) => {
        impl_quantized_weights!(@impl $weights, |_w| ());
    };
    (@impl $weights:ty, |$w:ident| $clear:expr) => {
        impl $crate::models::quantized::QuantizedWeights for $weights {
            fn forward(
                &mut self,
                input: &candle_core::Tensor,
                position: usize,
            ) -> candle_core::Result<candle_core::Tensor> {
                <$weights>::forward(self, input, position)
            }

            fn clear_kv_cache(&mut self) {
                let $w = self;
                $clear
            }
        }
    };
}
pub(crate) use impl_quantized_weights;
