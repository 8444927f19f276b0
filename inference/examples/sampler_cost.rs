//! Measures the per-token cost of the sampler on a 49,152-token vocabulary.
//!
//! `cargo run -p palisade-inference --example sampler_cost`
use palisade_inference::GenerationParams;
use palisade_inference::sampling::Sampler;

fn main() {
    let vocab = 49_152;
    let logits: Vec<f32> = (0..vocab)
        .map(|i| ((i * 7919) % 1000) as f32 / 100.0 - 5.0)
        .collect();
    let history: Vec<u32> = (0..64).collect();
    for (name, params) in [
        ("greedy", GenerationParams::greedy(1)),
        (
            "greedy + top_logprobs 5",
            GenerationParams {
                top_logprobs: 5,
                ..GenerationParams::greedy(1)
            },
        ),
        (
            "default (T 0.7, top-p 0.9, penalty 1.1)",
            GenerationParams::default(),
        ),
        (
            "T 0.7, top-k 40",
            GenerationParams {
                top_k: Some(40),
                top_p: None,
                ..GenerationParams::default()
            },
        ),
    ] {
        let mut sampler = Sampler::new(&params);
        let n = 200;
        let t = std::time::Instant::now();
        for _ in 0..n {
            let mut l = logits.clone();
            let _ = sampler.sample(&mut l, &history, &[], &mut [], 0);
        }
        println!(
            "{name}: {:.3} ms/token",
            t.elapsed().as_secs_f64() * 1e3 / n as f64
        );
    }
}
