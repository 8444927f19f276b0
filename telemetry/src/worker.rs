//! The bounded queue between inference threads and the telemetry worker.
//!
//! Inference threads push a fixed-size [`Sample`] under a mutex held for a
//! few nanoseconds and never wake the worker (no system call); the worker
//! wakes on its own every [`DRAIN_INTERVAL`], swaps the queue for an empty
//! one of the same capacity and records what it took. A full queue drops the
//! sample and counts it.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::allowlist::Allowlist;
use crate::recorder::Recorder;
use crate::sample::Sample;

/// How often the worker drains the queue when nobody asks it to.
pub(crate) const DRAIN_INTERVAL: Duration = Duration::from_millis(50);

struct State {
    samples: VecDeque<Sample>,
    capacity: usize,
    flush_requested: u64,
    flush_done: u64,
    stop: bool,
}

/// The queue shared by the sink and the worker.
pub(crate) struct Queue {
    state: Mutex<State>,
    wake: Condvar,
    done: Condvar,
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

impl Queue {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            state: Mutex::new(State {
                samples: VecDeque::with_capacity(capacity),
                capacity,
                flush_requested: 0,
                flush_done: 0,
                stop: false,
            }),
            wake: Condvar::new(),
            done: Condvar::new(),
        }
    }

    /// Adds a sample; `false` when the queue is full (the caller counts it).
    #[inline]
    pub(crate) fn push(&self, sample: Sample) -> bool {
        let mut state = lock(&self.state);
        if state.samples.len() < state.capacity {
            state.samples.push_back(sample);
            true
        } else {
            false
        }
    }

    /// Asks the worker to record everything queued so far and waits up to
    /// `timeout` for it. Returns whether it finished in time.
    pub(crate) fn flush(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = lock(&self.state);
        state.flush_requested += 1;
        let ticket = state.flush_requested;
        self.wake.notify_all();
        while state.flush_done < ticket && !state.stop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            state = match self.done.wait_timeout(state, left) {
                Ok((g, _)) => g,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        state.flush_done >= ticket
    }

    /// Tells the worker to record what is left and stop.
    pub(crate) fn stop(&self) {
        lock(&self.state).stop = true;
        self.wake.notify_all();
    }
}

/// Runs the worker until [`Queue::stop`].
pub(crate) fn spawn(
    queue: Arc<Queue>,
    allow: Arc<RwLock<Arc<Allowlist>>>,
    recorder: Recorder,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("palisade-telemetry".to_owned())
        .spawn(move || {
            let mut recorder = recorder;
            run(&queue, &allow, &mut recorder);
        })
}

fn run(queue: &Queue, allow: &RwLock<Arc<Allowlist>>, recorder: &mut Recorder) {
    let mut local: VecDeque<Sample> = VecDeque::new();
    loop {
        let (ticket, stop) = {
            let mut state = lock(&queue.state);
            if state.samples.is_empty() && state.flush_requested == state.flush_done && !state.stop
            {
                state = match queue.wake.wait_timeout(state, DRAIN_INTERVAL) {
                    Ok((g, _)) => g,
                    Err(poisoned) => poisoned.into_inner().0,
                };
            }
            if local.capacity() < state.capacity {
                local.reserve_exact(state.capacity);
            }
            std::mem::swap(&mut state.samples, &mut local);
            (state.flush_requested, state.stop)
        };
        // Samples in `local` were made with an allowlist published before the
        // swap; this snapshot is at least as new.
        let snapshot = match allow.read() {
            Ok(a) => Arc::clone(&a),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        };
        for sample in local.drain(..) {
            recorder.record(&sample, &snapshot);
        }
        let mut state = lock(&queue.state);
        if state.flush_done < ticket {
            state.flush_done = ticket;
            queue.done.notify_all();
        }
        if stop && state.samples.is_empty() {
            state.flush_done = state.flush_requested;
            queue.done.notify_all();
            return;
        }
    }
}
