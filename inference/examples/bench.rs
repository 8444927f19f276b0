//! Measures time to first token and decode speed on a GGUF model.
//!
//! ```text
//! cargo run -p palisade-inference --example bench -- [MODEL.gguf] [--threads N] [--max-tokens N] [--prompt TEXT] [--raw]
//! ```
//! Defaults: the SmolLM2 asset (`$PALISADE_HOME/assets/...`), 128 tokens, greedy, and a
//! 28-token chat prompt (a short system message plus one user request).

use std::path::PathBuf;

use palisade_inference::{ChatMessage, Engine, GenerationParams, LoadOptions};

fn default_model() -> PathBuf {
    let home = std::env::var_os("PALISADE_HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/palisade")
        });
    home.join("assets/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut model = default_model();
    let mut threads = None;
    let mut max_tokens = 128;
    let mut user = "Write a long story about a dragon.".to_string();
    let mut raw = false;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--threads" => threads = Some(args.next().ok_or("--threads N")?.parse()?),
            "--max-tokens" => max_tokens = args.next().ok_or("--max-tokens N")?.parse()?,
            "--prompt" => user = args.next().ok_or("--prompt TEXT")?,
            "--raw" => raw = true,
            path => model = PathBuf::from(path),
        }
    }
    let t = std::time::Instant::now();
    let mut engine = Engine::load_gguf(
        &model,
        &LoadOptions {
            threads,
            ..LoadOptions::default()
        },
    )?;
    eprintln!(
        "loaded {} in {:.2?} ({} threads)",
        engine.model_name(),
        t.elapsed(),
        engine.threads()
    );
    let prompt = if raw {
        user
    } else {
        engine.render_chat(
            &[
                ChatMessage::system("You are a storyteller."),
                ChatMessage::user(user),
            ],
            true,
        )?
    };
    let params = GenerationParams {
        top_logprobs: 5,
        ..GenerationParams::greedy(max_tokens)
    };
    let mut stream = engine.generate(&prompt, &params)?;
    let mut first = true;
    for event in &mut stream {
        let event = event?;
        if first {
            eprintln!(
                "first token {} logprob {:.3} entropy {:.3} top {:?}",
                event.token_id, event.logprob, event.entropy, event.top_logprobs
            );
            first = false;
        }
        print!("{}", event.text);
    }
    println!();
    let usage = stream.usage();
    let timings = stream.timings();
    eprintln!(
        "prompt {} tokens, completion {} tokens, finish {:?}\ntime to first token {:.1} ms, decode {:.1} tok/s",
        usage.prompt_tokens,
        usage.completion_tokens,
        stream.finish_reason(),
        timings.prefill.as_secs_f64() * 1e3,
        timings
            .decode_tokens_per_second(usage.completion_tokens)
            .unwrap_or(0.0)
    );
    Ok(())
}
