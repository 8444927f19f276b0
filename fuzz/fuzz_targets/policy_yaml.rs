//! Any text given as a policy file: an error or a policy, never a panic; a valid policy compiles
//! or reports an error, and its guard checks its own YAML text without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_guard::{Direction, Guard, Policy};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(policy) = Policy::from_yaml_str(text, "fuzz.yaml") else {
        return;
    };
    assert_eq!(policy.hash().len(), 64);
    if let Ok(guard) = Guard::new(policy) {
        let _ = guard.check(Direction::Input, text);
        let _ = guard.check(Direction::Output, text);
    }
});
