//! End-to-end generation on the real SmolLM2-135M-Instruct GGUF.

mod common;

use palisade_inference::{
    BannedSequences, BoxedProcessor, ChatMessage, Engine, FinishReason, GenerateError,
    GenerationParams, LoadError, LoadOptions, TokenEvent,
};

fn engine() -> Engine {
    Engine::load_gguf(&common::smollm2_path(), &LoadOptions::default()).expect("model loads")
}

/// The question, with a system message: under SmolLM2's default system prompt ("You are a
/// helpful AI assistant named SmolLM...") the 135M model's greedy answer starts "L'Étoile"
/// (it ranks "The" only 0.08 nats above "L" there, also in an f32 NumPy forward pass), so the
/// test states the task like a chat frontend would.
fn capital_question() -> Vec<ChatMessage> {
    vec![
        ChatMessage::system("Answer the question in one short sentence."),
        ChatMessage::user("What is the capital of France?"),
    ]
}

fn collect(stream: impl Iterator<Item = Result<TokenEvent, GenerateError>>) -> Vec<TokenEvent> {
    stream.map(|e| e.expect("token")).collect()
}

fn text(events: &[TokenEvent]) -> String {
    events.iter().map(|e| e.text.as_str()).collect()
}

#[test]
fn metadata_and_chat_template_come_from_the_file() {
    let engine = engine();
    assert_eq!(engine.model_name(), "Smollm2 135M 8k Lc100K Mix1 Ep2");
    assert_eq!(
        engine.context_length(),
        4096,
        "8192 declared, capped by candle's rope table"
    );
    assert!(engine.chat_template().is_from_model());
    assert_eq!(
        engine.stop_token_ids(),
        &[2, 0],
        "<|im_end|> (eos), <|endoftext|>"
    );
    let prompt = engine
        .render_chat(&[ChatMessage::user("Hi")], true)
        .expect("renders");
    assert!(prompt.starts_with("<|im_start|>system\nYou are a helpful AI assistant named SmolLM"));
    assert!(prompt.ends_with("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"));
}

#[test]
fn greedy_answer_names_paris() {
    let mut engine = engine();
    let prompt = engine
        .render_chat(&capital_question(), true)
        .expect("renders");
    let prompt_ids = engine.encode_prompt(&prompt).expect("tokenizes");
    let params = GenerationParams {
        top_logprobs: 3,
        ..GenerationParams::greedy(64)
    };
    let mut stream = engine.generate(&prompt, &params).expect("starts");
    let events = collect(&mut stream);
    let answer = text(&events);
    assert!(answer.contains("Paris"), "answer: {answer:?}");
    assert_eq!(
        stream.finish_reason(),
        Some(FinishReason::Stop),
        "answer: {answer:?}"
    );
    let usage = stream.usage();
    assert_eq!(usage.prompt_tokens, prompt_ids.len());
    assert_eq!(stream.prompt_ids(), prompt_ids.as_slice());
    assert_eq!(usage.completion_tokens, events.len());
    assert_eq!(
        events.last().map(|e| e.token_id),
        Some(2),
        "ends with <|im_end|>"
    );
    let timings = stream.timings();
    assert!(timings.prefill > std::time::Duration::ZERO);
    for e in &events {
        assert!(e.logprob <= 0.0 && e.logprob.is_finite());
        assert!(e.entropy >= 0.0 && e.entropy <= (49_152f32).ln() + 1e-3);
        assert_eq!(e.top_logprobs.len(), 3);
        // greedy picks the most likely token of the raw distribution (no penalty here)
        assert_eq!(e.top_logprobs[0].0, e.token_id);
        assert!((e.top_logprobs[0].1 - e.logprob).abs() < 1e-6);
    }
    let ids: Vec<u32> = stream.completion_ids().to_vec();
    drop(stream);
    let decoded = engine.tokenizer().decode(&ids, true).expect("decodes");
    assert_eq!(
        decoded, answer,
        "streamed deltas concatenate to the full decode"
    );
}

#[test]
fn max_tokens_gives_length() {
    let mut engine = engine();
    let prompt = engine
        .render_chat(
            &[ChatMessage::user("Write a long poem about the sea.")],
            true,
        )
        .expect("renders");
    let mut stream = engine
        .generate(&prompt, &GenerationParams::greedy(5))
        .expect("starts");
    let events = collect(&mut stream);
    assert_eq!(events.len(), 5);
    assert_eq!(stream.finish_reason(), Some(FinishReason::Length));
    assert_eq!(stream.usage().completion_tokens, 5);
    assert!(stream.next().is_none(), "a finished stream stays finished");
    drop(stream);

    let mut stream = engine
        .generate(&prompt, &GenerationParams::greedy(0))
        .expect("starts");
    assert!(stream.next().is_none());
    assert_eq!(stream.finish_reason(), Some(FinishReason::Length));
}

#[test]
fn context_overflow_is_rejected_before_compute() {
    let mut engine = engine();
    let long = "word ".repeat(5000);
    let started = std::time::Instant::now();
    let err = match engine.generate(&long, &GenerationParams::greedy(8)) {
        Err(e) => e,
        Ok(_) => panic!("a 5000-token prompt must not fit a 4096-token context"),
    };
    match &err {
        GenerateError::ContextOverflow {
            prompt_tokens,
            context_length,
            max_prompt,
        } => {
            assert!(*prompt_tokens >= 5000, "{prompt_tokens}");
            assert_eq!(*context_length, 4096);
            assert_eq!(*max_prompt, 4095);
        }
        other => panic!("wrong error: {other}"),
    }
    assert!(err.to_string().contains("shorten the prompt"), "{err}");
    // 5000 tokens of prefill would take many seconds here; tokenizing takes milliseconds.
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
}

#[test]
fn stop_sequence_is_never_emitted() {
    let mut engine = engine();
    let prompt = engine
        .render_chat(&capital_question(), true)
        .expect("renders");
    let params = GenerationParams {
        stop: vec!["Paris".to_string()],
        ..GenerationParams::greedy(64)
    };
    let mut stream = engine.generate(&prompt, &params).expect("starts");
    let answer = text(&collect(&mut stream));
    assert_eq!(
        stream.finish_reason(),
        Some(FinishReason::StopSequence),
        "{answer:?}"
    );
    assert!(
        !answer.contains("Paris") && !answer.ends_with('P'),
        "{answer:?}"
    );
    assert!(
        answer.contains("France"),
        "text before the stop string is kept: {answer:?}"
    );
}

#[test]
fn sampling_is_reproducible_with_a_seed() {
    let mut engine = engine();
    let prompt = engine
        .render_chat(&[ChatMessage::user("Tell me a story.")], true)
        .expect("renders");
    let params = |seed| GenerationParams {
        temperature: 1.0,
        top_p: Some(0.95),
        seed,
        ..GenerationParams::greedy(24)
    };
    let mut run = |seed| {
        let stream = engine.generate(&prompt, &params(seed)).expect("starts");
        collect(stream)
            .into_iter()
            .map(|e| e.token_id)
            .collect::<Vec<_>>()
    };
    let a = run(1);
    assert_eq!(a, run(1));
    assert_ne!(a, run(2));
}

#[test]
fn missing_model_names_palisade_fetch() {
    let err = Engine::load_gguf("/nonexistent/model.gguf".as_ref(), &LoadOptions::default())
        .expect_err("no such file");
    assert!(matches!(err, LoadError::ModelNotFound { .. }));
    assert!(err.to_string().contains("palisade fetch"), "{err}");
}

#[test]
fn invalid_params_are_rejected() {
    let mut engine = engine();
    let bad = GenerationParams {
        top_p: Some(1.5),
        ..GenerationParams::default()
    };
    assert!(matches!(
        engine.generate("hi", &bad),
        Err(GenerateError::InvalidParams { name: "top_p", .. })
    ));
    assert!(matches!(
        engine.generate("", &GenerationParams::default()),
        Err(GenerateError::EmptyPrompt)
    ));
}

#[test]
fn banned_phrase_is_never_generated() {
    let mut engine = engine();
    let prompt = engine
        .render_chat(&capital_question(), true)
        .expect("renders");
    let banned = BannedSequences::new(engine.tokenizer(), &["paris"], true).expect("compiles");
    assert!(banned.always_banned_count() > 0);
    let processors: Vec<BoxedProcessor<'_>> = vec![Box::new(banned)];
    let mut stream = engine
        .generate_with(&prompt, &GenerationParams::greedy(48), processors)
        .expect("starts");
    let answer = text(&collect(&mut stream));
    assert!(stream.finish_reason().is_some());
    assert!(!answer.to_lowercase().contains("paris"), "{answer:?}");
    assert!(
        !answer.trim().is_empty(),
        "the model still answers: {answer:?}"
    );
}

/// The CPU repack moves the Q4_1 tensors onto Q8_0 (or Q4_0) kernels: the q8_0 model's
/// next-token distribution stays close to the file's own, and both still answer "Paris".
#[test]
fn cpu_repack_keeps_the_answer_and_q8_0_stays_close() {
    use palisade_inference::CpuRepack;
    use palisade_inference::sampling::distribution::kl_divergence;
    let mut reference = engine();
    let prompt = reference
        .render_chat(&capital_question(), true)
        .expect("renders");
    let ids = reference.encode_prompt(&prompt).expect("tokenizes");
    let p = reference.next_token_logits(&ids).expect("logits");
    let mut kls = Vec::new();
    for repack in [CpuRepack::Q8_0, CpuRepack::Q4_0] {
        let mut engine = Engine::load_gguf(
            &common::smollm2_path(),
            &LoadOptions {
                cpu_repack: repack,
                ..LoadOptions::default()
            },
        )
        .expect("repacked model loads");
        let q = engine.next_token_logits(&ids).expect("logits");
        kls.push(kl_divergence(&p, &q).expect("finite logits"));
        let events = collect(
            engine
                .generate(&prompt, &GenerationParams::greedy(24))
                .expect("starts"),
        );
        assert!(
            text(&events).contains("Paris"),
            "{repack}: {}",
            text(&events)
        );
    }
    // Exact kernels that only add in a different order still differ here: the 8-bit rounding
    // of activations turns last-bit differences into whole steps, which add up over 30 layers
    // (the AVX2 Q4_1 kernel and candle's scalar loop, both exact, are 0.004 nats apart on
    // average). Requantizing to 4 bits again costs about 0.4 nats.
    assert!(kls[0] < 0.05, "q8_0 KL {}", kls[0]);
    assert!(kls[0] < kls[1], "q8_0 is the closer one: {kls:?}");
}
