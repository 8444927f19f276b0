//! `palisade eval hallucination` on a small fixed subset of HaluEval QA (rows 0..2), with the
//! real default model: the report's shape, the dump/reload round trip and the saved model.
//! The full table (`docs/hallucination.md`) comes from the same command on more rows.
//!
//! Needs the default model and the HaluEval QA file in the asset cache (`make test` runs
//! `palisade fetch` first).

use std::process::Command;

use serde_json::Value;

fn eval(args: &[&str]) -> (Value, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(["eval", "hallucination", "--json"])
        .args(args)
        .output()
        .expect("run palisade");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "palisade failed: {stderr}");
    let report = serde_json::from_slice(&output.stdout).expect("JSON report");
    (report, stderr)
}

#[test]
fn a_small_subset_reports_every_signal_and_reloads_identically() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dump = dir.path().join("scores.jsonl");
    let saved = dir.path().join("risk.json");
    let dump_arg = dump.to_str().expect("utf-8 path");
    let (report, _) = eval(&[
        "--rows",
        "2",
        "--consistency-samples",
        "1",
        "--dump",
        dump_arg,
    ]);
    assert_eq!(report["train_rows"], 1);
    assert_eq!(report["test_rows"], 1);
    let signals = report["signals"].as_array().expect("signals");
    assert_eq!(signals.len(), 13);
    assert_eq!(signals[11]["signal"], "context_similarity");
    assert_eq!(signals[12]["signal"], "sample_consistency");
    for s in signals.iter().map(|s| &s["auroc"]).chain([
        &report["combined"],
        &report["length_baseline"],
        &report["brier"],
    ]) {
        let v = s.as_f64().unwrap_or_else(|| panic!("a number: {report}"));
        assert!((0.0..=1.0).contains(&v), "{report}");
    }
    let lines = std::fs::read_to_string(&dump).expect("dump written");
    assert_eq!(lines.lines().count(), 4, "two answers per row");
    for line in lines.lines() {
        let answer: Value = serde_json::from_str(line).expect("JSON line");
        assert_eq!(
            answer["samples"].as_array().map(Vec::len),
            Some(1),
            "{line}"
        );
    }

    // Reusing the dump gives the same report without running the model.
    let (again, _) = eval(&[
        "--rows",
        "2",
        "--scores",
        dump_arg,
        "--save-model",
        saved.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(again, report);
    let model = std::fs::read_to_string(&saved).expect("model saved");
    palisade::hallucination::RiskModel::from_json(&model, "risk.json").expect("loadable");

    // Without the embedder, the embedding signals are reported as not measured.
    let (plain, _) = eval(&["--rows", "2", "--scores", dump_arg, "--embedder", "off"]);
    for i in [11, 12] {
        assert_eq!(plain["signals"][i]["answers"], 0, "{plain}");
        assert!(plain["signals"][i]["auroc"].is_null(), "{plain}");
    }
    assert_eq!(plain["signals"][0], report["signals"][0]);
}

#[test]
fn a_missing_data_file_says_what_to_do() {
    let output = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(["eval", "hallucination", "--data", "/nonexistent/qa.jsonl"])
        .output()
        .expect("run palisade");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("/nonexistent/qa.jsonl") && stderr.contains("palisade fetch"),
        "{stderr}"
    );
}
