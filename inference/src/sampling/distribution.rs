//! Statistics of the model's own next-token distribution: log-probabilities, entropy and the
//! most likely alternatives.
//!
//! These are computed from the *raw* logits (softmax at temperature 1, before repetition
//! penalty, logits processors, temperature or truncation), so they describe what the model
//! believes, independently of the sampling settings. Accumulation is done in `f64`.

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
        let max = logits
            .iter()
            .copied()
            .filter(|x| x.is_finite())
            .fold(f32::NEG_INFINITY, f32::max);
        if !max.is_finite() {
            return None;
        }
        let max = f64::from(max);
        let mut sum = 0.0f64;
        let mut weighted = 0.0f64;
        for &x in logits {
            if !x.is_finite() {
                continue;
            }
            let shifted = f64::from(x) - max;
            let e = shifted.exp();
            sum += e;
            weighted += e * shifted;
        }
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

/// The `n` most likely tokens of `softmax(logits)` with their log-probabilities, most likely
/// first (ties: lower id first).
pub fn top_logprobs(logits: &[f32], stats: &DistributionStats, n: usize) -> Vec<(u32, f32)> {
    if n == 0 {
        return Vec::new();
    }
    let mut ids: Vec<u32> = (0..logits.len())
        .filter(|&i| logits[i].is_finite())
        .filter_map(|i| u32::try_from(i).ok())
        .collect();
    let by_logit_desc = |a: &u32, b: &u32| {
        let (la, lb) = (logits[*a as usize], logits[*b as usize]);
        lb.total_cmp(&la).then(a.cmp(b))
    };
    if n < ids.len() {
        ids.select_nth_unstable_by(n - 1, by_logit_desc);
        ids.truncate(n);
    }
    ids.sort_unstable_by(by_logit_desc);
    ids.into_iter()
        .map(|id| (id, stats.logprob(logits[id as usize])))
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
