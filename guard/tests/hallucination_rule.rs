//! `type: hallucination` rules: validated like every rule, exposed to the host, never run as
//! text scanners.

use palisade_guard::policy::DetectorSpec;
use palisade_guard::{Action, Direction, Guard, Policy, PolicyError};

fn policy(rules: &str) -> Result<Policy, PolicyError> {
    Policy::from_yaml_str(&format!("version: '1'\nname: h\n{rules}"), "h.yaml")
}

#[test]
fn an_output_rule_with_a_threshold_is_exposed_to_the_host() {
    let p = policy(
        "output:\n  - id: unsure\n    type: hallucination\n    action: warn\n    threshold: 0.8\n  - id: wild\n    type: hallucination\n    action: block\n    threshold: 0.95\n    message: The answer is not supported by the sources.\n  - id: off\n    type: hallucination\n    action: block\n    threshold: 0.5\n    enabled: false\n",
    )
    .expect("valid");
    let rules: Vec<_> = p.hallucination_rules().collect();
    assert_eq!(rules.len(), 2, "the disabled rule is left out");
    assert_eq!(
        (&*rules[0].id, rules[0].action, rules[0].threshold),
        ("unsure", Action::Warn, 0.8)
    );
    assert_eq!(rules[1].action, Action::Block);
    assert!(matches!(rules[1].detector, DetectorSpec::Hallucination));
    assert_eq!(
        rules[1].block_message(),
        "The answer is not supported by the sources."
    );

    // Not a text scanner: the guard builds and text alone never triggers it.
    let guard = Guard::new(p).expect("builds");
    let decision = guard.check(
        Direction::Output,
        "Paris is the capital of Germany in 1492.",
    );
    assert!(decision.findings.is_empty(), "{:?}", decision.findings);
}

#[test]
fn misplaced_or_incomplete_rules_are_refused_with_position_and_fix() {
    let e = policy(
        "input:\n  - id: h\n    type: hallucination\n    action: warn\n    threshold: 0.8\n",
    )
    .expect_err("input side");
    assert_eq!(e.position(), Some((4, 9)), "{e}");
    assert!(e.to_string().contains("move the rule to `output`"), "{e}");

    let e = policy("output:\n  - id: h\n    type: hallucination\n    action: block\n")
        .expect_err("no threshold");
    assert!(e.to_string().contains("need a `threshold` above 0"), "{e}");

    let e = policy(
        "output:\n  - id: h\n    type: hallucination\n    action: redact\n    threshold: 0.5\n",
    )
    .expect_err("redact");
    assert!(e.to_string().contains("cannot redact"), "{e}");

    let e = policy("output:\n  - id: h\n    type: hallucination\n    action: warn\n    threshold: 0.5\n    words: [x]\n")
        .expect_err("foreign option");
    assert!(
        e.to_string()
            .contains("`words` is not an option of `hallucination` rules"),
        "{e}"
    );
}
