//! The two mechanisms and their fleet-side estimators.

use rand::Rng;

/// Randomized response for one bit: the true bit is reported with
/// probability `p = e^ε / (1 + e^ε)`, the flipped bit otherwise. This is
/// ε-locally differentially private.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RandomizedResponse {
    truth_probability: f64,
}

impl RandomizedResponse {
    /// The mechanism for budget `epsilon` (> 0).
    pub fn new(epsilon: f64) -> Self {
        let e = epsilon.exp();
        Self {
            truth_probability: e / (1.0 + e),
        }
    }

    /// The probability that a reported bit is the true one.
    pub fn truth_probability(&self) -> f64 {
        self.truth_probability
    }

    /// The bit to report for `truth`.
    pub fn randomize(&self, truth: bool, rng: &mut impl Rng) -> bool {
        if rng.random_bool(self.truth_probability) {
            truth
        } else {
            !truth
        }
    }
}

/// An estimate with its standard error.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// The unbiased estimate.
    pub value: f64,
    /// Its standard error (one standard deviation).
    pub std_error: f64,
}

/// Estimates how many of `reports` bits were truly 1, given that
/// `reported_ones` were reported as 1 with truth probability `p`
/// (`palisade.dp.refused` or `palisade.dp.flagged`, `palisade.dp.reports`
/// and `palisade.dp.truth_probability`, summed over a fleet whose devices share
/// `p`): `(ones - n (1 - p)) / (2p - 1)`, standard error
/// `sqrt(n p (1 - p)) / (2p - 1)`.
pub fn debias_randomized_response(reported_ones: f64, reports: f64, p: f64) -> Estimate {
    let scale = 2.0 * p - 1.0;
    Estimate {
        value: (reported_ones - reports * (1.0 - p)) / scale,
        std_error: (reports * p * (1.0 - p)).sqrt() / scale,
    }
}

/// Two-sided geometric (discrete Laplace) noise: `P(Z = z) ∝ α^|z|` with
/// `α = exp(-ε / Δ)`, for counts clipped to `0..=Δ`. ε-differentially
/// private for one count; zero mean, variance `2α / (1 - α)^2`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeometricNoise {
    alpha: f64,
    clip: u32,
}

impl GeometricNoise {
    /// The mechanism for budget `epsilon` (> 0) and clip `clip` (>= 1).
    pub fn new(epsilon: f64, clip: u32) -> Self {
        Self {
            alpha: (-epsilon / f64::from(clip.max(1))).exp(),
            clip: clip.max(1),
        }
    }

    /// The scale `Δ / ε` of the noise.
    pub fn scale(&self) -> f64 {
        -1.0 / self.alpha.ln()
    }

    /// The clip `Δ`.
    pub fn clip(&self) -> u32 {
        self.clip
    }

    /// The variance of one noise draw.
    pub fn variance(&self) -> f64 {
        2.0 * self.alpha / (1.0 - self.alpha).powi(2)
    }

    fn geometric(&self, rng: &mut impl Rng) -> i64 {
        // Failures before the first success, success probability 1 - α.
        let u: f64 = 1.0 - rng.random::<f64>(); // in (0, 1]
        let k = (u.ln() / self.alpha.ln()).floor();
        if k.is_finite() { k.min(1e15) as i64 } else { 0 }
    }

    /// `min(value, Δ)` plus noise.
    pub fn noisy(&self, value: u64, rng: &mut impl Rng) -> i64 {
        let clipped = value.min(u64::from(self.clip)) as i64;
        clipped + self.geometric(rng) - self.geometric(rng)
    }
}

/// Estimates the true sum of clipped counts from the sum of `reports` noisy
/// ones (`palisade.dp.output_tokens` and `palisade.dp.reports`, noise scale
/// from `palisade.dp.output_tokens.noise_scale`). The noise has zero mean,
/// so the sum is unbiased; the standard error is `sqrt(n · 2α/(1-α)^2)` with
/// `α = exp(-1/scale)`.
pub fn debias_noisy_sum(noisy_sum: f64, reports: f64, noise_scale: f64) -> Estimate {
    let alpha = (-1.0 / noise_scale).exp();
    Estimate {
        value: noisy_sum,
        std_error: (reports * 2.0 * alpha / (1.0 - alpha).powi(2)).sqrt(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn truth_probability_matches_epsilon() {
        let rr = RandomizedResponse::new(1.0);
        assert!((rr.truth_probability() - 0.731_058_578_6).abs() < 1e-9);
        // The likelihood ratio of any output is exactly e^ε.
        let p = rr.truth_probability();
        assert!((p / (1.0 - p)).ln() - 1.0 < 1e-12);
    }

    #[test]
    fn geometric_noise_has_the_stated_mean_and_variance() {
        let noise = GeometricNoise::new(0.5, 4);
        let mut rng = StdRng::seed_from_u64(7);
        let n = 200_000;
        let draws: Vec<f64> = (0..n).map(|_| noise.noisy(0, &mut rng) as f64).collect();
        let mean = draws.iter().sum::<f64>() / n as f64;
        let var = draws.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / n as f64;
        let sd_of_mean = (noise.variance() / n as f64).sqrt();
        assert!(mean.abs() < 5.0 * sd_of_mean, "mean {mean}");
        assert!(
            (var / noise.variance() - 1.0).abs() < 0.05,
            "var {var} vs {}",
            noise.variance()
        );
        assert!((noise.scale() - 8.0).abs() < 1e-9);
        assert_eq!(
            noise.noisy(1000, &mut StdRng::seed_from_u64(1))
                - noise.noisy(0, &mut StdRng::seed_from_u64(1)),
            4
        );
    }

    #[test]
    fn debias_inverts_the_expected_reports() {
        let p = 0.75;
        // 1000 reports, 300 true ones: expected reported ones 300p + 700(1-p).
        let ones = 300.0 * p + 700.0 * (1.0 - p);
        let est = debias_randomized_response(ones, 1000.0, p);
        assert!((est.value - 300.0).abs() < 1e-9);
        assert!((est.std_error - (1000.0f64 * 0.75 * 0.25).sqrt() / 0.5).abs() < 1e-9);
    }
}
