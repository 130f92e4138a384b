//! A counter written by one thread (its worker) and read by any.

use std::sync::atomic::{AtomicU64, Ordering};

/// A counter with a single writer: `add` is a relaxed load and store (a
/// plain add, no locked instruction), readable from any thread.
#[derive(Debug, Default)]
pub(crate) struct Counter(AtomicU64);

impl Counter {
    /// Adds `n`. Only the owning worker's thread may call this.
    #[inline]
    pub(crate) fn add(&self, n: u64) {
        self.0.store(
            self.0.load(Ordering::Relaxed).wrapping_add(n),
            Ordering::Relaxed,
        );
    }

    /// Adds one. Only the owning worker's thread may call this.
    #[inline]
    pub(crate) fn inc(&self) {
        self.add(1);
    }

    /// Adds one from any thread (a locked add: for counters with several
    /// writers, like spawns onto a worker from other threads).
    #[inline]
    pub(crate) fn inc_shared(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// Sets the value (owning thread only).
    #[inline]
    pub(crate) fn set(&self, v: u64) {
        self.0.store(v, Ordering::Relaxed);
    }

    /// The current value (any thread).
    #[inline]
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// Raises the value to `v` if it is lower (owning thread only).
    #[inline]
    pub(crate) fn max(&self, v: u64) {
        if v > self.get() {
            self.0.store(v, Ordering::Relaxed);
        }
    }
}
