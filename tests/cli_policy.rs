//! `palisade policy check|test|schema` end to end.

use std::process::Command;

fn palisade(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run palisade");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_prints_a_summary() {
    let (code, out, err) = palisade(&["policy", "check", "policies/default.yaml"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("name:    default"), "{out}");
    assert!(out.contains("input-injection"), "{out}");
    let hash = out
        .lines()
        .find_map(|l| l.strip_prefix("hash:    "))
        .unwrap_or_default();
    assert_eq!(hash.len(), 64, "{out}");
}

#[test]
fn check_reports_file_line_column() {
    let dir = std::env::temp_dir().join(format!("palisade-cli-policy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let bad = dir.join("bad.yaml");
    std::fs::write(&bad, "version: '1'\nname: x\ninput:\n  - id: a\n    type: pii\n    action: redact\n    colour: red\n").expect("write");
    let (code, _, err) = palisade(&["policy", "check", &bad.to_string_lossy()]);
    assert_eq!(code, 1);
    assert!(
        err.contains("bad.yaml:7:5:") && err.contains("unknown field `colour`"),
        "{err}"
    );
}

#[test]
fn shipped_policies_pass_their_tests() {
    for file in [
        "policies/default.yaml",
        "policies/strict.yaml",
        "policies/pii-only.yaml",
    ] {
        let (code, out, err) = palisade(&["policy", "test", file]);
        assert_eq!(code, 0, "{file}: {out}{err}");
        assert!(
            out.contains("test result: ok.") && out.contains(" 0 failed"),
            "{out}"
        );
    }
}

#[test]
fn failing_inline_tests_are_reported() {
    let dir = std::env::temp_dir().join(format!("palisade-cli-policy-t-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("t.yaml");
    std::fs::write(
        &file,
        "version: '1'\nname: t\ninput:\n  - {id: kw, type: keywords, action: block, words: [apple]}\ntests:\n  - name: passes\n    text: an apple\n    expect: {verdict: block, kinds: [keyword.kw]}\n  - name: wrong\n    text: a pear\n    expect: {verdict: block}\n",
    )
    .expect("write");
    let (code, out, _) = palisade(&["policy", "test", &file.to_string_lossy()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("test passes (input) ... ok"), "{out}");
    assert!(out.contains("test wrong (input) ... FAILED"), "{out}");
    assert!(
        out.contains("t.yaml:10:") && out.contains("expected verdict block, got allow"),
        "{out}"
    );
    assert!(out.contains("1 passed; 1 failed"), "{out}");
}

#[test]
fn schema_matches_the_committed_file() {
    let (code, out, _) = palisade(&["policy", "schema"]);
    assert_eq!(code, 0);
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/policies/schema.json"))
            .expect("schema.json");
    assert_eq!(out, committed);
}
