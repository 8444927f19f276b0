use super::*;
use crate::processors::LogitsProcessor;

fn params(temperature: f64, seed: u64) -> GenerationParams {
    GenerationParams {
        temperature,
        seed,
        top_p: None,
        repetition_penalty: 1.0,
        ..GenerationParams::default()
    }
}

fn sample(s: &mut Sampler, logits: &[f32]) -> Sampled {
    s.sample(&mut logits.to_vec(), &[], &[], &mut [], 0)
        .expect("samples")
}

#[test]
fn greedy_picks_the_argmax() {
    let mut s = Sampler::new(&params(0.0, 1));
    assert!(s.is_greedy());
    let out = sample(&mut s, &[0.5, 3.0, -1.0, 2.9]);
    assert_eq!(out.token, 1);
    // ties go to the lowest id, -inf and NaN never win
    assert_eq!(argmax(&[1.0, 4.0, 4.0]), Some(1));
    assert_eq!(argmax(&[f32::NAN, f32::NEG_INFINITY, -5.0]), Some(2));
    assert_eq!(argmax(&[f32::NEG_INFINITY]), None);
}

#[test]
fn logprob_and_entropy_come_from_the_raw_distribution() {
    let logits = [0.0f32, 0.0, 0.0, 0.0];
    for temperature in [0.0, 0.3, 2.0] {
        let mut s = Sampler::new(&GenerationParams {
            top_logprobs: 2,
            ..params(temperature, 3)
        });
        let out = sample(&mut s, &logits);
        assert!(
            (out.entropy - 4f32.ln()).abs() < 1e-6,
            "entropy of uniform = ln 4"
        );
        assert!((out.logprob + 4f32.ln()).abs() < 1e-6);
        assert_eq!(out.top_logprobs.len(), 2);
    }
}

#[test]
fn repetition_penalty_changes_the_choice_but_not_the_reported_logprob() {
    let mut s = Sampler::new(&GenerationParams {
        repetition_penalty: 4.0,
        repeat_last_n: 2,
        ..params(0.0, 1)
    });
    let logits = [2.0f32, 1.0];
    // only token 0 is in the last 2 tokens: 2.0 / 4 = 0.5 < 1.0
    let out = s
        .sample(&mut logits.to_vec(), &[1, 0, 0], &[], &mut [], 0)
        .expect("samples");
    assert_eq!(out.token, 1);
    let stats = DistributionStats::from_logits(&logits).expect("finite");
    assert!((out.logprob - stats.logprob(1.0)).abs() < 1e-6);
    // token 0 outside the window is not penalised (token 1 is: 0.25)
    let out = s
        .sample(&mut logits.to_vec(), &[0, 1, 1], &[], &mut [], 0)
        .expect("samples");
    assert_eq!(out.token, 0);
}

#[test]
fn same_seed_same_tokens_different_seed_different_tokens() {
    let logits: Vec<f32> = (0..50).map(|i| (i % 7) as f32 * 0.1).collect();
    let run = |seed| {
        let mut s = Sampler::new(&params(1.0, seed));
        (0..200)
            .map(|_| sample(&mut s, &logits).token)
            .collect::<Vec<_>>()
    };
    assert_eq!(run(7), run(7));
    assert_ne!(run(7), run(8));
}

#[test]
fn sampling_frequencies_follow_the_distribution() {
    let probs = [0.5f32, 0.3, 0.2];
    let logits: Vec<f32> = probs.iter().map(|p| p.ln()).collect();
    let mut s = Sampler::new(&params(1.0, 11));
    let mut counts = [0usize; 3];
    let n = 20_000;
    for _ in 0..n {
        counts[sample(&mut s, &logits).token as usize] += 1;
    }
    for (c, p) in counts.iter().zip(probs) {
        let freq = *c as f32 / n as f32;
        assert!((freq - p).abs() < 0.02, "{counts:?}");
    }
}

#[test]
fn top_k_one_is_greedy_even_when_hot() {
    let mut s = Sampler::new(&GenerationParams {
        top_k: Some(1),
        ..params(5.0, 9)
    });
    for _ in 0..100 {
        assert_eq!(sample(&mut s, &[1.0, 1.1, 0.9]).token, 1);
    }
}

#[test]
fn top_p_and_min_p_restrict_the_support() {
    let probs = [0.6f32, 0.3, 0.08, 0.02];
    let logits: Vec<f32> = probs.iter().map(|p| p.ln()).collect();
    let support = |p: GenerationParams| {
        let mut s = Sampler::new(&p);
        let mut seen = [false; 4];
        for _ in 0..3000 {
            seen[sample(&mut s, &logits).token as usize] = true;
        }
        seen
    };
    let top_p = support(GenerationParams {
        top_p: Some(0.85),
        ..params(1.0, 5)
    });
    assert_eq!(top_p, [true, true, false, false]);
    let min_p = support(GenerationParams {
        min_p: Some(0.1),
        ..params(1.0, 5)
    });
    assert_eq!(min_p, [true, true, true, false]);
    let everything = support(params(1.0, 5));
    assert_eq!(everything, [true, true, true, true]);
}

#[test]
fn processors_run_in_order_and_see_the_completion() {
    struct Ban(u32);
    impl LogitsProcessor for Ban {
        fn process(&mut self, _generated: &[u32], logits: &mut [f32]) {
            logits[self.0 as usize] = f32::NEG_INFINITY;
        }
    }
    let mut seen = Vec::new();
    let mut record = |generated: &[u32], _logits: &mut [f32]| seen.push(generated.to_vec());
    {
        let mut processors: Vec<BoxedProcessor<'_>> = vec![Box::new(Ban(2)), Box::new(&mut record)];
        let mut s = Sampler::new(&params(0.0, 1));
        let out = s
            .sample(
                &mut [0.0, 1.0, 5.0],
                &[9, 4, 4],
                &[4, 4],
                &mut processors,
                2,
            )
            .expect("samples");
        assert_eq!(out.token, 1, "banned argmax is skipped");
        let stats = DistributionStats::from_logits(&[0.0, 1.0, 5.0]).expect("finite");
        assert!(
            (out.logprob - stats.logprob(1.0)).abs() < 1e-6,
            "raw logprob"
        );
    }
    assert_eq!(seen, vec![vec![4, 4]]);
}

#[test]
fn everything_banned_is_an_error() {
    let mut ban_all = |_: &[u32], logits: &mut [f32]| logits.fill(f32::NEG_INFINITY);
    let mut processors: Vec<BoxedProcessor<'_>> = vec![Box::new(&mut ban_all)];
    for temperature in [0.0, 1.0] {
        let mut s = Sampler::new(&params(temperature, 1));
        let err = s
            .sample(&mut [1.0, 2.0], &[], &[], &mut processors, 3)
            .expect_err("nothing to sample");
        assert!(
            matches!(err, GenerateError::NoCandidate { step: 3 }),
            "{err}"
        );
    }
}
