//! Any bytes as one `palisade scan` input line: one JSON answer line, never a panic.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use palisade_guard::{Direction, Guard};

#[path = "common.rs"]
mod common;

static GUARD: OnceLock<Guard> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let guard = GUARD.get_or_init(common::guard);
    let answer = palisade_guard::scan::scan_line(guard, Direction::Input, 1, data);
    let value: serde_json::Value = serde_json::from_str(&answer.json).expect("the answer is JSON");
    assert!(!answer.json.contains('\n'));
    assert_eq!(value.get("error").is_some(), !answer.ok);
});
