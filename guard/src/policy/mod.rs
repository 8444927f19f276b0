//! The validated policy model: loading, composition (`include:`), validation and hashing.

mod convert;
mod error;
pub mod wire;

use std::path::Path;
use std::sync::Arc;

use serde::Serialize;
use sha2::{Digest, Sha256};

pub use convert::yaml_error_parts;
pub use error::PolicyError;
pub use wire::{DetectorType, InjectionCheck, LengthUnit, PiiEntity, SecretKind, ValidatorKind};
pub use wire::{InputBlockResponse, OnError, StreamMode, ToxicityLabels};

use crate::types::{Action, Direction, Severity, Verdict};

/// Where something was written: file, 1-based line and column (0 when unknown).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SourceLocation {
    /// The policy file (or origin name) it came from.
    pub file: Arc<str>,
    /// 1-based line, 0 if unknown.
    pub line: u64,
    /// 1-based column, 0 if unknown.
    pub column: u64,
}

/// A validated policy: every rule's options are checked and its patterns compile.
#[derive(Debug, Clone)]
pub struct Policy {
    name: String,
    version: String,
    description: Option<String>,
    input_block: Option<InputBlockResponse>,
    hash: String,
    input: Vec<Rule>,
    output: Vec<Rule>,
    tests: Vec<TestCase>,
    origin: String,
}

/// One validated rule.
#[derive(Debug, Clone, Serialize)]
pub struct Rule {
    /// Stable id.
    pub id: Arc<str>,
    /// The side it applies to.
    pub direction: Direction,
    /// What happens on a match.
    pub action: Action,
    /// Severity recorded with findings.
    pub severity: Severity,
    /// Minimum score for a match to count.
    pub threshold: f32,
    /// Whether the rule runs.
    pub enabled: bool,
    /// Block message.
    pub message: Option<String>,
    /// Whether redacted originals may be restored in the output.
    pub restore: bool,
    /// Placeholder label override.
    pub placeholder: Option<String>,
    /// The detector and its options.
    pub detector: DetectorSpec,
    /// Where the rule was written.
    #[serde(skip)]
    pub location: SourceLocation,
}

impl Rule {
    /// The text returned to the caller when this rule blocks.
    pub fn block_message(&self) -> String {
        self.message
            .clone()
            .unwrap_or_else(|| format!("Request blocked by policy rule `{}`.", self.id))
    }
}

/// A detector and its validated options.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DetectorSpec {
    /// Keyword list.
    Keywords {
        /// The list name (finding kind `keyword.<list>`).
        list: String,
        /// All keywords, inline ones first, then those read from the file.
        words: Vec<String>,
        /// Whole-word matching.
        whole_word: bool,
        /// Case-sensitive matching.
        case_sensitive: bool,
    },
    /// Regular expressions.
    Regex {
        /// The patterns.
        patterns: Vec<String>,
        /// Case-sensitive matching.
        case_sensitive: bool,
    },
    /// Personal data.
    Pii {
        /// Built-in entities.
        entities: Vec<PiiEntity>,
        /// User-defined entities.
        custom: Vec<CustomPii>,
    },
    /// Credentials.
    Secrets {
        /// Formats to detect.
        kinds: Vec<SecretKind>,
        /// Entropy threshold for generic assignments.
        min_entropy: f32,
    },
    /// Prompt injection.
    Injection {
        /// Heuristics to run.
        checks: Vec<InjectionCheck>,
    },
    /// Length limit.
    Length {
        /// The maximum.
        max: u64,
        /// What is counted.
        unit: LengthUnit,
    },
    /// The answer's hallucination risk, scored by the host on the final answer (no text
    /// scanner); the rule's `threshold` is the risk at which it acts.
    Hallucination,
    /// A detector implemented outside this crate and registered with the guard builder.
    External {
        /// The rule's `type:` (e.g. `toxicity`).
        type_name: String,
        /// Labels to act on (empty: all).
        labels: Vec<String>,
        /// Per-label thresholds, when `labels:` was a map (then `labels` holds its keys).
        thresholds: Vec<(String, f32)>,
        /// The model to use (`model:`), if named.
        model: Option<String>,
        /// What a run-time failure does.
        on_error: OnError,
        /// Streaming mode for output rules.
        stream: StreamMode,
        /// Extra checkpoint every this many words (0: sentence ends only).
        every_words: u32,
    },
}

impl DetectorSpec {
    /// The rule type as written in policy files.
    pub fn type_name(&self) -> &str {
        match self {
            DetectorSpec::Keywords { .. } => "keywords",
            DetectorSpec::Regex { .. } => "regex",
            DetectorSpec::Pii { .. } => "pii",
            DetectorSpec::Secrets { .. } => "secrets",
            DetectorSpec::Injection { .. } => "injection",
            DetectorSpec::Length { .. } => "length",
            DetectorSpec::Hallucination => "hallucination",
            DetectorSpec::External { type_name, .. } => type_name,
        }
    }
}

/// A user-defined PII entity.
#[derive(Debug, Clone, Serialize)]
pub struct CustomPii {
    /// Entity name (kind `pii.<name>`).
    pub name: String,
    /// Bounded pattern.
    pub pattern: String,
    /// Checksum to pass.
    pub validator: ValidatorKind,
}

/// An inline test case of a policy file.
#[derive(Debug, Clone)]
pub struct TestCase {
    /// Name for reports (defaults to `tests[N]`).
    pub name: String,
    /// Text to check.
    pub text: String,
    /// Side to check it on.
    pub direction: Direction,
    /// Expected verdict.
    pub verdict: Verdict,
    /// Expected set of finding kinds, if given.
    pub kinds: Option<Vec<String>>,
    /// Where the test case was written.
    pub location: SourceLocation,
}

/// The validated parts of a policy file, its includes composed.
pub(crate) struct Parts {
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) description: Option<String>,
    pub(crate) input_block: Option<InputBlockResponse>,
    pub(crate) input: Vec<Rule>,
    pub(crate) output: Vec<Rule>,
    pub(crate) tests: Vec<TestCase>,
}

#[derive(Serialize)]
struct Canonical<'a> {
    name: &'a str,
    version: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    input_block: Option<InputBlockResponse>,
    input: &'a [Rule],
    output: &'a [Rule],
}

impl Policy {
    /// Loads and validates a policy file, following its `include:`s.
    pub fn from_file(path: &Path) -> Result<Policy, PolicyError> {
        convert::load_file(path)
    }

    /// Parses and validates a policy from YAML text. `origin` names it in errors; when it is a
    /// path, `include:` and keyword `file:` entries are resolved relative to its directory.
    pub fn from_yaml_str(src: &str, origin: &str) -> Result<Policy, PolicyError> {
        convert::load_str(src, origin)
    }

    pub(crate) fn assemble(parts: Parts, origin: String) -> Policy {
        let Parts {
            name,
            version,
            description,
            input_block,
            input,
            output,
            tests,
        } = parts;
        let mut policy = Policy {
            name,
            version,
            description,
            input_block,
            hash: String::new(),
            input,
            output,
            tests,
            origin,
        };
        // Serialising plain data to a string cannot fail; an empty form is hashed if it did.
        let digest = Sha256::digest(policy.canonical_json().as_bytes());
        policy.hash = digest.iter().map(|b| format!("{b:02x}")).collect();
        policy
    }

    /// The policy's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The policy's version string.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// How a server answers a request whose input this policy blocks, when the policy says
    /// (`input_block:`); `None` leaves it to the server's configuration.
    pub fn input_block_response(&self) -> Option<InputBlockResponse> {
        self.input_block
    }

    /// The policy's description, if any.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// Hex SHA-256 of the canonical JSON form of the composed, validated rules (name, version,
    /// input and output rules with every option and every keyword, after includes and keyword
    /// files are resolved). Formatting, comments and tests do not change it.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// The rules of one direction, in order (includes first), enabled or not.
    pub fn rules(&self, direction: Direction) -> &[Rule] {
        match direction {
            Direction::Input => &self.input,
            Direction::Output => &self.output,
        }
    }

    /// The enabled `hallucination` rules (output only), in policy order.
    pub fn hallucination_rules(&self) -> impl Iterator<Item = &Rule> {
        self.output
            .iter()
            .filter(|r| r.enabled && matches!(r.detector, DetectorSpec::Hallucination))
    }

    /// The inline test cases of the top-level file.
    pub fn tests(&self) -> &[TestCase] {
        &self.tests
    }

    /// The file (or origin name) the policy was loaded from.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The canonical JSON form that [`Policy::hash`] digests.
    pub fn canonical_json(&self) -> String {
        serde_json::to_string(&Canonical {
            name: &self.name,
            version: &self.version,
            input_block: self.input_block,
            input: &self.input,
            output: &self.output,
        })
        .unwrap_or_default()
    }
}

/// The JSON Schema of policy files, generated from the wire types.
pub fn json_schema() -> serde_json::Value {
    let schema = schemars::schema_for!(wire::PolicyWire);
    serde_json::to_value(&schema).unwrap_or(serde_json::Value::Null)
}
