//! Per-detector cost accounting for measured checks and streams.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::detector::runtime_failures;
use crate::policy::Rule;
use crate::types::DetectorCost;

/// The time and run-time failures one detector has accumulated.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Tally {
    elapsed: Duration,
    failures: u64,
}

impl Tally {
    /// Runs `f`; when there is a tally, adds the time `f` took and the failures counted on this
    /// thread meanwhile (see [`crate::detector::count_runtime_failure`]). Without one, `f` runs
    /// unmeasured.
    pub(crate) fn measure<T>(tally: Option<&mut Tally>, f: impl FnOnce() -> T) -> T {
        let Some(tally) = tally else {
            return f();
        };
        let started = Instant::now();
        let failures = runtime_failures();
        let out = f();
        tally.elapsed += started.elapsed();
        tally.failures += runtime_failures().wrapping_sub(failures);
        out
    }

    /// The report of `rule`'s detector.
    pub(crate) fn report(&self, rule: &Rule) -> DetectorCost {
        DetectorCost {
            rule_id: rule.id.clone(),
            detector: Arc::from(rule.detector.type_name()),
            elapsed: self.elapsed,
            failures: u32::try_from(self.failures).unwrap_or(u32::MAX),
        }
    }
}
