//! A file descriptor shared by a handle and its in-flight operations.

use std::fmt;
use std::io;
use std::mem::ManuallyDrop;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

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
///
/// It is a reference-counted pointer like `Arc`, with the count kept in
/// the word of the descriptor's [`SendGate`]: claiming the gate for a
/// detached send takes the send's reference in the same atomic step (see
/// [`claim_send`](SharedFd::claim_send)).
pub struct SharedFd {
    inner: NonNull<Inner>,
}

// SAFETY: `Inner` is shared between threads only through `&Inner` (atomics,
// a mutex, and an `OwnedFd` that is read only) and freed by the holder that
// drops the last reference, exactly as `Arc<Inner>` would be; `Inner` is
// `Send + Sync`.
unsafe impl Send for SharedFd {}
// SAFETY: as for `Send`: `&SharedFd` hands out only `&Inner`.
unsafe impl Sync for SharedFd {}

// What the two impls above rely on.
const _: () = {
    const fn send_and_sync<T: Send + Sync>() {}
    send_and_sync::<Inner>();
};

/// In this order (`repr(C)`), the fields a send touches (the slot, the
/// descriptor, the gate's word with the reference count) are the
/// allocation's first 24 bytes: one cache line, or two when the allocator
/// places the block across a line boundary.
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
    /// `O_NONBLOCK` was set through [`SharedFd::set_nonblocking`] (or
    /// `ensure_nonblocking`) and not cleared since.
    nonblocking: AtomicBool,
    /// This descriptor's identity for the thread-pool driver's readiness
    /// table (0 until first asked for; see [`SharedFd::identity`]).
    identity: AtomicU64,
}

/// The last identity handed out by [`SharedFd::identity`].
static LAST_IDENTITY: AtomicU64 = AtomicU64::new(0);

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
        let inner = Box::new(Inner {
            fixed: AtomicU64::new(NO_SLOT),
            fd: ManuallyDrop::new(fd),
            uses: AtomicU32::new(0),
            gate: SendGate::new(),
            nonblocking: AtomicBool::new(false),
            identity: AtomicU64::new(0),
        });
        SharedFd {
            inner: NonNull::from(Box::leak(inner)),
        }
    }

    /// The shared block.
    #[inline]
    fn inner(&self) -> &Inner {
        // SAFETY: `inner` came from `Box::leak` and is freed only by the
        // holder of the last reference; `self` is a reference, so the
        // block lives at least as long as this borrow.
        unsafe { self.inner.as_ref() }
    }

    /// Takes the block back from the last reference, which was just given
    /// up (`release_ref`, `release_unique` or `finish_and_release` said
    /// so): nobody else can reach it any more.
    fn into_box(self) -> Box<Inner> {
        let this = ManuallyDrop::new(self);
        // SAFETY: the block came from `Box::leak` in `new`; the caller gave
        // up the last reference, so no other `SharedFd` points at it, and
        // `this` is never dropped (no second free).
        unsafe { Box::from_raw(this.inner.as_ptr()) }
    }

    /// The raw descriptor number (valid while this `SharedFd` lives).
    pub fn as_raw_fd(&self) -> RawFd {
        self.inner().fd.as_raw_fd()
    }

    /// The slot of this descriptor in the fixed-file table of this
    /// thread's ring, for an op about to be submitted there (use
    /// `io_uring::types::Fixed(slot)` in its SQE), or `None` to use the
    /// plain descriptor. After `FIXED_AFTER_OPS` calls on one worker the
    /// descriptor is registered there; a descriptor holds at most one slot,
    /// on the first worker that registers it (ops from other workers use
    /// the plain descriptor).
    pub fn fixed_slot(&self) -> Option<u32> {
        let v = self.inner().fixed.load(Ordering::Acquire);
        if v == NEVER {
            return None;
        }
        context::with_current(|w| {
            if v != NO_SLOT {
                return (v >> 32 == w.id).then_some(v as u32);
            }
            let uses = self.inner().uses.load(Ordering::Relaxed);
            if uses < FIXED_AFTER_OPS {
                self.inner().uses.store(uses + 1, Ordering::Relaxed);
                return None;
            }
            if w.id > u64::from(u32::MAX) {
                return None;
            }
            let mut driver = w.ring()?.try_borrow_mut().ok()?;
            let Some(slot) = driver.register_file(self.as_raw_fd()) else {
                self.inner().fixed.store(NEVER, Ordering::Release);
                return None;
            };
            let tagged = (w.id << 32) | u64::from(slot);
            match self.inner().fixed.compare_exchange(
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

    /// Sets (`true`) or clears `O_NONBLOCK` on the descriptor, and records
    /// it for [`ensure_nonblocking`](SharedFd::ensure_nonblocking). The
    /// mode belongs to the open file description, so a duplicated
    /// descriptor (`into_std`) shares it.
    ///
    /// # Errors
    ///
    /// The kernel's error (`fcntl(2)`).
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        // Recorded as unknown first: a failure leaves the mode uncertain.
        self.inner().nonblocking.store(false, Ordering::Relaxed);
        crate::op::net::sys::set_nonblocking(self, nonblocking)?;
        self.inner()
            .nonblocking
            .store(nonblocking, Ordering::Relaxed);
        Ok(())
    }

    /// Sets `O_NONBLOCK` unless it was set through this descriptor's
    /// [`set_nonblocking`](SharedFd::set_nonblocking) and not cleared
    /// since: the readiness paths of the thread-pool driver (accept,
    /// connect) call it before every attempt, and pay the `fcntl(2)` calls
    /// once per descriptor rather than once per operation. A descriptor
    /// set back to blocking through it (`into_std`) is switched again; a
    /// mode changed behind its back (an `fcntl` on `as_raw_fd()`) is not
    /// seen, so change it through [`set_nonblocking`](SharedFd::set_nonblocking).
    ///
    /// # Errors
    ///
    /// The kernel's error (`fcntl(2)`).
    pub fn ensure_nonblocking(&self) -> io::Result<()> {
        if self.inner().nonblocking.load(Ordering::Relaxed) {
            return Ok(());
        }
        self.set_nonblocking(true)
    }

    /// A number that names this descriptor, and no other, for the life of
    /// the process (unlike its fd number, which the kernel reuses once it
    /// is closed): the thread-pool driver's readiness table tells by it
    /// whether the socket behind an fd number is the one it registered.
    /// Assigned on the first call, the same for every clone.
    pub fn identity(&self) -> u64 {
        let id = self.inner().identity.load(Ordering::Relaxed);
        if id != 0 {
            return id;
        }
        let new = LAST_IDENTITY.fetch_add(1, Ordering::Relaxed) + 1;
        match self
            .inner()
            .identity
            .compare_exchange(0, new, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => new,
            // Another clone assigned one first: that one is the identity.
            Err(set) => set,
        }
    }

    /// The descriptor's gate for the one detached send in flight on it
    /// (write-behind sends): shared by every clone.
    pub fn send_gate(&self) -> &SendGate {
        &self.inner().gate
    }

    /// Claims the descriptor's [`SendGate`] for a detached send about to
    /// be submitted: a new reference to the descriptor, for the send to
    /// hold until its completion, or `None` if a send is in flight or a
    /// failure waits to be reported (settle first, with
    /// [`SendGate::poll_settle`]).
    ///
    /// The claim and the reference are taken in one atomic step. The
    /// returned `SharedFd` *is* the claim: give it back with
    /// [`finish_send`](SharedFd::finish_send), not by dropping it (a
    /// dropped claim leaves the gate busy, and every later write on the
    /// descriptor waiting).
    #[inline]
    #[must_use = "a claim dropped unfinished leaves the gate busy: end it with `finish_send`"]
    pub fn claim_send(&self) -> Option<SharedFd> {
        if self.inner().gate.claim_with_ref() {
            // The reference the claim just took.
            Some(SharedFd { inner: self.inner })
        } else {
            None
        }
    }

    /// Ends the claim this `SharedFd` is (from
    /// [`claim_send`](SharedFd::claim_send)) with the send's `outcome`
    /// (`Ok` also when the claim ends without a send), and gives up its
    /// reference. An error is kept for the next
    /// [`SendGate::poll_settle`]; whoever waits for the gate is woken.
    pub fn finish_send(self, outcome: io::Result<()>) {
        if self.inner().gate.finish_and_release(outcome) {
            drop(self.into_box());
        } else {
            std::mem::forget(self);
        }
    }

    /// The descriptor itself, if this is its only owner (no clone and no
    /// operation holds it); otherwise `self` back.
    ///
    /// # Errors
    ///
    /// Gives `self` back while other owners exist.
    pub fn try_unwrap(self) -> Result<OwnedFd, SharedFd> {
        if self.inner().gate.release_unique() {
            Ok((*self.into_box()).into_fd())
        } else {
            Err(self)
        }
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
        match self.try_unwrap() {
            Ok(fd) => crate::op::close(fd).await,
            Err(_) => Ok(()),
        }
    }
}

impl Clone for SharedFd {
    #[inline]
    fn clone(&self) -> SharedFd {
        self.inner().gate.acquire_ref();
        SharedFd { inner: self.inner }
    }
}

impl Drop for SharedFd {
    #[inline]
    fn drop(&mut self) {
        if self.inner().gate.release_ref() {
            // SAFETY: this was the last reference (`release_ref`), so no
            // other `SharedFd` points at the block, which came from
            // `Box::leak`; `self` is not used after.
            drop(unsafe { Box::from_raw(self.inner.as_ptr()) });
        }
    }
}

impl AsRawFd for SharedFd {
    fn as_raw_fd(&self) -> RawFd {
        self.inner().fd.as_raw_fd()
    }
}

impl AsFd for SharedFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner().fd.as_fd()
    }
}

impl fmt::Debug for SharedFd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SharedFd").field(&self.as_raw_fd()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::FromRawFd;

    /// A pipe: (read end, write end), the read end non-blocking.
    fn pipe() -> (OwnedFd, OwnedFd) {
        let mut fds = [0; 2];
        // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
        let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
        assert_eq!(rc, 0, "pipe2: {}", io::Error::last_os_error());
        // SAFETY: pipe2 succeeded, so both are open descriptors that
        // nothing else owns.
        let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        // SAFETY: F_SETFL on a descriptor this function owns.
        unsafe { libc::fcntl(r.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
        (r, w)
    }

    /// Whether the pipe's write end is still open somewhere: a read on
    /// the empty pipe would wait (`EAGAIN`) rather than see the end (0).
    fn writer_open(r: &OwnedFd) -> bool {
        let mut b = [0u8; 1];
        // SAFETY: reads at most one byte into `b`.
        let n = unsafe { libc::read(r.as_raw_fd(), b.as_mut_ptr().cast(), 1) };
        assert!(n <= 0, "nothing was written");
        n < 0
    }

    #[test]
    fn a_refused_claim_takes_no_reference() {
        let (_r, w) = pipe();
        let fd = SharedFd::new(w);
        let claim = fd.claim_send().expect("an idle gate");
        for _ in 0..3 {
            assert!(fd.claim_send().is_none(), "claimed twice");
        }
        claim.finish_send(Ok(()));
        // Exactly one reference is left: a refused claim that gave one
        // back would have freed the descriptor under `fd` by now.
        assert!(fd.try_unwrap().is_ok(), "references miscounted");
    }

    #[test]
    fn the_claim_keeps_the_descriptor_open_until_it_finishes() {
        let (r, w) = pipe();
        let fd = SharedFd::new(w);
        let claim = fd.claim_send().expect("an idle gate");
        let other = fd.clone();
        drop(fd);
        drop(other);
        assert!(writer_open(&r), "closed while the send's claim holds it");
        claim.finish_send(Err(io::ErrorKind::BrokenPipe.into()));
        assert!(
            !writer_open(&r),
            "the last reference went but the fd is open"
        );
    }

    #[test]
    fn try_unwrap_refuses_while_a_claim_holds_the_descriptor() {
        let (r, w) = pipe();
        let fd = SharedFd::new(w);
        let claim = fd.claim_send().expect("an idle gate");
        let fd = fd.try_unwrap().expect_err("the claim is a second owner");
        claim.finish_send(Ok(()));
        let owned = fd.try_unwrap().expect("the only owner now");
        assert!(writer_open(&r));
        drop(owned);
        assert!(!writer_open(&r));
    }
}
