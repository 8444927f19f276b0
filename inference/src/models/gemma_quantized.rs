//! Quantized Gemma 2 and Gemma 3 (text) from GGUF: our own implementation, because candle
//! 0.11.1 has no quantized Gemma 2 and its `quantized_gemma3` computes the MLP with SiLU
//! (Gemma uses tanh-GELU), masks the sliding window in multi-token passes only (and one
//! position too wide), and hides the cache from a prompt chunk that starts after position 0.
//!
//! What it computes, as Hugging Face `transformers` and llama.cpp do:
//! - embeddings scaled by `sqrt(hidden)`; RMS norms before and after attention and the MLP
//!   (llama.cpp stores the norm weights with Gemma's `+ 1` folded in);
//! - grouped-query attention scaled by `key_length^-1/2` (`(hidden / heads)^-1/2` for the 27B
//!   models), Gemma 3's per-head q/k norms, Gemma 2's attention logit soft-capping;
//! - local (sliding-window) layers attend to the last `sliding_window` positions, in every
//!   pass, cached or not; the others to all; Gemma 3's local layers use their own RoPE base;
//! - a tanh-GELU gated MLP; the final logits soft-capped (Gemma 2).

use std::sync::Arc;

use candle_core::quantized::{QMatMul, gguf_file};
use candle_core::{Device, IndexOp, Module, Result, Tensor};
use candle_nn::{Activation, Embedding};
use candle_transformers::quantized_nn::RmsNorm;

use super::gguf_blocks::{Attention, AttentionDims, GatedMlp, Reader, Rope, RopeStyle, softcap};
use super::quantized::impl_quantized_weights;
use crate::models::repack::GgufReader;

/// Which Gemma generation a file holds; decides the defaults llama.cpp hard-codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generation {
    /// Gemma 2: soft-capping, every other layer local (from the first), one RoPE base.
    Gemma2,
    /// Gemma 3: q/k norms, five local layers in six, a local RoPE base of 10000.
    Gemma3,
}

impl Generation {
    fn prefix(self) -> &'static str {
        match self {
            Generation::Gemma2 => "gemma2",
            Generation::Gemma3 => "gemma3",
        }
    }

    /// Layers per period of the local/global pattern (the last of each period is global).
    fn default_pattern(self) -> usize {
        match self {
            Generation::Gemma2 => 2,
            Generation::Gemma3 => 6,
        }
    }

    /// Block count of the 27B model, whose attention is scaled by `hidden / heads`.
    fn block_count_27b(self) -> usize {
        match self {
            Generation::Gemma2 => 46,
            Generation::Gemma3 => 62,
        }
    }
}

struct Layer {
    attention: Attention,
    attn_norm: RmsNorm,
    post_attn_norm: RmsNorm,
    ffn_norm: RmsNorm,
    post_ffn_norm: RmsNorm,
    mlp: GatedMlp,
}

impl Layer {
    fn forward(&mut self, x: &Tensor, position: usize, d: &AttentionDims) -> Result<Tensor> {
        let h = self.attn_norm.forward(x)?;
        let h = self.attention.forward(&h, position, d)?;
        let x = (self.post_attn_norm.forward(&h)? + x)?;
        let h = self.mlp.forward(&self.ffn_norm.forward(&x)?)?;
        self.post_ffn_norm.forward(&h)? + x
    }
}

/// A quantized Gemma 2 or Gemma 3 text model.
pub struct GemmaWeights {
    embed: Embedding,
    hidden: usize,
    layers: Vec<Layer>,
    norm: RmsNorm,
    output: QMatMul,
    final_softcap: Option<f64>,
    dims: AttentionDims,
}

impl GemmaWeights {
    /// Reads a `generation` model from `content` and `file` onto `device`, with rotary tables
    /// for `context` positions.
    pub fn from_gguf(
        generation: Generation,
        content: gguf_file::Content,
        file: &mut GgufReader,
        device: &Device,
        context: usize,
    ) -> Result<Self> {
        let mut r = Reader {
            content: &content,
            file,
            device,
            prefix: generation.prefix(),
        };
        let (heads, kv_heads) = r.head_counts()?;
        let hidden = r.usize("embedding_length")?;
        let blocks = r.usize("block_count")?;
        let head_dim = match r.meta("attention.key_length") {
            Some(v) => v.to_u32()? as usize,
            None => hidden / heads,
        };
        let eps = f64::from(
            r.opt_f32("attention.layer_norm_rms_epsilon")?
                .unwrap_or(1e-6),
        );
        let window = r.usize("attention.sliding_window")?;
        let pattern = match r.meta("attention.sliding_window_type") {
            Some(v) => (v.to_u32()? as usize).max(1),
            None => generation.default_pattern(),
        };
        let scale_dim = if blocks == generation.block_count_27b() {
            hidden / heads
        } else {
            head_dim
        };
        let base = r.opt_f32("rope.freq_base")?.unwrap_or(match generation {
            Generation::Gemma2 => 10_000.0,
            Generation::Gemma3 => 1_000_000.0,
        });
        let global_scale = r.opt_f32("rope.scaling.factor")?.unwrap_or(1.0).max(1.0);
        let rope =
            |base, scale| Rope::new(head_dim, base, scale, context, RopeStyle::Halves, device);
        let global_rope = Arc::new(rope(base, global_scale)?);
        let local_rope = match generation {
            Generation::Gemma2 => global_rope.clone(),
            Generation::Gemma3 => {
                let local_base = r.opt_f32("rope.local_freq_base")?.unwrap_or(10_000.0);
                Arc::new(rope(local_base, 1.0)?)
            }
        };
        let dims = AttentionDims::new(
            heads,
            kv_heads,
            head_dim,
            1.0 / (scale_dim as f64).sqrt(),
            r.opt_f32("attn_logit_softcapping")?.map(f64::from),
        )?;
        let final_softcap = r.opt_f32("final_logit_softcapping")?.map(f64::from);

        let embed = r.tensor("token_embd.weight")?.dequantize(device)?;
        let output = r.output()?;
        let norm = r.norm("output_norm.weight", eps)?;
        let mut layers = Vec::with_capacity(blocks);
        for l in 0..blocks {
            let p = format!("blk.{l}");
            let local = (l + 1) % pattern > 0;
            let qk_norms = match generation {
                Generation::Gemma2 => None,
                Generation::Gemma3 => Some((
                    r.norm(&format!("{p}.attn_q_norm.weight"), eps)?,
                    r.norm(&format!("{p}.attn_k_norm.weight"), eps)?,
                )),
            };
            let rope = if local { &local_rope } else { &global_rope };
            layers.push(Layer {
                attention: r.attention(l, qk_norms, local.then_some(window), rope.clone())?,
                attn_norm: r.norm(&format!("{p}.attn_norm.weight"), eps)?,
                post_attn_norm: r.norm(&format!("{p}.post_attention_norm.weight"), eps)?,
                ffn_norm: r.norm(&format!("{p}.ffn_norm.weight"), eps)?,
                post_ffn_norm: r.norm(&format!("{p}.post_ffw_norm.weight"), eps)?,
                mlp: r.gated_mlp(l, Activation::GeluPytorchTanh)?,
            });
        }
        Ok(Self {
            embed: Embedding::new(embed, hidden),
            hidden,
            layers,
            norm,
            output,
            final_softcap,
            dims,
        })
    }

    /// Logits `(1, vocab)` for the last position of `input` `(1, seq)`, fed at `position`
    /// (the cache must hold at least `position` earlier tokens; later ones are dropped).
    pub fn forward(&mut self, input: &Tensor, position: usize) -> Result<Tensor> {
        let seq = input.dim(1)?;
        let mut x = (self.embed.forward(input)? * (self.hidden as f64).sqrt())?;
        for layer in &mut self.layers {
            x = layer.forward(&x, position, &self.dims)?;
        }
        let last = x.i((.., seq - 1, ..))?;
        let logits = self.output.forward(&self.norm.forward(&last)?)?;
        softcap(&logits, self.final_softcap)
    }

    /// Forgets every cached position.
    pub fn clear_kv_cache(&mut self) {
        for layer in &mut self.layers {
            layer.attention.cache.clear();
        }
    }
}

impl_quantized_weights!(GemmaWeights, clear);
