//! Admission in front of the model: a fixed number of generations at once,
//! a bounded queue of waiting requests, 429 beyond it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::error::ApiError;

/// Seconds a rejected client is told to wait.
const RETRY_AFTER_S: u64 = 1;

/// Slots for generations plus a bounded waiting room.
pub(crate) struct Scheduler {
    slots: Arc<Semaphore>,
    parallelism: usize,
    queue_capacity: usize,
    waiting: AtomicUsize,
    rejected: AtomicU64,
}

/// Removes a waiter from the count however its wait ends (admitted, timed
/// out, or the client went away and the future was dropped).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Scheduler {
    pub fn new(parallelism: usize, queue_capacity: usize) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(parallelism)),
            parallelism,
            queue_capacity,
            waiting: AtomicUsize::new(0),
            rejected: AtomicU64::new(0),
        }
    }

    /// A slot, at once or after waiting in the queue until `deadline`.
    /// The slot is freed when the permit is dropped.
    pub async fn admit(&self, deadline: Instant) -> Result<OwnedSemaphorePermit, ApiError> {
        if let Ok(permit) = Arc::clone(&self.slots).try_acquire_owned() {
            return Ok(permit);
        }
        let ahead = self.waiting.fetch_add(1, Ordering::SeqCst);
        let _waiting = Waiting(&self.waiting);
        if ahead >= self.queue_capacity {
            self.rejected.fetch_add(1, Ordering::Relaxed);
            return Err(ApiError::overloaded(RETRY_AFTER_S));
        }
        match tokio::time::timeout_at(deadline, Arc::clone(&self.slots).acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_closed)) => Err(ApiError::unavailable("the server is shutting down")),
            Err(_elapsed) => Err(ApiError::timeout("waiting in the queue")),
        }
    }

    /// Generations running now.
    pub fn running(&self) -> usize {
        self.parallelism - self.slots.available_permits().min(self.parallelism)
    }

    /// Requests waiting for a slot now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    /// Requests refused with 429 since start.
    pub fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn full_queue_rejects_and_frees_on_drop() {
        let scheduler = Arc::new(Scheduler::new(1, 1));
        let far = Instant::now() + Duration::from_secs(10);
        let first = scheduler.admit(far).await.expect("free slot");
        let waiter = {
            let scheduler = Arc::clone(&scheduler);
            tokio::spawn(async move { scheduler.admit(far).await.map(drop) })
        };
        while scheduler.waiting() == 0 {
            tokio::task::yield_now().await;
        }
        let rejected = scheduler.admit(far).await.expect_err("queue full");
        assert_eq!(rejected.status, axum::http::StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(rejected.retry_after_s, Some(RETRY_AFTER_S));
        assert_eq!(scheduler.running(), 1);
        drop(first);
        waiter
            .await
            .expect("join")
            .expect("admitted after the first left");
        assert_eq!((scheduler.running(), scheduler.waiting()), (0, 0));
        assert_eq!(scheduler.rejected(), 1);
    }

    #[tokio::test]
    async fn queue_wait_times_out() {
        let scheduler = Scheduler::new(1, 4);
        let _busy = scheduler
            .admit(Instant::now() + Duration::from_secs(10))
            .await
            .expect("slot");
        let err = scheduler
            .admit(Instant::now() + Duration::from_millis(20))
            .await
            .expect_err("timed out");
        assert_eq!(err.status, axum::http::StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(scheduler.waiting(), 0);
    }
}
