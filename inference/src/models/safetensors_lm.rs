//! What the safetensors families built on candle's `Model::new(cfg, vb)` share: reading the
//! config of a checkpoint directory, building the model in f32 (F16 and BF16
//! files are converted on load), and the [`CausalLm`] wrapper. Each family file only says how
//! its config is read, what context its backend can address and how its model is built.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use serde::de::DeserializeOwned;

use super::CausalLm;
use super::hf_checkpoint::{read_config_text, weights_error};
use crate::error::LoadError;

/// The part of a candle safetensors model the engine calls.
pub trait HfModel: Send {
    /// Logits for the last position of `input` (shape `(1, seq)`), in any shape holding
    /// `vocab` values.
    fn forward(&mut self, input: &Tensor, position: usize) -> candle_core::Result<Tensor>;

    /// Forgets every cached position.
    fn clear_kv_cache(&mut self);
}

/// Implements [`HfModel`] for candle model types from their inherent `forward(input, offset)`
/// and `clear_kv_cache()`.
macro_rules! impl_hf_model {
    ($($model:ty),* $(,)?) => {$(
        impl HfModel for $model {
            fn forward(&mut self, input: &Tensor, position: usize) -> candle_core::Result<Tensor> {
                <$model>::forward(self, input, position)
            }

            fn clear_kv_cache(&mut self) {
                <$model>::clear_kv_cache(self)
            }
        }
    )*};
}

impl_hf_model!(
    candle_transformers::models::qwen2::ModelForCausalLM,
    candle_transformers::models::phi3::Model,
    candle_transformers::models::gemma2::Model,
    candle_transformers::models::gemma3::Model,
);

/// `dir/config.json` parsed as `C`; an error names the file and the field.
pub fn read_config<C: DeserializeOwned>(dir: &Path) -> Result<C, LoadError> {
    let (path, text) = read_config_text(dir)?;
    serde_json::from_str(&text).map_err(|e| weights_error(&path, format!("config.json: {e}")))
}

/// Refuses head counts candle would divide by zero with (a panic inside candle otherwise).
pub fn check_heads(dir: &Path, heads: usize, kv_heads: usize) -> Result<(), LoadError> {
    if heads == 0 || kv_heads == 0 || !heads.is_multiple_of(kv_heads) {
        return Err(weights_error(
            &dir.join("config.json"),
            format!(
                "config.json: num_attention_heads = {heads} must be a positive multiple of \
                 num_key_value_heads = {kv_heads}"
            ),
        ));
    }
    Ok(())
}

/// Multiplies the first `rows` rows of the matrix `name` by `factor` (the query rows of an
/// attention projection: this scales every attention score by `factor`, exactly, since RoPE is
/// linear). Used where candle's attention scale differs from the checkpoint's.
pub fn scale_rows(
    dir: &Path,
    tensors: &mut HashMap<String, Tensor>,
    name: &str,
    rows: usize,
    factor: f64,
) -> Result<(), LoadError> {
    let error = |reason: String| weights_error(dir, format!("tensor `{name}`: {reason}"));
    let Some(t) = tensors.get(name) else {
        return Err(error("missing".to_string()));
    };
    let scaled = (|| {
        let dtype = t.dtype();
        let t = t.to_dtype(DType::F32)?;
        let total = t.dim(0)?;
        if rows > total {
            return Err(candle_core::Error::Msg(format!(
                "has {total} rows, expected at least {rows}"
            )));
        }
        let head = (t.narrow(0, 0, rows)? * factor)?;
        let scaled = if rows == total {
            head
        } else {
            Tensor::cat(&[&head, &t.narrow(0, rows, total - rows)?], 0)?
        };
        scaled.to_dtype(dtype)
    })()
    .map_err(|e| error(e.to_string()))?;
    tensors.insert(name.to_string(), scaled);
    Ok(())
}

/// A safetensors model of any family built on candle's `Model::new(cfg, vb)`.
pub struct HfLm<M> {
    model: M,
    device: Device,
    context_length: usize,
}

impl<M: HfModel> HfLm<M> {
    /// Builds the model from `tensors` (converted to f32) on `device` with `build`; a missing
    /// tensor or a wrong shape is a [`LoadError::Weights`] naming `dir`.
    pub fn build(
        dir: &Path,
        tensors: HashMap<String, Tensor>,
        device: &Device,
        context_length: usize,
        build: impl FnOnce(VarBuilder) -> candle_core::Result<M>,
    ) -> Result<Self, LoadError> {
        if context_length == 0 {
            return Err(weights_error(
                dir,
                "config.json: the context length is zero",
            ));
        }
        let vb = VarBuilder::from_tensors(tensors, DType::F32, device);
        let model = build(vb).map_err(|e| weights_error(dir, e.to_string()))?;
        Ok(Self {
            model,
            device: device.clone(),
            context_length,
        })
    }
}

impl<M: HfModel> CausalLm for HfLm<M> {
    fn forward(&mut self, tokens: &[u32], position: usize) -> candle_core::Result<Vec<f32>> {
        let input = Tensor::new(tokens, &self.device)?.unsqueeze(0)?;
        // (1, 1, vocab) -> (vocab)
        let logits = self.model.forward(&input, position)?;
        logits.flatten_all()?.to_dtype(DType::F32)?.to_vec1()
    }

    fn clear_kv_cache(&mut self) -> candle_core::Result<()> {
        self.model.clear_kv_cache();
        Ok(())
    }

    fn context_length(&self) -> usize {
        self.context_length
    }
}
