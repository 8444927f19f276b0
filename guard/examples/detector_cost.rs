//! Prints the cost of each default-policy rule type on mixed text (a quick profile, not a bench).
use std::time::Instant;

use palisade_guard::{Direction, Guard, Policy};

fn main() {
    let base = "Could you help me plan a three-day trip to Lisbon in late spring? I would like to see the old town, eat good seafood and maybe take a day trip to Sintra. Last time the booking on order 58213-B went wrong. fn parse(input: &str) -> Result<u32, Error> { input.trim().parse() } The logs show 2024-05-01T10:22:33Z status=500 latency=231ms. Version 3.14.2 fixed it. Reach me at maria.silva@example.org or +351 912 345 678. Résumé: café, naïve façade 🙂. ";
    let text: String = base.repeat(256 * 1024 / base.len());
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
        (
            "length",
            "{id: r, type: length, action: warn, max: 100000000}",
        ),
    ];
    for (t, label) in [(&text, "mixed"), (&ascii, "ascii")] {
        for (name, rule) in rules {
            let y = format!("version: '1'\nname: x\ninput:\n  - {rule}\n");
            let g = Guard::new(Policy::from_yaml_str(&y, "x").expect("p")).expect("g");
            let n = 20;
            let start = Instant::now();
            for _ in 0..n {
                std::hint::black_box(g.check(Direction::Input, t));
            }
            let secs = start.elapsed().as_secs_f64() / n as f64;
            println!(
                "{label:6} {name:14} {:8.1} MB/s",
                t.len() as f64 / secs / 1e6
            );
        }
    }
}
