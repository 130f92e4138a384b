//! An async reader-writer lock on top of the fair [`Semaphore`].
//!
//! A reader takes one permit, a writer takes all `MAX_READS` of them; the
//! semaphore's FIFO queue makes the lock fair: once a writer waits, later
//! readers queue behind it, so writers do not starve.

use std::cell::UnsafeCell;
use std::fmt;
use std::ops::{Deref, DerefMut};

use crate::mutex::TryLockError;
use crate::semaphore::Semaphore;

const MAX_READS: usize = (u32::MAX >> 3) as usize;

/// An async reader-writer lock, fair (FIFO between readers and writers).
///
/// # Cancel safety
///
/// `read` and `write` are cancel-safe: dropping the future before it
/// completes leaves the lock as if it had never been called, and a partial
/// or full grant it held passes on to the next waiter.
///
/// # Examples
///
/// ```
/// use ringbolt_sync::RwLock;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let l = RwLock::new(5);
/// {
///     let a = l.read().await;
///     let b = l.read().await;
///     assert_eq!(*a + *b, 10);
/// }
/// *l.write().await += 1;
/// assert_eq!(*l.read().await, 6);
/// # });
/// ```
pub struct RwLock<T: ?Sized> {
    sem: Semaphore,
    cell: UnsafeCell<T>,
}

// SAFETY: a writer gets `&mut T` (possibly on another thread: `T: Send`),
// readers share `&T` across threads (`T: Sync`).
unsafe impl<T: ?Sized + Send> Send for RwLock<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RwLock");
        match self.try_read() {
            Ok(g) => d.field("data", &&*g),
            Err(_) => d.field("data", &format_args!("<locked>")),
        };
        d.finish()
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> Self {
        RwLock::new(T::default())
    }
}

impl<T> RwLock<T> {
    /// A new, unlocked lock holding `value`.
    pub fn new(value: T) -> Self {
        RwLock {
            sem: Semaphore::new(MAX_READS),
            cell: UnsafeCell::new(value),
        }
    }

    /// Consumes the lock and returns the value.
    pub fn into_inner(self) -> T {
        self.cell.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Waits for shared read access.
    ///
    /// Cancel-safe: see the [type docs](RwLock#cancel-safety).
    pub async fn read(&self) -> RwLockReadGuard<'_, T> {
        if self.sem.acquire_raw(1).await.is_err() {
            unreachable!("an RwLock's semaphore is never closed");
        }
        RwLockReadGuard { lock: self }
    }

    /// Waits for exclusive write access.
    ///
    /// Cancel-safe: see the [type docs](RwLock#cancel-safety).
    pub async fn write(&self) -> RwLockWriteGuard<'_, T> {
        if self.sem.acquire_raw(MAX_READS).await.is_err() {
            unreachable!("an RwLock's semaphore is never closed");
        }
        RwLockWriteGuard { lock: self }
    }

    /// Read access if no writer holds or waits for the lock.
    ///
    /// # Errors
    ///
    /// [`TryLockError`] if a writer holds the lock or anyone is queued.
    pub fn try_read(&self) -> Result<RwLockReadGuard<'_, T>, TryLockError> {
        match self.sem.try_acquire_raw(1) {
            Ok(()) => Ok(RwLockReadGuard { lock: self }),
            Err(_) => Err(TryLockError(())),
        }
    }

    /// Write access if the lock is free and nobody is queued.
    ///
    /// # Errors
    ///
    /// [`TryLockError`] if the lock is held or contended.
    pub fn try_write(&self) -> Result<RwLockWriteGuard<'_, T>, TryLockError> {
        match self.sem.try_acquire_raw(MAX_READS) {
            Ok(()) => Ok(RwLockWriteGuard { lock: self }),
            Err(_) => Err(TryLockError(())),
        }
    }

    /// Mutable access without locking: `&mut self` proves exclusivity.
    pub fn get_mut(&mut self) -> &mut T {
        self.cell.get_mut()
    }
}

/// Shared access to an [`RwLock`]'s value; released when dropped.
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
}

// SAFETY: a read guard only gives `&T`; sending or sharing it across threads
// needs `T: Sync`.
unsafe impl<T: ?Sized + Sync> Send for RwLockReadGuard<'_, T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Sync> Sync for RwLockReadGuard<'_, T> {}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds a read permit; no writer (which needs every
        // permit) can exist at the same time, so no `&mut T` is live.
        unsafe { &*self.lock.cell.get() }
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.sem.release(1);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// Exclusive access to an [`RwLock`]'s value; released when dropped.
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
}

// SAFETY: the guard gives `&mut T` on whichever thread holds it (`T: Send`)
// and `&T` to threads sharing it (`T: Sync`).
unsafe impl<T: ?Sized + Send + Sync> Send for RwLockWriteGuard<'_, T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLockWriteGuard<'_, T> {}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds every permit, so it is the only accessor.
        unsafe { &*self.lock.cell.get() }
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds every permit and `&mut self` is unique.
        unsafe { &mut *self.lock.cell.get() }
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.sem.release(MAX_READS);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
