//! The default policy's throughput on the bench's texts, and what each rule type costs alone: the
//! fastest of many checks, so that a shared, noisy machine still gives repeatable figures (a
//! quick profile, not a bench; `cargo bench -p palisade-guard --bench guard` gives medians).
//!
//! `cargo run --release -p palisade-guard --example detector_cost [mixed|non-latin] [NAME ...]`
//! runs only the named texts and rows (for a profiler: `perf record ... mixed pii`);
//! `PALISADE_ROUNDS` sets the number of checks (60 by default) and `PALISADE_TEXT_BYTES` the
//! text's size (256 KiB by default).
use std::time::{Duration, Instant};

use palisade_guard::{Direction, Guard, Policy};

#[path = "../benches/texts/mod.rs"]
mod texts;

const DEFAULT_POLICY: &str = include_str!("../../policies/default.yaml");

/// One rule per row, each alone in a policy; `default` is the shipped default policy.
const RULES: &[(&str, &str)] = &[
    ("default", ""),
    (
        "keywords",
        "{id: r, type: keywords, action: warn, words: [foo, bar baz, qux]}",
    ),
    (
        "regex",
        "{id: r, type: regex, action: warn, patterns: ['ticket-[0-9]{4}']}",
    ),
    (
        "pii",
        "{id: r, type: pii, action: warn, entities: [email, phone, credit_card, iban, us_ssn]}",
    ),
    (
        "pii-ip",
        "{id: r, type: pii, action: warn, entities: [ip_address]}",
    ),
    ("secrets", "{id: r, type: secrets, action: warn}"),
    (
        "inj-phrases",
        "{id: r, type: injection, action: warn, checks: [instruction_override, jailbreak, prompt_extraction]}",
    ),
    (
        "inj-encoded",
        "{id: r, type: injection, action: warn, checks: [encoded_payload]}",
    ),
    (
        "inj-invisible",
        "{id: r, type: injection, action: warn, checks: [invisible_chars]}",
    ),
    (
        "length",
        "{id: r, type: length, action: warn, max: 100000000}",
    ),
];

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let bytes = env_number("PALISADE_TEXT_BYTES", 256 * 1024);
    let rounds = env_number("PALISADE_ROUNDS", 60);
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (labels, only): (Vec<String>, Vec<String>) = args
        .into_iter()
        .partition(|a| a == "mixed" || a == "non-latin");
    for (label, text) in [
        ("mixed", texts::mixed(bytes)),
        ("non-latin", texts::non_latin(bytes)),
    ] {
        if !labels.is_empty() && !labels.iter().any(|l| l == label) {
            continue;
        }
        for &(name, rule) in RULES {
            if !only.is_empty() && !only.iter().any(|o| o == name) {
                continue;
            }
            let yaml = if name == "default" {
                DEFAULT_POLICY.to_owned()
            } else {
                format!("version: '1'\nname: x\ninput:\n  - {rule}\n")
            };
            let guard =
                Guard::new(Policy::from_yaml_str(&yaml, name).expect("policy")).expect("guard");
            let best = (0..rounds)
                .map(|_| {
                    let start = Instant::now();
                    std::hint::black_box(guard.check(Direction::Input, &text));
                    start.elapsed()
                })
                .min()
                .unwrap_or_default();
            println!(
                "{label:9} {name:14} {:9.1} µs {:8.1} MB/s",
                best.as_secs_f64() * 1e6,
                text.len() as f64 / best.as_secs_f64().max(1e-12) / 1e6
            );
            if name == "default" {
                print_rule_costs(&guard, &text, rounds);
            }
        }
    }
}

/// The fastest time of each of the default policy's scanners over `rounds` measured checks (the
/// views they read are built outside their timers).
fn print_rule_costs(guard: &Guard, text: &str, rounds: usize) {
    let mut fastest: Vec<(String, Duration)> = Vec::new();
    for _ in 0..rounds {
        let decision = guard.check_measured(Direction::Input, text, None);
        for (i, cost) in decision.costs.iter().enumerate() {
            match fastest.get_mut(i) {
                Some(entry) => entry.1 = entry.1.min(cost.elapsed),
                None => fastest.push((cost.rule_id.to_string(), cost.elapsed)),
            }
        }
    }
    for (rule, best) in &fastest {
        println!("          {rule:26} {:9.1} µs", best.as_secs_f64() * 1e6);
    }
}
