//! The streaming output guard with arbitrary chunk boundaries releases exactly what a whole-text
//! check returns, with the same findings.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use palisade_guard::{Direction, Guard};

#[path = "common.rs"]
mod common;

static GUARD: OnceLock<Guard> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    // The first bytes are chunk lengths (1..=16), the rest is the text.
    let split = data.len().min(32);
    let (lengths, rest) = data.split_at(split.min(data.len() / 2));
    let text = String::from_utf8_lossy(rest);
    let guard = GUARD.get_or_init(common::guard);
    let whole = guard.check(Direction::Output, &text);

    let mut stream = guard.output_stream(None);
    let (mut released, mut findings, mut at, mut i) = (String::new(), Vec::new(), 0, 0);
    while at < text.len() {
        let want = usize::from(lengths.get(i % lengths.len().max(1)).copied().unwrap_or(7) % 16) + 1;
        i += 1;
        let mut end = (at + want).min(text.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        let chunk = stream.push(&text[at..end]);
        released.push_str(&chunk.text);
        findings.extend(chunk.findings);
        at = end;
    }
    let last = stream.finish();
    released.push_str(&last.text);
    findings.extend(last.findings);
    assert_eq!(released, whole.text, "released text differs from the whole-text check");
    assert_eq!(findings, whole.findings, "findings differ from the whole-text check");
});
