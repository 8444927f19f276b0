//! Decode speed with the hallucination signals on and off, on the default model.
//!
//! ```text
//! cargo run --release --example hallucination_overhead -- [--tokens N] [--rounds N] [--threads N] [--no-embedder]
//! ```
//! Each round generates the same greedy answer twice, once only reading the tokens ("off")
//! and once also feeding every token to the `SignalAccumulator` and, at the end, running the
//! grounding checks, the context similarity with all-MiniLM-L6-v2 (from the asset cache,
//! unless `--no-embedder`) and the risk score ("on"), in alternating order. Prints the median decode
//! tokens/s of each mode (time from the first token to the end of the answer's processing),
//! then the cost of each part measured in isolation. The per-token log-probability and
//! entropy come from the sampler's softmax statistics, computed in both modes; their cost per
//! token is printed too, and the cost of the opt-in sampled mode (4 samples).

use std::time::{Duration, Instant};

use palisade::assets::{AssetCache, EmbedderChoice, SMOLLM2_135M_INSTRUCT};
use palisade::hallucination::{
    AnswerSignals, Features, RiskModel, SampledMode, check_grounding, context_similarity,
    sample_answers, sample_consistency,
};
use palisade::inference::SentenceEmbedder;
use palisade::inference::sampling::distribution::DistributionStats;
use palisade::inference::{ChatMessage, Engine, GenerationParams, LoadOptions, TokenEvent};
use palisade::telemetry::SignalAccumulator;

const KNOWLEDGE: &str = "The Oberoi Group is a hotel company with its head office in Delhi. \
    It was founded in 1934 and runs over 30 hotels in six countries.";

struct Run {
    tokens: usize,
    elapsed: Duration,
}

impl Run {
    fn rate(&self) -> f64 {
        self.tokens.saturating_sub(1) as f64 / self.elapsed.as_secs_f64()
    }
}

fn answer_signals(
    events: &[TokenEvent],
    acc: &SignalAccumulator,
    embedder: Option<&SentenceEmbedder>,
) -> f32 {
    let answer: String = events.iter().map(|e| e.text.as_str()).collect();
    let signals = AnswerSignals {
        decoding: acc.summary(),
        grounding: Some(check_grounding(&answer, KNOWLEDGE)),
        similarity: embedder.and_then(|e| context_similarity(e, &answer, KNOWLEDGE).ok().flatten()),
        consistency: None,
    };
    RiskModel::embedded()
        .map(|m| m.score(&Features::from(&signals)))
        .unwrap_or(f32::NAN)
}

fn generate(
    engine: &mut Engine,
    prompt: &str,
    tokens: usize,
    signals: bool,
    embedder: Option<&SentenceEmbedder>,
) -> Result<(Run, f32), Box<dyn std::error::Error>> {
    let mut stream = engine.generate(prompt, &GenerationParams::greedy(tokens))?;
    let mut acc = SignalAccumulator::new();
    let mut events = Vec::with_capacity(tokens);
    let mut first = None;
    for event in &mut stream {
        let event = event?;
        first.get_or_insert_with(Instant::now);
        if signals {
            acc.observe(event.token_id, event.logprob, event.entropy);
        }
        events.push(event);
    }
    let risk = if signals {
        answer_signals(&events, &acc, embedder)
    } else {
        f32::NAN
    };
    let elapsed = first.map(|f| f.elapsed()).unwrap_or_default();
    Ok((
        Run {
            tokens: events.len(),
            elapsed,
        },
        risk,
    ))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (mut tokens, mut rounds, mut threads) = (128usize, 5usize, None);
    let mut embedder_choice = EmbedderChoice::Default;
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--tokens" => tokens = value()?.parse()?,
            "--rounds" => rounds = value()?.parse()?,
            "--threads" => threads = Some(value()?.parse()?),
            "--no-embedder" => embedder_choice = EmbedderChoice::Off,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let cache = AssetCache::from_env();
    let embedder = embedder_choice.load(&cache)?;
    let embedder = embedder.as_ref();
    let model = cache.require(&SMOLLM2_135M_INSTRUCT)?;
    let mut engine = Engine::load_gguf(
        &model,
        &LoadOptions {
            threads,
            ..LoadOptions::default()
        },
    )?;
    let prompt = engine.render_chat(
        &[
            ChatMessage::system(format!("Knowledge: {KNOWLEDGE}")),
            ChatMessage::user("Tell me everything about the Oberoi Group, in detail."),
        ],
        true,
    )?;
    generate(&mut engine, &prompt, 8, true, embedder)?; // warm-up
    let (mut off, mut on) = (Vec::new(), Vec::new());
    let mut last = None;
    for round in 0..rounds.max(1) {
        for signals in [round % 2 == 0, round % 2 != 0] {
            let (run, risk) = generate(&mut engine, &prompt, tokens, signals, embedder)?;
            if signals {
                on.push(run.rate());
                last = Some((run.tokens, risk));
            } else {
                off.push(run.rate());
            }
        }
    }
    let (off, on) = (median(off), median(on));
    let (answer_tokens, risk) = last.unwrap_or((0, f32::NAN));
    println!(
        "decode tok/s, median of {rounds} rounds of {answer_tokens} tokens: signals off {off:.2}, \
         on {on:.2} ({:+.2}%); risk of the answer {risk:.3}",
        100.0 * (on - off) / off
    );

    // The parts in isolation.
    let (_, events) = {
        let mut stream = engine.generate(&prompt, &GenerationParams::greedy(tokens))?;
        let events: Vec<TokenEvent> = stream.by_ref().collect::<Result<_, _>>()?;
        ((), events)
    };
    let reps = 2000;
    let t = Instant::now();
    for _ in 0..reps {
        let mut acc = SignalAccumulator::new();
        for e in &events {
            acc.observe(e.token_id, e.logprob, e.entropy);
        }
        std::hint::black_box(acc.summary());
    }
    let per_token_ns = t.elapsed().as_secs_f64() * 1e9 / (reps * events.len().max(1)) as f64;
    let acc = events.iter().fold(SignalAccumulator::new(), |mut a, e| {
        a.observe(e.token_id, e.logprob, e.entropy);
        a
    });
    let t = Instant::now();
    for _ in 0..200 {
        std::hint::black_box(answer_signals(&events, &acc, None));
    }
    let end_us = t.elapsed().as_secs_f64() * 1e6 / 200.0;
    let answer: String = events.iter().map(|e| e.text.as_str()).collect();
    let similarity_ms = embedder.map(|e| {
        let t = Instant::now();
        for _ in 0..10 {
            std::hint::black_box(context_similarity(e, &answer, KNOWLEDGE).ok());
        }
        t.elapsed().as_secs_f64() * 1e3 / 10.0
    });
    let ids = engine.encode_prompt(&prompt)?;
    let logits = engine.next_token_logits(&ids)?;
    let t = Instant::now();
    for _ in 0..200 {
        std::hint::black_box(DistributionStats::from_logits(&logits));
    }
    let stats_us = t.elapsed().as_secs_f64() * 1e6 / 200.0;
    let step_us = 1e6 / off;
    println!(
        "accumulator {per_token_ns:.1} ns/token; grounding + risk at the end {end_us:.1} us per \
         answer; softmax statistics (logprob, entropy; {} logits, computed in both modes) \
         {stats_us:.1} us/token = {:.2}% of a {step_us:.0} us decode step",
        logits.len(),
        100.0 * stats_us / step_us
    );
    let Some(embedder) = embedder else {
        return Ok(());
    };
    let answer_ms = events.len() as f64 * step_us / 1e3;
    let similarity_ms = similarity_ms.unwrap_or(f64::NAN);
    let mode = SampledMode::with_samples(4);
    let t = Instant::now();
    let samples = sample_answers(&mut engine, &prompt, &mode)?;
    let sampling_ms = t.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    let consistency = sample_consistency(embedder, &answer, &samples)?;
    let consistency_ms = t.elapsed().as_secs_f64() * 1e3;
    println!(
        "context similarity (all-MiniLM-L6-v2, {} answer and {} context sentences) \
         {similarity_ms:.1} ms per answer = {:.2}% of the {answer_ms:.0} ms answer; sampled mode \
         (opt-in, 4 samples of <= {} tokens) {sampling_ms:.0} ms sampling + {consistency_ms:.1} ms \
         embedding, consistency {:.3}",
        palisade::hallucination::similarity::sentences(&answer).len(),
        palisade::hallucination::similarity::sentences(KNOWLEDGE).len(),
        100.0 * similarity_ms / answer_ms,
        mode.max_tokens,
        consistency.unwrap_or(f32::NAN),
    );
    Ok(())
}
