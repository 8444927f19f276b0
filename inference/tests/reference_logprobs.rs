//! candle's forward pass against an independent NumPy forward pass of the same GGUF weights
//! (inference/tools/reference_logprobs.py). candle quantizes activations to 8 bits inside
//! quantized matmuls (as llama.cpp does), so log-probabilities agree to a few tenths of a nat;
//! a wrong layer, RoPE layout or tokenizer would be off by whole nats.

mod common;

use palisade_inference::sampling::distribution::DistributionStats;
use palisade_inference::{Engine, LoadOptions};

const FIXTURE: &str = include_str!("../testdata/smollm2_reference_logprobs.json");

/// Largest accepted |candle - reference| log-probability for the reference's top tokens.
const LOGPROB_TOLERANCE: f32 = 0.5;
/// Largest accepted entropy difference (nats).
const ENTROPY_TOLERANCE: f64 = 0.4;

#[derive(serde::Deserialize)]
struct Fixture {
    cases: Vec<Case>,
}

#[derive(serde::Deserialize)]
struct Case {
    prompt: String,
    ids: Vec<u32>,
    entropy: f64,
    top: Vec<(u32, f32)>,
}

#[test]
fn logprobs_match_an_independent_forward_pass() {
    let fixture: Fixture = serde_json::from_str(FIXTURE).expect("fixture is JSON");
    let mut engine =
        Engine::load_gguf(&common::smollm2_path(), &LoadOptions::default()).expect("model loads");
    for case in &fixture.cases {
        assert_eq!(
            engine.encode_prompt(&case.prompt).expect("tokenizes"),
            case.ids,
            "tokenization of {:?}",
            case.prompt
        );
        let logits = engine.next_token_logits(&case.ids).expect("forward");
        assert_eq!(logits.len(), 49_152);
        let stats = DistributionStats::from_logits(&logits).expect("finite logits");
        assert!(
            (stats.entropy - case.entropy).abs() < ENTROPY_TOLERANCE,
            "{:?}: entropy {} vs reference {}",
            case.prompt,
            stats.entropy,
            case.entropy
        );
        for &(id, reference) in case.top.iter().take(5) {
            let ours = stats.logprob(logits[id as usize]);
            assert!(
                (ours - reference).abs() < LOGPROB_TOLERANCE,
                "{:?}: token {id} logprob {ours} vs reference {reference}",
                case.prompt
            );
        }
        let best = palisade_inference::sampling::argmax(&logits).expect("argmax");
        assert!(
            case.top.iter().take(3).any(|&(id, _)| id == best),
            "{:?}: candle's argmax {best} is not in the reference top 3 {:?}",
            case.prompt,
            &case.top[..3]
        );
    }
}
