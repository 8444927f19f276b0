//! Where request records go.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::record::RequestRecord;

/// Receives one record per finished request. Implementations must be cheap and
/// must never block inference.
pub trait TelemetrySink: Send + Sync {
    /// Records one finished request.
    fn record_request(&self, record: &RequestRecord);
}

/// A sink that drops everything, for embedders that want no telemetry.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoopSink;

impl TelemetrySink for NoopSink {
    fn record_request(&self, _record: &RequestRecord) {}
}

/// Aggregate counters kept in memory: what a process has seen so far.
#[derive(Debug, Default)]
pub struct AggregateSink {
    state: Mutex<AggregateSnapshot>,
}

/// A copy of an [`AggregateSink`]'s counters.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct AggregateSnapshot {
    /// Requests seen.
    pub requests: u64,
    /// Requests refused or cut by a guard.
    pub refusals: u64,
    /// Prompt tokens, summed.
    pub prompt_tokens: u64,
    /// Generated tokens, summed.
    pub completion_tokens: u64,
    /// Total request time, summed.
    pub total_time: Duration,
    /// Requests per outcome (`completed`, `blocked_input`, ...).
    pub outcomes: BTreeMap<&'static str, u64>,
    /// Hits per `(direction, rule id, action)`.
    pub rule_hits: BTreeMap<(&'static str, String, &'static str), u64>,
}

impl AggregateSink {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    /// The counters as they are now.
    pub fn snapshot(&self) -> AggregateSnapshot {
        match self.state.lock() {
            Ok(state) => state.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

impl TelemetrySink for AggregateSink {
    fn record_request(&self, record: &RequestRecord) {
        let mut state = match self.state.lock() {
            Ok(state) => state,
            Err(poisoned) => poisoned.into_inner(),
        };
        state.requests += 1;
        if record.outcome.is_refusal() {
            state.refusals += 1;
        }
        state.prompt_tokens += record.prompt_tokens;
        state.completion_tokens += record.completion_tokens;
        state.total_time += record.total;
        *state.outcomes.entry(record.outcome.as_str()).or_default() += 1;
        for hit in &record.rule_hits {
            let key = (
                hit.direction.as_str(),
                hit.rule_id.clone(),
                hit.action.as_str(),
            );
            *state.rule_hits.entry(key).or_default() += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Direction, Outcome, RuleAction, RuleHit};

    fn record(outcome: Outcome, hits: Vec<RuleHit>) -> RequestRecord {
        RequestRecord {
            prompt_tokens: 10,
            completion_tokens: 5,
            time_to_first_token: Some(Duration::from_millis(3)),
            decode: Duration::from_millis(7),
            total: Duration::from_millis(12),
            guard: Duration::from_micros(40),
            rule_hits: hits,
            ..RequestRecord::new("m", "h", outcome)
        }
    }

    #[test]
    fn aggregates_counts_refusals_and_rule_hits() {
        let sink = AggregateSink::new();
        let hit = RuleHit {
            direction: Direction::Input,
            rule_id: "no-email".into(),
            kind: "pii.email".into(),
            action: RuleAction::Redact,
        };
        sink.record_request(&record(Outcome::Completed, vec![hit.clone(), hit]));
        sink.record_request(&record(Outcome::BlockedInput, vec![]));
        let snap = sink.snapshot();
        assert_eq!(snap.requests, 2);
        assert_eq!(snap.refusals, 1);
        assert_eq!(snap.prompt_tokens, 20);
        assert_eq!(snap.outcomes.get("blocked_input"), Some(&1));
        assert_eq!(
            snap.rule_hits
                .get(&("input", "no-email".to_string(), "redact")),
            Some(&2)
        );
    }
}
