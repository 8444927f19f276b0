//! Toxicity classifier speed: latency percentiles for a sentence, 256 and 2,048 tokens, cold
//! session start, and throughput with batching, on one intra-op thread.
//!
//! `cargo bench -p palisade-guard --bench toxicity` prints a percentile table first (the figures
//! quoted in docs/toxicity.md), then runs the Criterion groups. Under `cargo test` every part runs
//! once, as a smoke test. Needs ONNX Runtime (`palisade fetch` or `ORT_DYLIB_PATH`).
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, criterion_group};
use palisade_guard::toxicity::keras_tokenizer::{KerasTokenizer, read_config};
use palisade_guard::toxicity::{
    JIGSAW_BILSTM, ModelSource, PROFANITY_SVM, RuntimeConfig, ToxicityModel, load_model,
    load_uncached,
};

const SENTENCE: &str = "Thanks for the quick reply, I will try that setting tomorrow morning.";

fn config() -> RuntimeConfig {
    RuntimeConfig {
        intra_threads: 1,
        ..RuntimeConfig::default()
    }
}

fn benchmarking() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// Benign news text cut to exactly `n` Keras tokens (from the evaluation set's articles).
fn text_of_tokens(n: usize) -> String {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../");
    let eval = std::fs::read_to_string(format!("{dir}testdata/toxicity/eval.jsonl")).unwrap();
    let mut corpus = String::new();
    for line in eval
        .lines()
        .filter(|l| l.contains("halueval_summarization"))
    {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        corpus.push_str(v["text"].as_str().unwrap());
        corpus.push(' ');
    }
    let models = format!("{dir}models/toxicity/");
    let cfg =
        read_config(&std::fs::read(format!("{models}jigsaw-bilstm.config.json")).unwrap()).unwrap();
    let vocab =
        KerasTokenizer::read_vocab_file(format!("{models}jigsaw-bilstm.vocab.json").as_ref())
            .unwrap();
    let tokens = KerasTokenizer::new(&cfg, vocab).unwrap().tokenize(&corpus);
    assert!(tokens.len() >= n, "corpus has only {} tokens", tokens.len());
    corpus[..tokens[n - 1].end].to_owned()
}

fn percentiles(mut f: impl FnMut(), iters: usize) -> (Duration, Duration) {
    let mut times: Vec<Duration> = (0..iters)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    (times[iters / 2], times[(iters * 99) / 100])
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn report(bilstm: &Arc<dyn ToxicityModel>, svm: &Arc<dyn ToxicityModel>) {
    let iters = if benchmarking() { 1000 } else { 3 };
    let t256 = text_of_tokens(256);
    let t2048 = text_of_tokens(2048);
    println!("\n| model | input | windows | p50 ms | p99 ms |\n|---|---|---|---|---|");
    for (name, model) in [("jigsaw-bilstm", bilstm), ("profanity-svm", svm)] {
        for (label, text) in [
            ("one sentence", SENTENCE),
            ("256 tokens", &t256),
            ("2,048 tokens", &t2048),
        ] {
            let windows = model.score(text).unwrap().windows.len();
            let (p50, p99) = percentiles(|| drop(black_box(model.score(text).unwrap())), iters);
            println!(
                "| {name} | {label} | {windows} | {:.3} | {:.3} |",
                ms(p50),
                ms(p99)
            );
        }
    }
    let cold_iters = if benchmarking() { 20 } else { 1 };
    for name in [JIGSAW_BILSTM, PROFANITY_SVM] {
        let (p50, p99) = percentiles(
            || {
                drop(black_box(
                    load_uncached(name, &ModelSource::Embedded, &config()).unwrap(),
                ))
            },
            cold_iters,
        );
        println!(
            "cold session start {name}: p50 {:.1} ms, p99 {:.1} ms",
            ms(p50),
            ms(p99)
        );
    }
    let sentences: Vec<String> = (0..256).map(|i| format!("{SENTENCE} ({i})")).collect();
    let refs: Vec<&str> = sentences.iter().map(String::as_str).collect();
    let reps = if benchmarking() { 5 } else { 1 };
    let t = Instant::now();
    for _ in 0..reps {
        for s in &refs {
            black_box(bilstm.score(s).unwrap());
        }
    }
    let one_by_one = (reps * refs.len()) as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    for _ in 0..reps {
        for chunk in refs.chunks(32) {
            black_box(bilstm.score_texts(chunk).unwrap());
        }
    }
    let batched = (reps * refs.len()) as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    for _ in 0..reps {
        std::thread::scope(|s| {
            for part in refs.chunks(refs.len() / 4) {
                s.spawn(|| {
                    part.iter()
                        .for_each(|x| drop(black_box(bilstm.score(x).unwrap())))
                });
            }
        });
    }
    let concurrent = (reps * refs.len()) as f64 / t.elapsed().as_secs_f64();
    println!(
        "jigsaw-bilstm throughput (sentences/s): one at a time {one_by_one:.0}, \
         batches of 32 {batched:.0}, 4 concurrent callers (auto-batched) {concurrent:.0}\n"
    );
}

fn benches(c: &mut Criterion) {
    let bilstm = load_model(JIGSAW_BILSTM, &config()).unwrap();
    let svm = load_model(PROFANITY_SVM, &config()).unwrap();
    report(&bilstm, &svm);
    let t256 = text_of_tokens(256);
    let mut g = c.benchmark_group("jigsaw-bilstm");
    g.bench_function("sentence", |b| {
        b.iter(|| bilstm.score(black_box(SENTENCE)).unwrap())
    });
    g.bench_function("256 tokens", |b| {
        b.iter(|| bilstm.score(black_box(&t256)).unwrap())
    });
    let batch: Vec<&str> = vec![SENTENCE; 32];
    g.bench_function("batch of 32 sentences", |b| {
        b.iter(|| bilstm.score_texts(black_box(&batch)).unwrap())
    });
    g.finish();
    let mut g = c.benchmark_group("cold start");
    g.sample_size(10);
    g.bench_function("jigsaw-bilstm session", |b| {
        b.iter_batched(
            || (),
            |()| load_uncached(JIGSAW_BILSTM, &ModelSource::Embedded, &config()).unwrap(),
            BatchSize::PerIteration,
        )
    });
    g.finish();
    c.benchmark_group("profanity-svm")
        .bench_function("sentence", |b| {
            b.iter(|| svm.score(black_box(SENTENCE)).unwrap())
        });
}

criterion_group!(toxicity, benches);

fn main() {
    let started = Instant::now();
    // First use: dlopen of ONNX Runtime + environment + session + vocabulary + warm-up run.
    let first = load_uncached(JIGSAW_BILSTM, &ModelSource::Embedded, &config());
    match first {
        Ok(_) => println!(
            "first load in process (library + session): {:.1} ms",
            ms(started.elapsed())
        ),
        Err(e) => panic!("cannot load the model: {e}"),
    }
    toxicity();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
}
