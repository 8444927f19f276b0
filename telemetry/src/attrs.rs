//! The closed set of attribute keys telemetry may attach to a metric or span.
//!
//! Every key has a bounded value set: constants, the configured app id and
//! device class, or identifiers registered from the loaded policy and model.
//! Nothing derived from prompt or response text, no user or device
//! identifier and no score is ever an attribute value.

/// An attribute key from the allowlist. The exported name is [`AttrKey::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AttrKey {
    /// `gen_ai.operation.name`: always `chat`.
    OperationName,
    /// `gen_ai.provider.name`: from configuration (default `palisade`).
    ProviderName,
    /// `gen_ai.request.model`: a registered model name, else `_other`.
    RequestModel,
    /// `gen_ai.token.type`: `input` or `output`.
    TokenType,
    /// `error.type`: `inference_error` when inference failed.
    ErrorType,
    /// `palisade.policy.name`: the registered policy's name.
    PolicyName,
    /// `palisade.policy.hash`: a registered policy hash, else `_other`.
    PolicyHash,
    /// `palisade.guard.direction`: `input` or `output`.
    Direction,
    /// `palisade.rule.id`: a rule id of a registered policy, else `_other`.
    RuleId,
    /// `palisade.finding.kind`: a registered finding kind, else `_other`.
    FindingKind,
    /// `palisade.guard.action`: `block`, `redact`, `warn` or `shadow`.
    Action,
    /// `palisade.guard.detector`: a registered detector name, else `_other`.
    Detector,
    /// `palisade.device.class`: from configuration.
    DeviceClass,
    /// `palisade.app.id`: from configuration.
    AppId,
}

impl AttrKey {
    /// Every key, in table order.
    pub const ALL: [AttrKey; 14] = [
        AttrKey::OperationName,
        AttrKey::ProviderName,
        AttrKey::RequestModel,
        AttrKey::TokenType,
        AttrKey::ErrorType,
        AttrKey::PolicyName,
        AttrKey::PolicyHash,
        AttrKey::Direction,
        AttrKey::RuleId,
        AttrKey::FindingKind,
        AttrKey::Action,
        AttrKey::Detector,
        AttrKey::DeviceClass,
        AttrKey::AppId,
    ];

    /// The exported attribute name.
    pub const fn name(self) -> &'static str {
        match self {
            AttrKey::OperationName => "gen_ai.operation.name",
            AttrKey::ProviderName => "gen_ai.provider.name",
            AttrKey::RequestModel => "gen_ai.request.model",
            AttrKey::TokenType => "gen_ai.token.type",
            AttrKey::ErrorType => "error.type",
            AttrKey::PolicyName => "palisade.policy.name",
            AttrKey::PolicyHash => "palisade.policy.hash",
            AttrKey::Direction => "palisade.guard.direction",
            AttrKey::RuleId => "palisade.rule.id",
            AttrKey::FindingKind => "palisade.finding.kind",
            AttrKey::Action => "palisade.guard.action",
            AttrKey::Detector => "palisade.guard.detector",
            AttrKey::DeviceClass => "palisade.device.class",
            AttrKey::AppId => "palisade.app.id",
        }
    }

    /// Where the key's values come from, for the generated documentation.
    pub const fn values(self) -> &'static str {
        match self {
            AttrKey::OperationName => "`chat`",
            AttrKey::ProviderName => {
                "configuration (`attributes.provider_name`, default `palisade`)"
            }
            AttrKey::RequestModel => "registered model names, else `_other`",
            AttrKey::TokenType => "`input`, `output`",
            AttrKey::ErrorType => "`inference_error` (only when inference failed)",
            AttrKey::PolicyName => "registered policy names",
            AttrKey::PolicyHash => "registered policy hashes, else `_other`",
            AttrKey::Direction => "`input`, `output`",
            AttrKey::RuleId => "rule ids of registered policies, else `_other`",
            AttrKey::FindingKind => "registered finding kinds, else `_other`",
            AttrKey::Action => "`block`, `redact`, `warn`, `shadow`",
            AttrKey::Detector => {
                "registered detector names, `_all` (the whole guard, no direction), else `_other`"
            }
            AttrKey::DeviceClass => "configuration (`attributes.device_class`)",
            AttrKey::AppId => "configuration (`attributes.app_id`)",
        }
    }

    /// The key whose exported name is `name`, if it is on the allowlist.
    pub fn from_name(name: &str) -> Option<AttrKey> {
        AttrKey::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// The value exported in place of an identifier that was not registered.
pub const OTHER: &str = "_other";

/// Why a configured or registered attribute value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{what} `{shown}` is not a valid attribute value: use 1 to {max} characters from {allowed}"
)]
pub struct InvalidValue {
    /// What was being set, e.g. `app id`.
    pub what: &'static str,
    /// The value, truncated to 64 characters.
    pub shown: String,
    /// The maximum length.
    pub max: usize,
    /// The characters allowed.
    pub allowed: &'static str,
}

/// The longest identifier accepted as an attribute value.
pub const MAX_VALUE_LEN: usize = 128;

/// Checks that `value` is a short identifier: not free text.
pub fn check_value(what: &'static str, value: &str) -> Result<(), InvalidValue> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "._-:/+@".contains(c);
    if !value.is_empty() && value.len() <= MAX_VALUE_LEN && value.chars().all(ok_char) {
        Ok(())
    } else {
        Err(InvalidValue {
            what,
            shown: value.chars().take(64).collect(),
            max: MAX_VALUE_LEN,
            allowed: "A-Z a-z 0-9 . _ - : / + @",
        })
    }
}

/// Checks a model name: like [`check_value`], but single inner spaces and
/// parentheses are allowed (GGUF names such as `Smollm2 135M 8k Lc100K Mix1
/// Ep2`), and `@` is not.
pub fn check_model_name(value: &str) -> Result<(), InvalidValue> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "._-:/+() ".contains(c);
    let spaced_ok = !value.starts_with(' ') && !value.ends_with(' ') && !value.contains("  ");
    if !value.is_empty() && value.len() <= MAX_VALUE_LEN && spaced_ok && value.chars().all(ok_char)
    {
        Ok(())
    } else {
        Err(InvalidValue {
            what: "model name",
            shown: value.chars().take(64).collect(),
            max: MAX_VALUE_LEN,
            allowed: "A-Z a-z 0-9 . _ - : / + ( ) and single inner spaces",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_round_trip() {
        for key in AttrKey::ALL {
            assert_eq!(AttrKey::from_name(key.name()), Some(key));
        }
        let mut names: Vec<_> = AttrKey::ALL.iter().map(|k| k.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), AttrKey::ALL.len());
        assert_eq!(AttrKey::from_name("user.id"), None);
    }

    #[test]
    fn values_must_be_identifiers() {
        assert!(check_value("app id", "com.example.notes-2").is_ok());
        assert!(check_value("app id", "").is_err());
        assert!(check_value("app id", "two words").is_err());
        assert!(check_value("app id", "a\nb").is_err());
        assert!(check_value("app id", &"x".repeat(129)).is_err());
        let err = check_value("model", "héllo").expect_err("non-ascii");
        assert!(err.to_string().contains("model `héllo`"));
        assert!(check_model_name("Smollm2 135M 8k Lc100K Mix1 Ep2").is_ok());
        assert!(check_model_name("Llama (3.2) 1B").is_ok());
        for bad in [
            " lead",
            "trail ",
            "two  spaces",
            "a@b",
            "new\nline",
            "",
            "x,y",
        ] {
            assert!(check_model_name(bad).is_err(), "{bad:?}");
        }
    }
}
