//! Runs a policy's inline test cases (`tests:` in the policy file).

use std::collections::BTreeSet;

use crate::engine::Guard;
use crate::policy::{SourceLocation, TestCase};
use crate::types::{Direction, Verdict};

/// The outcome of one inline test case.
#[derive(Debug, Clone)]
pub struct CaseOutcome {
    /// The case's name.
    pub name: String,
    /// Where the case's `text` was written.
    pub location: SourceLocation,
    /// The side it was checked on.
    pub direction: Direction,
    /// The expected verdict.
    pub expected_verdict: Verdict,
    /// The verdict the guard gave.
    pub actual_verdict: Verdict,
    /// The expected set of kinds, if the case gives one.
    pub expected_kinds: Option<BTreeSet<String>>,
    /// The distinct kinds of every finding (shadow ones included).
    pub actual_kinds: BTreeSet<String>,
    /// The text the guard would pass on.
    pub output_text: String,
}

impl CaseOutcome {
    /// Whether the verdict and (if given) the kinds matched.
    pub fn passed(&self) -> bool {
        self.expected_verdict == self.actual_verdict
            && self
                .expected_kinds
                .as_ref()
                .is_none_or(|k| *k == self.actual_kinds)
    }

    /// A one-line explanation of a failure (empty when it passed).
    pub fn explain(&self) -> String {
        let mut parts = Vec::new();
        if self.expected_verdict != self.actual_verdict {
            parts.push(format!(
                "expected verdict {}, got {}",
                self.expected_verdict, self.actual_verdict
            ));
        }
        if let Some(k) = &self.expected_kinds
            && *k != self.actual_kinds
        {
            parts.push(format!(
                "expected kinds [{}], got [{}]",
                k.iter().cloned().collect::<Vec<_>>().join(", "),
                self.actual_kinds
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        parts.join("; ")
    }
}

/// Runs one case.
pub fn run_case(guard: &Guard, case: &TestCase) -> CaseOutcome {
    let d = guard.check(case.direction, &case.text);
    CaseOutcome {
        name: case.name.clone(),
        location: case.location.clone(),
        direction: case.direction,
        expected_verdict: case.verdict,
        actual_verdict: d.verdict,
        expected_kinds: case.kinds.as_ref().map(|k| k.iter().cloned().collect()),
        actual_kinds: d.findings.iter().map(|f| f.kind.to_string()).collect(),
        output_text: d.text,
    }
}

/// Runs every inline case of the guard's policy, in file order.
pub fn run_inline_tests(guard: &Guard) -> Vec<CaseOutcome> {
    guard
        .policy()
        .tests()
        .iter()
        .map(|c| run_case(guard, c))
        .collect()
}
