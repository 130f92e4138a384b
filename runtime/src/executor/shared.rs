//! The part of a worker that other threads touch: its remote queue and the
//! eventfd that wakes its ring.
//!
//! Protocol: a producer pushes under the mutex, then sets `notified`; only
//! the producer that flips it from false to true writes the eventfd. The
//! worker keeps a read of the eventfd armed in its ring; when that read
//! completes it clears `notified` *before* draining the queue, so a message
//! pushed after the drain always finds `notified` false and writes again.
//! A wake-up is never lost and a burst of remote wakes costs one write.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::driver::Orphan;
use crate::metrics::worker::WorkerMetrics;
use crate::task::raw::NewTask;

/// A message for a worker from another thread.
pub(crate) enum Remote {
    /// A task woken (or spawned) from another thread.
    Task(NewTask),
    /// The data of an op dropped on another thread.
    Orphan { key: usize, data: Box<dyn Orphan> },
    /// A waker of one of this worker's tasks, woken on another thread: it
    /// is woken here, on the worker's own thread.
    Wake(std::task::Waker),
    /// A fixed-file slot whose socket was closed on another thread.
    ReleaseFile(u32),
}

/// The cross-thread half of a worker.
pub(crate) struct Shared {
    pub(crate) id: u64,
    /// The worker's metrics, readable from any thread.
    pub(crate) metrics: Arc<WorkerMetrics>,
    queue: Mutex<Vec<Remote>>,
    notified: AtomicBool,
    eventfd: OwnedFd,
    /// Set once the worker has shut down: messages are dropped on arrival.
    closed: AtomicBool,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Shared {
    pub(crate) fn new(id: u64, eventfd: OwnedFd, metrics: Arc<WorkerMetrics>) -> Self {
        Shared {
            id,
            metrics,
            queue: Mutex::new(Vec::new()),
            notified: AtomicBool::new(false),
            eventfd,
            closed: AtomicBool::new(false),
        }
    }

    /// The eventfd the worker's ring reads.
    pub(crate) fn eventfd(&self) -> RawFd {
        self.eventfd.as_raw_fd()
    }

    /// Queues a message for the worker and wakes it if needed.
    pub(crate) fn push(&self, msg: Remote) {
        if self.closed.load(Ordering::Acquire) {
            drop(msg);
            return;
        }
        self.queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(msg);
        self.notify();
    }

    /// Wakes the worker's ring (at most one eventfd write per drain).
    pub(crate) fn notify(&self) {
        if !self.notified.swap(true, Ordering::AcqRel) {
            crate::sys::eventfd_signal(self.eventfd.as_raw_fd());
        }
    }

    /// Wakes the worker's ring even if a wake-up is already pending (for
    /// the stop signal, which is not a queued message).
    pub(crate) fn notify_always(&self) {
        self.notified.store(true, Ordering::Release);
        crate::sys::eventfd_signal(self.eventfd.as_raw_fd());
    }

    /// Whether a producer has signalled since the last `clear_notified`.
    pub(crate) fn is_notified(&self) -> bool {
        self.notified.load(Ordering::Acquire)
    }

    /// Called when the eventfd read completed, before draining.
    pub(crate) fn clear_notified(&self) {
        self.notified.store(false, Ordering::Release);
    }

    /// Takes every queued message.
    pub(crate) fn drain(&self, into: &mut Vec<Remote>) {
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        into.append(&mut q);
    }

    /// Marks the worker gone and drops what is still queued.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let rest = std::mem::take(&mut *self.queue.lock().unwrap_or_else(|e| e.into_inner()));
        drop(rest);
    }
}
