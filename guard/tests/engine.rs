//! Whole-text checks and streams on small policies.

use palisade_guard::{Action, Direction, Guard, Policy, Verdict};

fn guard(yaml: &str) -> Guard {
    let policy = Policy::from_yaml_str(yaml, "test.yaml").expect("valid policy");
    Guard::new(policy).expect("compiles")
}

const KEYWORDS: &str = r#"
version: "1"
name: kw
output:
  - id: ban
    type: keywords
    action: block
    words: [forbidden fruit]
    message: "nope"
  - id: secret-word
    type: keywords
    action: redact
    list: codenames
    words: [bluebird, red falcon]
  - id: note
    type: regex
    action: warn
    patterns: ['ticket-[0-9]{3,6}']
"#;

#[test]
fn check_redacts_warns_and_blocks() {
    let g = guard(KEYWORDS);
    let d = g.check(
        Direction::Output,
        "Project Bluebird and red  falcon, see TICKET-1234.",
    );
    assert_eq!(d.verdict, Verdict::Redact);
    assert_eq!(
        d.text,
        "Project [CODENAMES_1] and red  falcon, see TICKET-1234."
    );
    let kinds: Vec<&str> = d.findings.iter().map(|f| &*f.kind).collect();
    assert_eq!(kinds, ["keyword.codenames", "regex.note"]);
    assert_eq!(d.findings[1].action, Action::Warn);
    let f = &d.findings[1];
    assert_eq!(
        &"Project Bluebird and red  falcon, see TICKET-1234."[f.start..f.end],
        "TICKET-1234"
    );

    let d = g.check(Direction::Output, "bluebird ate the Forbidden Fruit today");
    assert_eq!(d.verdict, Verdict::Block);
    assert_eq!(d.block.as_ref().map(|b| b.message.as_str()), Some("nope"));
    assert_eq!(d.text, "[CODENAMES_1] ate the ");
    assert!(
        g.check(Direction::Input, "forbidden fruit")
            .findings
            .is_empty()
    );
}

#[test]
fn stream_releases_early_and_blocks_mid_stream() {
    let g = guard(KEYWORDS);
    let mut s = g.output_stream(None);
    let mut out = String::new();
    for tok in [
        "Hello ",
        "there, ",
        "blue",
        "bird",
        " says ",
        "hi. ",
        "The forbidden",
        " fruit",
        " is sweet",
    ] {
        let c = s.push(tok);
        out.push_str(&c.text);
        assert!(s.held_bytes() < 40, "holds too much: {}", s.held_bytes());
        if let Some(b) = c.block {
            assert_eq!(b.rule_id, "ban");
            break;
        }
    }
    assert!(s.is_blocked());
    assert_eq!(out, "Hello there, [CODENAMES_1] says hi. The ");
    assert!(s.push("more").text.is_empty());
    assert!(s.finish().text.is_empty());
}

#[test]
fn stream_holds_back_only_the_pending_word() {
    let g = guard(KEYWORDS);
    let mut s = g.output_stream(None);
    let c = s.push("Nothing to see here, just plain words and more words ");
    // Everything but the last (incomplete) character can go: no keyword starts in "words ".
    assert!(c.text.len() >= 50, "released only {:?}", c.text);
    let c = s.push("and a red");
    assert!(c.text.ends_with("and a "), "{:?}", c.text);
    assert_eq!(s.held_bytes(), 3);
}

#[test]
fn shadow_findings_do_not_change_the_verdict() {
    let g = guard(
        r#"
version: "1"
name: sh
input:
  - {id: trial, type: keywords, action: shadow, words: [refund]}
"#,
    );
    let d = g.check(Direction::Input, "I want a refund");
    assert_eq!(d.verdict, Verdict::Allow);
    assert_eq!(d.findings.len(), 1);
    assert_eq!(d.findings[0].action, Action::Shadow);
    assert_eq!(d.text, "I want a refund");
}

#[test]
fn default_policy_loads_and_compiles() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/default.yaml");
    let policy = Policy::from_file(&path).expect("default policy is valid");
    assert_eq!(policy.name(), "default");
    assert_eq!(policy.hash().len(), 64);
    let g = Guard::new(policy).expect("compiles");
    let d = g.check(Direction::Input, "mail me: a.b@example.org");
    assert_eq!(d.text, "mail me: [EMAIL_1]");
}

#[test]
fn measured_checks_and_streams_report_every_detector() {
    let g = guard(KEYWORDS);
    let text = "a ticket-1234 about bluebird";
    let plain = g.check(Direction::Output, text);
    assert!(plain.costs.is_empty(), "costs only when measured");
    let measured = g.check_measured(Direction::Output, text, None);
    assert_eq!(
        measured.findings, plain.findings,
        "measuring changes nothing"
    );
    let rules: Vec<(&str, &str)> = measured
        .costs
        .iter()
        .map(|c| (&*c.rule_id, &*c.detector))
        .collect();
    assert_eq!(
        rules,
        [
            ("ban", "keywords"),
            ("secret-word", "keywords"),
            ("note", "regex")
        ]
    );
    assert!(measured.costs.iter().all(|c| c.failures == 0));

    let mut stream = g.output_stream(None).measured();
    for piece in text.split_inclusive(' ') {
        stream.push(piece);
    }
    stream.finish();
    assert_eq!(stream.costs().len(), 3);
    assert!(g.output_stream(None).costs().is_empty());
}

#[test]
fn finding_kinds_cover_every_enabled_rule() {
    let g = guard(KEYWORDS);
    let kinds: Vec<String> = g.finding_kinds().iter().map(|k| k.to_string()).collect();
    assert!(kinds.contains(&"regex.note".to_owned()), "{kinds:?}");
    assert!(kinds.iter().any(|k| k.starts_with("keyword.")), "{kinds:?}");
    let mut sorted = kinds.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(kinds, sorted);
}

#[test]
fn fuzz_policy_compiles() {
    // The cargo-fuzz targets (fuzz/, nightly) all check against this policy.
    let yaml = include_str!("../../fuzz/every-detector.yaml");
    let g = guard(yaml);
    assert!(g.has_rules(Direction::Input) && g.has_rules(Direction::Output));
}
