//! The policy file format exactly as written in YAML ("wire" types).
//!
//! Every struct rejects unknown keys. These types only describe syntax; `convert.rs` turns
//! them into validated [`super::Policy`] values. The committed JSON Schema
//! (`policies/schema.json`) is generated from them.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::types::{Action, Direction, Severity, Verdict};

/// A policy file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Palisade policy", rename = "Policy")]
pub struct PolicyWire {
    /// Version of this policy's content, reported with every decision (quote it: `"1.2"`).
    #[schemars(with = "String")]
    pub version: Spanned<String>,
    /// Short name of the policy, reported with every decision.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// Free text for humans.
    #[serde(default)]
    pub description: Option<String>,
    /// How an OpenAI-compatible server answers a request whose input is blocked: like OpenAI,
    /// a normal response with `finish_reason: content_filter` (default), or a typed HTTP 400
    /// error. Unset: the server's configuration decides.
    #[serde(default)]
    pub input_block: Option<InputBlockResponse>,
    /// Other policy files (paths relative to this one) whose rules come before this file's rules.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub include: Vec<Spanned<String>>,
    /// Rules applied to text sent to the model, in order.
    #[serde(default)]
    pub input: Vec<RuleWire>,
    /// Rules applied to the model's output (whole or streamed), in order.
    #[serde(default)]
    pub output: Vec<RuleWire>,
    /// Inline test cases run by `palisade policy test`.
    #[serde(default)]
    pub tests: Vec<TestCaseWire>,
}

/// The detector a rule uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DetectorType {
    /// Keyword lists matched with Aho-Corasick.
    Keywords,
    /// Regular expressions (the `regex` crate syntax).
    Regex,
    /// Personal data: e-mail, phone, credit card, IBAN, IP address, US SSN, custom entries.
    Pii,
    /// Credentials and keys.
    Secrets,
    /// Prompt-injection and jailbreak heuristics.
    Injection,
    /// Maximum length in bytes or tokens.
    Length,
    /// A toxicity classifier registered by the host application.
    Toxicity,
    /// Output only: the answer's hallucination risk (0 to 1, computed by the host from the
    /// model's own token probabilities and grounding checks) reaches `threshold`. Evaluated once
    /// on the final answer; `block` holds the answer back until then.
    Hallucination,
}

impl DetectorType {
    /// The name used in policy files.
    pub fn as_str(self) -> &'static str {
        match self {
            DetectorType::Keywords => "keywords",
            DetectorType::Regex => "regex",
            DetectorType::Pii => "pii",
            DetectorType::Secrets => "secrets",
            DetectorType::Injection => "injection",
            DetectorType::Length => "length",
            DetectorType::Toxicity => "toxicity",
            DetectorType::Hallucination => "hallucination",
        }
    }
}

/// One rule. Which detector options are allowed depends on `type`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleWire {
    /// Stable identifier, unique within the composed policy (letters, digits, `-`, `_`, `.`).
    #[schemars(with = "String")]
    pub id: Spanned<String>,
    /// The detector.
    #[serde(rename = "type")]
    #[schemars(with = "DetectorType")]
    pub detector: Spanned<DetectorType>,
    /// What happens on a match.
    pub action: Action,
    /// Severity recorded with findings (default `medium`).
    #[serde(default)]
    pub severity: Option<Severity>,
    /// Minimum detector score, 0 to 1, for a match to count (default 0: every match).
    #[serde(default)]
    #[schemars(with = "Option<f32>", range(min = 0.0, max = 1.0))]
    pub threshold: Option<Spanned<f32>>,
    /// Set to `false` to keep a rule in the file without running it.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Text returned to the caller when this rule blocks.
    #[serde(default)]
    pub message: Option<String>,
    /// `redact` only: put the original back into the model's output for the same caller.
    #[serde(default)]
    pub restore: Option<bool>,
    /// `redact` only: the placeholder label (`[LABEL_1]`); default derived from the finding kind.
    #[serde(default)]
    #[schemars(with = "Option<String>", regex(pattern = "^[A-Z][A-Z0-9_]*$"))]
    pub placeholder: Option<Spanned<String>>,

    /// `keywords`: the list name used in the finding kind `keyword.<list>` (default: the rule id).
    #[serde(default)]
    pub list: Option<String>,
    /// `keywords`: inline keywords or phrases.
    #[serde(default)]
    pub words: Option<Vec<String>>,
    /// `keywords`: a file (relative to the policy file) with one keyword per line; `#` comments.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub file: Option<Spanned<String>>,
    /// `keywords`: match whole words only (default true).
    #[serde(default)]
    pub whole_word: Option<bool>,
    /// `keywords`, `regex`: match case-sensitively (default false).
    #[serde(default)]
    pub case_sensitive: Option<bool>,

    /// `regex`: one or more patterns, compiled into one set.
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    pub patterns: Option<Vec<Spanned<String>>>,

    /// `pii`: which built-in entities to detect (default: all).
    #[serde(default)]
    pub entities: Option<Vec<PiiEntity>>,
    /// `pii`: user-defined entities.
    #[serde(default)]
    pub custom: Option<Vec<CustomPiiWire>>,

    /// `secrets`: which secret formats to detect (default: all).
    #[serde(default)]
    pub secrets: Option<Vec<SecretKind>>,
    /// `secrets`: minimum Shannon entropy (bits per character) of a generic `api_key = ...`
    /// value (default 3.5).
    #[serde(default)]
    pub min_entropy: Option<f32>,

    /// `injection`: which heuristics to run (default: all).
    #[serde(default)]
    pub checks: Option<Vec<InjectionCheck>>,

    /// `length`: the maximum allowed length.
    #[serde(default)]
    pub max: Option<u64>,
    /// `length`: what `max` counts (default `bytes`).
    #[serde(default)]
    pub unit: Option<LengthUnit>,

    /// `toxicity`: the labels to act on, as a list (each at `threshold`, default 0.5) or as a map of
    /// per-label thresholds (`{toxic: 0.8, threat: 0.5}`); default: the model's defaults.
    #[serde(default)]
    pub labels: Option<ToxicityLabels>,
    /// `toxicity`: the classifier (`jigsaw-bilstm`, the default, or `profanity-svm`).
    #[serde(default)]
    pub model: Option<String>,
    /// `toxicity`: what a classifier failure at run time does (default `block`: fail closed).
    #[serde(default)]
    pub on_error: Option<OnError>,
    /// `toxicity`, output rules: hold streamed text until it is scored, or release it at once and
    /// cut the stream on a late verdict (default `hold`).
    #[serde(default)]
    pub stream: Option<StreamMode>,
    /// `toxicity`, output rules: also score after this many words without a sentence end.
    #[serde(default)]
    pub every_words: Option<u32>,
}

/// The `labels:` of a `toxicity` rule.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ToxicityLabels {
    /// Label names, all at the rule's `threshold`.
    List(Vec<String>),
    /// Label name to threshold (0 to 1).
    Thresholds(std::collections::BTreeMap<String, f32>),
}

/// What a `toxicity` rule does when its classifier fails at run time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnError {
    /// Fail closed: report a `toxicity.error` finding, acted on like a match.
    #[default]
    Block,
    /// Fail open: let the text pass unchecked.
    Allow,
}

/// How a blocked input is answered by a server (`input_block:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InputBlockResponse {
    /// A normal completion with `finish_reason: content_filter` and the rule's message.
    ContentFilter,
    /// HTTP 400 with a typed error carrying the rule's message.
    Error,
}

/// How an output `toxicity` rule treats streamed text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamMode {
    /// Hold text until a checkpoint after it has been scored.
    #[default]
    Hold,
    /// Release text at once; cut the stream when a late verdict blocks.
    Release,
}

/// Built-in PII entities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PiiEntity {
    /// E-mail addresses (`pii.email`).
    Email,
    /// Phone numbers in E.164 and common national formats (`pii.phone`).
    Phone,
    /// Payment card numbers passing the Luhn check (`pii.credit_card`).
    CreditCard,
    /// IBANs passing the mod-97 check (`pii.iban`).
    Iban,
    /// IPv4 and IPv6 addresses (`pii.ip_address`).
    IpAddress,
    /// US social security numbers with valid area, group and serial (`pii.us_ssn`).
    UsSsn,
}

impl PiiEntity {
    /// Every built-in entity.
    pub const ALL: [PiiEntity; 6] = [
        PiiEntity::Email,
        PiiEntity::Phone,
        PiiEntity::CreditCard,
        PiiEntity::Iban,
        PiiEntity::IpAddress,
        PiiEntity::UsSsn,
    ];
}

/// A user-defined PII entity: a pattern plus an optional checksum validator.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomPiiWire {
    /// Entity name; findings get the kind `pii.<name>`.
    #[schemars(regex(pattern = "^[a-z][a-z0-9_]*$"))]
    pub name: String,
    /// A bounded regular expression matched case-sensitively on the normalised text.
    #[schemars(with = "String")]
    pub pattern: Spanned<String>,
    /// A checksum the digits of a match must pass (default `none`).
    #[serde(default)]
    pub validator: Option<ValidatorKind>,
}

/// Checksums available to custom PII entities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ValidatorKind {
    /// No check.
    None,
    /// The Luhn (mod 10) check over the digits.
    Luhn,
    /// The ISO 7064 mod 97-10 check used by IBANs (letters count as 10..35).
    Mod97,
    /// The Verhoeff check over the digits (e.g. Aadhaar numbers).
    Verhoeff,
}

/// Built-in secret formats; findings get the kind `secret.<name>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretKind {
    /// `AKIA...` / `ASIA...` access key ids.
    AwsAccessKeyId,
    /// 40-character secret keys next to an `aws_secret_access_key`-like name.
    AwsSecretAccessKey,
    /// `ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_` and `github_pat_` tokens.
    GithubToken,
    /// `glpat-` personal access tokens.
    GitlabToken,
    /// `xoxb-`, `xoxp-`, ... tokens and `hooks.slack.com` webhooks.
    SlackToken,
    /// `sk_live_`, `rk_live_`, ... keys.
    StripeKey,
    /// `sk-...` and `sk-proj-...` keys.
    OpenaiKey,
    /// JSON Web Tokens.
    Jwt,
    /// PEM private key blocks.
    PrivateKey,
    /// `api_key = "..."`-style assignments whose value has high Shannon entropy.
    GenericApiKey,
}

/// Prompt-injection heuristics; findings get the kind `injection.<name>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InjectionCheck {
    /// "Ignore all previous instructions" and similar.
    InstructionOverride,
    /// Role-play jailbreak markers ("DAN", "developer mode", "no restrictions").
    Jailbreak,
    /// Attempts to read the system prompt.
    PromptExtraction,
    /// Base64, hex or rot13 payloads that decode to one of the phrases above.
    EncodedPayload,
    /// Zero-width, bidi-control and tag characters.
    InvisibleChars,
}

/// What a `length` rule counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LengthUnit {
    /// UTF-8 bytes.
    #[default]
    Bytes,
    /// Approximate tokens: each run of letters and digits counts one token per 4 characters,
    /// every other non-space character one token.
    Tokens,
}

/// An inline test case.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TestCaseWire {
    /// Optional name shown in reports.
    #[serde(default)]
    pub name: Option<String>,
    /// The text to check.
    #[schemars(with = "String")]
    pub text: Spanned<String>,
    /// Which side to check it on (default `input`).
    #[serde(default)]
    pub direction: Option<Direction>,
    /// The expected outcome.
    pub expect: ExpectWire,
}

/// The expected outcome of a test case.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectWire {
    /// The expected verdict.
    pub verdict: Verdict,
    /// If given, the exact set of finding kinds expected (order and repeats do not matter).
    #[serde(default)]
    pub kinds: Option<Vec<String>>,
}
