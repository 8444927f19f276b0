//! The pieces our own quantized GGUF models (Llama, Gemma 2 and 3) are built from: a tensor
//! and metadata reader, rotary tables in both GGUF conventions, the attention mask, one
//! grouped-query attention block with a KV cache, and the gated MLP.
//!
//! Matrices are read through [`fast_q4_1`], so Q4_1 files run the AVX2 kernel where the CPU
//! has it.

use std::sync::Arc;

use candle_core::quantized::{QMatMul, QTensor, gguf_file};
use candle_core::{DType, Device, Module, Result, Tensor};
use candle_nn::Activation;
use candle_transformers::quantized_nn::RmsNorm;

use super::attention_cpu::CpuAttention;
use super::q4_1_cpu::fast_q4_1;
use crate::models::repack::GgufReader;

/// Reads GGUF tensors, and metadata under one architecture prefix, of one file.
pub struct Reader<'a> {
    /// The file's header and metadata.
    pub content: &'a gguf_file::Content,
    /// The file's bytes.
    pub file: &'a mut GgufReader,
    /// Where tensors go.
    pub device: &'a Device,
    /// The architecture prefix of metadata keys (`llama`, `gemma2`, ...).
    pub prefix: &'static str,
}

impl Reader<'_> {
    /// The tensor `name`, as stored.
    pub fn tensor(&mut self, name: &str) -> Result<QTensor> {
        self.content.tensor(self.file, name, self.device)
    }

    /// The matrix `name`, ready to multiply (Q4_1 through the AVX2 kernel where possible).
    pub fn matmul(&mut self, name: &str) -> Result<QMatMul> {
        fast_q4_1(self.tensor(name)?)
    }

    /// The RMS norm whose weight is `name`.
    pub fn norm(&mut self, name: &str, eps: f64) -> Result<RmsNorm> {
        RmsNorm::from_qtensor(self.tensor(name)?, eps)
    }

    /// The metadata value `<prefix>.<key>`.
    pub fn meta(&self, key: &str) -> Option<&gguf_file::Value> {
        self.content.metadata.get(&format!("{}.{key}", self.prefix))
    }

    /// The required integer `<prefix>.<key>`.
    pub fn usize(&self, key: &str) -> Result<usize> {
        match self.meta(key) {
            Some(v) => Ok(v.to_u32()? as usize),
            None => candle_core::bail!("cannot find {}.{key} in metadata", self.prefix),
        }
    }

    /// `(query heads, key/value heads)` from `attention.head_count` and
    /// `attention.head_count_kv`, checked before anything divides by them.
    pub fn head_counts(&self) -> Result<(usize, usize)> {
        let heads = self.usize("attention.head_count")?;
        let kv_heads = self.usize("attention.head_count_kv")?;
        check_heads(heads, kv_heads)?;
        Ok((heads, kv_heads))
    }

    /// The optional float `<prefix>.<key>`.
    pub fn opt_f32(&self, key: &str) -> Result<Option<f32>> {
        self.meta(key).map(|v| v.to_f32()).transpose()
    }

    /// Layer `layer`'s attention block (`blk.<layer>.attn_{q,k,v,output}.weight`), with an
    /// empty cache.
    pub fn attention(
        &mut self,
        layer: usize,
        qk_norms: Option<(RmsNorm, RmsNorm)>,
        window: Option<usize>,
        rope: Arc<Rope>,
    ) -> Result<Attention> {
        Ok(Attention {
            wq: self.matmul(&format!("blk.{layer}.attn_q.weight"))?,
            wk: self.matmul(&format!("blk.{layer}.attn_k.weight"))?,
            wv: self.matmul(&format!("blk.{layer}.attn_v.weight"))?,
            wo: self.matmul(&format!("blk.{layer}.attn_output.weight"))?,
            qk_norms,
            window,
            rope,
            cache: KvCache::default(),
        })
    }

    /// Layer `layer`'s gated MLP (`blk.<layer>.ffn_{gate,up,down}.weight`).
    pub fn gated_mlp(&mut self, layer: usize, activation: Activation) -> Result<GatedMlp> {
        Ok(GatedMlp {
            gate: self.matmul(&format!("blk.{layer}.ffn_gate.weight"))?,
            up: self.matmul(&format!("blk.{layer}.ffn_up.weight"))?,
            down: self.matmul(&format!("blk.{layer}.ffn_down.weight"))?,
            activation,
        })
    }

    /// The output projection: `output.weight`, or the token embeddings when the file ties them.
    pub fn output(&mut self) -> Result<QMatMul> {
        match self.tensor("output.weight") {
            Ok(t) => fast_q4_1(t),
            Err(_) => self.matmul("token_embd.weight"),
        }
    }
}

/// `down(activation(gate(x)) * up(x))`.
pub struct GatedMlp {
    gate: QMatMul,
    up: QMatMul,
    down: QMatMul,
    activation: Activation,
}

impl Module for GatedMlp {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let gate = self.activation.forward(&self.gate.forward(x)?)?;
        self.down.forward(&(gate * self.up.forward(x)?)?)
    }
}

/// How a model pairs the dimensions it rotates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RopeStyle {
    /// Pairs `(i, i + d/2)` (GPT-NeoX; Gemma).
    Halves,
    /// Pairs `(2i, 2i + 1)` (llama.cpp's "normal" RoPE; Llama, Mistral).
    Interleaved,
}

/// Rotary tables for `positions` positions.
pub struct Rope {
    cos: Tensor,
    sin: Tensor,
    style: RopeStyle,
}

impl Rope {
    /// Tables for heads of `head_dim`, frequencies `base^(-2i/head_dim) / scale`.
    pub fn new(
        head_dim: usize,
        base: f32,
        scale: f32,
        positions: usize,
        style: RopeStyle,
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
            style,
        })
    }

    /// `x` `(batch, heads, seq, head_dim)` rotated for positions `position..position + seq`.
    pub fn apply(&self, x: &Tensor, position: usize) -> Result<Tensor> {
        let seq = x.dim(2)?;
        let cos = self.cos.narrow(0, position, seq)?;
        let sin = self.sin.narrow(0, position, seq)?;
        let x = x.contiguous()?;
        match self.style {
            RopeStyle::Halves => candle_nn::rotary_emb::rope(&x, &cos, &sin),
            RopeStyle::Interleaved => candle_nn::rotary_emb::rope_i(&x, &cos, &sin),
        }
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

/// `cap * tanh(x / cap)`, or `x` without a cap.
pub fn softcap(x: &Tensor, cap: Option<f64>) -> Result<Tensor> {
    match cap {
        Some(c) => (x / c)?.tanh()? * c,
        None => Ok(x.clone()),
    }
}

/// Head counts and constants shared by a model's attention blocks.
pub struct AttentionDims {
    /// Query heads.
    pub heads: usize,
    /// Key/value heads (`heads` is a multiple).
    pub kv_heads: usize,
    /// Values per head.
    pub head_dim: usize,
    /// Multiplier of the query-key products.
    pub scale: f64,
    /// Soft cap of the scores (Gemma 2).
    pub softcap: Option<f64>,
}

impl AttentionDims {
    /// Checks that the key/value heads divide the query heads.
    pub fn new(
        heads: usize,
        kv_heads: usize,
        head_dim: usize,
        scale: f64,
        softcap: Option<f64>,
    ) -> Result<Self> {
        check_heads(heads, kv_heads)?;
        Ok(Self {
            heads,
            kv_heads,
            head_dim,
            scale,
            softcap,
        })
    }
}

/// Grouped-query attention needs key/value heads that divide the (nonzero) query heads.
fn check_heads(heads: usize, kv_heads: usize) -> Result<()> {
    if heads == 0 || kv_heads == 0 || !heads.is_multiple_of(kv_heads) {
        candle_core::bail!("{heads} attention heads cannot share {kv_heads} key/value heads");
    }
    Ok(())
}

/// One grouped-query self-attention block with its KV cache.
pub struct Attention {
    /// Query projection.
    pub wq: QMatMul,
    /// Key projection.
    pub wk: QMatMul,
    /// Value projection.
    pub wv: QMatMul,
    /// Output projection.
    pub wo: QMatMul,
    /// Per-head query and key norms (Gemma 3).
    pub qk_norms: Option<(RmsNorm, RmsNorm)>,
    /// Sliding window: keys further back than this are not seen.
    pub window: Option<usize>,
    /// Rotary tables.
    pub rope: Arc<Rope>,
    /// Keys and values of every earlier position.
    pub cache: KvCache,
}

impl Attention {
    /// Attention output for `x` `(batch, seq, hidden)` fed at `position`: the cache must hold
    /// at least `position` earlier positions (later ones are dropped); position 0 starts
    /// afresh.
    pub fn forward(&mut self, x: &Tensor, position: usize, d: &AttentionDims) -> Result<Tensor> {
        let (b, seq, _) = x.dims3()?;
        let heads = |t: Tensor, n: usize| t.reshape((b, seq, n, d.head_dim))?.transpose(1, 2);
        let mut q = heads(self.wq.forward(x)?, d.heads)?;
        let mut k = heads(self.wk.forward(x)?, d.kv_heads)?;
        let v = heads(self.wv.forward(x)?, d.kv_heads)?;
        if let Some((qn, kn)) = &self.qk_norms {
            q = qn.forward(&q.contiguous()?)?;
            k = kn.forward(&k.contiguous()?)?;
        }
        let q = self.rope.apply(&q, position)?;
        let k = self.rope.apply(&k, position)?;
        let (k, v) = self.cache.append(&k, &v.contiguous()?, position)?;
        // Grouped-query attention without copying keys and values per query head: the
        // `groups` query heads that share a key/value head become rows of one matrix.
        let groups = d.heads / d.kv_heads;
        let q = q.reshape((b, d.kv_heads, groups * seq, d.head_dim))?;
        let out = if x.device().is_cpu() && q.dtype() == DType::F32 {
            let op = CpuAttention {
                scale: d.scale as f32,
                softcap: d.softcap.map(|c| c as f32),
                seq,
                window: self.window,
            };
            q.contiguous()?.apply_op3_no_bwd(&k, &v, &op)?
        } else {
            attend(&q, &k, &v, seq, self.window, d)?
        };
        let out = out
            .reshape((b, d.heads, seq, d.head_dim))?
            .transpose(1, 2)?
            .reshape((b, seq, ()))?;
        self.wo.forward(&out)
    }
}

/// Attention with tensor operations (any device): queries `(batch, kv_heads, groups * seq,
/// head_dim)` at the last `seq` of the `total` positions of keys and values `(batch, kv_heads,
/// total, head_dim)`; the output has the queries' shape. [`CpuAttention`] computes the same
/// on the CPU in one pass.
pub fn attend(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    seq: usize,
    window: Option<usize>,
    d: &AttentionDims,
) -> Result<Tensor> {
    let (b, kv_heads, rows, _) = q.dims4()?;
    let total = k.dim(2)?;
    let scores = (q.matmul(&k.t()?)? * d.scale)?;
    let scores = softcap(&scores, d.softcap)?;
    let scores = if seq > 1 || window.is_some() {
        let mask = attention_mask(seq, total - seq, window, q.device())?;
        scores
            .reshape((b, kv_heads, rows / seq, seq, total))?
            .broadcast_add(&mask)?
            .reshape((b, kv_heads, rows, total))?
    } else {
        scores
    };
    candle_nn::ops::softmax_last_dim(&scores)?.matmul(v)
}

/// Keys and values of earlier positions, `(batch, kv_heads, capacity, head_dim)` buffers that
/// grow by doubling, so that a decode step writes one position instead of copying the cache.
#[derive(Default)]
pub struct KvCache {
    buffers: Option<(Tensor, Tensor)>,
    len: usize,
}

/// Positions a cache holds before it first grows.
const INITIAL_CAPACITY: usize = 256;

impl KvCache {
    /// Forgets every position.
    pub fn clear(&mut self) {
        self.buffers = None;
        self.len = 0;
    }

    /// Stores `k` and `v` `(batch, kv_heads, seq, head_dim)` (contiguous) as positions
    /// `position..position + seq`, dropping any cached from `position` on, and returns the
    /// keys and values of all positions so far.
    pub fn append(&mut self, k: &Tensor, v: &Tensor, position: usize) -> Result<(Tensor, Tensor)> {
        if position > self.len {
            candle_core::bail!(
                "fed at position {position}, but the cache holds {} positions",
                self.len
            );
        }
        let (b, heads, seq, dim) = k.dims4()?;
        let needed = position + seq;
        let capacity = match &self.buffers {
            Some((buffer, _)) => buffer.dim(2)?,
            None => 0,
        };
        if needed > capacity {
            let capacity = needed.max(2 * capacity).max(INITIAL_CAPACITY);
            let grow = |old: Option<&Tensor>| -> Result<Tensor> {
                let buffer = Tensor::zeros((b, heads, capacity, dim), k.dtype(), k.device())?;
                if let Some(old) = old.filter(|_| position > 0) {
                    buffer.slice_set(&old.narrow(2, 0, position)?.contiguous()?, 2, 0)?;
                }
                Ok(buffer)
            };
            let old = self.buffers.take();
            let keys = grow(old.as_ref().map(|(k, _)| k))?;
            let values = grow(old.as_ref().map(|(_, v)| v))?;
            self.buffers = Some((keys, values));
        }
        let Some((keys, values)) = &self.buffers else {
            candle_core::bail!("the cache has no buffers");
        };
        keys.slice_set(k, 2, position)?;
        values.slice_set(v, 2, position)?;
        self.len = needed;
        Ok((keys.narrow(2, 0, needed)?, values.narrow(2, 0, needed)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn visible(mask: &Tensor) -> Vec<Vec<bool>> {
        let rows: Vec<Vec<f32>> = mask.to_vec2().expect("2-D");
        rows.iter()
            .map(|r| r.iter().map(|v| v.is_finite()).collect())
            .collect()
    }

    fn positions(cache: &mut KvCache, from: usize, values: &[f32]) -> Result<Vec<f32>> {
        let seq = values.len();
        let k = Tensor::from_vec(values.to_vec(), (1, 1, seq, 1), &Device::Cpu)?;
        let (keys, vals) = cache.append(&k, &(&k * 2.0)?, from)?;
        let keys: Vec<f32> = keys.flatten_all()?.to_vec1()?;
        let doubled: Vec<f32> = vals.flatten_all()?.to_vec1()?;
        assert_eq!(doubled, keys.iter().map(|k| k * 2.0).collect::<Vec<_>>());
        Ok(keys)
    }

    #[test]
    fn the_kv_cache_appends_grows_and_rewinds() {
        let mut cache = KvCache::default();
        let prompt: Vec<f32> = (0..300).map(|i| i as f32).collect();
        // Past the initial capacity in one go, then one position at a time across a doubling.
        assert_eq!(positions(&mut cache, 0, &prompt).expect("prompt"), prompt);
        let mut all = prompt.clone();
        for p in 300..620 {
            all.push(p as f32);
            assert_eq!(positions(&mut cache, p, &[p as f32]).expect("step"), all);
        }
        // Feeding an earlier position drops what came after it.
        assert_eq!(
            positions(&mut cache, 2, &[-1.0]).expect("rewind"),
            [0.0, 1.0, -1.0]
        );
        // A position past the cached ones is an error, not a gap.
        let err = positions(&mut cache, 5, &[0.0]).expect_err("gap");
        assert!(err.to_string().contains("holds 3 positions"), "{err}");
        cache.clear();
        assert_eq!(positions(&mut cache, 0, &[7.0]).expect("fresh"), [7.0]);
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
