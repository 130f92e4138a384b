//! A file descriptor shared by a handle and its in-flight operations.

use std::fmt;
use std::io;
use std::mem::ManuallyDrop;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use crate::executor::{context, registry};

mod gate;

pub use gate::SendGate;

/// Ops on one worker's ring after which a socket is registered there as a
/// fixed file: short-lived connections never pay the two registration
/// syscalls, long-lived ones save a descriptor lookup on every op.
const FIXED_AFTER_OPS: u32 = 8;
/// `Inner::fixed` when no slot is held.
const NO_SLOT: u64 = 0;
/// `Inner::fixed` once registration was refused: not tried again.
const NEVER: u64 = u64::MAX;

/// An owned file descriptor that every in-flight operation on it keeps
/// open: the descriptor is closed exactly once, when the last clone is
/// dropped (or by [`SharedFd::close`]), never while the kernel may still use
/// it — so a cancelled read can never land in a file that reused its number.
///
/// A socket that sees more than a few ops on one worker's ring is also
/// registered in that ring's fixed-file table (see
/// [`SharedFd::fixed_slot`]); the slot is released when the descriptor is
/// closed or taken out.
#[derive(Clone)]
pub struct SharedFd {
    inner: Arc<Inner>,
}

/// In this order (`repr(C)`), the fields a send touches (the reference
/// count in the `Arc` header, the slot, the descriptor, the gate's phase)
/// are the allocation's first 33 bytes: one cache line, or two when the
/// allocator places the block across a line boundary.
#[repr(C)]
struct Inner {
    /// `(worker id << 32) | slot` of the fixed-file slot that holds this
    /// descriptor, [`NO_SLOT`] or [`NEVER`].
    fixed: AtomicU64,
    fd: ManuallyDrop<OwnedFd>,
    /// Ops that asked for a slot so far (up to [`FIXED_AFTER_OPS`]).
    uses: AtomicU32,
    /// The detached send in flight, if any (see [`SendGate`]).
    gate: SendGate,
}

impl Inner {
    /// Releases the fixed-file slot, if any: on its worker's ring directly
    /// when this is that worker's thread (inside `block_on` or not) and the
    /// ring is not borrowed, else through the worker's remote queue, which
    /// the worker drains at its next loop iteration (nothing to do if the
    /// worker is gone: its ring, and the table with it, are closed).
    fn release_slot(&self) {
        let v = self.fixed.swap(NEVER, Ordering::AcqRel);
        if v == NO_SLOT || v == NEVER {
            return;
        }
        let (worker, slot) = (v >> 32, v as u32);
        let done = context::with_owned(worker, |w| match w.ring().map(|r| r.try_borrow_mut()) {
            Some(Ok(mut driver)) => {
                driver.release_file(slot);
                true
            }
            _ => false,
        })
        .unwrap_or(false);
        if !done {
            registry::release_file(worker, slot);
        }
    }

    /// The descriptor, after releasing the slot.
    fn into_fd(self) -> OwnedFd {
        let mut this = ManuallyDrop::new(self);
        this.release_slot();
        // SAFETY: `this` never runs Inner's drop (ManuallyDrop), so the
        // gate (an unreported error, wakers) is dropped exactly once, here,
        // and not used after.
        unsafe { std::ptr::drop_in_place(&mut this.gate) };
        // SAFETY: `this` is never dropped (ManuallyDrop), so `fd` is taken
        // exactly once; the other fields are atomics with nothing to drop.
        unsafe { ManuallyDrop::take(&mut this.fd) }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The slot first: a table slot keeps the socket open.
        self.release_slot();
        // SAFETY: dropped once, here; `into_fd` forgets `self` instead.
        unsafe { ManuallyDrop::drop(&mut self.fd) };
    }
}

impl SharedFd {
    /// Takes ownership of `fd`.
    pub fn new(fd: OwnedFd) -> Self {
        SharedFd {
            inner: Arc::new(Inner {
                fixed: AtomicU64::new(NO_SLOT),
                fd: ManuallyDrop::new(fd),
                uses: AtomicU32::new(0),
                gate: SendGate::new(),
            }),
        }
    }

    /// The raw descriptor number (valid while this `SharedFd` lives).
    pub fn as_raw_fd(&self) -> RawFd {
        self.inner.fd.as_raw_fd()
    }

    /// The slot of this descriptor in the fixed-file table of this
    /// thread's ring, for an op about to be submitted there (use
    /// `io_uring::types::Fixed(slot)` in its SQE), or `None` to use the
    /// plain descriptor. After `FIXED_AFTER_OPS` calls on one worker the
    /// descriptor is registered there; a descriptor holds at most one slot,
    /// on the first worker that registers it (ops from other workers use
    /// the plain descriptor).
    pub fn fixed_slot(&self) -> Option<u32> {
        let v = self.inner.fixed.load(Ordering::Acquire);
        if v == NEVER {
            return None;
        }
        context::with_current(|w| {
            if v != NO_SLOT {
                return (v >> 32 == w.id).then_some(v as u32);
            }
            let uses = self.inner.uses.load(Ordering::Relaxed);
            if uses < FIXED_AFTER_OPS {
                self.inner.uses.store(uses + 1, Ordering::Relaxed);
                return None;
            }
            if w.id > u64::from(u32::MAX) {
                return None;
            }
            let mut driver = w.ring()?.try_borrow_mut().ok()?;
            let Some(slot) = driver.register_file(self.as_raw_fd()) else {
                self.inner.fixed.store(NEVER, Ordering::Release);
                return None;
            };
            let tagged = (w.id << 32) | u64::from(slot);
            match self.inner.fixed.compare_exchange(
                NO_SLOT,
                tagged,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => Some(slot),
                Err(_) => {
                    // Another worker registered it first (or it is closing).
                    driver.release_file(slot);
                    None
                }
            }
        })
        .flatten()
    }

    /// The descriptor's gate for the one detached send in flight on it
    /// (write-behind sends): shared by every clone.
    pub fn send_gate(&self) -> &SendGate {
        &self.inner.gate
    }

    /// The descriptor itself, if this is its only owner (no clone and no
    /// operation holds it); otherwise `self` back.
    ///
    /// # Errors
    ///
    /// Gives `self` back while other owners exist.
    pub fn try_unwrap(self) -> Result<OwnedFd, SharedFd> {
        Arc::try_unwrap(self.inner)
            .map(Inner::into_fd)
            .map_err(|inner| SharedFd { inner })
    }

    /// Closes the descriptor through the ring and returns the error
    /// `close(2)` reports. If operations still hold the descriptor (only
    /// possible for cancelled ones waiting for their completion), it is
    /// closed when the last of them finishes, and `Ok(())` is returned.
    ///
    /// # Errors
    ///
    /// The kernel's error for the close.
    pub async fn close(self) -> io::Result<()> {
        match Arc::try_unwrap(self.inner) {
            Ok(inner) => crate::op::close(inner.into_fd()).await,
            Err(_) => Ok(()),
        }
    }
}

impl AsRawFd for SharedFd {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.fd.as_raw_fd()
    }
}

impl AsFd for SharedFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.fd.as_fd()
    }
}

impl fmt::Debug for SharedFd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SharedFd").field(&self.as_raw_fd()).finish()
    }
}
