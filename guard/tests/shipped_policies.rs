//! Every shipped policy under `policies/` is valid, compiles, and passes its inline tests.

use std::path::PathBuf;

use palisade_guard::testing::run_inline_tests;
use palisade_guard::{Guard, Policy};

fn shipped() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../policies");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("policies/ exists")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn shipped_policies_pass_their_inline_tests() {
    let files = shipped();
    for name in ["default.yaml", "strict.yaml", "pii-only.yaml"] {
        assert!(files.iter().any(|f| f.ends_with(name)), "{name} is shipped");
    }
    let mut failures = Vec::new();
    for file in &files {
        let policy = Policy::from_file(file).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            !policy.tests().is_empty(),
            "{} has inline tests",
            file.display()
        );
        let guard = Guard::new(policy).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for outcome in run_inline_tests(&guard) {
            println!(
                "{} {}: {}",
                if outcome.passed() { "ok  " } else { "FAIL" },
                file.file_name()
                    .map(|f| f.to_string_lossy())
                    .unwrap_or_default(),
                outcome.name
            );
            if !outcome.passed() {
                failures.push(format!(
                    "{}:{}: {}: {}",
                    file.display(),
                    outcome.location.line,
                    outcome.name,
                    outcome.explain()
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "failing inline tests:\n{}",
        failures.join("\n")
    );
}
