//! The record format of `palisade scan`: one `{"id": ..., "text": "..."}` JSON object per input
//! line, one answer line per input line:
//! `{"id", "verdict", "findings": [{"rule", "kind", "action", "start", "end", "score"}], "text"}`,
//! with `text` only when something was redacted (offsets are bytes of the original text), or
//! `{"line": N, "error": "..."}` for a line that cannot be read.

use crate::{Direction, Finding, Guard, Verdict};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// One input record; other fields are ignored.
#[derive(Deserialize)]
struct Record {
    id: Value,
    text: String,
}

fn round(score: f32) -> f64 {
    (f64::from(score) * 10_000.0).round() / 10_000.0
}

/// The answer to one input line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanLine {
    /// The output line (JSON, without the newline).
    pub json: String,
    /// `false` when the line could not be read: `json` is then `{"line": N, "error": "..."}`.
    pub ok: bool,
}

impl ScanLine {
    /// The answer to line `number` (1-based) that could not be read: `{"line": N, "error": "..."}`.
    pub fn error(number: usize, error: impl std::fmt::Display) -> Self {
        ScanLine {
            json: json!({"line": number, "error": error.to_string()}).to_string(),
            ok: false,
        }
    }
}

/// One finding as written: fields in the (alphabetical) order every JSON output of the CLI has.
#[derive(Serialize)]
struct FindingOut<'a> {
    action: &'static str,
    end: usize,
    kind: &'a str,
    rule: &'a str,
    score: f64,
    start: usize,
}

impl<'a> From<&'a Finding> for FindingOut<'a> {
    fn from(f: &'a Finding) -> Self {
        FindingOut {
            action: f.action.as_str(),
            end: f.end,
            kind: &f.kind,
            rule: &f.rule_id,
            score: round(f.score),
            start: f.start,
        }
    }
}

/// One answer line, serialised straight from borrowed parts (no intermediate JSON values).
#[derive(Serialize)]
struct RecordOut<'a> {
    findings: Vec<FindingOut<'a>>,
    id: &'a Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
    verdict: &'static str,
}

/// One finding as JSON: `{"rule", "kind", "action", "start", "end", "score"}`, the score
/// rounded to four decimals. The shape of findings in every JSON output of the CLI.
pub fn finding_json(f: &Finding) -> Value {
    serde_json::to_value(FindingOut::from(f)).unwrap_or(Value::Null)
}

/// Checks one input line (`number` is 1-based, for the error object), with or without its
/// trailing `\r`. Never panics, whatever the bytes.
pub fn scan_line(guard: &Guard, direction: Direction, number: usize, line: &[u8]) -> ScanLine {
    let parsed = std::str::from_utf8(line)
        .map_err(|e| format!("invalid UTF-8: {e}"))
        .and_then(|s| {
            serde_json::from_str::<Record>(s.trim_end_matches('\r')).map_err(|e| e.to_string())
        });
    match parsed {
        Ok(record) => {
            let d = guard.check(direction, &record.text);
            let out = RecordOut {
                findings: d.findings.iter().map(FindingOut::from).collect(),
                id: &record.id,
                text: (d.verdict == Verdict::Redact).then_some(d.text.as_str()),
                verdict: d.verdict.as_str(),
            };
            match serde_json::to_string(&out) {
                Ok(json) => ScanLine { json, ok: true },
                Err(e) => ScanLine::error(number, e),
            }
        }
        Err(error) => ScanLine::error(number, error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard() -> Guard {
        let yaml = include_str!("../../policies/pii-only.yaml");
        let policy = crate::Policy::from_yaml_str(yaml, "pii-only.yaml").expect("policy");
        Guard::new(policy).expect("guard")
    }

    #[test]
    fn redacted_records_carry_text_and_bad_lines_an_error() {
        let g = guard();
        let ok = scan_line(
            &g,
            Direction::Input,
            1,
            br#"{"id": 7, "text": "mail bob@example.com"}"#,
        );
        assert!(ok.ok);
        let v: Value = serde_json::from_str(&ok.json).expect("json");
        assert_eq!(v["id"], 7);
        assert_eq!(v["verdict"], "redact");
        assert!(v["text"].as_str().is_some_and(|t| !t.contains("bob@")));
        let bad = scan_line(&g, Direction::Input, 3, b"{\"id\": 1, \"text\": \"\xff\"}");
        assert!(!bad.ok);
        assert!(bad.json.contains("\"line\":3"), "{}", bad.json);
        let invalid = scan_line(&g, Direction::Input, 4, &[0xff, 0xfe]);
        assert!(invalid.json.contains("invalid UTF-8"), "{}", invalid.json);
    }

    #[test]
    fn answer_lines_keep_their_exact_shape() {
        let g = guard();
        let line = scan_line(
            &g,
            Direction::Input,
            1,
            br#"{"id": {"k": [1]}, "text": "mail bob@example.com \u00e9"}"#,
        );
        assert_eq!(
            line.json,
            r#"{"findings":[{"action":"redact","end":20,"kind":"pii.email","rule":"pii-input","score":1.0,"start":5}],"id":{"k":[1]},"text":"mail [EMAIL_1] é","verdict":"redact"}"#
        );
        let clean = scan_line(&g, Direction::Input, 2, br#"{"id": "a", "text": "hi"}"#);
        assert_eq!(clean.json, r#"{"findings":[],"id":"a","verdict":"allow"}"#);
    }
}
