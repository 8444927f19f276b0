//! `/metrics`: the telemetry sink's Prometheus text plus the scheduler's gauges.

use palisade_guard::{Direction, Policy};
use palisade_telemetry::PolicyInfo;

use super::scheduler::Scheduler;

/// What telemetry needs to know about a policy (ids and names, no text).
pub(crate) fn policy_info(policy: &Policy) -> PolicyInfo {
    let rules: Vec<_> = [Direction::Input, Direction::Output]
        .into_iter()
        .flat_map(|d| policy.rules(d).iter())
        .collect();
    let mut detectors: Vec<String> = rules
        .iter()
        .map(|r| r.detector.type_name().to_owned())
        .collect();
    detectors.sort();
    detectors.dedup();
    PolicyInfo {
        name: policy.name().to_owned(),
        hash: policy.hash().to_owned(),
        rule_ids: rules.iter().map(|r| r.id.to_string()).collect(),
        finding_kinds: Vec::new(),
        detectors,
    }
}

/// The scheduler's state in the Prometheus text format.
pub(crate) fn scheduler_text(scheduler: &Scheduler, reload_failures: u64) -> String {
    let mut text = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, value: String| {
        text.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
        ));
    };
    metric(
        "palisade_server_requests_running",
        "gauge",
        "Generations running now.",
        scheduler.running().to_string(),
    );
    metric(
        "palisade_server_requests_waiting",
        "gauge",
        "Requests waiting in the queue now.",
        scheduler.waiting().to_string(),
    );
    metric(
        "palisade_server_requests_rejected_total",
        "counter",
        "Requests answered 429 because the queue was full.",
        scheduler.rejected().to_string(),
    );
    metric(
        "palisade_server_policy_reload_failures_total",
        "counter",
        "Policy reloads rejected (the previous policy kept serving).",
        reload_failures.to_string(),
    );
    text
}
