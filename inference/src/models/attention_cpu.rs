//! Scaled dot-product attention on the CPU in one pass: scores, optional soft cap, causal and
//! sliding-window mask, softmax and the weighted sum of values, read straight from the KV
//! cache's buffers.
//!
//! Done with tensor operations, a decode step of a small model spends most of its attention
//! time waking thread pools for half a dozen tiny matmuls and a softmax (about 2.4 ms per
//! SmolLM2 token on two cores, against 0.1 ms here). Long prompts are split across candle's
//! thread pool by query rows.

use std::sync::Mutex;

use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape};

/// Query rows per work item when a pass is split across threads.
const ROWS_PER_ITEM: usize = 16;
/// Score evaluations below which one thread does the whole pass.
const PARALLEL_WORK: usize = 1 << 16;

/// Attention of queries `(batch, kv_heads, groups * seq, head_dim)` (the `groups` query heads
/// that share a key/value head, each with `seq` positions) over keys and values
/// `(batch, kv_heads, total, head_dim)`, where the queries sit at positions
/// `total - seq .. total`. The output has the queries' shape.
#[derive(Debug, Clone, Copy)]
pub struct CpuAttention {
    /// Multiplier of the query-key products.
    pub scale: f32,
    /// Soft cap of the scores (`cap * tanh(score / cap)`).
    pub softcap: Option<f32>,
    /// Query positions per head.
    pub seq: usize,
    /// Sliding window: a query at `p` sees keys `p - window + 1 ..= p` only.
    pub window: Option<usize>,
}

/// A 4-D f32 view: the slice and the element strides of its layout.
struct View<'a> {
    data: &'a [f32],
    dims: [usize; 4],
    strides: [usize; 4],
}

impl<'a> View<'a> {
    fn new(storage: &'a CpuStorage, layout: &Layout) -> Result<Self> {
        let CpuStorage::F32(data) = storage else {
            candle_core::bail!("cpu attention needs f32 tensors")
        };
        let (dims, strides) = match (layout.dims(), layout.stride()) {
            (&[a, b, c, d], &[sa, sb, sc, sd]) => ([a, b, c, d], [sa, sb, sc, sd]),
            (dims, _) => candle_core::bail!("cpu attention needs 4-D tensors, got {dims:?}"),
        };
        if strides[3] != 1 {
            candle_core::bail!("cpu attention needs rows with unit stride, got {strides:?}");
        }
        let data = &data[layout.start_offset()..];
        // The last element reachable through the layout must be inside the slice.
        let last: usize = dims
            .iter()
            .zip(strides)
            .map(|(d, s)| d.saturating_sub(1) * s)
            .sum();
        if dims.iter().all(|&d| d > 0) && last >= data.len() {
            candle_core::bail!("cpu attention: layout {dims:?}/{strides:?} exceeds its storage");
        }
        Ok(Self {
            data,
            dims,
            strides,
        })
    }

    #[inline]
    fn row(&self, b: usize, h: usize, i: usize) -> &'a [f32] {
        let start = b * self.strides[0] + h * self.strides[1] + i * self.strides[2];
        &self.data[start..start + self.dims[3]]
    }
}

/// `a . b`, with eight running sums so that the compiler can vectorise it (one running sum
/// must add in order, which it may not reorder).
#[inline]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut sums = [0f32; 8];
    let (a8, b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a8
        .remainder()
        .iter()
        .zip(b8.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in a8.zip(b8) {
        for i in 0..8 {
            sums[i] += x[i] * y[i];
        }
    }
    sums.iter().sum::<f32>() + tail
}

impl CpuAttention {
    /// One query row's output into `out`, with `scores` as scratch.
    fn attend(
        &self,
        query: &[f32],
        keys: KeyRows<'_>,
        visible: std::ops::Range<usize>,
        out: &mut [f32],
        scores: &mut Vec<f32>,
    ) {
        scores.clear();
        scores.extend(visible.clone().map(|j| {
            let s = dot(query, keys.key(j)) * self.scale;
            match self.softcap {
                Some(cap) => cap * (s / cap).tanh(),
                None => s,
            }
        }));
        let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0f32;
        for s in scores.iter_mut() {
            *s = (*s - max).exp();
            sum += *s;
        }
        out.fill(0.0);
        for (j, &w) in visible.zip(scores.iter()) {
            let w = w / sum;
            for (o, v) in out.iter_mut().zip(keys.value(j)) {
                *o += w * v;
            }
        }
    }
}

/// The keys and values of one (batch, kv head).
#[derive(Clone, Copy)]
struct KeyRows<'a> {
    k: &'a View<'a>,
    v: &'a View<'a>,
    b: usize,
    h: usize,
}

impl KeyRows<'_> {
    #[inline]
    fn key(&self, j: usize) -> &[f32] {
        self.k.row(self.b, self.h, j)
    }

    #[inline]
    fn value(&self, j: usize) -> &[f32] {
        self.v.row(self.b, self.h, j)
    }
}

impl CustomOp3 for CpuAttention {
    fn name(&self) -> &'static str {
        "palisade-cpu-attention"
    }

    fn cpu_fwd(
        &self,
        q_storage: &CpuStorage,
        q_layout: &Layout,
        k_storage: &CpuStorage,
        k_layout: &Layout,
        v_storage: &CpuStorage,
        v_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let q = View::new(q_storage, q_layout)?;
        let k = View::new(k_storage, k_layout)?;
        let v = View::new(v_storage, v_layout)?;
        let [batch, heads, rows, dim] = q.dims;
        let total = k.dims[2];
        if k.dims != [batch, heads, total, dim] || v.dims != k.dims {
            candle_core::bail!(
                "cpu attention: queries {:?}, keys {:?}, values {:?} do not match",
                q.dims,
                k.dims,
                v.dims
            );
        }
        if self.seq == 0 || !rows.is_multiple_of(self.seq) || self.seq > total {
            candle_core::bail!(
                "cpu attention: {rows} query rows are not groups of {} positions within {total}",
                self.seq
            );
        }
        let first = total - self.seq;
        let mut out = vec![0f32; batch * heads * rows * dim];
        if dim == 0 {
            // Heads of no values: the output is as empty.
            return Ok((CpuStorage::F32(out), Shape::from((batch, heads, rows, dim))));
        }
        // Work items: runs of query rows of one (batch, kv head).
        let runs = rows.div_ceil(ROWS_PER_ITEM);
        let items = batch * heads * runs;
        let compute = |item: usize, dst: &mut [f32], scores: &mut Vec<f32>| {
            let (bh, run) = (item / runs, item % runs);
            let keys = KeyRows {
                k: &k,
                v: &v,
                b: bh / heads,
                h: bh % heads,
            };
            let rows_here = run * ROWS_PER_ITEM..rows.min((run + 1) * ROWS_PER_ITEM);
            for (i, o) in rows_here.zip(dst.chunks_exact_mut(dim)) {
                let position = first + i % self.seq;
                let start = self.window.map_or(0, |w| (position + 1).saturating_sub(w));
                self.attend(
                    q.row(keys.b, keys.h, i),
                    keys,
                    start..position + 1,
                    o,
                    scores,
                );
            }
        };
        let item_len = |item: usize| {
            let run = item % runs;
            (rows.min((run + 1) * ROWS_PER_ITEM) - run * ROWS_PER_ITEM) * dim
        };
        let item_start = |item: usize| ((item / runs) * rows + (item % runs) * ROWS_PER_ITEM) * dim;
        if batch * heads * rows * total < PARALLEL_WORK {
            let mut scores = Vec::with_capacity(total);
            for item in 0..items {
                let start = item_start(item);
                compute(item, &mut out[start..start + item_len(item)], &mut scores);
            }
        } else {
            let shared = Mutex::new(&mut out);
            candle_core::utils::barrier_pool().execute_chunked(items, |range| {
                let mut scores = Vec::with_capacity(total);
                for item in range {
                    let mut local = vec![0f32; item_len(item)];
                    compute(item, &mut local, &mut scores);
                    let start = item_start(item);
                    let mut out = shared.lock().unwrap_or_else(|p| p.into_inner());
                    out[start..start + local.len()].copy_from_slice(&local);
                }
            });
        }
        Ok((CpuStorage::F32(out), Shape::from((batch, heads, rows, dim))))
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Tensor};

    use super::*;
    use crate::models::gguf_blocks::{AttentionDims, attend};

    fn random(shape: (usize, usize, usize, usize), seed: u64) -> Tensor {
        let n = shape.0 * shape.1 * shape.2 * shape.3;
        // A small linear congruential sequence: deterministic, no extra dependency.
        let mut state = seed;
        let values: Vec<f32> = (0..n)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect();
        Tensor::from_vec(values, shape, &Device::Cpu).expect("tensor")
    }

    fn values(t: &Tensor) -> Vec<f32> {
        t.flatten_all().and_then(|t| t.to_vec1()).expect("values")
    }

    /// Equal to the tensor path for decode steps, prompts, windows and soft caps, with keys
    /// and values read through a strided view of a larger buffer (as the KV cache gives them).
    #[test]
    fn equals_the_tensor_path() {
        let (kv_heads, groups, dim) = (2, 3, 16);
        for (seq, total, window, softcap, seed) in [
            (1, 9, None, None, 1),
            (4, 4, None, None, 2),
            (5, 40, Some(7), None, 3),
            (3, 11, None, Some(2.0), 4),
            // Enough work to be split across threads.
            (64, 300, Some(100), None, 5),
        ] {
            let d =
                AttentionDims::new(kv_heads * groups, kv_heads, dim, 0.25, softcap).expect("dims");
            let q = random((1, kv_heads, groups * seq, dim), seed);
            let buffer = |s| random((1, kv_heads, total + 5, dim), s);
            let k = buffer(seed + 10).narrow(2, 0, total).expect("keys");
            let v = buffer(seed + 20).narrow(2, 0, total).expect("values");
            let op = CpuAttention {
                scale: 0.25,
                softcap: softcap.map(|c| c as f32),
                seq,
                window,
            };
            let got = values(&q.apply_op3_no_bwd(&k, &v, &op).expect("cpu attention"));
            let want = values(&attend(&q, &k, &v, seq, window, &d).expect("tensor attention"));
            assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-5, "seq {seq}, total {total}: {g} vs {w}");
            }
        }
    }

    #[test]
    fn mismatched_inputs_are_errors() {
        let q = random((1, 2, 3, 8), 1);
        let k = random((1, 2, 4, 8), 2);
        let op = CpuAttention {
            scale: 1.0,
            softcap: None,
            seq: 3,
            window: None,
        };
        let other = random((1, 2, 4, 4), 3);
        assert!(q.apply_op3_no_bwd(&k, &other, &op).is_err());
        // Five query positions cannot follow from four keys.
        let five = CpuAttention { seq: 5, ..op };
        let q5 = random((1, 2, 5, 8), 4);
        assert!(q5.apply_op3_no_bwd(&k, &k, &five).is_err());
        let f16 = k.to_dtype(candle_core::DType::F16).expect("f16");
        assert!(q.apply_op3_no_bwd(&f16, &f16, &op).is_err());
        // Heads of no values give an empty output, not a panic.
        let empty = random((1, 2, 3, 0), 5);
        let out = empty
            .apply_op3_no_bwd(&random((1, 2, 4, 0), 6), &random((1, 2, 4, 0), 7), &op)
            .expect("empty heads");
        assert_eq!(out.dims(), [1, 2, 3, 0]);
    }
}
