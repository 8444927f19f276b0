//! Invalid policies are refused with file, line, column and what was expected.

use palisade_guard::{Direction, Guard, GuardBuildError, Policy, PolicyError};

fn err(yaml: &str) -> PolicyError {
    Policy::from_yaml_str(yaml, "bad.yaml").expect_err("invalid policy")
}

fn at(e: &PolicyError) -> (u64, u64) {
    e.position().unwrap_or((0, 0))
}

#[test]
fn unknown_keys_are_rejected_with_position() {
    let e = err(
        "version: '1'\nname: x\ninput:\n  - id: a\n    type: keywords\n    action: block\n    words: [x]\n    wholeword: true\n",
    );
    assert_eq!(at(&e), (8, 5), "{e}");
    let msg = e.to_string();
    assert!(msg.starts_with("bad.yaml:8:5: "), "{msg}");
    assert!(
        msg.contains("unknown field `wholeword`") && msg.contains("whole_word"),
        "{msg}"
    );

    let e = err("version: '1'\nname: x\nrules: []\n");
    assert_eq!(at(&e), (3, 1), "{e}");
}

#[test]
fn wrong_values_say_what_was_expected() {
    let e = err("version: '1'\nname: x\ninput:\n  - id: a\n    type: keyword\n    action: block\n");
    assert_eq!(at(&e), (5, 11));
    assert!(e.to_string().contains("expected one of"), "{e}");

    let e = err(
        "version: '1'\nname: x\ninput:\n  - id: a\n    type: regex\n    action: stop\n    patterns: [x]\n",
    );
    assert_eq!(at(&e).0, 6);
    assert!(e.to_string().contains("block"), "{e}");
}

#[test]
fn options_of_another_type_are_rejected() {
    let e = err(
        "version: '1'\nname: x\ninput:\n  - id: a\n    type: regex\n    action: block\n    patterns: [x]\n    words: [y]\n",
    );
    assert_eq!(at(&e), (5, 11));
    assert!(
        e.to_string()
            .contains("`words` is not an option of `regex` rules"),
        "{e}"
    );
}

#[test]
fn a_broken_regex_names_its_rule_and_pattern() {
    let e = err(
        "version: '1'\nname: x\ninput:\n  - id: tickets\n    type: regex\n    action: warn\n    patterns:\n      - 'ok'\n      - 'bad(['\n",
    );
    assert_eq!(at(&e), (9, 9), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("rule `tickets`") && msg.contains("pattern 2"),
        "{msg}"
    );
}

#[test]
fn unbounded_output_regex_is_refused_but_allowed_on_input() {
    let src = |dir: &str| {
        format!(
            "version: '1'\nname: x\n{dir}:\n  - id: r\n    type: regex\n    action: warn\n    patterns: ['a[0-9]+']\n"
        )
    };
    let e = err(&src("output"));
    assert!(e.to_string().contains("bounded"), "{e}");
    assert!(Policy::from_yaml_str(&src("input"), "ok.yaml").is_ok());
}

#[test]
fn semantic_checks() {
    let cases = [
        (
            "  - {id: a, type: keywords, action: warn, words: [x], restore: true}\n",
            "restore",
        ),
        (
            "  - {id: a, type: length, action: redact, max: 5}\n",
            "cannot redact",
        ),
        ("  - {id: a, type: length, action: block}\n", "`max`"),
        ("  - {id: a, type: keywords, action: warn}\n", "`words`"),
        (
            "  - {id: a, type: pii, action: warn, threshold: 1.5}\n",
            "threshold",
        ),
        ("  - {id: 'a b', type: pii, action: warn}\n", "rule id"),
        (
            "  - {id: a, type: pii, action: redact, placeholder: lower}\n",
            "placeholder",
        ),
        (
            "  - {id: a, type: pii, action: warn}\n  - {id: a, type: secrets, action: warn}\n",
            "duplicate rule id",
        ),
    ];
    for (rules, needle) in cases {
        let e = err(&format!("version: '1'\nname: x\ninput:\n{rules}"));
        assert!(e.to_string().contains(needle), "{rules}: {e}");
        assert!(e.position().is_some(), "{rules}: no position in {e}");
    }
}

#[test]
fn includes_compose_and_cycles_fail() {
    let dir = tempdir();
    std::fs::write(
        dir.join("base.yaml"),
        "version: '1'\nname: base\ninput:\n  - {id: base-pii, type: pii, action: redact}\n",
    )
    .expect("write");
    std::fs::write(
        dir.join("top.yaml"),
        "version: '2'\nname: top\ninclude: [base.yaml]\ninput:\n  - {id: top-kw, type: keywords, action: block, words: [nope]}\n",
    )
    .expect("write");
    let p = Policy::from_file(&dir.join("top.yaml")).expect("composes");
    let ids: Vec<&str> = p.rules(Direction::Input).iter().map(|r| &*r.id).collect();
    assert_eq!(ids, ["base-pii", "top-kw"]);
    assert_eq!(p.name(), "top");
    assert_eq!(p.version(), "2");

    std::fs::write(
        dir.join("a.yaml"),
        "version: '1'\nname: a\ninclude: [b.yaml]\n",
    )
    .expect("write");
    std::fs::write(
        dir.join("b.yaml"),
        "version: '1'\nname: b\ninclude: [a.yaml]\n",
    )
    .expect("write");
    let e = Policy::from_file(&dir.join("a.yaml")).expect_err("cycle");
    assert!(e.to_string().contains("include cycle"), "{e}");
    assert!(e.file().ends_with("b.yaml"), "{e}");

    std::fs::write(
        dir.join("c.yaml"),
        "version: '1'\nname: c\ninclude: [missing.yaml]\n",
    )
    .expect("write");
    let e = Policy::from_file(&dir.join("c.yaml")).expect_err("missing");
    assert_eq!(e.position(), Some((3, 11)), "{e}");
}

#[test]
fn hash_is_canonical() {
    let a = Policy::from_yaml_str(
        "version: '1'\nname: x\ninput:\n  - {id: a, type: pii, action: redact}\n",
        "a",
    )
    .expect("ok");
    let b = Policy::from_yaml_str("# comment\nname: x\nversion: \"1\"\ninput:\n  - id: a\n    action: redact\n    type: pii\ntests: []\n", "b").expect("ok");
    let c = Policy::from_yaml_str(
        "version: '1'\nname: x\ninput:\n  - {id: a, type: pii, action: warn}\n",
        "c",
    )
    .expect("ok");
    assert_eq!(a.hash(), b.hash());
    assert_ne!(a.hash(), c.hash());
    assert!(a.hash().chars().all(|ch| ch.is_ascii_hexdigit()) && a.hash().len() == 64);
}

#[test]
fn unregistered_external_type_fails_to_build() {
    let p = Policy::from_yaml_str(
        "version: '1'\nname: x\noutput:\n  - {id: tox, type: toxicity, action: block}\n",
        "t",
    )
    .expect("valid");
    match Guard::new(p) {
        Err(GuardBuildError::MissingDetector { rule_id, type_name }) => {
            assert_eq!((rule_id.as_str(), type_name.as_str()), ("tox", "toxicity"));
        }
        other => panic!("expected MissingDetector, got {other:?}"),
    }
}

fn tempdir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("palisade-guard-test-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("tempdir");
    d
}
