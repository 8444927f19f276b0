//! Teacher forcing on the real SmolLM2-135M-Instruct GGUF: scoring a given answer.

mod common;

use palisade_inference::{ChatMessage, Engine, GenerateError, GenerationParams, LoadOptions};

fn engine() -> Engine {
    Engine::load_gguf(&common::smollm2_path(), &LoadOptions::default()).expect("model loads")
}

fn prompt_ids(engine: &Engine) -> Vec<u32> {
    let prompt = engine
        .render_chat(
            &[
                ChatMessage::system("Answer the question in one short sentence."),
                ChatMessage::user("What is the capital of France?"),
            ],
            true,
        )
        .expect("renders");
    engine.encode_prompt(&prompt).expect("tokenizes")
}

#[test]
fn forced_scores_match_what_generation_reported() {
    let mut engine = engine();
    let prompt = prompt_ids(&engine);
    let rendered = engine.tokenizer().decode(&prompt, false).expect("decodes");
    let events: Vec<_> = engine
        .generate(&rendered, &GenerationParams::greedy(12))
        .expect("starts")
        .map(|e| e.expect("token"))
        .collect();
    let ids: Vec<u32> = events.iter().map(|e| e.token_id).collect();
    let scores = engine.score_continuation(&prompt, &ids).expect("scores");
    assert_eq!(scores.len(), events.len());
    for (score, event) in scores.iter().zip(&events) {
        assert_eq!(score.token_id, event.token_id);
        assert!(
            (score.logprob - event.logprob).abs() < 1e-3,
            "{score:?} vs {event:?}"
        );
        assert!(
            (score.entropy - event.entropy).abs() < 1e-3,
            "{score:?} vs {event:?}"
        );
    }
}

#[test]
fn the_right_answer_is_more_likely_than_a_wrong_one() {
    let mut engine = engine();
    let prompt = prompt_ids(&engine);
    let mean = |engine: &mut Engine, answer: &str| {
        let ids = engine.encode_continuation(answer).expect("tokenizes");
        let scores = engine.score_continuation(&prompt, &ids).expect("scores");
        scores.iter().map(|s| f64::from(s.logprob)).sum::<f64>() / scores.len() as f64
    };
    let right = mean(&mut engine, "The capital of France is Paris.");
    let wrong = mean(&mut engine, "The capital of France is Berlin.");
    assert!(right > wrong + 0.1, "right {right}, wrong {wrong}");
}

#[test]
fn overlong_and_empty_inputs_are_refused_before_compute() {
    let mut engine = engine();
    assert!(matches!(
        engine.score_continuation(&[], &[1, 2]),
        Err(GenerateError::EmptyPrompt)
    ));
    let long = vec![1u32; engine.context_length()];
    assert!(matches!(
        engine.score_continuation(&long, &[1]),
        Err(GenerateError::ContextOverflow { .. })
    ));
    assert_eq!(
        engine.score_continuation(&[1], &[]).expect("empty answer"),
        Vec::new()
    );
}
