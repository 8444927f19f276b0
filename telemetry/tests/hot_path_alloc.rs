//! `TelemetrySink::record_request` on an `OtelSink` does not allocate on the
//! calling thread (the inference thread).
#![allow(unsafe_code)] // a counting global allocator

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::*;
use palisade_telemetry::{OtelSink, PrivacyMode, TelemetryConfig, TelemetrySink};

struct Counting;

thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
}
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards every call to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if ARMED.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if ARMED.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_per_round(sink: &OtelSink, records: &[palisade_telemetry::RequestRecord]) -> u64 {
    ARMED.with(|a| a.set(true));
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for r in records {
        sink.record_request(r);
    }
    let after = ALLOCATIONS.load(Ordering::Relaxed);
    ARMED.with(|a| a.set(false));
    after - before
}

#[test]
fn recording_a_request_does_not_allocate() {
    for privacy in [PrivacyMode::Aggregate, PrivacyMode::Off] {
        let sink = OtelSink::start(TelemetryConfig {
            privacy,
            queue_capacity: 4096,
            ..TelemetryConfig::default()
        })
        .expect("starts");
        sink.register_policy(&policy()).expect("policy");
        sink.register_model(MODEL).expect("model");
        let mut poisoned = completed();
        poisoned.model = "unregistered".into();
        poisoned.rule_hits[0].rule_id = "unregistered".into();
        let records: Vec<_> = (0..1000)
            .map(|i| match i % 3 {
                0 => completed(),
                1 => blocked(),
                _ => poisoned.clone(),
            })
            .collect();
        // Warm up: the queue's buffers reach their capacity once.
        allocations_per_round(&sink, &records);
        assert!(sink.flush(Duration::from_secs(10)));
        for round in 0..3 {
            assert_eq!(
                allocations_per_round(&sink, &records),
                0,
                "{privacy:?} round {round}"
            );
            assert!(sink.flush(Duration::from_secs(10)));
        }
    }
}
