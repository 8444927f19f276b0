//! Every detector on arbitrary text, both directions: findings lie on character boundaries of the
//! original text, in order, and the released text never contains a redacted original.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use palisade_guard::{Action, Direction, Guard};

#[path = "common.rs"]
mod common;

static GUARD: OnceLock<Guard> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let guard = GUARD.get_or_init(common::guard);
    for direction in [Direction::Input, Direction::Output] {
        let d = guard.check(direction, &text);
        let mut last = 0;
        for f in &d.findings {
            assert!(f.start <= f.end && f.end <= text.len(), "{f:?}");
            assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end), "{f:?}");
            assert!(f.start >= last || f.start == last, "findings in order: {f:?}");
            last = last.max(f.start);
            if f.action == Action::Redact && f.end - f.start >= 6 {
                let original = &text[f.start..f.end];
                assert!(!d.text.contains(original) || text.matches(original).count() > 1);
            }
        }
    }
});
