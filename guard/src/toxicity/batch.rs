//! One shared ONNX session, with concurrent requests batched together (flat combining).
//!
//! `ort`'s `Session::run` needs exclusive access, so the session sits behind a mutex. A request
//! queues its rows and then takes the session; whoever holds it runs *every* queued row (up to
//! `max_batch` per model call) and hands each request its results before letting go. A request
//! that finds its results already there when it gets the lock simply returns. Alone, a request
//! runs its own rows at once; under contention the waiting rows ride along in one bigger call,
//! which costs far less than one call each. No thread is spawned and nothing waits on a timer.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

type Slot<O> = Arc<Mutex<Option<Result<Vec<O>, String>>>>;

type RunFn<S, I, O> = dyn Fn(&mut S, &[I]) -> Result<Vec<O>, String> + Send + Sync;

struct Ticket<I, O> {
    rows: Vec<I>,
    slot: Slot<O>,
}

/// A session `S` shared by all callers, running rows of type `I` into results of type `O`.
pub struct Combiner<S, I, O> {
    session: Mutex<S>,
    queue: Mutex<VecDeque<Ticket<I, O>>>,
    run: Box<RunFn<S, I, O>>,
    max_batch: usize,
}

impl<S, I, O> std::fmt::Debug for Combiner<S, I, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Combiner")
            .field("max_batch", &self.max_batch)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere must not take the classifier down with it: the data stays usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<S: Send, I: Send, O: Send> Combiner<S, I, O> {
    /// Wraps `session`; `run` turns one batch of rows into exactly one result per row.
    pub fn new(
        session: S,
        max_batch: usize,
        run: impl Fn(&mut S, &[I]) -> Result<Vec<O>, String> + Send + Sync + 'static,
    ) -> Self {
        Combiner {
            session: Mutex::new(session),
            queue: Mutex::new(VecDeque::new()),
            run: Box::new(run),
            max_batch: max_batch.max(1),
        }
    }

    /// Runs `rows` (possibly together with other callers' rows) and returns their results in order.
    pub fn submit(&self, rows: Vec<I>) -> Result<Vec<O>, String> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let slot = Arc::new(Mutex::new(None));
        lock(&self.queue).push_back(Ticket {
            rows,
            slot: Arc::clone(&slot),
        });
        loop {
            if let Some(result) = lock(&slot).take() {
                return result;
            }
            let mut session = lock(&self.session);
            // Served by the previous holder while we waited for the session?
            if let Some(result) = lock(&slot).take() {
                return result;
            }
            let tickets = self.take_batch();
            self.serve(&mut session, tickets);
        }
    }

    /// Takes queued tickets until `max_batch` rows are gathered (at least one ticket).
    fn take_batch(&self) -> Vec<Ticket<I, O>> {
        let mut queue = lock(&self.queue);
        let mut taken = Vec::new();
        let mut rows = 0;
        while let Some(t) = queue.front() {
            if !taken.is_empty() && rows + t.rows.len() > self.max_batch {
                break;
            }
            rows += t.rows.len();
            if let Some(t) = queue.pop_front() {
                taken.push(t);
            }
        }
        taken
    }

    fn serve(&self, session: &mut S, tickets: Vec<Ticket<I, O>>) {
        if tickets.is_empty() {
            return;
        }
        let counts: Vec<usize> = tickets.iter().map(|t| t.rows.len()).collect();
        let mut all = Vec::with_capacity(counts.iter().sum());
        let mut slots = Vec::with_capacity(tickets.len());
        for t in tickets {
            all.extend(t.rows);
            slots.push(t.slot);
        }
        let mut results: Result<Vec<O>, String> = Ok(Vec::with_capacity(all.len()));
        for chunk in all.chunks(self.max_batch) {
            let out = (self.run)(session, chunk).and_then(|o| {
                if o.len() == chunk.len() {
                    Ok(o)
                } else {
                    Err(format!(
                        "model returned {} rows for {}",
                        o.len(),
                        chunk.len()
                    ))
                }
            });
            match (out, results.as_mut()) {
                (Ok(o), Ok(acc)) => acc.extend(o),
                (Err(e), _) => {
                    results = Err(e);
                    break;
                }
                (Ok(_), Err(_)) => break,
            }
        }
        match results {
            Ok(values) => {
                let mut values = values.into_iter();
                for (slot, n) in slots.iter().zip(counts) {
                    *lock(slot) = Some(Ok(values.by_ref().take(n).collect()));
                }
            }
            Err(e) => {
                for slot in &slots {
                    *lock(slot) = Some(Err(e.clone()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Barrier;
    use std::time::Duration;

    use super::*;

    /// The "session" records the size of every batch it runs and doubles each row.
    fn combiner(max_batch: usize) -> Arc<Combiner<Vec<usize>, u32, u32>> {
        Arc::new(Combiner::new(
            Vec::new(),
            max_batch,
            |calls: &mut Vec<usize>, rows: &[u32]| {
                calls.push(rows.len());
                std::thread::sleep(Duration::from_millis(50));
                Ok(rows.iter().map(|r| r * 2).collect())
            },
        ))
    }

    #[test]
    fn a_lone_request_runs_in_chunks_of_max_batch() {
        let c = combiner(4);
        assert_eq!(
            c.submit((0..10).collect()),
            Ok((0..10).map(|r| r * 2).collect())
        );
        assert_eq!(*lock(&c.session), vec![4, 4, 2]);
        assert_eq!(c.submit(Vec::new()), Ok(Vec::new()));
    }

    #[test]
    fn concurrent_requests_share_model_calls() {
        let c = combiner(64);
        let barrier = Arc::new(Barrier::new(8));
        let handles: Vec<_> = (0..8u32)
            .map(|t| {
                let (c, barrier) = (Arc::clone(&c), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    barrier.wait();
                    let rows: Vec<u32> = (0..3).map(|i| t * 10 + i).collect();
                    (t, c.submit(rows))
                })
            })
            .collect();
        for h in handles {
            let (t, got) = h.join().unwrap_or_else(|_| (u32::MAX, Err("panic".into())));
            assert_eq!(
                got,
                Ok((0..3).map(|i| (t * 10 + i) * 2).collect()),
                "caller {t}"
            );
        }
        let calls = lock(&c.session).clone();
        assert_eq!(calls.iter().sum::<usize>(), 24);
        // While the first call sleeps, the other callers queue up and ride along together.
        assert!(calls.len() < 8, "no batching happened: {calls:?}");
    }

    #[test]
    fn a_failed_call_fails_every_request_in_it() {
        let c: Combiner<(), u32, u32> = Combiner::new((), 8, |_, _| Err("boom".to_owned()));
        assert_eq!(c.submit(vec![1, 2]), Err("boom".to_owned()));
    }
}
