//! Policy rules -> detectors.

use std::sync::Arc;

use super::GuardBuildError;
use crate::detector::keywords::KeywordsDetector;
use crate::detector::regex_rule::RegexDetector;
use crate::detector::{Detector, Registry, injection, pii, secrets};
use crate::policy::{DetectorSpec, LengthUnit, Policy, Rule};
use crate::types::Direction;

/// One detector of one rule.
pub(crate) struct Scanner {
    pub(crate) rule: usize,
    pub(crate) detector: Box<dyn Detector>,
    /// Placeholder label per kind of the detector.
    pub(crate) labels: Vec<Arc<str>>,
}

/// A `length` rule.
pub(crate) struct LengthRule {
    pub(crate) rule: usize,
    pub(crate) max: u64,
    pub(crate) unit: LengthUnit,
}

/// The compiled enabled rules of one direction.
pub(crate) struct Side {
    pub(crate) rules: Vec<Rule>,
    pub(crate) scanners: Vec<Scanner>,
    pub(crate) lengths: Vec<LengthRule>,
    /// Kind reported by length rules.
    pub(crate) length_kind: Arc<str>,
}

/// The placeholder label for a finding kind: its last segment, upper-cased.
pub(crate) fn label_for(kind: &str) -> String {
    let last = kind.rsplit('.').next().unwrap_or(kind);
    let mut label: String = last
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    if !label.starts_with(|c: char| c.is_ascii_uppercase()) {
        label.insert(0, 'X');
    }
    label
}

impl Side {
    pub(crate) fn is_empty(&self) -> bool {
        self.scanners.is_empty() && self.lengths.is_empty()
    }

    pub(crate) fn compile(
        policy: &Policy,
        direction: Direction,
        registry: &Registry,
    ) -> Result<Side, GuardBuildError> {
        let mut side = Side {
            rules: Vec::new(),
            scanners: Vec::new(),
            lengths: Vec::new(),
            length_kind: Arc::from("length"),
        };
        for rule in policy.rules(direction).iter().filter(|r| r.enabled) {
            let index = side.rules.len();
            let err = |message: String| GuardBuildError::Detector {
                rule_id: rule.id.to_string(),
                message,
            };
            let bounded = direction == Direction::Output;
            let detectors: Vec<Box<dyn Detector>> = match &rule.detector {
                DetectorSpec::Keywords {
                    list,
                    words,
                    whole_word,
                    case_sensitive,
                } => vec![Box::new(
                    KeywordsDetector::new(
                        &format!("keyword.{list}"),
                        words,
                        *whole_word,
                        *case_sensitive,
                    )
                    .map_err(err)?,
                )],
                DetectorSpec::Regex {
                    patterns,
                    case_sensitive,
                } => vec![Box::new(
                    RegexDetector::new(
                        &format!("regex.{}", rule.id),
                        patterns,
                        *case_sensitive,
                        bounded,
                    )
                    .map_err(|e| err(format!("pattern {}: {}", e.index + 1, e.message)))?,
                )],
                DetectorSpec::Pii { entities, custom } => {
                    pii::build(entities, custom).map_err(err)?
                }
                DetectorSpec::Secrets { kinds, min_entropy } => {
                    secrets::build(kinds, *min_entropy).map_err(err)?
                }
                DetectorSpec::Injection { checks } => injection::build(checks).map_err(err)?,
                DetectorSpec::Length { max, unit } => {
                    side.lengths.push(LengthRule {
                        rule: index,
                        max: *max,
                        unit: *unit,
                    });
                    Vec::new()
                }
                // Scored by the host on the final answer, not by a text scanner.
                DetectorSpec::Hallucination => Vec::new(),
                DetectorSpec::External { type_name, .. } => {
                    let factory = registry.get(type_name).ok_or_else(|| {
                        GuardBuildError::MissingDetector {
                            rule_id: rule.id.to_string(),
                            type_name: type_name.clone(),
                        }
                    })?;
                    factory.build(rule).map_err(err)?
                }
            };
            for detector in detectors {
                if direction == Direction::Output {
                    detector.prepare_to_stream();
                }
                let labels = detector
                    .kinds()
                    .iter()
                    .map(|k| Arc::from(rule.placeholder.clone().unwrap_or_else(|| label_for(k))))
                    .collect();
                side.scanners.push(Scanner {
                    rule: index,
                    detector,
                    labels,
                });
            }
            side.rules.push(rule.clone());
        }
        Ok(side)
    }
}

#[cfg(test)]
mod tests {
    use super::label_for;

    #[test]
    fn labels_from_kinds() {
        assert_eq!(label_for("pii.email"), "EMAIL");
        assert_eq!(label_for("pii.us_ssn"), "US_SSN");
        assert_eq!(label_for("regex.internal-code"), "INTERNAL_CODE");
        assert_eq!(label_for("keyword.3d"), "X3D");
    }
}
