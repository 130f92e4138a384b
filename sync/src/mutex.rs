//! An async mutex: a [`Semaphore`] of one permit plus an `UnsafeCell`.

use std::cell::UnsafeCell;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use crate::semaphore::{Semaphore, TryAcquireError};

/// An async mutual-exclusion lock, fair (FIFO).
///
/// `lock().await` waits without blocking the thread; tasks get the lock in
/// the order they started waiting, and [`try_lock`](Mutex::try_lock) does not
/// jump that queue. An uncontended lock/unlock is one CAS each and allocates
/// nothing.
///
/// # Cancel safety
///
/// `lock` and `lock_owned` are cancel-safe: dropping the future before it
/// completes leaves the mutex as if it had never been called. If the lock was
/// already handed to the dropped future, it passes straight to the next
/// waiter, so no wake-up is lost.
///
/// # Examples
///
/// ```
/// use ringbolt_sync::Mutex;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let m = Mutex::new(1);
/// *m.lock().await += 1;
/// assert_eq!(*m.lock().await, 2);
/// # });
/// ```
pub struct Mutex<T: ?Sized> {
    sem: Semaphore,
    cell: UnsafeCell<T>,
}

// SAFETY: the mutex hands out `&mut T` to one holder at a time (one permit),
// possibly on another thread, so `T: Send` is enough for both.
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}
// SAFETY: as above: shared access to the mutex only yields exclusive access
// to `T`, one guard at a time.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

/// The lock was held (or others were queued for it) when `try_lock` ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TryLockError(pub(crate) ());

impl fmt::Display for TryLockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("operation would block")
    }
}

impl std::error::Error for TryLockError {}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Ok(g) => d.field("data", &&*g),
            Err(_) => d.field("data", &format_args!("<locked>")),
        };
        d.finish()
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(v: T) -> Self {
        Mutex::new(v)
    }
}

impl<T> Mutex<T> {
    /// A new, unlocked mutex holding `value`.
    pub fn new(value: T) -> Self {
        Mutex {
            sem: Semaphore::new(1),
            cell: UnsafeCell::new(value),
        }
    }

    /// Consumes the mutex and returns the value.
    pub fn into_inner(self) -> T {
        self.cell.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Waits for the lock.
    ///
    /// Cancel-safe: see the [type docs](Mutex#cancel-safety).
    pub async fn lock(&self) -> MutexGuard<'_, T> {
        if self.sem.acquire_raw(1).await.is_err() {
            unreachable!("a Mutex's semaphore is never closed");
        }
        MutexGuard { mutex: self }
    }

    /// Takes the lock if it is free and nobody is queued for it.
    ///
    /// # Errors
    ///
    /// [`TryLockError`] if the lock is held or contended.
    pub fn try_lock(&self) -> Result<MutexGuard<'_, T>, TryLockError> {
        match self.sem.try_acquire_raw(1) {
            Ok(()) => Ok(MutexGuard { mutex: self }),
            Err(TryAcquireError::NoPermits | TryAcquireError::Closed) => Err(TryLockError(())),
        }
    }

    /// Waits for the lock of an `Arc<Mutex<T>>`; the guard owns the `Arc`.
    ///
    /// Cancel-safe: see the [type docs](Mutex#cancel-safety).
    pub async fn lock_owned(self: Arc<Self>) -> OwnedMutexGuard<T> {
        if self.sem.acquire_raw(1).await.is_err() {
            unreachable!("a Mutex's semaphore is never closed");
        }
        OwnedMutexGuard { mutex: self }
    }

    /// [`try_lock`](Self::try_lock) for an `Arc<Mutex<T>>`.
    ///
    /// # Errors
    ///
    /// [`TryLockError`] if the lock is held or contended.
    pub fn try_lock_owned(self: Arc<Self>) -> Result<OwnedMutexGuard<T>, TryLockError> {
        match self.sem.try_acquire_raw(1) {
            Ok(()) => Ok(OwnedMutexGuard { mutex: self }),
            Err(_) => Err(TryLockError(())),
        }
    }

    /// Mutable access without locking: `&mut self` proves nobody else holds it.
    pub fn get_mut(&mut self) -> &mut T {
        self.cell.get_mut()
    }
}

/// Exclusive access to a [`Mutex`]'s value; unlocks when dropped.
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct MutexGuard<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
}

// SAFETY: sharing the guard shares `&T` across threads, which needs
// `T: Sync`; the guard may be dropped on another thread, which releases a
// permit (thread-agnostic) and hands over `T` (needs `T: Send`).
unsafe impl<T: ?Sized + Send + Sync> Sync for MutexGuard<'_, T> {}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while its holder owns the mutex's
        // single permit, so no `&mut T` exists elsewhere.
        unsafe { &*self.mutex.cell.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the single permit, and `&mut self` makes
        // this the only live reference derived from it.
        unsafe { &mut *self.mutex.cell.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.mutex.sem.release(1);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

/// Exclusive access to an `Arc<Mutex<T>>`'s value; unlocks when dropped.
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct OwnedMutexGuard<T: ?Sized> {
    mutex: Arc<Mutex<T>>,
}

// SAFETY: as for `MutexGuard`.
unsafe impl<T: ?Sized + Send + Sync> Sync for OwnedMutexGuard<T> {}

impl<T: ?Sized> OwnedMutexGuard<T> {
    /// The mutex this guard locks.
    pub fn mutex(&self) -> &Arc<Mutex<T>> {
        &self.mutex
    }
}

impl<T: ?Sized> Deref for OwnedMutexGuard<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the mutex's single permit.
        unsafe { &*self.mutex.cell.get() }
    }
}

impl<T: ?Sized> DerefMut for OwnedMutexGuard<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the single permit and `&mut self` is unique.
        unsafe { &mut *self.mutex.cell.get() }
    }
}

impl<T: ?Sized> Drop for OwnedMutexGuard<T> {
    fn drop(&mut self) {
        self.mutex.sem.release(1);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for OwnedMutexGuard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
