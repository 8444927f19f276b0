//! The fixed-size, allocation-free form of a [`RequestRecord`] that crosses
//! from the inference thread to the telemetry worker.

use std::time::Duration;

use crate::allowlist::Allowlist;
use crate::record::{Direction, Outcome, RequestRecord, RuleAction};

/// Distinct rule hits kept per request; further distinct hits are counted
/// under rule `_other` (per direction and action).
pub(crate) const MAX_HITS: usize = 24;
/// Slots reserved for the `_other` hits: 2 directions x 4 actions.
const OTHER_SLOTS: usize = 8;
/// Detector reports kept per request; the rest are dropped.
pub(crate) const MAX_DETECTORS: usize = 16;

/// One distinct rule hit and how often it fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HitSample {
    pub(crate) direction: Direction,
    pub(crate) action: RuleAction,
    pub(crate) rule: u16,
    pub(crate) kind: u16,
    pub(crate) count: u32,
}

/// One detector's time and failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DetectorSample {
    pub(crate) direction: Direction,
    pub(crate) detector: u16,
    pub(crate) elapsed: Duration,
    pub(crate) errors: u32,
}

const EMPTY_HIT: HitSample = HitSample {
    direction: Direction::Input,
    action: RuleAction::Warn,
    rule: 0,
    kind: 0,
    count: 0,
};

const EMPTY_DETECTOR: DetectorSample = DetectorSample {
    direction: Direction::Input,
    detector: 0,
    elapsed: Duration::ZERO,
    errors: 0,
};

/// A request, reduced to numbers and registered-identifier indexes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Sample {
    pub(crate) model: u16,
    pub(crate) policy: u16,
    pub(crate) outcome: Outcome,
    pub(crate) prompt_tokens: u64,
    pub(crate) completion_tokens: u64,
    pub(crate) time_to_first_token: Option<Duration>,
    pub(crate) decode: Duration,
    pub(crate) total: Duration,
    pub(crate) guard: Duration,
    pub(crate) mean_logprob: Option<f32>,
    pub(crate) mean_entropy: Option<f32>,
    pub(crate) max_entropy: Option<f32>,
    pub(crate) low_confidence_fraction: Option<f32>,
    pub(crate) repetition: Option<f32>,
    pub(crate) ungrounded_numbers: Option<u32>,
    pub(crate) min_logprob: Option<f32>,
    pub(crate) longest_low_confidence_run: Option<u32>,
    pub(crate) ungrounded_dates: Option<u32>,
    pub(crate) ungrounded_entities: Option<u32>,
    pub(crate) context_similarity: Option<f32>,
    pub(crate) sample_consistency: Option<f32>,
    pub(crate) hallucination_risk: Option<f32>,
    pub(crate) stream_holdback_bytes: Option<u32>,
    pub(crate) flagged: bool,
    pub(crate) n_hits: u8,
    pub(crate) hits: [HitSample; MAX_HITS],
    pub(crate) n_detectors: u8,
    pub(crate) detectors: [DetectorSample; MAX_DETECTORS],
}

fn finite(v: Option<f32>) -> Option<f32> {
    v.filter(|x| x.is_finite())
}

impl Sample {
    /// Reduces `record`, mapping identifiers through `allow`. Never allocates.
    pub(crate) fn from_record(record: &RequestRecord, allow: &Allowlist) -> Self {
        let mut sample = Sample {
            model: allow.models.lookup(&record.model),
            policy: allow.policies.lookup(&record.policy_hash),
            outcome: record.outcome,
            prompt_tokens: record.prompt_tokens,
            completion_tokens: record.completion_tokens,
            time_to_first_token: record.time_to_first_token,
            decode: record.decode,
            total: record.total,
            guard: record.guard,
            mean_logprob: finite(record.mean_logprob),
            mean_entropy: finite(record.mean_entropy),
            max_entropy: finite(record.max_entropy),
            low_confidence_fraction: finite(record.low_confidence_fraction),
            repetition: finite(record.repetition),
            ungrounded_numbers: record.ungrounded_numbers,
            min_logprob: finite(record.min_logprob),
            longest_low_confidence_run: record.longest_low_confidence_run,
            ungrounded_dates: record.ungrounded_dates,
            ungrounded_entities: record.ungrounded_entities,
            context_similarity: finite(record.context_similarity).map(|r| r.clamp(-1.0, 1.0)),
            sample_consistency: finite(record.sample_consistency).map(|r| r.clamp(-1.0, 1.0)),
            hallucination_risk: finite(record.hallucination_risk).map(|r| r.clamp(0.0, 1.0)),
            stream_holdback_bytes: record.stream_holdback_bytes,
            flagged: !record.rule_hits.is_empty(),
            n_hits: 0,
            hits: [EMPTY_HIT; MAX_HITS],
            n_detectors: 0,
            detectors: [EMPTY_DETECTOR; MAX_DETECTORS],
        };
        for hit in &record.rule_hits {
            let rule = allow.rules.lookup(&hit.rule_id);
            let kind = allow.kinds.lookup(&hit.kind);
            sample.add_hit(hit.direction, hit.action, rule, kind);
        }
        for d in record.detectors.iter().take(MAX_DETECTORS) {
            let i = usize::from(sample.n_detectors);
            sample.detectors[i] = DetectorSample {
                direction: d.direction,
                detector: allow.detectors.lookup(&d.detector),
                elapsed: d.elapsed,
                errors: d.errors,
            };
            sample.n_detectors += 1;
        }
        sample
    }

    fn add_hit(&mut self, direction: Direction, action: RuleAction, rule: u16, kind: u16) {
        let n = usize::from(self.n_hits);
        let same = |h: &HitSample| {
            h.direction == direction && h.action == action && h.rule == rule && h.kind == kind
        };
        if let Some(h) = self.hits[..n].iter_mut().find(|h| same(h)) {
            h.count = h.count.saturating_add(1);
            return;
        }
        let specific = self.hits[..n]
            .iter()
            .filter(|h| h.rule != 0 || h.kind != 0)
            .count();
        let (rule, kind) = if specific >= MAX_HITS - OTHER_SLOTS {
            (0, 0)
        } else {
            (rule, kind)
        };
        if let Some(h) = self.hits[..n].iter_mut().find(|h| {
            h.direction == direction && h.action == action && h.rule == rule && h.kind == kind
        }) {
            h.count = h.count.saturating_add(1);
        } else if n < MAX_HITS {
            self.hits[n] = HitSample {
                direction,
                action,
                rule,
                kind,
                count: 1,
            };
            self.n_hits += 1;
        }
    }

    /// The distinct hits.
    pub(crate) fn hits(&self) -> &[HitSample] {
        &self.hits[..usize::from(self.n_hits)]
    }

    /// The detector reports.
    pub(crate) fn detectors(&self) -> &[DetectorSample] {
        &self.detectors[..usize::from(self.n_detectors)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::allowlist::PolicyInfo;
    use crate::record::{DetectorReport, RuleHit};

    pub(crate) fn record() -> RequestRecord {
        RequestRecord {
            prompt_tokens: 10,
            completion_tokens: 5,
            time_to_first_token: Some(Duration::from_millis(3)),
            decode: Duration::from_millis(7),
            total: Duration::from_millis(12),
            guard: Duration::from_micros(40),
            mean_logprob: Some(-0.5),
            mean_entropy: Some(f32::NAN),
            stream_holdback_bytes: Some(12),
            detectors: vec![DetectorReport {
                direction: Direction::Input,
                detector: "pii".into(),
                elapsed: Duration::from_micros(30),
                errors: 1,
            }],
            ..RequestRecord::new("m", "h", Outcome::Completed)
        }
    }

    fn allow() -> Allowlist {
        let mut a = Allowlist::default();
        a.add_model("m").expect("ok");
        a.add_policy(&PolicyInfo {
            name: "p".into(),
            hash: "h".into(),
            rule_ids: (0..40).map(|i| format!("r{i}")).collect(),
            finding_kinds: vec!["pii.email".into()],
            detectors: vec!["pii".into()],
        })
        .expect("ok");
        a
    }

    fn hit(rule: &str, action: RuleAction) -> RuleHit {
        RuleHit {
            direction: Direction::Output,
            rule_id: rule.into(),
            kind: "pii.email".into(),
            action,
        }
    }

    #[test]
    fn maps_identifiers_and_drops_non_finite_signals() {
        let mut r = record();
        r.rule_hits = vec![
            hit("r1", RuleAction::Redact),
            hit("r1", RuleAction::Redact),
            hit("secret text", RuleAction::Block),
        ];
        let s = Sample::from_record(&r, &allow());
        assert_eq!((s.model, s.policy), (1, 1));
        assert_eq!(s.mean_logprob, Some(-0.5));
        assert_eq!(s.mean_entropy, None);
        assert!(s.flagged);
        assert_eq!(s.hits().len(), 2);
        assert_eq!(s.hits()[0].count, 2);
        assert_eq!(
            (s.hits()[1].rule, s.hits()[1].action),
            (0, RuleAction::Block)
        );
        assert_eq!(s.detectors()[0].detector, 1);
        assert_eq!(s.detectors()[0].errors, 1);
    }

    #[test]
    fn many_distinct_hits_fold_into_other_and_keep_the_total() {
        let mut r = record();
        r.rule_hits = (0..40)
            .map(|i| hit(&format!("r{i}"), RuleAction::Warn))
            .collect();
        r.rule_hits.push(hit("r0", RuleAction::Block));
        let s = Sample::from_record(&r, &allow());
        let total: u32 = s.hits().iter().map(|h| h.count).sum();
        assert_eq!(total, 41);
        assert!(s.hits().len() <= MAX_HITS);
        let other = s
            .hits()
            .iter()
            .filter(|h| h.rule == 0)
            .map(|h| h.count)
            .sum::<u32>();
        assert_eq!(other, 41 - (MAX_HITS - OTHER_SLOTS) as u32);
    }
}
