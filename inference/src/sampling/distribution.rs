//! Statistics of the model's own next-token distribution: log-probabilities, entropy and the
//! most likely alternatives.
//!
//! These are computed from the *raw* logits (softmax at temperature 1, before repetition
//! penalty, logits processors, temperature or truncation), so they describe what the model
//! believes, independently of the sampling settings. Accumulation is done in `f64`, in vectorised lanes.

/// Log-partition function and entropy of `softmax(logits)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DistributionStats {
    /// `ln Σ exp(logit_i)`: `logprob(i) = logit_i - log_z`.
    pub log_z: f64,
    /// Shannon entropy in nats: `-Σ p_i ln p_i` (`ln n` for a uniform distribution over n).
    pub entropy: f64,
}

impl DistributionStats {
    /// Computes the statistics of `softmax(logits)`; `None` when no logit is finite (or the
    /// slice is empty). `-inf` logits count as probability zero; NaN logits are ignored.
    pub fn from_logits(logits: &[f32]) -> Option<Self> {
        let max = max_where(logits, f32::is_finite);
        if !max.is_finite() {
            return None;
        }
        let max = f64::from(max);
        // Blocks of separate loops (shift, exponential, sums into lanes), each of which the
        // compiler vectorises; one loop doing all three stays scalar.
        const BLOCK: usize = 256;
        let mut shifted = [0.0f64; BLOCK];
        let mut exps = [0.0f64; BLOCK];
        let mut sum = [0.0f64; LANES];
        let mut weighted = [0.0f64; LANES];
        for block in logits.chunks(BLOCK) {
            let n = block.len();
            for (s, &x) in shifted.iter_mut().zip(block) {
                // Non-finite logits count as probability zero: e^-1000 is 0 here.
                *s = if x.is_finite() {
                    f64::from(x) - max
                } else {
                    -1000.0
                };
            }
            for (e, &s) in exps[..n].iter_mut().zip(&shifted[..n]) {
                *e = exp_nonpositive(s);
            }
            let pairs = exps[..n].chunks(LANES).zip(shifted[..n].chunks(LANES));
            for (e, s) in pairs {
                for lane in 0..e.len() {
                    sum[lane] += e[lane];
                    weighted[lane] += e[lane] * s[lane];
                }
            }
        }
        let (sum, weighted) = (sum.iter().sum::<f64>(), weighted.iter().sum::<f64>());
        // With s = Σ e^(x_i - m): p_i = e^(x_i - m) / s, ln p_i = (x_i - m) - ln s,
        // H = -Σ p_i ln p_i = ln s - (Σ e^(x_i - m) (x_i - m)) / s.
        let ln_sum = sum.ln();
        Some(Self {
            log_z: max + ln_sum,
            entropy: (ln_sum - weighted / sum).max(0.0),
        })
    }

    /// Natural-log probability of the token whose raw logit is `logit`.
    pub fn logprob(&self, logit: f32) -> f32 {
        if logit.is_finite() {
            (f64::from(logit) - self.log_z) as f32
        } else {
            f32::NEG_INFINITY
        }
    }
}

/// `KL(p || q)` in nats between `softmax(p_logits)` and `softmax(q_logits)` over the same
/// vocabulary: how far a changed model (`q`) moved from a reference (`p`). `None` when the
/// lengths differ or either side has no finite logit.
pub fn kl_divergence(p_logits: &[f32], q_logits: &[f32]) -> Option<f64> {
    if p_logits.len() != q_logits.len() {
        return None;
    }
    let p = DistributionStats::from_logits(p_logits)?;
    let q = DistributionStats::from_logits(q_logits)?;
    let kl = p_logits
        .iter()
        .zip(q_logits)
        .filter(|(a, _)| a.is_finite())
        .map(|(&a, &b)| {
            let (lp, lq) = (f64::from(a) - p.log_z, f64::from(b) - q.log_z);
            lp.exp() * (lp - lq)
        })
        .sum::<f64>();
    Some(kl.max(0.0))
}

/// Independent running sums or maxima per loop, so that the compiler can vectorise it.
const LANES: usize = 8;

/// The largest of the values that `keep` accepts (`-inf` when there is none), over `LANES`
/// running maxima. NaN is never the maximum.
pub(crate) fn max_where(values: &[f32], keep: impl Fn(f32) -> bool) -> f32 {
    let mut lanes = [f32::NEG_INFINITY; LANES];
    let chunks = values.chunks_exact(LANES);
    let kept = |x: f32| if keep(x) { x } else { f32::NEG_INFINITY };
    for (lane, &x) in lanes.iter_mut().zip(chunks.remainder()) {
        *lane = lane.max(kept(x));
    }
    for chunk in chunks {
        for (lane, &x) in lanes.iter_mut().zip(chunk) {
            *lane = lane.max(kept(x));
        }
    }
    lanes.into_iter().fold(f32::NEG_INFINITY, f32::max)
}

/// `e^x` for `x <= 0` (0 below -708, where it underflows), within a few ulp of `f64::exp`,
/// from plain arithmetic the compiler can vectorise: `x = k ln 2 + r` with `|r| <= ln 2 / 2`,
/// then `2^k` times a degree-12 Taylor polynomial of `e^r` (remainder below 2e-16).
fn exp_nonpositive(x: f64) -> f64 {
    const LN2_HI: f64 = 0.693_147_180_369_123_8;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    // 1.5 * 2^52: adding it rounds to an integer, held in the low bits of the mantissa.
    const SHIFTER: f64 = 6_755_399_441_055_744.0;
    const INVERSE_FACTORIALS: [f64; 13] = {
        let mut c = [1.0; 13];
        let mut n = 1;
        while n < 13 {
            c[n] = c[n - 1] / n as f64;
            n += 1;
        }
        c
    };
    let clamped = x.max(-708.0);
    let shifted = clamped.mul_add(std::f64::consts::LOG2_E, SHIFTER);
    let k = shifted - SHIFTER;
    let r = k.mul_add(-LN2_LO, k.mul_add(-LN2_HI, clamped));
    let mut p = INVERSE_FACTORIALS[12];
    for &c in INVERSE_FACTORIALS[..12].iter().rev() {
        p = p.mul_add(r, c);
    }
    // The low 12 bits of `shifted` hold k mod 4096; k + 1023 is the biased exponent of 2^k.
    let two_to_k = f64::from_bits(shifted.to_bits().wrapping_add(1023) << 52);
    if x < -708.0 { 0.0 } else { p * two_to_k }
}

/// The `n` most likely tokens of `softmax(logits)` with their log-probabilities, most likely
/// first (ties: lower id first).
pub fn top_logprobs(logits: &[f32], stats: &DistributionStats, n: usize) -> Vec<(u32, f32)> {
    /// Logits skipped together when none beats the current n-th best.
    const CHUNK: usize = 64;
    if n == 0 {
        return Vec::new();
    }
    // The best so far, most likely first; a later equal logit never displaces an earlier one
    // (lower ids win ties), so the scan only inserts logits strictly above the n-th best.
    let mut best: Vec<(f32, u32)> = Vec::with_capacity(n + 1);
    // What a logit must beat to enter: the n-th best once there are n.
    let floor = |best: &[(f32, u32)]| match best.get(n - 1) {
        Some(&(logit, _)) => logit,
        None => f32::NEG_INFINITY,
    };
    for (c, chunk) in logits.chunks(CHUNK).enumerate() {
        if max_where(chunk, f32::is_finite) <= floor(&best) {
            continue;
        }
        for (i, &logit) in chunk.iter().enumerate() {
            if !logit.is_finite() || logit <= floor(&best) {
                continue;
            }
            let Ok(id) = u32::try_from(c * CHUNK + i) else {
                continue;
            };
            let at = best.partition_point(|&(l, _)| l >= logit);
            best.insert(at, (logit, id));
            best.truncate(n);
        }
    }
    best.into_iter()
        .map(|(logit, id)| (id, stats.logprob(logit)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kl_divergence_of_known_distributions() {
        let p = [0.0f32, 0.0];
        assert_eq!(kl_divergence(&p, &p), Some(0.0));
        // p = (1/2, 1/2), q = (1/4, 3/4): KL = 1/2 ln 2 + 1/2 ln(2/3).
        let q = [0.0f32, 3f32.ln()];
        let want = 0.5 * 2f64.ln() + 0.5 * (2.0f64 / 3.0).ln();
        let got = kl_divergence(&p, &q).expect("finite");
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        assert_eq!(kl_divergence(&p, &[0.0]), None);
        assert_eq!(kl_divergence(&[f32::NEG_INFINITY; 2], &p), None);
    }

    #[test]
    fn uniform_entropy_is_ln_n() {
        for n in [1usize, 2, 7, 49_152] {
            let stats = DistributionStats::from_logits(&vec![3.5; n]).expect("finite");
            assert!(
                (stats.entropy - (n as f64).ln()).abs() < 1e-9,
                "n = {n}: {stats:?}"
            );
            assert!((stats.logprob(3.5) as f64 + (n as f64).ln()).abs() < 1e-5);
        }
    }

    #[test]
    fn one_hot_has_zero_entropy_and_masked_tokens_do_not_count() {
        let stats = DistributionStats::from_logits(&[f32::NEG_INFINITY, 1.0, f32::NEG_INFINITY])
            .expect("finite");
        assert!(stats.entropy.abs() < 1e-12);
        assert!(stats.logprob(1.0).abs() < 1e-7);
        assert_eq!(stats.logprob(f32::NEG_INFINITY), f32::NEG_INFINITY);
    }

    #[test]
    fn matches_a_direct_computation() {
        let logits = [2.0f32, -1.0, 0.5, 10.0, -30.0];
        let z: f64 = logits.iter().map(|&x| f64::from(x).exp()).sum();
        let probs: Vec<f64> = logits.iter().map(|&x| f64::from(x).exp() / z).collect();
        let h: f64 = -probs.iter().map(|p| p * p.ln()).sum::<f64>();
        let stats = DistributionStats::from_logits(&logits).expect("finite");
        assert!((stats.entropy - h).abs() < 1e-9);
        for (x, p) in logits.iter().zip(&probs) {
            assert!((f64::from(stats.logprob(*x)) - p.ln()).abs() < 1e-5);
        }
    }

    #[test]
    fn large_logits_do_not_overflow() {
        let stats = DistributionStats::from_logits(&[1000.0, 1000.0]).expect("finite");
        assert!((stats.entropy - 2f64.ln()).abs() < 1e-9);
        assert!((stats.logprob(1000.0) + 2f32.ln()).abs() < 1e-5);
    }

    #[test]
    fn no_finite_logit_gives_none() {
        assert!(DistributionStats::from_logits(&[]).is_none());
        assert!(DistributionStats::from_logits(&[f32::NEG_INFINITY, f32::NAN]).is_none());
    }

    #[test]
    fn the_exponential_is_within_a_few_ulp() {
        let mut x = 0.0f64;
        while x > -745.0 {
            let (got, want) = (exp_nonpositive(x), x.exp());
            if x >= -708.0 {
                assert!(
                    (got - want).abs() <= 4.0 * f64::EPSILON * want,
                    "{x}: {got} vs {want}"
                );
            } else {
                assert_eq!(got, 0.0, "{x}");
            }
            x -= 0.013_7;
        }
        assert_eq!(exp_nonpositive(0.0), 1.0);
        assert_eq!(exp_nonpositive(-1e300), 0.0);
    }

    /// The scan with skipped chunks picks what sorting every logit picks, ties included.
    #[test]
    fn top_logprobs_equal_a_full_sort() {
        let mut state = 7u64;
        let logits: Vec<f32> = (0..5_000)
            .map(|i| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                match i % 97 {
                    0 => f32::NEG_INFINITY,
                    1 => f32::NAN,
                    // Many exact ties.
                    _ => ((state >> 33) % 400) as f32 / 16.0,
                }
            })
            .collect();
        let stats = DistributionStats::from_logits(&logits).expect("finite");
        for n in [1, 5, 50, 4_000, 10_000] {
            let mut ids: Vec<u32> = (0..logits.len() as u32)
                .filter(|&i| logits[i as usize].is_finite())
                .collect();
            ids.sort_by(|&a, &b| {
                let (la, lb) = (logits[a as usize], logits[b as usize]);
                lb.total_cmp(&la).then(a.cmp(&b))
            });
            ids.truncate(n);
            let got: Vec<u32> = top_logprobs(&logits, &stats, n)
                .iter()
                .map(|t| t.0)
                .collect();
            assert_eq!(got, ids, "n = {n}");
        }
    }

    #[test]
    fn top_logprobs_are_sorted_and_truncated() {
        let logits = [0.0f32, 3.0, 1.0, 3.0, f32::NEG_INFINITY];
        let stats = DistributionStats::from_logits(&logits).expect("finite");
        let top = top_logprobs(&logits, &stats, 3);
        let ids: Vec<u32> = top.iter().map(|t| t.0).collect();
        assert_eq!(ids, vec![1, 3, 2]);
        assert!(top[0].1 >= top[2].1);
        assert_eq!(top_logprobs(&logits, &stats, 0), vec![]);
        assert_eq!(
            top_logprobs(&logits, &stats, 10).len(),
            4,
            "masked token excluded"
        );
    }
}
