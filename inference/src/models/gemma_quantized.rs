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

use candle_core::quantized::{QMatMul, QTensor, gguf_file};
use candle_core::{DType, Device, IndexOp, Module, Result, Tensor};
use candle_nn::{Activation, Embedding};
use candle_transformers::quantized_nn::RmsNorm;

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

/// Rotary tables for `positions` positions.
struct Rope {
    cos: Tensor,
    sin: Tensor,
}

impl Rope {
    fn new(
        head_dim: usize,
        base: f32,
        scale: f32,
        positions: usize,
        device: &Device,
    ) -> Result<Self> {
        let inv_freq: Vec<f32> = (0..head_dim)
            .step_by(2)
            .map(|i| 1f32 / base.powf(i as f32 / head_dim as f32) / scale)
            .collect();
        let n = inv_freq.len();
        let inv_freq = Tensor::from_vec(inv_freq, (1, n), device)?;
        let t = Tensor::arange(0u32, positions as u32, device)?
            .to_dtype(DType::F32)?
            .reshape((positions, 1))?;
        let freqs = t.matmul(&inv_freq)?;
        Ok(Self {
            cos: freqs.cos()?,
            sin: freqs.sin()?,
        })
    }

    fn apply(&self, x: &Tensor, position: usize) -> Result<Tensor> {
        let seq = x.dim(2)?;
        let cos = self.cos.narrow(0, position, seq)?;
        let sin = self.sin.narrow(0, position, seq)?;
        candle_nn::rotary_emb::rope(&x.contiguous()?, &cos, &sin)
    }
}

/// Additive attention mask `(seq, position + seq)`: query `i` (at `position + i`) sees key `j`
/// when `j <= position + i` and, with a window `w`, `position + i - j < w`.
pub fn attention_mask(
    seq: usize,
    position: usize,
    window: Option<usize>,
    device: &Device,
) -> Result<Tensor> {
    let total = position + seq;
    let values: Vec<f32> = (0..seq)
        .flat_map(|i| {
            let q = position + i;
            (0..total).map(move |j| {
                let visible = j <= q && window.is_none_or(|w| q - j < w);
                if visible { 0.0 } else { f32::NEG_INFINITY }
            })
        })
        .collect();
    Tensor::from_vec(values, (seq, total), device)
}

struct Layer {
    wq: QMatMul,
    wk: QMatMul,
    wv: QMatMul,
    wo: QMatMul,
    q_norm: Option<RmsNorm>,
    k_norm: Option<RmsNorm>,
    attn_norm: RmsNorm,
    post_attn_norm: RmsNorm,
    ffn_norm: RmsNorm,
    post_ffn_norm: RmsNorm,
    gate: QMatMul,
    up: QMatMul,
    down: QMatMul,
    window: Option<usize>,
    rope: Arc<Rope>,
    cache: Option<(Tensor, Tensor)>,
}

/// Shapes and constants shared by the layers.
struct Dims {
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    scale: f64,
    attn_softcap: Option<f64>,
}

fn softcap(x: &Tensor, cap: Option<f64>) -> Result<Tensor> {
    match cap {
        Some(c) => (x / c)?.tanh()? * c,
        None => Ok(x.clone()),
    }
}

impl Layer {
    fn attention(&mut self, x: &Tensor, position: usize, d: &Dims) -> Result<Tensor> {
        let (b, seq, _) = x.dims3()?;
        let heads = |t: Tensor, n: usize| t.reshape((b, seq, n, d.head_dim))?.transpose(1, 2);
        let mut q = heads(self.wq.forward(x)?, d.heads)?;
        let mut k = heads(self.wk.forward(x)?, d.kv_heads)?;
        let v = heads(self.wv.forward(x)?, d.kv_heads)?;
        if let (Some(qn), Some(kn)) = (&self.q_norm, &self.k_norm) {
            q = qn.forward(&q.contiguous()?)?;
            k = kn.forward(&k.contiguous()?)?;
        }
        let q = self.rope.apply(&q, position)?;
        let k = self.rope.apply(&k, position)?;
        let (k, v) = match (&self.cache, position) {
            (Some((ck, cv)), p) if p > 0 => {
                (Tensor::cat(&[ck, &k], 2)?, Tensor::cat(&[cv, &v], 2)?)
            }
            _ => (k, v.contiguous()?),
        };
        self.cache = Some((k.clone(), v.clone()));
        let groups = d.heads / d.kv_heads;
        let k = candle_transformers::utils::repeat_kv(k, groups)?.contiguous()?;
        let v = candle_transformers::utils::repeat_kv(v, groups)?.contiguous()?;
        let scores = (q.contiguous()?.matmul(&k.t()?)? * d.scale)?;
        let scores = softcap(&scores, d.attn_softcap)?;
        let mask = attention_mask(seq, position, self.window, x.device())?;
        let scores = scores.broadcast_add(&mask)?;
        let weights = candle_nn::ops::softmax_last_dim(&scores)?;
        let out = weights.matmul(&v)?.transpose(1, 2)?.reshape((b, seq, ()))?;
        self.wo.forward(&out)
    }

    fn forward(&mut self, x: &Tensor, position: usize, d: &Dims) -> Result<Tensor> {
        let h = self.attn_norm.forward(x)?;
        let h = self.attention(&h, position, d)?;
        let x = (self.post_attn_norm.forward(&h)? + x)?;
        let h = self.ffn_norm.forward(&x)?;
        let gate = Activation::GeluPytorchTanh.forward(&self.gate.forward(&h)?)?;
        let h = self.down.forward(&(gate * self.up.forward(&h)?)?)?;
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
    dims: Dims,
}

/// Reads GGUF tensors and metadata of one file.
struct Reader<'a> {
    content: &'a gguf_file::Content,
    file: &'a mut GgufReader,
    device: &'a Device,
    prefix: &'static str,
}

impl Reader<'_> {
    fn tensor(&mut self, name: &str) -> Result<QTensor> {
        self.content.tensor(self.file, name, self.device)
    }

    fn matmul(&mut self, name: &str) -> Result<QMatMul> {
        QMatMul::from_qtensor(self.tensor(name)?)
    }

    fn norm(&mut self, name: &str, eps: f64) -> Result<RmsNorm> {
        RmsNorm::from_qtensor(self.tensor(name)?, eps)
    }

    fn meta(&self, key: &str) -> Option<&gguf_file::Value> {
        self.content.metadata.get(&format!("{}.{key}", self.prefix))
    }

    fn usize(&self, key: &str) -> Result<usize> {
        match self.meta(key) {
            Some(v) => Ok(v.to_u32()? as usize),
            None => candle_core::bail!("cannot find {}.{key} in metadata", self.prefix),
        }
    }

    fn opt_f32(&self, key: &str) -> Result<Option<f32>> {
        self.meta(key).map(|v| v.to_f32()).transpose()
    }
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
        let heads = r.usize("attention.head_count")?;
        let kv_heads = r.usize("attention.head_count_kv")?;
        let hidden = r.usize("embedding_length")?;
        let blocks = r.usize("block_count")?;
        if heads == 0 || kv_heads == 0 || !heads.is_multiple_of(kv_heads) {
            candle_core::bail!("{heads} attention heads cannot share {kv_heads} key/value heads");
        }
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
        let global_rope = Arc::new(Rope::new(head_dim, base, global_scale, context, device)?);
        let local_rope = match generation {
            Generation::Gemma2 => global_rope.clone(),
            Generation::Gemma3 => {
                let local_base = r.opt_f32("rope.local_freq_base")?.unwrap_or(10_000.0);
                Arc::new(Rope::new(head_dim, local_base, 1.0, context, device)?)
            }
        };
        let dims = Dims {
            heads,
            kv_heads,
            head_dim,
            scale: 1.0 / (scale_dim as f64).sqrt(),
            attn_softcap: r.opt_f32("attn_logit_softcapping")?.map(f64::from),
        };
        let final_softcap = r.opt_f32("final_logit_softcapping")?.map(f64::from);

        let embed = r.tensor("token_embd.weight")?.dequantize(device)?;
        let output = match r.tensor("output.weight") {
            Ok(t) => QMatMul::from_qtensor(t)?,
            Err(_) => QMatMul::from_qtensor(r.tensor("token_embd.weight")?)?,
        };
        let norm = r.norm("output_norm.weight", eps)?;
        let mut layers = Vec::with_capacity(blocks);
        for l in 0..blocks {
            let p = format!("blk.{l}");
            let local = (l + 1) % pattern > 0;
            let (q_norm, k_norm) = match generation {
                Generation::Gemma2 => (None, None),
                Generation::Gemma3 => (
                    Some(r.norm(&format!("{p}.attn_q_norm.weight"), eps)?),
                    Some(r.norm(&format!("{p}.attn_k_norm.weight"), eps)?),
                ),
            };
            layers.push(Layer {
                wq: r.matmul(&format!("{p}.attn_q.weight"))?,
                wk: r.matmul(&format!("{p}.attn_k.weight"))?,
                wv: r.matmul(&format!("{p}.attn_v.weight"))?,
                wo: r.matmul(&format!("{p}.attn_output.weight"))?,
                q_norm,
                k_norm,
                attn_norm: r.norm(&format!("{p}.attn_norm.weight"), eps)?,
                post_attn_norm: r.norm(&format!("{p}.post_attention_norm.weight"), eps)?,
                ffn_norm: r.norm(&format!("{p}.ffn_norm.weight"), eps)?,
                post_ffn_norm: r.norm(&format!("{p}.post_ffw_norm.weight"), eps)?,
                gate: r.matmul(&format!("{p}.ffn_gate.weight"))?,
                up: r.matmul(&format!("{p}.ffn_up.weight"))?,
                down: r.matmul(&format!("{p}.ffn_down.weight"))?,
                window: local.then_some(window),
                rope: if local {
                    local_rope.clone()
                } else {
                    global_rope.clone()
                },
                cache: None,
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
    /// (the cache must hold exactly `position` earlier tokens; position 0 starts afresh).
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
            layer.cache = None;
        }
    }
}

impl_quantized_weights!(GemmaWeights, clear);

#[cfg(test)]
mod tests {
    use super::*;

    fn visible(mask: &Tensor) -> Vec<Vec<bool>> {
        let rows: Vec<Vec<f32>> = mask.to_vec2().expect("2-D");
        rows.iter()
            .map(|r| r.iter().map(|v| v.is_finite()).collect())
            .collect()
    }

    #[test]
    fn masks_are_causal_and_windowed_at_any_offset() {
        let dev = Device::Cpu;
        let causal = visible(&attention_mask(2, 1, None, &dev).expect("mask"));
        assert_eq!(causal, [vec![true, true, false], vec![true, true, true]]);
        // Window 2: each query sees itself and the one before, also with a cache.
        let windowed = visible(&attention_mask(2, 3, Some(2), &dev).expect("mask"));
        assert_eq!(
            windowed,
            [
                vec![false, false, true, true, false],
                vec![false, false, false, true, true]
            ]
        );
        let step = visible(&attention_mask(1, 4, Some(3), &dev).expect("mask"));
        assert_eq!(step, [vec![false, false, true, true, true]]);
    }
}
