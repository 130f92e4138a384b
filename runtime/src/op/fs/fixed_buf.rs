//! [`FixedBufPool`] and [`FixedBuf`]: buffers registered with a worker's
//! ring, for `IORING_OP_READ_FIXED` / `IORING_OP_WRITE_FIXED`.
//!
//! Registering pins the buffers' pages and maps them into the kernel once,
//! instead of on every I/O. The ring then refers to each buffer by index.
//!
//! Lifetime: the memory of registered buffers must outlive the
//! registration. The pool's buffers live in a shared inner value that the
//! pool and every checked-out [`FixedBuf`] keep alive (an op in flight owns
//! its `FixedBuf`, also when orphaned), so it is freed only when the pool
//! and all its buffers are gone — then, on the ring's thread inside the
//! runtime, the buffers are unregistered first and freed; anywhere else the
//! memory is deliberately leaked, never freed while the ring may use it.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Poll, Waker};

use crate::buf::{AlignedBuf, IoBuf, IoBufMut};
use crate::executor::context;

/// The alignment of every pool buffer: a page, so that the buffers also
/// serve `O_DIRECT` files.
const ALIGN: usize = 4096;

/// A set of equally sized buffers registered with the ring of the worker
/// that created it. `Send + Sync`; cloning gives another handle to the same
/// pool.
///
/// Take a buffer with [`FixedBufPool::try_get`] or [`FixedBufPool::get`];
/// dropping the [`FixedBuf`] returns it. Reads and writes with a `FixedBuf`
/// on the pool's worker use `READ_FIXED`/`WRITE_FIXED`; on another worker
/// they fall back to plain `READ`/`WRITE` (the buffer is ordinary memory).
///
/// A ring has one table of registered buffers: creating a second pool on
/// the same worker while the first lives fails with `EBUSY`.
#[derive(Clone)]
pub struct FixedBufPool {
    inner: Arc<Inner>,
}

struct Inner {
    /// The worker whose ring holds the registration; 0 (no worker has that
    /// id) when nothing was registered: under the thread-pool driver the
    /// buffers are plain memory and reads and writes take the plain path.
    worker: u64,
    buf_size: usize,
    count: usize,
    state: Mutex<State>,
}

struct State {
    /// Free buffers by index; `None` while checked out.
    slots: Vec<Option<AlignedBuf>>,
    /// Tasks waiting in [`FixedBufPool::get`].
    waiters: Vec<Waker>,
}

impl FixedBufPool {
    /// Allocates `count` zeroed buffers of `buf_size` bytes (page-aligned)
    /// and registers them with the current worker's ring.
    ///
    /// # Errors
    ///
    /// - `InvalidInput` for `count` 0 or above 16384 (the kernel's limit),
    ///   or `buf_size` 0 or above 1 GiB.
    /// - An error without errno outside a ringbolt runtime.
    /// - The kernel's error for the registration: `EBUSY` if this ring has
    ///   registered buffers already, `ENOMEM` if the pinned memory exceeds
    ///   `RLIMIT_MEMLOCK`, ...
    pub fn new(count: usize, buf_size: usize) -> io::Result<FixedBufPool> {
        if count == 0 || count > 16384 || buf_size == 0 || buf_size > 1 << 30 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "FixedBufPool: {count} buffers of {buf_size} bytes; use 1..=16384 buffers \
                     of 1 byte to 1 GiB"
                ),
            ));
        }
        let mut slots = Vec::with_capacity(count);
        for _ in 0..count {
            slots.push(AlignedBuf::with_capacity(buf_size, ALIGN)?);
        }
        let iovecs: Vec<libc::iovec> = slots
            .iter_mut()
            .map(|b| libc::iovec {
                iov_base: b.stable_mut_ptr().cast(),
                iov_len: b.bytes_total(),
            })
            .collect();
        let registered = context::with_current(|w| {
            let Some(ring) = w.ring() else {
                return Ok(0);
            };
            let mut driver = ring.try_borrow_mut().map_err(|_| {
                io::Error::other("FixedBufPool: the driver is busy; create the pool from a task")
            })?;
            // SAFETY: the iovecs describe the heap allocations of `slots`, which move into `Inner`
            // below and are only freed by `Inner::drop` after a successful unregistration on this
            // worker (or leaked); the allocations never move.
            unsafe { driver.register_buffers(&iovecs) }?;
            Ok::<u64, io::Error>(w.id)
        });
        let worker = match registered {
            Some(res) => res?,
            None => return Err(crate::op::no_runtime()),
        };
        Ok(FixedBufPool {
            inner: Arc::new(Inner {
                worker,
                buf_size,
                count,
                state: Mutex::new(State {
                    slots: slots.into_iter().map(Some).collect(),
                    waiters: Vec::new(),
                }),
            }),
        })
    }

    /// The number of buffers.
    pub fn count(&self) -> usize {
        self.inner.count
    }

    /// The capacity of each buffer.
    pub fn buf_size(&self) -> usize {
        self.inner.buf_size
    }

    /// A free buffer (empty, capacity [`buf_size`](Self::buf_size)), or
    /// `None` if all are checked out.
    pub fn try_get(&self) -> Option<FixedBuf> {
        let mut state = self.inner.lock();
        let index = state.slots.iter().position(Option::is_some)?;
        let mut buf = state.slots[index].take()?;
        buf.set_len(0);
        Some(FixedBuf {
            buf: Some(buf),
            index: index as u16,
            pool: self.inner.clone(),
        })
    }

    /// A free buffer, waiting until one is returned if all are checked out.
    pub async fn get(&self) -> FixedBuf {
        poll_fn(|cx| {
            if let Some(buf) = self.try_get() {
                return Poll::Ready(buf);
            }
            let mut state = self.inner.lock();
            // Re-check under the lock: a buffer returned in between would
            // otherwise wake nobody.
            if state.slots.iter().any(Option::is_some) {
                cx.waker().wake_by_ref();
            } else {
                state.waiters.push(cx.waker().clone());
            }
            Poll::Pending
        })
        .await
    }
}

impl fmt::Debug for FixedBufPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FixedBufPool")
            .field("worker", &self.inner.worker)
            .field("count", &self.inner.count)
            .field("buf_size", &self.inner.buf_size)
            .finish()
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let slots = std::mem::take(&mut self.lock().slots);
        if self.worker == 0 {
            // Never registered: plain memory.
            drop(slots);
            return;
        }
        let unregistered = context::with_current(|w| {
            w.id == self.worker
                && w.ring().is_some_and(|ring| {
                    ring.try_borrow_mut()
                        .is_ok_and(|mut d| d.unregister_buffers().is_ok())
                })
        });
        if unregistered != Some(true) {
            // Not on the ring's thread (or the unregistration failed): the
            // kernel may still map this memory, so it is never freed.
            tracing::warn!(
                bytes = self.count * self.buf_size,
                "ringbolt: a FixedBufPool was dropped away from its worker; its registered \
                 memory is leaked (drop pools inside the runtime, on the worker that created them)"
            );
            std::mem::forget(slots);
        }
    }
}

/// A buffer checked out of a [`FixedBufPool`]: page-aligned, with a fixed
/// capacity and a length, like an [`AlignedBuf`]. Dropping it returns it to
/// the pool.
pub struct FixedBuf {
    /// Always `Some` until dropped.
    buf: Option<AlignedBuf>,
    index: u16,
    pool: Arc<Inner>,
}

impl FixedBuf {
    fn buf(&self) -> &AlignedBuf {
        self.buf.as_ref().expect("FixedBuf used after drop")
    }

    fn buf_mut(&mut self) -> &mut AlignedBuf {
        self.buf.as_mut().expect("FixedBuf used after drop")
    }

    /// The buffer's index in the ring's registered table.
    pub fn index(&self) -> u16 {
        self.index
    }

    /// The capacity (the pool's buffer size).
    pub fn capacity(&self) -> usize {
        self.buf().capacity()
    }

    /// Sets the length (the bytes a write sends) within the capacity.
    ///
    /// # Panics
    ///
    /// If `len > self.capacity()`.
    #[track_caller]
    pub fn set_len(&mut self, len: usize) {
        self.buf_mut().set_len(len);
    }

    /// Copies `data` into the buffer and sets the length to its length.
    ///
    /// # Panics
    ///
    /// If `data` is longer than the capacity.
    #[track_caller]
    pub fn copy_from_slice(&mut self, data: &[u8]) {
        let buf = self.buf_mut();
        buf.set_len(data.len());
        buf.copy_from_slice(data);
    }

    /// Whether ops on this thread can use the registration (the pool's
    /// worker runs here).
    pub(super) fn registered_here(&self) -> bool {
        context::current_id() == Some(self.pool.worker)
    }
}

impl Drop for FixedBuf {
    fn drop(&mut self) {
        if let Some(buf) = self.buf.take() {
            let waiters = {
                let mut state = self.pool.lock();
                state.slots[self.index as usize] = Some(buf);
                std::mem::take(&mut state.waiters)
            };
            for waker in waiters {
                waker.wake();
            }
        }
    }
}

impl Deref for FixedBuf {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.buf()
    }
}

impl DerefMut for FixedBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        self.buf_mut()
    }
}

impl fmt::Debug for FixedBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FixedBuf")
            .field("index", &self.index)
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .finish()
    }
}

// SAFETY: every method forwards to the inner `AlignedBuf` (an `IoBuf`),
// which is present from creation until drop and never replaced, so the
// pointer, counts and contents keep the AlignedBuf's guarantees, also
// across moves of the `FixedBuf`.
unsafe impl IoBuf for FixedBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.buf().stable_ptr()
    }

    fn bytes_init(&self) -> usize {
        self.buf().bytes_init()
    }

    fn bytes_total(&self) -> usize {
        self.buf().bytes_total()
    }
}

// SAFETY: forwards to the inner `AlignedBuf` (an `IoBufMut`), which only
// this `FixedBuf` holds while it is checked out (the pool's slot is `None`
// until the drop returns it).
unsafe impl IoBufMut for FixedBuf {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.buf_mut().stable_mut_ptr()
    }

    unsafe fn set_init(&mut self, pos: usize) {
        // SAFETY: the caller's promise for this buffer is the promise for
        // the inner one: same memory, same total.
        unsafe { self.buf_mut().set_init(pos) }
    }
}
