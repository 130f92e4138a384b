//! [`SpinLock`]: a lock for state that is almost always taken by one
//! thread at a time, for a few hundred nanoseconds.
//!
//! The per-request state of a socket (its receive queue) is shared so that
//! streams stay `Send + Sync`, but in a server it is only ever touched by
//! the worker that owns the connection.
//! On this path every locked instruction counts: a `std::sync::Mutex`
//! costs two (a compare-exchange to lock, a swap to unlock, since it must
//! learn whether a sleeper waits); this lock costs one, the compare-exchange,
//! and unlocks with a plain release store. The price is that a contended
//! acquirer spins and then yields its time slice instead of sleeping, which
//! is the right trade only for critical sections that are short in the
//! common case and rarely meet. A receiver's section may make a syscall
//! now and then (submitting, registering a new buffer ring) and give a
//! buffer back, which can wake a task waiting for one; a waker that polled
//! the same receiver inline would spin here, as it would deadlock on a
//! mutex.

use std::cell::UnsafeCell;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};

/// Spins this many times (with the CPU's spin hint) before yielding.
const SPINS_BEFORE_YIELD: u32 = 64;

/// A mutual-exclusion lock with a one-instruction fast path; see the
/// [module docs](self) for when it fits.
pub(crate) struct SpinLock<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the lock hands out access to `value` to one thread at a time
// (the acquire/release pair on `locked` orders the accesses), so sharing
// the lock is sound whenever moving the value between threads is.
unsafe impl<T: Send> Sync for SpinLock<T> {}
// SAFETY: owning the lock is owning the value.
unsafe impl<T: Send> Send for SpinLock<T> {}

impl<T> SpinLock<T> {
    /// A lock around `value`.
    pub(crate) const fn new(value: T) -> Self {
        SpinLock {
            locked: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// Takes the lock, spinning (then yielding) while another thread has it.
    #[inline]
    pub(crate) fn lock(&self) -> SpinGuard<'_, T> {
        if self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_contended();
        }
        SpinGuard {
            lock: self,
            _access: PhantomData,
        }
    }

    #[cold]
    fn lock_contended(&self) {
        let mut spins = 0u32;
        loop {
            // Wait on a plain load (no cache-line ping-pong), then retry.
            while self.locked.load(Ordering::Relaxed) {
                if spins < SPINS_BEFORE_YIELD {
                    spins += 1;
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
            if self
                .locked
                .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return;
            }
        }
    }
}

/// Access to a [`SpinLock`]'s value; unlocks when dropped.
pub(crate) struct SpinGuard<'a, T> {
    lock: &'a SpinLock<T>,
    /// Makes the guard `Sync` only for `T: Sync` (shared guards hand out
    /// `&T` on several threads), as `MutexGuard` is.
    _access: PhantomData<&'a mut T>,
}

impl<T> Deref for SpinGuard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while this thread holds the lock,
        // so no other reference to the value is live.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for SpinGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as for `deref`; `&mut self` makes this the only access
        // through the guard.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for SpinGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // Release: every write made under the lock is visible to the next
        // thread whose acquire compare-exchange takes it.
        self.lock.locked.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::SpinLock;
    use std::sync::Arc;

    #[test]
    fn excludes_other_threads() {
        let lock = Arc::new(SpinLock::new(0u64));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let lock = lock.clone();
                std::thread::spawn(move || {
                    for _ in 0..100_000 {
                        // A non-atomic read-modify-write: lost updates if
                        // two threads ever held the lock at once.
                        let mut g = lock.lock();
                        let v = *g;
                        *g = v + 1;
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*lock.lock(), 400_000);
    }

    #[test]
    fn a_dropped_guard_unlocks() {
        let lock = SpinLock::new(vec![1]);
        lock.lock().push(2);
        lock.lock().push(3);
        assert_eq!(*lock.lock(), vec![1, 2, 3]);
    }
}
