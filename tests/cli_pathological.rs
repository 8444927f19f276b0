//! Pathological standard input for `palisade scan` and `palisade chat`: 10 MB records and lines,
//! lines over the limit, and invalid UTF-8. Each gets a clear error in its place (never a crash),
//! and a 10 MB prompt is judged in bounded time. The `chat` test loads the default model (like
//! `tests/e2e_chat.rs`: `cargo run -- fetch` first) but the model never runs: every line is
//! refused before it.

mod support;

use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::cli::{json_lines, run_palisade};

const TEN_MB: usize = 10 << 20;

/// Runs the binary with `args` and `stdin`; returns its output and time.
fn run(args: &[&str], stdin: Vec<u8>) -> (Output, Duration) {
    let started = Instant::now();
    let out = run_palisade(args, stdin);
    (out, started.elapsed())
}

fn record(text: &str) -> Vec<u8> {
    let mut line =
        serde_json::to_vec(&serde_json::json!({"id": "big", "text": text})).expect("json");
    line.push(b'\n');
    line
}

#[test]
fn scan_judges_a_ten_megabyte_record_and_refuses_bad_lines_in_place() {
    let mut input = record(&"Tell me about the weather in Paris. ".repeat(TEN_MB / 36));
    input.extend_from_slice(b"{\"id\": \"bad\", \"text\": \"caf\xe9\"}\n");
    input.extend_from_slice(b"\xff\xfe\xfd\n");
    input.extend(record(&"x".repeat(17 << 20)));
    input.extend(record("fine"));
    let (out, took) = run(&["scan", "-"], input);
    println!("scan, 10 MB + 17 MB records: {took:?}");
    assert!(took < Duration::from_secs(120), "took {took:?}");
    assert_eq!(out.status.code(), Some(2), "bad lines exit with 2");
    let lines = json_lines(&out.stdout);
    assert_eq!(lines.len(), 5, "one answer per line: {lines:?}");
    assert_eq!(lines[0]["verdict"], "block");
    assert!(
        lines[0].to_string().contains("input-length"),
        "{}",
        lines[0]
    );
    for (i, want) in [(1, "UTF-8"), (2, "UTF-8"), (3, "over the limit")] {
        let error = lines[i]["error"]
            .as_str()
            .unwrap_or_else(|| panic!("line {i}: {}", lines[i]));
        assert!(error.contains(want), "line {i}: {error}");
        assert_eq!(lines[i]["line"], i + 1);
    }
    assert_eq!(lines[4]["verdict"], "allow");
}

#[test]
fn chat_refuses_bad_lines_and_blocks_a_ten_megabyte_prompt_before_the_model() {
    let mut input = b"caf\xe9 au lait?\n".to_vec();
    input.extend(
        "Tell me about the weather in Paris. "
            .repeat(TEN_MB / 36)
            .bytes(),
    );
    input.push(b'\n');
    input.extend(std::iter::repeat_n(b'y', 13 << 20));
    input.push(b'\n');
    let args = ["chat", "--json", "--max-line-bytes", "12582912"];
    let (out, took) = run(&args, input);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("palisade fetch"),
        "the default model is missing: run `cargo run -- fetch` first\n{stderr}"
    );
    println!("chat, 10 MB + 13 MB lines: {took:?}");
    assert!(took < Duration::from_secs(120), "took {took:?}");
    assert_eq!(
        out.status.code(),
        Some(2),
        "skipped lines exit with 2: {stderr}"
    );
    let events = json_lines(&out.stdout);
    let errors: Vec<&Value> = events.iter().filter(|e| e["type"] == "error").collect();
    assert_eq!(errors.len(), 2, "{events:?}");
    assert_eq!(errors[0]["line"], 1);
    assert!(
        errors[0]["message"]
            .as_str()
            .expect("message")
            .contains("not UTF-8")
    );
    assert_eq!(errors[1]["line"], 3);
    assert!(
        errors[1]["message"]
            .as_str()
            .expect("message")
            .contains("over the limit")
    );
    let done: Vec<&Value> = events.iter().filter(|e| e["type"] == "done").collect();
    assert_eq!(done.len(), 1, "{events:?}");
    assert_eq!(done[0]["finish"], "blocked_input");
    assert_eq!(done[0]["rule"], "input-length");
    assert_eq!(
        done[0]["prompt_tokens"], 0,
        "the model never saw the prompt"
    );
}
