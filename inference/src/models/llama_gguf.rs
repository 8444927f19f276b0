//! Llama-family GGUF models (Llama 2/3, SmolLM, Mistral, TinyLlama, ...).
//!
//! Dense models run our own implementation, built from [`super::gguf_blocks`], so that Q4_1
//! matrices (the default SmolLM2 file) use the AVX2 kernel of [`super::q4_1_cpu`]; candle's
//! `quantized_llama` keeps its scalar loop. It computes what `quantized_llama` and llama.cpp
//! compute: RMS norms before attention and the MLP, grouped-query attention scaled by
//! `head_dim^-1/2` with llama.cpp's interleaved ("normal") RoPE, a SiLU-gated MLP, and the
//! output projection tied to the embeddings when the file has no `output.weight`. Unlike
//! candle's, its mask also covers a prompt chunk fed after position 0.
//!
//! Mixture-of-experts files (`llama.expert_count` > 1, Mixtral) go to candle's
//! `quantized_llama`.

use std::sync::Arc;

use candle_core::quantized::{QMatMul, gguf_file};
use candle_core::{Device, IndexOp, Module, Result, Tensor};
use candle_nn::{Activation, Embedding};
use candle_transformers::models::quantized_llama::{MAX_SEQ_LEN, ModelWeights};
use candle_transformers::quantized_nn::RmsNorm;

use super::gguf_blocks::{Attention, AttentionDims, GatedMlp, Reader, Rope, RopeStyle};
use super::quantized::{ContextRule, GgufLm, QuantizedWeights};
use crate::models::repack::GgufReader;

/// A quantized Llama-architecture model.
pub type QuantizedLlama = GgufLm<LlamaWeights>;

/// Context length: `llama.context_length`, capped at [`MAX_SEQ_LEN`] (4096, the size of
/// candle's rotary table for mixture-of-experts files); 4096 when the key is absent.
pub const CONTEXT: ContextRule = ContextRule::capped("llama.context_length", MAX_SEQ_LEN);

/// The weights of a Llama-architecture file.
pub enum LlamaWeights {
    /// A dense model, computed here.
    Dense(DenseLlama),
    /// A mixture of experts, computed by candle's `quantized_llama`.
    Experts(Box<ModelWeights>),
}

/// Builds the weights, with rotary tables for `context` positions.
pub fn build(
    context: usize,
) -> impl FnOnce(gguf_file::Content, &mut GgufReader, &Device) -> Result<LlamaWeights> {
    move |content, reader, device| {
        let experts = match content.metadata.get("llama.expert_count") {
            Some(v) => v.to_u32()?,
            None => 0,
        };
        if experts > 1 {
            let weights = ModelWeights::from_gguf(content, reader, device)?;
            return Ok(LlamaWeights::Experts(Box::new(weights)));
        }
        DenseLlama::from_gguf(&content, reader, device, context).map(LlamaWeights::Dense)
    }
}

impl QuantizedWeights for LlamaWeights {
    fn forward(&mut self, input: &Tensor, position: usize) -> Result<Tensor> {
        match self {
            LlamaWeights::Dense(w) => w.forward(input, position),
            LlamaWeights::Experts(w) => w.forward(input, position),
        }
    }

    fn clear_kv_cache(&mut self) {
        match self {
            LlamaWeights::Dense(w) => w.clear_kv_cache(),
            LlamaWeights::Experts(w) => w.clear_kv_cache(),
        }
    }
}

struct Layer {
    attention: Attention,
    attn_norm: RmsNorm,
    ffn_norm: RmsNorm,
    mlp: GatedMlp,
}

impl Layer {
    fn forward(&mut self, x: &Tensor, position: usize, d: &AttentionDims) -> Result<Tensor> {
        let h = self
            .attention
            .forward(&self.attn_norm.forward(x)?, position, d)?;
        let x = (h + x)?;
        self.mlp.forward(&self.ffn_norm.forward(&x)?)? + x
    }
}

/// A dense quantized Llama model.
pub struct DenseLlama {
    embed: Embedding,
    layers: Vec<Layer>,
    norm: RmsNorm,
    output: QMatMul,
    dims: AttentionDims,
}

impl DenseLlama {
    /// Reads the model from `content` and `file` onto `device`, with rotary tables for
    /// `context` positions.
    pub fn from_gguf(
        content: &gguf_file::Content,
        file: &mut GgufReader,
        device: &Device,
        context: usize,
    ) -> Result<Self> {
        let mut r = Reader {
            content,
            file,
            device,
            prefix: "llama",
        };
        let (heads, kv_heads) = r.head_counts()?;
        let hidden = r.usize("embedding_length")?;
        let blocks = r.usize("block_count")?;
        if !hidden.is_multiple_of(heads) {
            candle_core::bail!("an embedding of {hidden} cannot be split into {heads} heads");
        }
        let head_dim = hidden / heads;
        if let Some(rotated) = r.meta("rope.dimension_count") {
            let rotated = rotated.to_u32()? as usize;
            if rotated != head_dim {
                candle_core::bail!(
                    "llama.rope.dimension_count is {rotated} but heads have {head_dim} values; \
                     partial rotary embeddings are not supported"
                );
            }
        }
        let eps = f64::from(
            r.opt_f32("attention.layer_norm_rms_epsilon")?
                .unwrap_or(1e-5),
        );
        let base = r.opt_f32("rope.freq_base")?.unwrap_or(10_000.0);
        let rope = Arc::new(Rope::new(
            head_dim,
            base,
            1.0,
            context,
            RopeStyle::Interleaved,
            device,
        )?);
        let dims = AttentionDims::new(
            heads,
            kv_heads,
            head_dim,
            1.0 / (head_dim as f64).sqrt(),
            None,
        )?;
        let embed = r.tensor("token_embd.weight")?.dequantize(device)?;
        let output = r.output()?;
        let norm = r.norm("output_norm.weight", eps)?;
        let mut layers = Vec::with_capacity(blocks);
        for l in 0..blocks {
            let p = format!("blk.{l}");
            layers.push(Layer {
                attention: r.attention(l, None, None, rope.clone())?,
                attn_norm: r.norm(&format!("{p}.attn_norm.weight"), eps)?,
                ffn_norm: r.norm(&format!("{p}.ffn_norm.weight"), eps)?,
                mlp: r.gated_mlp(l, Activation::Silu)?,
            });
        }
        Ok(Self {
            embed: Embedding::new(embed, hidden),
            layers,
            norm,
            output,
            dims,
        })
    }

    /// Logits `(1, vocab)` for the last position of `input` `(1, seq)`, fed at `position`
    /// (the cache must hold at least `position` earlier tokens; later ones are dropped).
    pub fn forward(&mut self, input: &Tensor, position: usize) -> Result<Tensor> {
        let seq = input.dim(1)?;
        let mut x = self.embed.forward(input)?;
        for layer in &mut self.layers {
            x = layer.forward(&x, position, &self.dims)?;
        }
        let last = x.i((.., seq - 1, ..))?;
        self.output.forward(&self.norm.forward(&last)?)
    }

    /// Forgets every cached position.
    pub fn clear_kv_cache(&mut self) {
        for layer in &mut self.layers {
            layer.attention.cache.clear();
        }
    }
}
