//! The evasion suite, `testdata/guard/evasion.jsonl` (written by `tools/guard/gen_evasion.py`).
//!
//! Each evasion case (zero-width characters, homoglyphs, mixed scripts, full-width forms,
//! leetspeak, splitting by spaces or punctuation, base64/hex/URL encoding, markdown and HTML
//! wrapping) must still raise its expected kind, with a span on the original text's character
//! boundaries. Each benign look-alike (`"expect": null`) must raise nothing at all; the share
//! that does is the false-positive rate, bounded by [`MAX_FP_RATE`]. The test prints the
//! detection rate per technique and the false-positive rate per benign group
//! (`cargo test -p palisade-guard --test evasion -- --nocapture`).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use palisade_guard::{Decision, Direction, Guard, Policy};
use serde::Deserialize;

/// The highest false-positive rate of the benign set the suite accepts.
const MAX_FP_RATE: f64 = 0.05;

#[derive(Deserialize)]
struct Case {
    technique: String,
    text: String,
    /// The kind that must fire; `null` for a benign look-alike.
    expect: Option<String>,
    /// `input` (default) or `output`.
    #[serde(default)]
    direction: Option<String>,
    /// A policy path relative to the repository root (default `policies/default.yaml`).
    #[serde(default)]
    policy: Option<String>,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn guard_for(cache: &mut HashMap<String, Guard>, path: &str) -> Guard {
    cache
        .entry(path.to_owned())
        .or_insert_with(|| {
            let policy = Policy::from_file(&root().join(Path::new(path))).expect("policy loads");
            Guard::new(policy).expect("policy compiles")
        })
        .clone()
}

fn describe(d: &Decision) -> String {
    let kinds: Vec<String> = d
        .findings
        .iter()
        .map(|f| format!("{}@{}..{}", f.kind, f.start, f.end))
        .collect();
    format!("[{}]", kinds.join(", "))
}

#[derive(Default)]
struct Rate {
    hits: usize,
    total: usize,
}

#[test]
fn evasions_fire_and_look_alikes_stay_quiet() {
    let path = root().join("testdata/guard/evasion.jsonl");
    let data = std::fs::read_to_string(&path).expect("the evasion corpus exists");
    let mut guards = HashMap::new();
    let mut rates: BTreeMap<String, Rate> = BTreeMap::new();
    let (mut missed, mut false_positives) = (Vec::new(), Vec::new());
    for (n, line) in data.lines().enumerate() {
        let case: Case = serde_json::from_str(line).unwrap_or_else(|e| panic!("line {n}: {e}"));
        let guard = guard_for(
            &mut guards,
            case.policy.as_deref().unwrap_or("policies/default.yaml"),
        );
        let direction = match case.direction.as_deref() {
            None | Some("input") => Direction::Input,
            Some("output") => Direction::Output,
            Some(other) => panic!("line {n}: unknown direction {other}"),
        };
        let d = guard.check(direction, &case.text);
        for f in &d.findings {
            assert!(
                f.start < f.end
                    && case.text.is_char_boundary(f.start)
                    && case.text.is_char_boundary(f.end),
                "line {n}: span {}..{} is not on the original text",
                f.start,
                f.end
            );
        }
        let fired = match &case.expect {
            Some(kind) => d.findings.iter().any(|f| *f.kind == **kind),
            None => !d.findings.is_empty(),
        };
        let rate = rates.entry(case.technique.clone()).or_default();
        rate.total += 1;
        rate.hits += usize::from(fired);
        let what = format!(
            "line {}: {} {:?} -> {}",
            n + 1,
            case.technique,
            case.text,
            describe(&d)
        );
        match (&case.expect, fired) {
            (Some(_), false) => missed.push(what),
            (None, true) => false_positives.push(what),
            _ => {}
        }
    }

    println!(
        "{:<28} {:>6} {:>6} {:>8}",
        "technique", "fired", "cases", "rate"
    );
    let (mut benign, mut benign_fired) = (0, 0);
    for (technique, r) in &rates {
        let pct = 100.0 * r.hits as f64 / r.total as f64;
        println!("{technique:<28} {:>6} {:>6} {pct:>7.1}%", r.hits, r.total);
        if technique.starts_with("benign:") {
            benign += r.total;
            benign_fired += r.hits;
        }
    }
    let fp_rate = benign_fired as f64 / benign.max(1) as f64;
    println!(
        "false positives: {benign_fired}/{benign} = {:.1}% (bound {:.1}%)",
        100.0 * fp_rate,
        100.0 * MAX_FP_RATE
    );
    for fp in &false_positives {
        println!("false positive: {fp}");
    }
    assert!(
        benign >= 30,
        "the benign set is too small to measure: {benign}"
    );
    assert!(
        missed.is_empty(),
        "{} evasion cases did not fire:\n{}",
        missed.len(),
        missed.join("\n")
    );
    assert!(
        fp_rate <= MAX_FP_RATE,
        "false-positive rate {fp_rate:.3} is above {MAX_FP_RATE}"
    );
}

/// The obfuscated-phrase detector looks across separators, markup and escapes: streamed in
/// chunks of every size from 1 to 7 bytes, each corpus text gives the whole-text findings.
#[test]
fn evasion_corpus_streams_like_the_whole_text() {
    let policy = Policy::from_yaml_str(
        "version: \"1\"\nname: s\noutput:\n  - {id: inj, type: injection, action: redact}\n",
        "stream.yaml",
    )
    .expect("policy");
    let guard = Guard::new(policy).expect("guard");
    let data =
        std::fs::read_to_string(root().join("testdata/guard/evasion.jsonl")).expect("corpus");
    for line in data.lines() {
        let case: Case = serde_json::from_str(line).expect("case");
        let whole = guard.check(Direction::Output, &case.text);
        for size in 1..=7 {
            let mut stream = guard.output_stream(None);
            let (mut text, mut findings) = (String::new(), Vec::new());
            let mut at = 0;
            while at < case.text.len() {
                let mut end = (at + size).min(case.text.len());
                while !case.text.is_char_boundary(end) {
                    end += 1;
                }
                let chunk = stream.push(&case.text[at..end]);
                text.push_str(&chunk.text);
                findings.extend(chunk.findings);
                at = end;
            }
            let last = stream.finish();
            text.push_str(&last.text);
            findings.extend(last.findings);
            assert_eq!(text, whole.text, "{:?} in chunks of {size}", case.text);
            assert_eq!(
                findings, whole.findings,
                "{:?} in chunks of {size}",
                case.text
            );
        }
    }
}
