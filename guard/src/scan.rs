//! The record format of `palisade scan`: one `{"id": ..., "text": "..."}` JSON object per input
//! line, one answer line per input line:
//! `{"id", "verdict", "findings": [{"rule", "kind", "action", "start", "end", "score"}], "text"}`,
//! with `text` only when something was redacted (offsets are bytes of the original text), or
//! `{"line": N, "error": "..."}` for a line that cannot be read.

use crate::{Direction, Finding, Guard, Verdict};
use serde::Deserialize;
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

/// One finding as JSON: `{"rule", "kind", "action", "start", "end", "score"}`, the score
/// rounded to four decimals. The shape of findings in every JSON output of the CLI.
pub fn finding_json(f: &Finding) -> Value {
    json!({
        "rule": &*f.rule_id,
        "kind": &*f.kind,
        "action": f.action.as_str(),
        "start": f.start,
        "end": f.end,
        "score": round(f.score),
    })
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
            let findings: Vec<Value> = d.findings.iter().map(finding_json).collect();
            let mut out = json!({
                "id": record.id,
                "verdict": d.verdict.as_str(),
                "findings": findings,
            });
            if d.verdict == Verdict::Redact {
                out["text"] = Value::String(d.text);
            }
            ScanLine {
                json: out.to_string(),
                ok: true,
            }
        }
        Err(error) => ScanLine {
            json: json!({"line": number, "error": error}).to_string(),
            ok: false,
        },
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
}
