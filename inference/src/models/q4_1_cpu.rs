//! Q4_1 matrices on x86-64 CPUs with AVX2: the same GGUF blocks as candle's, multiplied by a
//! vectorised kernel instead of candle 0.11.1's scalar `vec_dot_q4_1_q8_1` loop (half of all
//! decode time on SmolLM2's Q4_1 file).
//!
//! [`fast_q4_1`] swaps the storage of a CPU Q4_1 tensor for [`Q4_1Avx2`], which keeps the
//! file's bytes unchanged (so candle's `dequantize`, `embedding`, `data` and friends see exactly
//! the blocks they expect) and only replaces `matmul_t`. Activations are quantized per 32
//! values to 8 bits with candle's Q8_1 rounding (scale and block sum rounded to f16), so the
//! products equal candle's up to the order of float additions. Other CPUs and types keep
//! candle's storage.
//!
//! The only `unsafe` here is calling the `#[target_feature]` kernel (two call sites), with a
//! [`Features`] token in hand that only a run-time check of the CPU creates.

use std::borrow::Cow;
use std::sync::Mutex;

use candle_core::quantized::{GgmlDType, QMatMul, QStorage, QTensor, QuantizedType};
use candle_core::{CpuStorage, Device, Result, Tensor};
use half::f16;

/// Values per Q4_1 (and Q8_1) block.
const BLOCK: usize = 32;

/// One GGUF Q4_1 block: `value = d * q + m` for the 32 nibbles `q`, low nibbles first.
#[repr(C)]
#[derive(Debug, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
pub(crate) struct Block {
    /// Scale, f16 bits.
    d: u16,
    /// Minimum, f16 bits.
    m: u16,
    /// Byte `j` holds value `j` (low nibble) and value `j + 16` (high nibble).
    qs: [u8; 16],
}
const _: () = assert!(std::mem::size_of::<Block>() == 20);

/// 32 activations quantized to 8 bits: `value ~ d * q`, and `s = d * sum(q)`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Q8Block {
    qs: [i8; BLOCK],
    d: f32,
    s: f32,
}

impl Q8Block {
    /// Quantizes 32 values as candle's `BlockQ8_1::from_float` does (f16 scale and sum).
    fn quantize(xs: &[f32]) -> Self {
        let amax = xs.iter().fold(0f32, |a, x| a.max(x.abs()));
        let d = amax / 127.0;
        let inverse = if d != 0.0 { 1.0 / d } else { 0.0 };
        let mut qs = [0i8; BLOCK];
        let mut sum = 0i32;
        for (q, x) in qs.iter_mut().zip(xs) {
            *q = (x * inverse).round() as i8;
            sum += i32::from(*q);
        }
        let d16 = f16::from_f32(d);
        let s = f16::from_f32(sum as f32) * d16;
        Self {
            qs,
            d: d16.to_f32(),
            s: s.to_f32(),
        }
    }
}

/// A Q4_1 matrix whose `matmul_t` runs the AVX2 kernel. Only built by [`fast_q4_1`], after
/// the CPU was checked.
pub struct Q4_1Avx2 {
    blocks: Vec<Block>,
}

impl Q4_1Avx2 {
    fn bytes(&self) -> &[u8] {
        bytemuck::cast_slice(&self.blocks)
    }

    /// candle's own storage for the same bytes, for the operations that are not hot.
    fn candle_storage(&self) -> Result<Box<dyn QuantizedType>> {
        match QStorage::from_data(Cow::Borrowed(self.bytes()), &Device::Cpu, GgmlDType::Q4_1)? {
            QStorage::Cpu(storage) => Ok(storage),
            _ => candle_core::bail!("a CPU Q4_1 storage was expected"),
        }
    }
}

/// Whether this CPU can run the kernel.
fn cpu_supported() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        is_x86_feature_detected!("avx2")
            && is_x86_feature_detected!("fma")
            && is_x86_feature_detected!("f16c")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Proof that this CPU has AVX2, FMA and F16C, which the kernel needs: only
/// [`Features::detect`] makes one, so every call into the kernel carries the check with it.
#[derive(Debug, Clone, Copy)]
struct Features(());

impl Features {
    fn detect() -> Option<Self> {
        cpu_supported().then_some(Features(()))
    }
}

/// `tensor` as a matmul: with the AVX2 kernel when it is a Q4_1 matrix on a CPU that has
/// AVX2, FMA and F16C; otherwise as candle builds it.
pub fn fast_q4_1(tensor: QTensor) -> Result<QMatMul> {
    let eligible = tensor.dtype() == GgmlDType::Q4_1
        && matches!(tensor.device(), Device::Cpu)
        && tensor.shape().rank() == 2
        && cpu_supported();
    if !eligible {
        return QMatMul::from_qtensor(tensor);
    }
    let storage = Q4_1Avx2 {
        blocks: blocks_from_bytes(&tensor.data()?)?,
    };
    let shape = tensor.shape().clone();
    QMatMul::from_qtensor(QTensor::new(QStorage::Cpu(Box::new(storage)), shape)?)
}

/// GGUF Q4_1 bytes as blocks, whatever their alignment.
fn blocks_from_bytes(data: &[u8]) -> Result<Vec<Block>> {
    let size = std::mem::size_of::<Block>();
    if !data.len().is_multiple_of(size) {
        candle_core::bail!("Q4_1 data of {} bytes is not whole blocks", data.len())
    }
    Ok(data
        .chunks_exact(size)
        .map(bytemuck::pod_read_unaligned)
        .collect())
}

impl QuantizedType for Q4_1Avx2 {
    fn dtype(&self) -> GgmlDType {
        GgmlDType::Q4_1
    }

    fn matmul_t(
        &self,
        (m, k, n): (usize, usize, usize),
        lhs: &[f32],
        dst: &mut [f32],
    ) -> Result<()> {
        if !k.is_multiple_of(BLOCK) || self.blocks.len() != n * k / BLOCK {
            candle_core::bail!(
                "Q4_1 matmul: {} blocks cannot be {n} rows of {k} values",
                self.blocks.len()
            )
        }
        if lhs.len() != m * k || dst.len() < m * n {
            candle_core::bail!(
                "Q4_1 matmul ({m}, {k}, {n}): lhs has {}, dst {} values",
                lhs.len(),
                dst.len()
            )
        }
        if k == 0 || m == 0 || n == 0 {
            // Nothing to compute: no output, or rows of no values (empty sums).
            dst[..m * n].fill(0.0);
            return Ok(());
        }
        let Some(features) = Features::detect() else {
            candle_core::bail!("the Q4_1 kernel needs a CPU with AVX2, FMA and F16C")
        };
        let activations: Vec<Q8Block> = lhs.chunks_exact(BLOCK).map(Q8Block::quantize).collect();
        let row_blocks = k / BLOCK;
        let rows: Vec<&[Block]> = self.blocks.chunks_exact(row_blocks).collect();
        let dst = Mutex::new(&mut dst[..m * n]);
        // Each thread takes one long contiguous run of rows (what the hardware prefetcher
        // streams best), four rows at a time.
        let pool = candle_core::utils::barrier_pool();
        let part_rows = n.div_ceil(pool.n_workers() + 1).next_multiple_of(4);
        pool.execute_chunked(n.div_ceil(part_rows), |parts| {
            for part in parts {
                let columns = part * part_rows..n.min((part + 1) * part_rows);
                let width = columns.len();
                let mut local = vec![0f32; m * width];
                let mut quad_out = vec![[0f32; 4]; m];
                for start in columns.clone().step_by(4) {
                    let end = columns.end.min(start + 4);
                    // A last quad short of four rows repeats its last row.
                    let quad: [&[Block]; 4] =
                        std::array::from_fn(|r| rows[(start + r).min(end - 1)]);
                    dot4_many(features, quad, &activations, &mut quad_out);
                    for (i, values) in quad_out.iter().enumerate() {
                        let at = i * width + start - columns.start;
                        local[at..at + end - start].copy_from_slice(&values[..end - start]);
                    }
                }
                let mut dst = dst.lock().unwrap_or_else(|p| p.into_inner());
                for (i, out) in local.chunks_exact(width).enumerate() {
                    dst[i * n + columns.start..i * n + columns.end].copy_from_slice(out);
                }
            }
        });
        Ok(())
    }

    fn matmul_t_f16(&self, mkn: (usize, usize, usize), lhs: &[f16], dst: &mut [f16]) -> Result<()> {
        let lhs: Vec<f32> = lhs.iter().map(|x| x.to_f32()).collect();
        let mut out = vec![0f32; dst.len()];
        self.matmul_t(mkn, &lhs, &mut out)?;
        for (d, o) in dst.iter_mut().zip(out) {
            *d = f16::from_f32(o);
        }
        Ok(())
    }

    fn embedding(&self, ids: &[u32], rows: usize, hidden: usize) -> Result<CpuStorage> {
        self.candle_storage()?.embedding(ids, rows, hidden)
    }

    fn dequantize(&self, elem_count: usize) -> Result<CpuStorage> {
        self.candle_storage()?.dequantize(elem_count)
    }

    fn storage_size_in_bytes(&self) -> usize {
        std::mem::size_of_val(self.blocks.as_slice())
    }

    fn as_ptr(&self) -> *const u8 {
        self.blocks.as_ptr().cast()
    }

    fn block_size(&self) -> usize {
        BLOCK
    }

    fn from_float(&mut self, xs: &[f32]) {
        self.blocks = requantize(xs, None);
    }

    fn from_float_imatrix(&mut self, xs: &[f32], imatrix_weights: &[f32], n_per_row: usize) {
        self.blocks = requantize(xs, Some((imatrix_weights, n_per_row)));
    }

    fn size(&self) -> usize {
        self.storage_size_in_bytes()
    }
}

/// `xs` quantized to Q4_1 by candle (with importance weights when given). The trait gives no
/// way to report an error; shapes candle cannot quantize leave the matrix empty, which every
/// later matmul reports.
fn requantize(xs: &[f32], imatrix: Option<(&[f32], usize)>) -> Vec<Block> {
    let quantized = (|| -> Result<Vec<Block>> {
        let tensor = Tensor::from_slice(xs, xs.len(), &Device::Cpu)?;
        let q = match imatrix {
            None => QTensor::quantize(&tensor, GgmlDType::Q4_1)?,
            Some((weights, n_per_row)) => {
                let rows = xs.len() / n_per_row.max(1);
                let tensor = tensor.reshape((rows, n_per_row))?;
                QTensor::quantize_imatrix(&tensor, weights, GgmlDType::Q4_1)?
            }
        };
        blocks_from_bytes(&q.data()?)
    })();
    quantized.unwrap_or_default()
}

/// Four rows' products with one activation row.
fn dot4(_: Features, rows: [&[Block]; 4], act: &[Q8Block]) -> [f32; 4] {
    #[cfg(target_arch = "x86_64")]
    {
        #[allow(unsafe_code)]
        // SAFETY: `Features` proves that this CPU has AVX2, FMA and F16C, all that
        // `avx2::dot4` requires; it reads only through safe slices.
        unsafe {
            avx2::dot4(rows, act)
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        rows.map(|row| portable_dot(row, act))
    }
}

/// `out[i] = rows . acts[i]` for every activation row `i` (of `rows[0].len()` blocks).
fn dot4_many(features: Features, rows: [&[Block]; 4], acts: &[Q8Block], out: &mut [[f32; 4]]) {
    if acts.len() == rows[0].len() {
        // One activation row (a decode step): nothing to gain from unpacking the rows ahead.
        out[0] = dot4(features, rows, acts);
        return;
    }
    #[cfg(target_arch = "x86_64")]
    {
        let _ = features;
        #[allow(unsafe_code)]
        // SAFETY: as in `dot4`: `Features` proves the CPU has what the kernel requires.
        unsafe {
            avx2::dot4_many(rows, acts, out)
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let length = rows[0].len().max(1);
        for (act, o) in acts.chunks_exact(length).zip(out) {
            *o = dot4(features, rows, act);
        }
    }
}

/// The plain definition of one row's product, as candle computes it.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn portable_dot(row: &[Block], act: &[Q8Block]) -> f32 {
    row.iter()
        .zip(act)
        .map(|(w, a)| {
            let dot: i32 = (0..16)
                .map(|j| {
                    let (lo, hi) = (i32::from(w.qs[j] & 0x0F), i32::from(w.qs[j] >> 4));
                    lo * i32::from(a.qs[j]) + hi * i32::from(a.qs[j + 16])
                })
                .sum();
            let (d, m) = (f16::from_bits(w.d).to_f32(), f16::from_bits(w.m).to_f32());
            dot as f32 * d * a.d + m * a.s
        })
        .sum()
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::{Block, Q8Block};

    /// The 32 values of a block as bytes 0..=15, in the activations' order.
    #[target_feature(enable = "avx2")]
    fn unpack(block: &Block) -> __m256i {
        let packed: __m128i = bytemuck::cast(block.qs);
        let high = _mm_srli_epi16(packed, 4);
        _mm256_and_si256(_mm256_set_m128i(high, packed), _mm256_set1_epi8(0x0F))
    }

    /// The four blocks' scales and minimums as f32 lanes (f16 -> f32 in one instruction each).
    #[target_feature(enable = "avx2,f16c")]
    fn scales_and_minimums(blocks: [&Block; 4]) -> (__m128, __m128) {
        let [a, b, c, d] = blocks;
        let scales = _mm_set_epi16(0, 0, 0, 0, d.d as i16, c.d as i16, b.d as i16, a.d as i16);
        let minimums = _mm_set_epi16(0, 0, 0, 0, d.m as i16, c.m as i16, b.m as i16, a.m as i16);
        (_mm_cvtph_ps(scales), _mm_cvtph_ps(minimums))
    }

    /// One block's contribution to four rows: `acc[r] += d_w[r] * d_a * (weights[r] . act)`,
    /// `mins += m_w * s_a`.
    #[target_feature(enable = "avx2,fma")]
    fn accumulate(
        weights: &[__m256i; 4],
        (d, m): (__m128, __m128),
        a: &Q8Block,
        acc: &mut [__m256; 4],
        mins: &mut __m128,
    ) {
        let activations: __m256i = bytemuck::cast(a.qs);
        *mins = _mm_fmadd_ps(m, _mm_set1_ps(a.s), *mins);
        let scales: [f32; 4] = bytemuck::cast(_mm_mul_ps(d, _mm_set1_ps(a.d)));
        let ones = _mm256_set1_epi16(1);
        for r in 0..4 {
            // u8 x i8 pairs summed to i16 (at most 2 * 15 * 127: no saturation), then to i32.
            let pairs = _mm256_maddubs_epi16(weights[r], activations);
            let sums = _mm256_cvtepi32_ps(_mm256_madd_epi16(pairs, ones));
            acc[r] = _mm256_fmadd_ps(sums, _mm256_set1_ps(scales[r]), acc[r]);
        }
    }

    /// The four rows' totals.
    #[target_feature(enable = "avx2")]
    fn totals(acc: [__m256; 4], mins: __m128) -> [f32; 4] {
        let mins: [f32; 4] = bytemuck::cast(mins);
        let mut out = [0f32; 4];
        for r in 0..4 {
            let lanes: [f32; 8] = bytemuck::cast(acc[r]);
            out[r] = lanes.iter().sum::<f32>() + mins[r];
        }
        out
    }

    /// Products of four weight rows with one activation row (all of `act.len()` blocks).
    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) fn dot4(rows: [&[Block]; 4], act: &[Q8Block]) -> [f32; 4] {
        let rows = rows.map(|r| &r[..act.len()]);
        let mut acc = [_mm256_setzero_ps(); 4];
        let mut mins = _mm_setzero_ps();
        for (b, a) in act.iter().enumerate() {
            let blocks = [&rows[0][b], &rows[1][b], &rows[2][b], &rows[3][b]];
            let weights = [
                unpack(blocks[0]),
                unpack(blocks[1]),
                unpack(blocks[2]),
                unpack(blocks[3]),
            ];
            accumulate(
                &weights,
                scales_and_minimums(blocks),
                a,
                &mut acc,
                &mut mins,
            );
        }
        totals(acc, mins)
    }

    /// Products of four weight rows with every activation row of `acts` (rows of
    /// `rows[0].len()` blocks), into `out`: the weights are unpacked once for all of them.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) fn dot4_many(rows: [&[Block]; 4], acts: &[Q8Block], out: &mut [[f32; 4]]) {
        let length = rows[0].len();
        let rows = rows.map(|r| &r[..length]);
        let unpacked: Vec<([__m256i; 4], (__m128, __m128))> = (0..length)
            .map(|b| {
                let blocks = [&rows[0][b], &rows[1][b], &rows[2][b], &rows[3][b]];
                (
                    [
                        unpack(blocks[0]),
                        unpack(blocks[1]),
                        unpack(blocks[2]),
                        unpack(blocks[3]),
                    ],
                    scales_and_minimums(blocks),
                )
            })
            .collect();
        for (act, o) in acts.chunks_exact(length.max(1)).zip(out) {
            let mut acc = [_mm256_setzero_ps(); 4];
            let mut mins = _mm_setzero_ps();
            for ((weights, scales), a) in unpacked.iter().zip(act) {
                accumulate(weights, *scales, a, &mut acc, &mut mins);
            }
            *o = totals(acc, mins);
        }
    }
}

#[cfg(test)]
mod tests {
    use candle_core::Module;
    use rand::{Rng, SeedableRng};

    use super::*;

    fn random(len: usize, seed: u64) -> Vec<f32> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        (0..len).map(|_| rng.random_range(-1.0f32..1.0)).collect()
    }

    fn q4_1(rows: usize, k: usize, seed: u64) -> QTensor {
        let weights = Tensor::from_vec(random(rows * k, seed), (rows, k), &Device::Cpu);
        QTensor::quantize(&weights.expect("weights"), GgmlDType::Q4_1).expect("quantize")
    }

    fn values(t: &Tensor) -> Vec<f32> {
        t.flatten_all().and_then(|t| t.to_vec1()).expect("values")
    }

    #[test]
    fn products_equal_candles_for_decode_and_prompt_shapes() {
        // 37 rows: more than one tile, and not a multiple of four.
        let (rows, k) = (37, 128);
        let candle = QMatMul::from_qtensor(q4_1(rows, k, 1)).expect("candle");
        let fast = fast_q4_1(q4_1(rows, k, 1)).expect("fast");
        for m in [1, 5] {
            let lhs =
                Tensor::from_vec(random(m * k, 2 + m as u64), (m, k), &Device::Cpu).expect("lhs");
            let want = values(&candle.forward(&lhs).expect("candle forward"));
            let got = values(&fast.forward(&lhs).expect("fast forward"));
            assert_eq!(want.len(), got.len());
            for (w, g) in want.iter().zip(&got) {
                assert!((w - g).abs() <= 1e-4 * w.abs().max(1.0), "{w} vs {g}");
            }
        }
    }

    #[test]
    fn the_kernel_equals_the_plain_definition() {
        let tensor = q4_1(4, 256, 7);
        let blocks = blocks_from_bytes(&tensor.data().expect("data")).expect("blocks");
        let act: Vec<Q8Block> = random(256, 8)
            .chunks_exact(BLOCK)
            .map(Q8Block::quantize)
            .collect();
        let rows: Vec<&[Block]> = blocks.chunks_exact(8).collect();
        if let Some(features) = Features::detect() {
            let got = dot4(features, [rows[0], rows[1], rows[2], rows[3]], &act);
            for (row, g) in rows.iter().zip(got) {
                let want = portable_dot(row, &act);
                assert!(
                    (want - g).abs() <= 1e-4 * want.abs().max(1.0),
                    "{want} vs {g}"
                );
            }
        }
    }

    #[test]
    fn the_stored_bytes_and_dequantized_values_are_the_files() {
        let original = q4_1(8, 64, 3);
        if !cpu_supported() {
            return;
        }
        let QMatMul::QTensor(fast) = fast_q4_1(q4_1(8, 64, 3)).expect("fast") else {
            panic!("a Q4_1 matrix stays quantized");
        };
        assert_eq!(
            fast.data().expect("fast data"),
            original.data().expect("data")
        );
        let want = values(&original.dequantize(&Device::Cpu).expect("dequantize"));
        assert_eq!(
            values(&fast.dequantize(&Device::Cpu).expect("dequantize")),
            want
        );
        // Requantizing the values gives candle's blocks again.
        let mut storage = Q4_1Avx2 { blocks: Vec::new() };
        storage.from_float(&want);
        let again = QTensor::quantize(
            &Tensor::from_vec(want, (8, 64), &Device::Cpu).expect("values"),
            GgmlDType::Q4_1,
        )
        .expect("quantize");
        assert_eq!(storage.bytes(), &*again.data().expect("data"));
    }

    #[test]
    fn mismatched_shapes_are_errors() {
        let storage = Q4_1Avx2 {
            blocks: blocks_from_bytes(&q4_1(2, 64, 5).data().expect("data")).expect("blocks"),
        };
        let mut dst = vec![0f32; 3];
        assert!(storage.matmul_t((1, 64, 3), &[0.0; 64], &mut dst).is_err());
        assert!(storage.matmul_t((1, 64, 2), &[0.0; 63], &mut dst).is_err());
        assert!(blocks_from_bytes(&[0u8; 21]).is_err());
        // Rows of no values multiply to zeros, not to a panic.
        let empty = Q4_1Avx2 { blocks: Vec::new() };
        let mut dst = vec![1f32; 6];
        empty
            .matmul_t((2, 0, 3), &[], &mut dst)
            .expect("empty rows");
        assert_eq!(dst, [0.0; 6]);
    }
}
