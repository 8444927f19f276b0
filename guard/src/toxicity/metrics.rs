//! Counting classifier failures for telemetry.
//!
//! Every failure a toxicity rule meets at run time is counted here, by rule, model and error kind
//! ([`super::ToxicityError::kind`]), whether the rule then fails closed or open. The host reads the
//! counts with [`failure_counts`] (for a periodic export) and may install a hook with
//! [`set_failure_hook`] to forward each failure as it happens (to its telemetry sink, say), and
//! per request with [`take_thread_failures`]: guard checks run on the caller's thread, so the
//! failures a request met are those counted on its thread since the last take. The counts hold
//! no text.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};

use super::error::ToxicityError;

/// One failure, as passed to the hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureEvent {
    /// The rule whose classifier failed.
    pub rule_id: Arc<str>,
    /// The model's name.
    pub model: String,
    /// [`ToxicityError::kind`]: `library`, `model`, `interface`, `config` or `run`.
    pub kind: &'static str,
    /// Whether the rule failed open (`on_error: allow`): the text passed unchecked.
    pub failed_open: bool,
}

/// The key of one failure counter: rule, model, error kind, and whether it failed open.
pub type FailureKey = (Arc<str>, String, &'static str, bool);

/// A function called on every failure.
pub type Hook = Arc<dyn Fn(&FailureEvent) + Send + Sync>;

static COUNTS: Mutex<BTreeMap<FailureKey, u64>> = Mutex::new(BTreeMap::new());
static HOOK: RwLock<Option<Hook>> = RwLock::new(None);

thread_local! {
    static THREAD_FAILURES: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// The failures counted on this thread since the previous call (for a per-request report such as
/// telemetry's `DetectorReport::errors`), resetting the count.
pub fn take_thread_failures() -> u32 {
    THREAD_FAILURES.with(|c| c.replace(0))
}

/// Counts one failure and calls the hook, if any.
pub fn record_failure(rule_id: &Arc<str>, model: &str, err: &ToxicityError, failed_open: bool) {
    let event = FailureEvent {
        rule_id: Arc::clone(rule_id),
        model: model.to_owned(),
        kind: err.kind(),
        failed_open,
    };
    {
        let mut counts = COUNTS.lock().unwrap_or_else(|e| e.into_inner());
        let key = (
            Arc::clone(&event.rule_id),
            event.model.clone(),
            event.kind,
            failed_open,
        );
        *counts.entry(key).or_insert(0) += 1;
    }
    THREAD_FAILURES.with(|c| c.set(c.get().saturating_add(1)));
    crate::detector::count_runtime_failure();
    let hook = HOOK.read().unwrap_or_else(|e| e.into_inner()).clone();
    if let Some(hook) = hook {
        hook(&event);
    }
}

/// Every failure counted so far in this process.
pub fn failure_counts() -> Vec<(FailureKey, u64)> {
    let counts = COUNTS.lock().unwrap_or_else(|e| e.into_inner());
    counts.iter().map(|(k, v)| (k.clone(), *v)).collect()
}

/// The total number of failures counted so far.
pub fn failure_total() -> u64 {
    let counts = COUNTS.lock().unwrap_or_else(|e| e.into_inner());
    counts.values().sum()
}

/// Installs (or, with `None`, removes) the function called on every failure.
pub fn set_failure_hook(hook: Option<Hook>) {
    *HOOK.write().unwrap_or_else(|e| e.into_inner()) = hook;
}
