//! Prints the cost of each default-policy rule type on mixed text (a quick profile, not a bench).
//!
//! `cargo run --release -p palisade-guard --example detector_cost [NAME ...]` runs only the named
//! rows (for a profiler: `PALISADE_ROUNDS=1 valgrind --tool=callgrind ... pii`).
use std::time::Instant;

use palisade_guard::{Direction, Guard, Policy};

const DEFAULT_POLICY: &str = include_str!("../../policies/default.yaml");

fn main() {
    let base = "Could you help me plan a three-day trip to Lisbon in late spring? I would like to see the old town, eat good seafood and maybe take a day trip to Sintra. Last time the booking on order 58213-B went wrong. fn parse(input: &str) -> Result<u32, Error> { input.trim().parse() } The logs show 2024-05-01T10:22:33Z status=500 latency=231ms. Version 3.14.2 fixed it. Reach me at maria.silva@example.org or +351 912 345 678. Résumé: café, naïve façade 🙂. ";
    let bytes: usize = std::env::var("PALISADE_TEXT_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256 * 1024);
    let text: String = base.repeat(bytes.div_ceil(base.len()));
    let ascii: String = text.chars().filter(char::is_ascii).collect();
    let rules = [
        (
            "keywords",
            "{id: r, type: keywords, action: warn, words: [foo, bar baz, qux]}",
        ),
        (
            "regex",
            "{id: r, type: regex, action: warn, patterns: ['ticket-[0-9]{4}']}",
        ),
        ("pii", "{id: r, type: pii, action: warn}"),
        (
            "pii-email",
            "{id: r, type: pii, action: warn, entities: [email]}",
        ),
        (
            "pii-phone",
            "{id: r, type: pii, action: warn, entities: [phone]}",
        ),
        (
            "pii-card",
            "{id: r, type: pii, action: warn, entities: [credit_card]}",
        ),
        (
            "pii-iban",
            "{id: r, type: pii, action: warn, entities: [iban]}",
        ),
        (
            "pii-ip",
            "{id: r, type: pii, action: warn, entities: [ip_address]}",
        ),
        ("secrets", "{id: r, type: secrets, action: warn}"),
        ("injection", "{id: r, type: injection, action: warn}"),
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
        ("default", "(the shipped default policy's input side)"),
        (
            "length",
            "{id: r, type: length, action: warn, max: 100000000}",
        ),
    ];
    let only: Vec<String> = std::env::args().skip(1).collect();
    let rounds: u32 = std::env::var("PALISADE_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    for (t, label) in [(&text, "mixed"), (&ascii, "ascii")] {
        for (name, rule) in rules {
            if !only.is_empty() && !only.iter().any(|o| o == name) {
                continue;
            }
            let y = if name == "default" {
                DEFAULT_POLICY.to_owned()
            } else {
                format!("version: '1'\nname: x\ninput:\n  - {rule}\n")
            };
            let g = Guard::new(Policy::from_yaml_str(&y, "x").expect("p")).expect("g");
            let n = rounds;
            let start = Instant::now();
            for _ in 0..n {
                std::hint::black_box(g.check(Direction::Input, t));
            }
            let secs = start.elapsed().as_secs_f64() / n as f64;
            println!(
                "{label:6} {name:14} {:8.1} MB/s",
                t.len() as f64 / secs / 1e6
            );
            if name == "default" {
                print_rule_shares(&g, t, n);
            }
        }
    }
}

/// Each rule's share of a measured check (views are built outside the rules' timers).
fn print_rule_shares(g: &Guard, text: &str, rounds: u32) {
    let mut totals: Vec<(String, f64)> = Vec::new();
    let start = Instant::now();
    for _ in 0..rounds {
        let d = g.check_measured(Direction::Input, text, None);
        for c in &d.costs {
            let secs = c.elapsed.as_secs_f64();
            match totals.iter_mut().find(|(id, _)| **id == *c.rule_id) {
                Some(t) => t.1 += secs,
                None => totals.push((c.rule_id.to_string(), secs)),
            }
        }
    }
    let all = start.elapsed().as_secs_f64();
    for (id, secs) in &totals {
        println!(
            "         {id:24} {:7.1} µs/check {:5.1}%",
            secs / f64::from(rounds) * 1e6,
            secs / all * 100.0
        );
    }
}
