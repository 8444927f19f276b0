//! Registered identifiers: the only values the identifier attributes take.
//!
//! Rule ids, finding kinds and detector names come from the loaded policy,
//! model names from the loaded model. Anything a record carries that was not
//! registered is exported as `_other`, so a buggy caller that put text into an
//! identifier field cannot leak it.

use std::collections::HashMap;
use std::sync::Arc;

use opentelemetry::{StringValue, Value};

use crate::attrs::{InvalidValue, OTHER, check_model_name, check_value};

/// What telemetry needs to know about a loaded policy.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PolicyInfo {
    /// The policy's name.
    pub name: String,
    /// The hex sha256 of its canonical form.
    pub hash: String,
    /// The ids of its rules.
    pub rule_ids: Vec<String>,
    /// The finding kinds its rules can report (e.g. `pii.email`).
    pub finding_kinds: Vec<String>,
    /// The names of its detectors (e.g. `pii`, `keywords`).
    pub detectors: Vec<String>,
}

/// Why an identifier could not be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    /// The value is not a short identifier.
    #[error(transparent)]
    Invalid(#[from] InvalidValue),
    /// Too many distinct values of one kind.
    #[error("too many registered {what}: at most {max}")]
    TooMany {
        /// What overflowed.
        what: &'static str,
        /// The limit.
        max: usize,
    },
}

/// Limits on registered identifiers (they bound each metric's cardinality).
pub const MAX_MODELS: usize = 16;
/// The most registered policies.
pub const MAX_POLICIES: usize = 16;
/// The most registered rule ids.
pub const MAX_RULES: usize = 1024;
/// The most registered finding kinds.
pub const MAX_KINDS: usize = 512;
/// The most registered detector names.
pub const MAX_DETECTORS: usize = 64;

/// One interned table; index 0 is always `_other`.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    what: &'static str,
    max: usize,
    check: fn(&'static str, &str) -> Result<(), InvalidValue>,
    index: HashMap<Arc<str>, u16>,
    values: Vec<Value>,
}

impl Table {
    fn new(what: &'static str, max: usize) -> Self {
        Self::checked(what, max, check_value)
    }

    fn checked(
        what: &'static str,
        max: usize,
        check: fn(&'static str, &str) -> Result<(), InvalidValue>,
    ) -> Self {
        Self {
            what,
            max,
            check,
            index: HashMap::new(),
            values: vec![Value::String(StringValue::from(OTHER))],
        }
    }

    fn insert(&mut self, value: &str) -> Result<u16, RegisterError> {
        if let Some(i) = self.index.get(value) {
            return Ok(*i);
        }
        (self.check)(self.what, value)?;
        if self.index.len() >= self.max {
            return Err(RegisterError::TooMany {
                what: self.what,
                max: self.max,
            });
        }
        let shared: Arc<str> = Arc::from(value);
        let i = u16::try_from(self.values.len()).map_err(|_| RegisterError::TooMany {
            what: self.what,
            max: self.max,
        })?;
        self.values
            .push(Value::String(StringValue::from(shared.clone())));
        self.index.insert(shared, i);
        Ok(i)
    }

    /// The index of `value`, or 0 (`_other`) when not registered.
    #[inline]
    pub(crate) fn lookup(&self, value: &str) -> u16 {
        self.index.get(value).copied().unwrap_or(0)
    }

    /// The attribute value at `i` (`_other` when out of range).
    pub(crate) fn value(&self, i: u16) -> Value {
        self.values
            .get(usize::from(i))
            .unwrap_or(&self.values[0])
            .clone()
    }

    /// Registered values, without `_other`.
    pub(crate) fn registered(&self) -> impl Iterator<Item = (u16, &Value)> {
        self.values
            .iter()
            .enumerate()
            .skip(1)
            .map(|(i, v)| (i as u16, v))
    }

    /// Whether `value` is registered.
    pub(crate) fn contains(&self, value: &str) -> bool {
        self.index.contains_key(value)
    }
}

/// Every registered identifier.
#[derive(Debug, Clone)]
pub(crate) struct Allowlist {
    pub(crate) models: Table,
    pub(crate) policies: Table,
    pub(crate) policy_names: Vec<Value>,
    pub(crate) rules: Table,
    pub(crate) kinds: Table,
    pub(crate) detectors: Table,
}

impl Default for Allowlist {
    fn default() -> Self {
        Self {
            models: Table::checked("model name", MAX_MODELS, |_, v| check_model_name(v)),
            policies: Table::new("policy hash", MAX_POLICIES),
            policy_names: vec![Value::String(StringValue::from(OTHER))],
            rules: Table::new("rule id", MAX_RULES),
            kinds: Table::new("finding kind", MAX_KINDS),
            detectors: Table::new("detector name", MAX_DETECTORS),
        }
    }
}

impl Allowlist {
    /// Registers a model name.
    pub(crate) fn add_model(&mut self, name: &str) -> Result<(), RegisterError> {
        self.models.insert(name).map(|_| ())
    }

    /// Registers a policy with its rules, kinds and detectors. Either all of
    /// it is registered or nothing is.
    pub(crate) fn add_policy(&mut self, policy: &PolicyInfo) -> Result<(), RegisterError> {
        let mut next = self.clone();
        check_value("policy name", &policy.name)?;
        let before = next.policies.values.len();
        let i = next.policies.insert(&policy.hash)?;
        if usize::from(i) == before {
            next.policy_names
                .push(Value::String(StringValue::from(policy.name.clone())));
        }
        for id in &policy.rule_ids {
            next.rules.insert(id)?;
        }
        for kind in &policy.finding_kinds {
            next.kinds.insert(kind)?;
        }
        for detector in &policy.detectors {
            next.detectors.insert(detector)?;
        }
        *self = next;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> PolicyInfo {
        PolicyInfo {
            name: "default".into(),
            hash: "ab12".into(),
            rule_ids: vec!["no-email".into(), "no-keys".into()],
            finding_kinds: vec!["pii.email".into()],
            detectors: vec!["pii".into()],
        }
    }

    #[test]
    fn unregistered_values_map_to_other() {
        let mut a = Allowlist::default();
        a.add_policy(&policy()).expect("valid");
        a.add_model("SmolLM2-135M-Instruct").expect("valid");
        assert_eq!(a.rules.lookup("no-keys"), 2);
        assert_eq!(a.rules.lookup("CANARY secret text"), 0);
        assert_eq!(a.rules.value(0), Value::from(OTHER));
        assert_eq!(a.rules.value(99), Value::from(OTHER));
        assert_eq!(a.models.value(1), Value::from("SmolLM2-135M-Instruct"));
        assert_eq!(a.policy_names[1], Value::from("default"));
        assert!(a.kinds.contains("pii.email"));
    }

    #[test]
    fn registration_is_all_or_nothing_and_bounded() {
        let mut a = Allowlist::default();
        let mut bad = policy();
        bad.rule_ids.push("has space".into());
        assert!(a.add_policy(&bad).is_err());
        assert_eq!(a.rules.lookup("no-email"), 0, "nothing registered");
        assert_eq!(a.policies.registered().count(), 0);
        for i in 0..MAX_MODELS {
            a.add_model(&format!("m{i}")).expect("under the limit");
        }
        assert!(matches!(
            a.add_model("one-more"),
            Err(RegisterError::TooMany { .. })
        ));
        a.add_model("m3").expect("re-registering is free");
    }
}
