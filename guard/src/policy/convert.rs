//! Wire types -> validated [`Policy`]: includes, per-type option checks, pattern compilation.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_saphyr::Spanned;

use super::wire::{DetectorType, PolicyWire, RuleWire, TestCaseWire, ToxicityLabels};
use super::{CustomPii, DetectorSpec, Policy, PolicyError, Rule, SourceLocation, TestCase};
use super::{InjectionCheck, PiiEntity, SecretKind, ValidatorKind};
use crate::detector::regex_rule::{RegexDetector, check_pattern};
use crate::types::{Action, Direction, Severity};

/// The deepest `include:` chain accepted.
const MAX_INCLUDE_DEPTH: usize = 16;

type Loaded = super::Parts;

pub(super) fn load_file(path: &Path) -> Result<Policy, PolicyError> {
    let mut stack = Vec::new();
    let loaded = load_path(path, &mut stack)?;
    finish(loaded, path.display().to_string())
}

pub(super) fn load_str(src: &str, origin: &str) -> Result<Policy, PolicyError> {
    let mut stack = Vec::new();
    if let Ok(canon) = Path::new(origin).canonicalize() {
        stack.push(canon);
    }
    let base = Path::new(origin).parent().map(Path::to_path_buf);
    let loaded = load_src(src, origin, base.as_deref(), &mut stack)?;
    finish(loaded, origin.to_owned())
}

fn finish(l: Loaded, origin: String) -> Result<Policy, PolicyError> {
    let mut seen: HashMap<Arc<str>, SourceLocation> = HashMap::new();
    for rule in l.input.iter().chain(&l.output) {
        if let Some(first) = seen.get(&rule.id) {
            return Err(invalid(
                &rule.location,
                format!(
                    "duplicate rule id `{}` (first defined at {}:{}:{})",
                    rule.id, first.file, first.line, first.column
                ),
            ));
        }
        seen.insert(rule.id.clone(), rule.location.clone());
    }
    Ok(Policy::assemble(l, origin))
}

fn load_path(path: &Path, stack: &mut Vec<PathBuf>) -> Result<Loaded, PolicyError> {
    let file = path.display().to_string();
    let src = std::fs::read_to_string(path).map_err(|source| PolicyError::Io {
        file: file.clone(),
        source,
    })?;
    let canon = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    stack.push(canon);
    let loaded = load_src(&src, &file, path.parent(), stack);
    stack.pop();
    loaded
}

fn load_src(
    src: &str,
    file: &str,
    base: Option<&Path>,
    stack: &mut Vec<PathBuf>,
) -> Result<Loaded, PolicyError> {
    let wire: PolicyWire = serde_saphyr::from_str(src).map_err(|e| yaml_error(file, &e))?;
    let file_arc: Arc<str> = Arc::from(file);
    let base_dir = base.map_or_else(PathBuf::new, Path::to_path_buf);

    let mut input = Vec::new();
    let mut output = Vec::new();
    let mut input_block = None;
    for inc in &wire.include {
        let loc = location(&file_arc, inc);
        let path = base_dir.join(&inc.value);
        let canon = path.canonicalize().unwrap_or_else(|_| path.clone());
        if stack.contains(&canon) {
            return Err(invalid(
                &loc,
                format!("include cycle: `{}` includes itself", inc.value),
            ));
        }
        if stack.len() >= MAX_INCLUDE_DEPTH {
            return Err(invalid(&loc, "includes are nested too deeply".to_owned()));
        }
        if !path.is_file() {
            return Err(invalid(
                &loc,
                format!("included file `{}` does not exist", path.display()),
            ));
        }
        let sub = load_path(&path, stack)?;
        input_block = sub.input_block.or(input_block);
        input.extend(sub.input);
        output.extend(sub.output);
    }
    for (direction, rules, out) in [
        (Direction::Input, wire.input, &mut input),
        (Direction::Output, wire.output, &mut output),
    ] {
        for rule in rules {
            out.push(convert_rule(rule, direction, &file_arc, &base_dir)?);
        }
    }
    if wire.version.value.trim().is_empty() {
        return Err(invalid(
            &location(&file_arc, &wire.version),
            "`version` must not be empty".to_owned(),
        ));
    }
    if wire.name.value.trim().is_empty() {
        return Err(invalid(
            &location(&file_arc, &wire.name),
            "`name` must not be empty".to_owned(),
        ));
    }
    let tests = wire
        .tests
        .into_iter()
        .enumerate()
        .map(|(i, t)| convert_test(i, t, &file_arc))
        .collect();
    Ok(Loaded {
        name: wire.name.value,
        version: wire.version.value,
        description: wire.description,
        // The including file's choice wins over its includes'.
        input_block: wire.input_block.or(input_block),
        input,
        output,
        tests,
    })
}

fn convert_test(i: usize, t: TestCaseWire, file: &Arc<str>) -> TestCase {
    let location = location(file, &t.text);
    TestCase {
        name: t.name.unwrap_or_else(|| format!("tests[{i}]")),
        text: t.text.value,
        direction: t.direction.unwrap_or(Direction::Input),
        verdict: t.expect.verdict,
        kinds: t.expect.kinds,
        location,
    }
}

/// The 1-based line and column of a YAML error (`(0, 0)` when unknown) and its message without
/// the parser's location suffix, for errors written as `file:line:column: message`.
pub fn yaml_error_parts(e: &serde_saphyr::Error) -> (u64, u64, String) {
    let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
    let mut message = e.without_snippet().to_string();
    if let Some(i) = message.rfind(" at line ") {
        message.truncate(i);
    }
    (line, column, message)
}

fn yaml_error(file: &str, e: &serde_saphyr::Error) -> PolicyError {
    let (line, column, message) = yaml_error_parts(e);
    PolicyError::Invalid {
        file: file.to_owned(),
        line,
        column,
        message,
    }
}

fn location<T>(file: &Arc<str>, s: &Spanned<T>) -> SourceLocation {
    SourceLocation {
        file: file.clone(),
        line: s.referenced.line(),
        column: s.referenced.column(),
    }
}

fn invalid(loc: &SourceLocation, message: String) -> PolicyError {
    PolicyError::Invalid {
        file: loc.file.to_string(),
        line: loc.line,
        column: loc.column,
        message,
    }
}

/// The options each rule type accepts, besides the common ones.
fn allowed_options(t: DetectorType) -> &'static [&'static str] {
    match t {
        DetectorType::Keywords => &["list", "words", "file", "whole_word", "case_sensitive"],
        DetectorType::Regex => &["patterns", "case_sensitive"],
        DetectorType::Pii => &["entities", "custom"],
        DetectorType::Secrets => &["secrets", "min_entropy"],
        DetectorType::Injection => &["checks"],
        DetectorType::Length => &["max", "unit"],
        DetectorType::Toxicity => &["labels", "model", "on_error", "stream", "every_words"],
        DetectorType::Hallucination => &[],
    }
}

fn present_options(w: &RuleWire) -> Vec<&'static str> {
    let flags = [
        ("list", w.list.is_some()),
        ("words", w.words.is_some()),
        ("file", w.file.is_some()),
        ("whole_word", w.whole_word.is_some()),
        ("case_sensitive", w.case_sensitive.is_some()),
        ("patterns", w.patterns.is_some()),
        ("entities", w.entities.is_some()),
        ("custom", w.custom.is_some()),
        ("secrets", w.secrets.is_some()),
        ("min_entropy", w.min_entropy.is_some()),
        ("checks", w.checks.is_some()),
        ("max", w.max.is_some()),
        ("unit", w.unit.is_some()),
        ("labels", w.labels.is_some()),
        ("model", w.model.is_some()),
        ("on_error", w.on_error.is_some()),
        ("stream", w.stream.is_some()),
        ("every_words", w.every_words.is_some()),
    ];
    flags.iter().filter(|f| f.1).map(|f| f.0).collect()
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn convert_rule(
    w: RuleWire,
    direction: Direction,
    file: &Arc<str>,
    base: &Path,
) -> Result<Rule, PolicyError> {
    let loc = location(file, &w.id);
    let id = w.id.value.clone();
    if !valid_id(&id) {
        return Err(invalid(
            &loc,
            format!("rule id `{id}` must be non-empty and use only letters, digits, `-`, `_`, `.`"),
        ));
    }
    let err = |message: String| invalid(&loc, format!("rule `{id}`: {message}"));
    let dtype = w.detector.value;
    let allowed = allowed_options(dtype);
    if let Some(bad) = present_options(&w)
        .into_iter()
        .find(|o| !allowed.contains(o))
    {
        return Err(invalid(
            &location(file, &w.detector),
            format!(
                "rule `{id}`: `{bad}` is not an option of `{}` rules (expected one of: {})",
                dtype.as_str(),
                allowed.join(", ")
            ),
        ));
    }
    let threshold = match &w.threshold {
        Some(t) if !(0.0..=1.0).contains(&t.value) || t.value.is_nan() => {
            return Err(invalid(
                &location(file, t),
                format!("rule `{id}`: `threshold` must be between 0 and 1"),
            ));
        }
        Some(t) => t.value,
        None => 0.0,
    };
    let restore = w.restore.unwrap_or(false);
    if restore && w.action != Action::Redact {
        return Err(err("`restore: true` needs `action: redact`".to_owned()));
    }
    let placeholder = match &w.placeholder {
        Some(_) if w.action != Action::Redact => {
            return Err(err("`placeholder` needs `action: redact`".to_owned()));
        }
        Some(p) => {
            let ok = p
                .value
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_uppercase())
                && p.value
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
            if !ok {
                return Err(invalid(
                    &location(file, p),
                    format!("rule `{id}`: `placeholder` must match ^[A-Z][A-Z0-9_]*$"),
                ));
            }
            Some(p.value.clone())
        }
        None => None,
    };
    let bounded = direction == Direction::Output;
    let detector = match dtype {
        DetectorType::Keywords => keywords_spec(&w, &id, file, base, &err)?,
        DetectorType::Regex => {
            let patterns = w
                .patterns
                .as_ref()
                .filter(|p| !p.is_empty())
                .ok_or_else(|| err("`regex` rules need a non-empty `patterns` list".to_owned()))?;
            let case_sensitive = w.case_sensitive.unwrap_or(false);
            for (i, p) in patterns.iter().enumerate() {
                check_pattern(&p.value, !case_sensitive, bounded).map_err(|m| {
                    invalid(
                        &location(file, p),
                        format!("rule `{id}`: pattern {} is invalid: {m}", i + 1),
                    )
                })?;
            }
            let patterns: Vec<String> = patterns.iter().map(|p| p.value.clone()).collect();
            RegexDetector::new(&format!("regex.{id}"), &patterns, case_sensitive, bounded)
                .map_err(|e| err(format!("pattern {} is invalid: {}", e.index + 1, e.message)))?;
            DetectorSpec::Regex {
                patterns,
                case_sensitive,
            }
        }
        DetectorType::Pii => {
            let entities = w
                .entities
                .clone()
                .unwrap_or_else(|| PiiEntity::ALL.to_vec());
            let mut custom = Vec::new();
            for c in w.custom.iter().flatten() {
                let name_ok = c
                    .name
                    .chars()
                    .next()
                    .is_some_and(|ch| ch.is_ascii_lowercase())
                    && c.name
                        .chars()
                        .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_');
                if !name_ok {
                    return Err(invalid(
                        &location(file, &c.pattern),
                        format!(
                            "rule `{id}`: custom entity name `{}` must match ^[a-z][a-z0-9_]*$",
                            c.name
                        ),
                    ));
                }
                check_pattern(&c.pattern.value, false, true).map_err(|m| {
                    invalid(
                        &location(file, &c.pattern),
                        format!(
                            "rule `{id}`: pattern of custom entity `{}` is invalid: {m}",
                            c.name
                        ),
                    )
                })?;
                custom.push(CustomPii {
                    name: c.name.clone(),
                    pattern: c.pattern.value.clone(),
                    validator: c.validator.unwrap_or(ValidatorKind::None),
                });
            }
            if entities.is_empty() && custom.is_empty() {
                return Err(err(
                    "`pii` rule detects nothing: `entities` is empty and there is no `custom`"
                        .into(),
                ));
            }
            DetectorSpec::Pii { entities, custom }
        }
        DetectorType::Secrets => {
            let kinds = w.secrets.clone().unwrap_or_else(|| SECRET_KINDS.to_vec());
            if kinds.is_empty() {
                return Err(err("`secrets` must not be empty".into()));
            }
            let min_entropy = w.min_entropy.unwrap_or(3.5);
            if !(0.0..=8.0).contains(&min_entropy) {
                return Err(err(
                    "`min_entropy` must be between 0 and 8 bits per character".into(),
                ));
            }
            DetectorSpec::Secrets { kinds, min_entropy }
        }
        DetectorType::Injection => {
            let checks = w
                .checks
                .clone()
                .unwrap_or_else(|| INJECTION_CHECKS.to_vec());
            if checks.is_empty() {
                return Err(err("`checks` must not be empty".into()));
            }
            DetectorSpec::Injection { checks }
        }
        DetectorType::Length => {
            let max = w
                .max
                .filter(|&m| m > 0)
                .ok_or_else(|| err("`length` rules need `max` greater than 0".into()))?;
            if w.action == Action::Redact {
                return Err(err(
                    "`length` rules cannot redact; use block, warn or shadow".into(),
                ));
            }
            DetectorSpec::Length {
                max,
                unit: w.unit.unwrap_or_default(),
            }
        }
        DetectorType::Hallucination => {
            if direction != Direction::Output {
                return Err(err(
                    "`hallucination` rules judge the model's answer: move the rule to `output`"
                        .into(),
                ));
            }
            if w.action == Action::Redact {
                return Err(err(
                    "`hallucination` rules cannot redact; use block, warn or shadow".into(),
                ));
            }
            match &w.threshold {
                Some(t) if t.value > 0.0 => {}
                _ => {
                    return Err(err(
                        "`hallucination` rules need a `threshold` above 0 (the risk, 0 to 1, at                          which the rule acts), e.g. `threshold: 0.8`"
                            .into(),
                    ));
                }
            }
            DetectorSpec::Hallucination
        }
        DetectorType::Toxicity => {
            let (labels, thresholds) = match w.labels.clone() {
                None => (Vec::new(), Vec::new()),
                Some(ToxicityLabels::List(l)) => (l, Vec::new()),
                Some(ToxicityLabels::Thresholds(map)) => {
                    if w.threshold.is_some() {
                        return Err(err(
                            "give either `threshold` or per-label thresholds in `labels`, not both"
                                .into(),
                        ));
                    }
                    if let Some((l, t)) = map.iter().find(|(_, t)| !(0.0..=1.0).contains(*t)) {
                        return Err(err(format!(
                            "the threshold of label `{l}` must be between 0 and 1, got {t}"
                        )));
                    }
                    (map.keys().cloned().collect(), map.into_iter().collect())
                }
            };
            DetectorSpec::External {
                type_name: "toxicity".to_owned(),
                labels,
                thresholds,
                model: w.model.clone(),
                on_error: w.on_error.unwrap_or_default(),
                stream: w.stream.unwrap_or_default(),
                every_words: w.every_words.unwrap_or(0),
            }
        }
    };
    Ok(Rule {
        id: Arc::from(id.as_str()),
        direction,
        action: w.action,
        severity: w.severity.unwrap_or(Severity::Medium),
        threshold,
        enabled: w.enabled.unwrap_or(true),
        message: w.message,
        restore,
        placeholder,
        detector,
        location: loc,
    })
}

/// Every secret format, in reporting order.
pub(crate) const SECRET_KINDS: [SecretKind; 10] = [
    SecretKind::AwsAccessKeyId,
    SecretKind::AwsSecretAccessKey,
    SecretKind::GithubToken,
    SecretKind::GitlabToken,
    SecretKind::SlackToken,
    SecretKind::StripeKey,
    SecretKind::OpenaiKey,
    SecretKind::Jwt,
    SecretKind::PrivateKey,
    SecretKind::GenericApiKey,
];

/// Every injection heuristic.
pub(crate) const INJECTION_CHECKS: [InjectionCheck; 5] = [
    InjectionCheck::InstructionOverride,
    InjectionCheck::Jailbreak,
    InjectionCheck::PromptExtraction,
    InjectionCheck::EncodedPayload,
    InjectionCheck::InvisibleChars,
];

fn keywords_spec(
    w: &RuleWire,
    id: &str,
    file: &Arc<str>,
    base: &Path,
    err: &dyn Fn(String) -> PolicyError,
) -> Result<DetectorSpec, PolicyError> {
    let mut words: Vec<String> = w.words.clone().unwrap_or_default();
    if let Some(f) = &w.file {
        let path = base.join(&f.value);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            invalid(
                &location(file, f),
                format!(
                    "rule `{id}`: cannot read keyword file `{}`: {e}",
                    path.display()
                ),
            )
        })?;
        words.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned),
        );
    }
    if words.iter().all(|w| w.trim().is_empty()) {
        return Err(err(
            "`keywords` rules need `words` or a `file` with at least one keyword".into(),
        ));
    }
    let list = w.list.clone().unwrap_or_else(|| id.to_owned());
    if !valid_id(&list) {
        return Err(err(format!(
            "list name `{list}` must use only letters, digits, `-`, `_`, `.`"
        )));
    }
    Ok(DetectorSpec::Keywords {
        list,
        words,
        whole_word: w.whole_word.unwrap_or(true),
        case_sensitive: w.case_sensitive.unwrap_or(false),
    })
}
