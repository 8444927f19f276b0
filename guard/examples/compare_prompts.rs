//! Times a policy over a JSONL file of prompts (`{"id", "text"}` per line), one thread, and
//! prints one JSON line: `{"p50_ms", "p99_ms", "mb_per_s", "prompts"}`. Used by
//! `tools/guard/compare_llm_guard.py` for the side-by-side with LLM Guard.
//!
//! `cargo run --release -p palisade-guard --example compare_prompts -- PROMPTS.jsonl POLICY.yaml`
use std::time::{Duration, Instant};

use palisade_guard::{Direction, Guard, Policy};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(prompts), Some(policy)) = (args.next(), args.next()) else {
        return Err("usage: compare_prompts PROMPTS.jsonl POLICY.yaml".into());
    };
    let guard = Guard::new(Policy::from_file(std::path::Path::new(&policy))?)?;
    let mut texts = Vec::new();
    for (n, line) in std::fs::read_to_string(&prompts)?.lines().enumerate() {
        let value: serde_json::Value = serde_json::from_str(line)?;
        let text = value["text"]
            .as_str()
            .ok_or_else(|| format!("{prompts}:{}: no \"text\" string", n + 1))?;
        texts.push(text.to_owned());
    }
    // One warm-up pass (page faults, lazy DFA caches), then the timed pass.
    let mut findings = 0;
    for t in &texts {
        findings += guard.check(Direction::Input, t).findings.len();
    }
    let mut times: Vec<Duration> = Vec::with_capacity(texts.len());
    for t in &texts {
        let start = Instant::now();
        let decision = guard.check(Direction::Input, t);
        times.push(start.elapsed());
        std::hint::black_box(decision);
    }
    let bytes: usize = texts.iter().map(String::len).sum();
    let total: Duration = times.iter().sum();
    times.sort();
    let pick = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize];
    println!(
        "{{\"p50_ms\": {:.6}, \"p99_ms\": {:.6}, \"mb_per_s\": {:.3}, \"prompts\": {}, \"findings\": {findings}}}",
        pick(0.50).as_secs_f64() * 1e3,
        pick(0.99).as_secs_f64() * 1e3,
        bytes as f64 / total.as_secs_f64() / 1e6,
        texts.len()
    );
    Ok(())
}
