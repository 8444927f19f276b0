//! Exporter health counters, shared by the sink, the worker and the
//! exporter, and read by the `palisade.exporter.*` instruments.

use std::sync::atomic::{AtomicU64, Ordering};

/// Live exporter health counters.
#[derive(Debug, Default)]
pub(crate) struct Health {
    pub(crate) records_dropped: AtomicU64,
    pub(crate) batches_dropped: AtomicU64,
    pub(crate) batches_exported: AtomicU64,
    pub(crate) batches_spooled: AtomicU64,
    pub(crate) retries: AtomicU64,
    pub(crate) export_failures: AtomicU64,
    pub(crate) queued: AtomicU64,
    pub(crate) dp_suppressed: AtomicU64,
}

/// A copy of the exporter health counters.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct HealthSnapshot {
    /// Records dropped because the in-process queue was full.
    pub records_dropped: u64,
    /// Metric batches dropped (export failed without a spool, or evicted).
    pub batches_dropped: u64,
    /// Metric batches delivered, live or from the spool.
    pub batches_exported: u64,
    /// Metric batches written to the spool.
    pub batches_spooled: u64,
    /// Export attempts repeated after a failure.
    pub retries: u64,
    /// Export attempts that failed (including retries).
    pub export_failures: u64,
    /// Batches waiting in the spool.
    pub queued: u64,
    /// Requests not reported in `dp` mode because the budget was spent or
    /// the ledger could not be written (never exported).
    pub dp_suppressed: u64,
}

impl Health {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> HealthSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        HealthSnapshot {
            records_dropped: get(&self.records_dropped),
            batches_dropped: get(&self.batches_dropped),
            batches_exported: get(&self.batches_exported),
            batches_spooled: get(&self.batches_spooled),
            retries: get(&self.retries),
            export_failures: get(&self.export_failures),
            queued: get(&self.queued),
            dp_suppressed: get(&self.dp_suppressed),
        }
    }
}
