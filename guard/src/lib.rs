//! Palisade's guard: policies, detectors and the streaming scanner.
//!
//! * [`Policy`] loads and validates a policy YAML file (rules for `input` and `output`).
//! * [`Guard`] compiles it; [`Guard::check`] scans a whole text, [`Guard::output_stream`] guards a
//!   token stream and releases text as soon as no rule can still match across the boundary.
//! * Findings use one taxonomy (`pii.email`, `secret.github_token`, `injection.jailbreak`,
//!   `keyword.<list>`, `regex.<rule id>`, `toxicity.<label>`, `length`).
//!
//! ```
//! use palisade_guard::{Direction, Guard, Policy, Verdict};
//!
//! let policy = Policy::from_yaml_str(r#"
//! version: "1"
//! name: example
//! input:
//!   - id: pii
//!     type: pii
//!     action: redact
//!     restore: true
//! output:
//!   - id: no-competitors
//!     type: keywords
//!     action: block
//!     words: [acme corp]
//!     message: "I can't talk about that."
//! "#, "example.yaml").unwrap();
//! let guard = Guard::new(policy).unwrap();
//!
//! let input = guard.check(Direction::Input, "Mail me at jane@example.com");
//! assert_eq!(input.verdict, Verdict::Redact);
//! assert_eq!(input.text, "Mail me at [EMAIL_1]");
//!
//! let mut stream = guard.output_stream(Some(&input.vault));
//! let mut out = String::new();
//! for token in ["Sure, I'll write to ", "[EMA", "IL_1] today."] {
//!     out += &stream.push(token).text;
//! }
//! out += &stream.finish().text;
//! assert_eq!(out, "Sure, I'll write to jane@example.com today.");
//! ```
#![forbid(unsafe_code)]

mod char_facts;
pub mod detector;
mod engine;
mod homoglyph;
pub mod normalize;
pub mod policy;
pub mod scan;
mod stream;
mod tally;
pub mod testing;
#[cfg(feature = "onnx")]
pub mod toxicity;
mod types;
mod vault;

pub use engine::length::approx_tokens;
pub use engine::{Guard, GuardBuildError, GuardBuilder};
pub use policy::{Policy, PolicyError, Rule};
pub use stream::{OutputStream, StreamChunk};
pub use types::{Action, BlockInfo, Decision, DetectorCost, Direction, Finding, Severity, Verdict};
pub use vault::{RedactionVault, VaultEntry};

/// Texts of up to `max_pieces` of `pieces` in any order and number (the property tests'
/// haystacks: the pieces are what makes each test's code paths meet).
#[cfg(test)]
pub(crate) fn text_of(
    pieces: &[&'static str],
    max_pieces: usize,
) -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::strategy::Strategy;
    proptest::collection::vec(proptest::sample::select(pieces.to_vec()), 0..max_pieces)
        .prop_map(|pieces| pieces.concat())
}
