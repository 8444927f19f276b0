//! The simulated devices' traffic: who each device is (device class, model,
//! policy version, privacy mode) and the request records it produces.
//! Records are drawn from a seeded generator, so a seed fixes the truth.

use std::time::Duration;

use rand::Rng;

use crate::allowlist::PolicyInfo;
use crate::record::{DetectorReport, Direction, Outcome, RequestRecord, RuleAction, RuleHit};

/// Device classes, cycled through the fleet; phones run `dp` mode.
pub const DEVICE_CLASSES: [&str; 3] = ["laptop", "desktop", "phone"];
/// The device class whose devices use local differential privacy.
pub const DP_CLASS: &str = "phone";
/// Models, alternated per three devices.
pub const MODELS: [&str; 2] = ["SmolLM2-135M-Instruct", "Qwen2.5-0.5B-Instruct"];
/// The app id every simulated device reports.
pub const APP_ID: &str = "com.example.notes";

const RULES: [(&str, &str, &str); 4] = [
    ("no-secrets", "secret.aws_access_key_id", "secrets"),
    ("no-email", "pii.email", "pii"),
    ("toxicity", "toxicity", "classifier"),
    ("profanity-warn", "toxicity.profanity", "keywords"),
];

/// The policy versions of the fleet: `v1` is the old one that devices not
/// yet updated still run, `v2` refuses more.
pub fn policies() -> [PolicyInfo; 2] {
    let policy = |hash: &str| PolicyInfo {
        name: "default".to_owned(),
        hash: hash.to_owned(),
        rule_ids: RULES.iter().map(|r| r.0.to_owned()).collect(),
        finding_kinds: RULES.iter().map(|r| r.1.to_owned()).collect(),
        detectors: RULES.iter().map(|r| r.2.to_owned()).collect(),
    };
    [policy("9f2c41d0a7e3"), policy("b41e07c2d9aa")]
}

/// Who device `index` is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Profile {
    /// `palisade.device.class`.
    pub device_class: &'static str,
    /// The model it runs.
    pub model: &'static str,
    /// Index into [`policies`]: every seventh device still runs `v1`.
    pub policy: usize,
    /// Typical time to first token (seconds).
    pub ttft_s: f64,
    /// Typical time per output token (seconds).
    pub tpot_s: f64,
    /// Probability that a request is refused.
    pub refusal_probability: f64,
}

impl Profile {
    /// The profile of device `index`.
    pub fn of(index: usize) -> Self {
        let device_class = DEVICE_CLASSES[index % DEVICE_CLASSES.len()];
        let model_index = (index / DEVICE_CLASSES.len()) % MODELS.len();
        let policy = if index.is_multiple_of(7) { 0 } else { 1 };
        let speed = match device_class {
            "desktop" => 0.5,
            "phone" => 2.5,
            _ => 1.0,
        } * if model_index == 1 { 2.0 } else { 1.0 };
        Self {
            device_class,
            model: MODELS[model_index],
            policy,
            ttft_s: 0.12 * speed,
            tpot_s: 0.02 * speed,
            refusal_probability: if policy == 0 { 0.08 } else { 0.2 },
        }
    }

    /// Whether the device runs in `dp` mode.
    pub fn dp(&self) -> bool {
        self.device_class == DP_CLASS
    }
}

fn hit(direction: Direction, rule: usize, action: RuleAction) -> RuleHit {
    RuleHit {
        direction,
        rule_id: RULES[rule].0.to_owned(),
        kind: RULES[rule].1.to_owned(),
        action,
    }
}

fn detector(direction: Direction, rule: usize, micros: u64, errors: u32) -> DetectorReport {
    DetectorReport {
        direction,
        detector: RULES[rule].2.to_owned(),
        elapsed: Duration::from_micros(micros),
        errors,
    }
}

/// A factor between 0.6 and 1.6.
fn jitter(rng: &mut impl Rng) -> f64 {
    0.6 + rng.random::<f64>()
}

/// One request of a device with `profile`, drawn from `rng`.
pub fn request(profile: &Profile, policy_hash: &str, rng: &mut impl Rng) -> RequestRecord {
    let refused = rng.random_bool(profile.refusal_probability);
    let outcome = if refused {
        if rng.random_bool(0.7) {
            Outcome::BlockedInput
        } else {
            Outcome::BlockedOutput
        }
    } else {
        match rng.random_range(0..100) {
            0..3 => Outcome::Error,
            3..13 => Outcome::Length,
            _ => Outcome::Completed,
        }
    };
    let model_ran = outcome != Outcome::BlockedInput;
    let ttft = Duration::from_secs_f64(profile.ttft_s * jitter(rng));
    let completion_tokens: u64 = if model_ran {
        rng.random_range(2..256)
    } else {
        0
    };
    let decode = Duration::from_secs_f64(
        profile.tpot_s * jitter(rng) * completion_tokens.saturating_sub(1) as f64,
    );
    let guard = Duration::from_micros(rng.random_range(50..800));
    let mut rule_hits = Vec::new();
    match outcome {
        Outcome::BlockedInput => rule_hits.push(hit(Direction::Input, 0, RuleAction::Block)),
        Outcome::BlockedOutput => rule_hits.push(hit(Direction::Output, 2, RuleAction::Block)),
        _ => {
            if rng.random_bool(0.15) {
                rule_hits.push(hit(Direction::Input, 1, RuleAction::Redact));
            }
            if rng.random_bool(0.05) {
                rule_hits.push(hit(Direction::Output, 3, RuleAction::Warn));
            }
            if rng.random_bool(0.05) {
                rule_hits.push(hit(Direction::Output, 2, RuleAction::Shadow));
            }
        }
    }
    let classifier_errors = u32::from(rng.random_bool(0.03));
    let signal = |v: f32| model_ran.then_some(v);
    let mean_entropy = rng.random_range(0.2f32..3.0);
    // Drawn in the order the record's fields used to draw them, so that seeded fleets keep
    // their numbers; the newer signals are derived from them without further draws.
    let prompt_tokens = rng.random_range(16..600);
    let mean_logprob = -rng.random_range(0.05f32..3.0);
    let max_entropy = mean_entropy + rng.random_range(0.0f32..3.0);
    let low_confidence = rng.random_range(0.0f32..0.4);
    let count = |n: u64| model_ran.then(|| u32::try_from(n).unwrap_or(u32::MAX));
    RequestRecord {
        model: profile.model.to_owned(),
        policy_hash: policy_hash.to_owned(),
        outcome,
        prompt_tokens,
        completion_tokens,
        time_to_first_token: model_ran.then_some(ttft),
        decode,
        total: if model_ran {
            ttft + decode + guard
        } else {
            guard
        },
        guard,
        mean_logprob: signal(mean_logprob),
        mean_entropy: signal(mean_entropy),
        rule_hits,
        max_entropy: signal(max_entropy),
        low_confidence_fraction: signal(low_confidence),
        repetition: signal(rng.random_range(0.0f32..0.3)),
        ungrounded_numbers: model_ran.then(|| rng.random_range(0..5)),
        min_logprob: signal(mean_logprob * 4.0 - 0.5),
        longest_low_confidence_run: count(
            (f64::from(low_confidence) * completion_tokens as f64 / 3.0).round() as u64,
        ),
        ungrounded_dates: count(u64::from(completion_tokens.is_multiple_of(3))),
        ungrounded_entities: count(completion_tokens % 4),
        // Derived, not drawn: the simulated fleet runs with the embedder and the sampled mode.
        context_similarity: signal((0.9 - low_confidence).max(0.0)),
        sample_consistency: signal((0.8 - low_confidence / 2.0).max(0.0)),
        hallucination_risk: signal((low_confidence * 2.0 + 0.1).min(1.0)),
        stream_holdback_bytes: model_ran.then(|| rng.random_range(0..200)),
        detectors: vec![
            detector(Direction::Input, 1, rng.random_range(20..120), 0),
            detector(Direction::Input, 0, rng.random_range(10..60), 0),
            detector(
                Direction::Output,
                2,
                rng.random_range(200..900),
                classifier_errors,
            ),
        ],
    }
}
