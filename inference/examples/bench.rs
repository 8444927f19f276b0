//! Measures time to first token and decode speed on a GGUF model.
//!
//! ```text
//! cargo run -p palisade-inference --example bench -- [MODEL.gguf] [--threads N] [--max-tokens N] [--prompt TEXT] [--raw] [--prompt-file FILE] [--cpu-repack off|q8_0|q4_0] [--compare]
//! ```
//! Defaults: the SmolLM2 asset (`$PALISADE_HOME/assets/...`), 128 tokens, greedy, and a
//! 28-token chat prompt (a short system message plus one user request).
//!
//! `--compare` (with `--cpu-repack`) also loads the file without the repack and measures how
//! far the repacked model's next-token distributions move along the generated answer: mean
//! KL divergence (nats), how often the most likely token is the same, and the largest change
//! of the chosen token's log-probability.

use std::path::PathBuf;

use palisade_inference::sampling::argmax;
use palisade_inference::sampling::distribution::{DistributionStats, kl_divergence};
use palisade_inference::{ChatMessage, CpuRepack, Engine, GenerationParams, LoadOptions};

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
    let mut cpu_repack = CpuRepack::Off;
    let mut compare = false;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--threads" => threads = Some(args.next().ok_or("--threads N")?.parse()?),
            "--max-tokens" => max_tokens = args.next().ok_or("--max-tokens N")?.parse()?,
            "--prompt" => user = args.next().ok_or("--prompt TEXT")?,
            // A rendered prompt, used verbatim (the same tokens another engine is given).
            "--prompt-file" => {
                user = std::fs::read_to_string(args.next().ok_or("--prompt-file FILE")?)?;
                raw = true;
            }
            "--raw" => raw = true,
            "--cpu-repack" => {
                cpu_repack = args.next().ok_or("--cpu-repack off|q8_0|q4_0")?.parse()?
            }
            "--compare" => compare = true,
            path => model = PathBuf::from(path),
        }
    }
    let t = std::time::Instant::now();
    let mut engine = Engine::load_gguf(
        &model,
        &LoadOptions {
            threads,
            cpu_repack,
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
    let mut answer = Vec::new();
    for event in &mut stream {
        let event = event?;
        answer.push(event.token_id);
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
    drop(stream);
    if compare {
        let mut reference = Engine::load_gguf(
            &model,
            &LoadOptions {
                threads,
                ..LoadOptions::default()
            },
        )?;
        let ids = engine.encode_prompt(&prompt)?;
        let (kl, same_top, worst) = distance(&mut engine, &mut reference, &ids, &answer)?;
        eprintln!(
            "--cpu-repack {cpu_repack} vs the file's own tensors over {} answer positions: mean KL \
             {kl:.4} nats, same most likely token {:.1}%, largest chosen-token logprob change {worst:.3}",
            answer.len(),
            100.0 * same_top
        );
    }
    Ok(())
}

/// Mean KL(reference || repacked), top-1 agreement and the largest change of the
/// answer token's log-probability, at each position of `answer` after `prompt`.
fn distance(
    repacked: &mut Engine,
    reference: &mut Engine,
    prompt: &[u32],
    answer: &[u32],
) -> Result<(f64, f64, f64), Box<dyn std::error::Error>> {
    let (mut kl, mut same, mut worst) = (0.0, 0usize, 0.0f64);
    let mut ids = prompt.to_vec();
    for &next in answer {
        let p = reference.next_token_logits(&ids)?;
        let q = repacked.next_token_logits(&ids)?;
        kl += kl_divergence(&p, &q).ok_or("no finite logits")?;
        same += usize::from(argmax(&p) == argmax(&q));
        let (p_stats, q_stats) = (
            DistributionStats::from_logits(&p).ok_or("no finite logits")?,
            DistributionStats::from_logits(&q).ok_or("no finite logits")?,
        );
        let change = p_stats.logprob(p[next as usize]) - q_stats.logprob(q[next as usize]);
        worst = worst.max(f64::from(change.abs()));
        ids.push(next);
    }
    let n = answer.len().max(1) as f64;
    Ok((kl / n, same as f64 / n, worst))
}
