//! `/metrics`: the telemetry sink's Prometheus text plus the scheduler's gauges.

use super::scheduler::Scheduler;

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
