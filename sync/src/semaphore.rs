//! A fair (FIFO) counting semaphore; the core that [`Mutex`](crate::Mutex),
//! [`RwLock`](crate::RwLock) and the bounded [`mpsc`](crate::mpsc) channel are
//! built on.
//!
//! # Design
//!
//! One `AtomicUsize` holds `permits << 2 | WAITERS | CLOSED`. The fast paths
//! (`try_acquire`, an uncontended `acquire`, a release with nobody waiting)
//! are a single CAS and allocate nothing.
//!
//! Waiters queue in a [`WaitList`] behind a `Mutex`. The invariant that keeps
//! it fair: **`WAITERS` is set exactly when the queue is non-empty, and while
//! it is set the atomic count is zero.** A waiter that enqueues takes the
//! permits that are available (a partial grant) in the same CAS that sets
//! `WAITERS`; a release that sees `WAITERS` takes the lock and hands its
//! permits to the queue in FIFO order, so a waiter for many permits is never
//! overtaken by later, smaller requests. Both flags change only under the
//! lock.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::loom::{lock, AtomicUsize, Mutex, MutexGuard, Ordering};
use crate::wait_list::{Key, WaitList, WakeList};

const CLOSED: usize = 1;
const WAITERS: usize = 2;
const SHIFT: usize = 2;

/// A counting semaphore that grants permits in FIFO order.
///
/// `acquire` waits for a permit; the [`SemaphorePermit`] it returns gives the
/// permit back when dropped (or keeps it out for good with
/// [`forget`](SemaphorePermit::forget)). Waiters are served first come, first
/// served: a queued `acquire_many(5)` is not overtaken by a later
/// `acquire()`, and `try_acquire` fails while anyone is queued.
///
/// # Cancel safety
///
/// `acquire`, `acquire_many`, `acquire_owned` and `acquire_many_owned` are
/// cancel-safe: dropping the future before it completes takes no permit away.
/// Permits it had already been granted (partly or fully) are handed to the
/// next waiter or returned to the semaphore, so no wake-up is lost.
///
/// # Examples
///
/// ```
/// use ringbolt_sync::Semaphore;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let sem = Semaphore::new(2);
/// let a = sem.acquire().await.unwrap();
/// let _b = sem.acquire().await.unwrap();
/// assert!(sem.try_acquire().is_err());
/// drop(a);
/// assert_eq!(sem.available_permits(), 1);
/// # });
/// ```
pub struct Semaphore {
    state: AtomicUsize,
    waiters: Mutex<WaitList<Waiter>>,
}

#[derive(Debug)]
struct Waiter {
    /// Permits still missing; 0 once fully granted.
    remaining: usize,
}

/// The semaphore was closed; no permits will be handed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcquireError(());

impl fmt::Display for AcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("semaphore closed")
    }
}

impl std::error::Error for AcquireError {}

/// Why [`Semaphore::try_acquire`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryAcquireError {
    /// The semaphore was closed.
    Closed,
    /// Not enough permits right now (or other tasks are queued ahead).
    NoPermits,
}

impl fmt::Display for TryAcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryAcquireError::Closed => f.write_str("semaphore closed"),
            TryAcquireError::NoPermits => f.write_str("no permits available"),
        }
    }
}

impl std::error::Error for TryAcquireError {}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("permits", &self.available_permits())
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl Default for Semaphore {
    fn default() -> Self {
        Semaphore::new(0)
    }
}

impl Semaphore {
    /// The largest number of permits a semaphore can hold.
    pub const MAX_PERMITS: usize = usize::MAX >> 3;

    /// A semaphore with `permits` permits.
    ///
    /// # Panics
    ///
    /// If `permits` exceeds [`Semaphore::MAX_PERMITS`].
    #[track_caller]
    pub fn new(permits: usize) -> Self {
        assert!(
            permits <= Self::MAX_PERMITS,
            "a semaphore holds at most Semaphore::MAX_PERMITS permits"
        );
        Semaphore {
            state: AtomicUsize::new(permits << SHIFT),
            waiters: Mutex::new(WaitList::new()),
        }
    }

    /// The number of permits that can be taken right now.
    pub fn available_permits(&self) -> usize {
        self.state.load(Ordering::Acquire) >> SHIFT
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.state.load(Ordering::Acquire) & CLOSED != 0
    }

    /// Adds `n` permits, waking queued waiters in FIFO order.
    ///
    /// # Panics
    ///
    /// If the total would exceed [`Semaphore::MAX_PERMITS`].
    #[track_caller]
    pub fn add_permits(&self, n: usize) {
        self.release(n);
    }

    /// Removes up to `n` available permits and returns how many were removed.
    pub fn forget_permits(&self, n: usize) -> usize {
        let mut cur = self.state.load(Ordering::Acquire);
        loop {
            let take = (cur >> SHIFT).min(n);
            match self.state.compare_exchange_weak(
                cur,
                cur - (take << SHIFT),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return take,
                Err(actual) => cur = actual,
            }
        }
    }

    /// Closes the semaphore: queued and future `acquire`s fail with
    /// [`AcquireError`]. Permits already held stay valid, and releasing them
    /// still adds them back.
    pub fn close(&self) {
        let mut wakers = WakeList::new();
        {
            let mut w = lock(&self.waiters);
            self.state.fetch_or(CLOSED, Ordering::AcqRel);
            w.drain(|node| wakers.push(node.waker.take()));
            self.state.fetch_and(!WAITERS, Ordering::AcqRel);
        }
        wakers.wake_all();
    }

    /// Takes one permit if one is free and nobody is queued.
    ///
    /// # Errors
    ///
    /// [`TryAcquireError::NoPermits`] if none is free (or others wait),
    /// [`TryAcquireError::Closed`] if the semaphore is closed.
    pub fn try_acquire(&self) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.try_acquire_raw(1)?;
        Ok(SemaphorePermit {
            sem: self,
            permits: 1,
        })
    }

    /// Takes `n` permits if they are free and nobody is queued.
    ///
    /// # Errors
    ///
    /// As [`try_acquire`](Self::try_acquire).
    pub fn try_acquire_many(&self, n: u32) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.try_acquire_raw(n as usize)?;
        Ok(SemaphorePermit {
            sem: self,
            permits: n as usize,
        })
    }

    /// [`try_acquire`](Self::try_acquire) for an `Arc<Semaphore>`, returning a
    /// permit that owns the `Arc`.
    ///
    /// # Errors
    ///
    /// As [`try_acquire`](Self::try_acquire).
    pub fn try_acquire_owned(self: Arc<Self>) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        self.try_acquire_many_owned(1)
    }

    /// [`try_acquire_many`](Self::try_acquire_many) returning an owned permit.
    ///
    /// # Errors
    ///
    /// As [`try_acquire`](Self::try_acquire).
    pub fn try_acquire_many_owned(
        self: Arc<Self>,
        n: u32,
    ) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        self.try_acquire_raw(n as usize)?;
        Ok(OwnedSemaphorePermit {
            sem: self,
            permits: n as usize,
        })
    }

    /// Waits for one permit.
    ///
    /// Cancel-safe: see the [type docs](Semaphore#cancel-safety).
    ///
    /// # Errors
    ///
    /// [`AcquireError`] if the semaphore is (or gets) closed.
    pub async fn acquire(&self) -> Result<SemaphorePermit<'_>, AcquireError> {
        self.acquire_raw(1).await?;
        Ok(SemaphorePermit {
            sem: self,
            permits: 1,
        })
    }

    /// Waits for `n` permits, taken all at once (FIFO with other waiters).
    ///
    /// Cancel-safe: see the [type docs](Semaphore#cancel-safety).
    ///
    /// # Errors
    ///
    /// [`AcquireError`] if the semaphore is (or gets) closed.
    pub async fn acquire_many(&self, n: u32) -> Result<SemaphorePermit<'_>, AcquireError> {
        self.acquire_raw(n as usize).await?;
        Ok(SemaphorePermit {
            sem: self,
            permits: n as usize,
        })
    }

    /// Waits for one permit of an `Arc<Semaphore>`; the permit owns the `Arc`
    /// so it can move into a spawned task.
    ///
    /// Cancel-safe: see the [type docs](Semaphore#cancel-safety).
    ///
    /// # Errors
    ///
    /// [`AcquireError`] if the semaphore is (or gets) closed.
    pub async fn acquire_owned(self: Arc<Self>) -> Result<OwnedSemaphorePermit, AcquireError> {
        self.acquire_many_owned(1).await
    }

    /// Waits for `n` permits of an `Arc<Semaphore>`.
    ///
    /// Cancel-safe: see the [type docs](Semaphore#cancel-safety).
    ///
    /// # Errors
    ///
    /// [`AcquireError`] if the semaphore is (or gets) closed.
    pub async fn acquire_many_owned(
        self: Arc<Self>,
        n: u32,
    ) -> Result<OwnedSemaphorePermit, AcquireError> {
        self.acquire_raw(n as usize).await?;
        Ok(OwnedSemaphorePermit {
            sem: self,
            permits: n as usize,
        })
    }

    /// The single-CAS fast path.
    pub(crate) fn try_acquire_raw(&self, n: usize) -> Result<(), TryAcquireError> {
        let mut cur = self.state.load(Ordering::Acquire);
        loop {
            if cur & CLOSED != 0 {
                return Err(TryAcquireError::Closed);
            }
            if cur & WAITERS != 0 || (cur >> SHIFT) < n {
                return Err(TryAcquireError::NoPermits);
            }
            match self.state.compare_exchange_weak(
                cur,
                cur - (n << SHIFT),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Ok(()),
                Err(actual) => cur = actual,
            }
        }
    }

    /// Waits for `n` permits without wrapping them in a guard.
    pub(crate) fn acquire_raw(&self, n: usize) -> Acquire<'_> {
        Acquire {
            sem: self,
            n,
            key: None,
        }
    }

    /// Returns `n` permits: to the queue first (FIFO), the rest to the count.
    #[track_caller]
    pub(crate) fn release(&self, n: usize) {
        let mut cur = self.state.load(Ordering::Acquire);
        while cur & WAITERS == 0 {
            if n == 0 {
                return;
            }
            assert!(
                (cur >> SHIFT) + n <= Self::MAX_PERMITS,
                "a semaphore holds at most Semaphore::MAX_PERMITS permits"
            );
            match self.state.compare_exchange_weak(
                cur,
                cur + (n << SHIFT),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return,
                Err(actual) => cur = actual,
            }
        }
        self.release_locked(lock(&self.waiters), n);
    }

    /// Hands `n` permits to the queue under the lock, keeps the `WAITERS`
    /// invariant, then wakes whoever was fully granted.
    fn release_locked(&self, mut w: MutexGuard<'_, WaitList<Waiter>>, mut n: usize) {
        let mut wakers = WakeList::new();
        while n > 0 {
            let Some(key) = w.front() else { break };
            let node = w.node_mut(key);
            let give = n.min(node.data.remaining);
            node.data.remaining -= give;
            n -= give;
            if node.data.remaining == 0 {
                wakers.push(node.waker.take());
                w.unlink(key);
            }
        }
        if w.is_empty() {
            let mut cur = self.state.load(Ordering::Acquire);
            loop {
                assert!(
                    (cur >> SHIFT) + n <= Self::MAX_PERMITS,
                    "a semaphore holds at most Semaphore::MAX_PERMITS permits"
                );
                let new = (cur & !WAITERS) + (n << SHIFT);
                if new == cur {
                    break;
                }
                match self.state.compare_exchange_weak(
                    cur,
                    new,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => break,
                    Err(actual) => cur = actual,
                }
            }
        }
        drop(w);
        wakers.wake_all();
    }

    fn poll_acquire(
        &self,
        n: usize,
        key: &mut Option<Key>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), AcquireError>> {
        if let Some(k) = *key {
            let mut w = lock(&self.waiters);
            let node = w.node_mut(k);
            if node.is_linked() {
                node.set_waker(cx.waker());
                return Poll::Pending;
            }
            let remaining = node.data.remaining;
            w.remove(k);
            *key = None;
            if remaining == 0 {
                return Poll::Ready(Ok(()));
            }
            // Unlinked without a full grant: the semaphore was closed. Give
            // back the partial grant.
            self.release_locked(w, n - remaining);
            return Poll::Ready(Err(AcquireError(())));
        }
        if n == 0 {
            return Poll::Ready(if self.is_closed() {
                Err(AcquireError(()))
            } else {
                Ok(())
            });
        }
        match self.try_acquire_raw(n) {
            Ok(()) => return Poll::Ready(Ok(())),
            Err(TryAcquireError::Closed) => return Poll::Ready(Err(AcquireError(()))),
            Err(TryAcquireError::NoPermits) => {}
        }
        let mut w = lock(&self.waiters);
        let mut cur = self.state.load(Ordering::Acquire);
        let taken = loop {
            if cur & CLOSED != 0 {
                return Poll::Ready(Err(AcquireError(())));
            }
            let avail = cur >> SHIFT;
            let (new, taken) = if cur & WAITERS == 0 && avail >= n {
                (cur - (n << SHIFT), n)
            } else {
                ((cur - (avail.min(n) << SHIFT)) | WAITERS, avail.min(n))
            };
            match self
                .state
                .compare_exchange(cur, new, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => break taken,
                Err(actual) => cur = actual,
            }
        };
        if taken == n {
            return Poll::Ready(Ok(()));
        }
        *key = Some(w.push_back(
            Waiter {
                remaining: n - taken,
            },
            Some(cx.waker().clone()),
        ));
        Poll::Pending
    }

    /// Cancels a queued acquire: frees its node and passes on what it holds.
    fn cancel_acquire(&self, n: usize, key: Key) {
        let mut w = lock(&self.waiters);
        let node = w.remove(key);
        self.release_locked(w, n - node.data.remaining);
    }
}

/// The future behind every `acquire*`: `n` permits, no guard.
///
/// Dropping it while queued releases whatever it was granted.
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub(crate) struct Acquire<'a> {
    sem: &'a Semaphore,
    n: usize,
    key: Option<Key>,
}

impl Future for Acquire<'_> {
    type Output = Result<(), AcquireError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        this.sem.poll_acquire(this.n, &mut this.key, cx)
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.sem.cancel_acquire(self.n, key);
        }
    }
}

/// Permits borrowed from a [`Semaphore`]; returned when dropped.
#[must_use = "dropping the permit releases it at once"]
pub struct SemaphorePermit<'a> {
    sem: &'a Semaphore,
    permits: usize,
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit")
            .field("permits", &self.permits)
            .finish()
    }
}

impl SemaphorePermit<'_> {
    /// Keeps the permits out of the semaphore for good.
    pub fn forget(mut self) {
        self.permits = 0;
    }

    /// How many permits this guard holds.
    pub fn num_permits(&self) -> usize {
        self.permits
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        self.sem.release(self.permits);
    }
}

/// Permits of an `Arc<Semaphore>`; returned when dropped.
#[must_use = "dropping the permit releases it at once"]
pub struct OwnedSemaphorePermit {
    sem: Arc<Semaphore>,
    permits: usize,
}

impl fmt::Debug for OwnedSemaphorePermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedSemaphorePermit")
            .field("permits", &self.permits)
            .finish()
    }
}

impl OwnedSemaphorePermit {
    /// Keeps the permits out of the semaphore for good.
    pub fn forget(mut self) {
        self.permits = 0;
    }

    /// How many permits this guard holds.
    pub fn num_permits(&self) -> usize {
        self.permits
    }

    /// The semaphore the permits came from.
    pub fn semaphore(&self) -> &Arc<Semaphore> {
        &self.sem
    }
}

impl Drop for OwnedSemaphorePermit {
    fn drop(&mut self) {
        self.sem.release(self.permits);
    }
}
