//! [`Salvaged`]: a plain receive of a [`RingRecv`](super::RingRecv) or a
//! [`DgramRecv`](super::DgramRecv), or an accept of an
//! [`Acceptor`](super::Acceptor) (single-shot, or the multishot accept of
//! its [`AcceptStream`](super::AcceptStream)), that loses nothing when its
//! future is dropped.
//!
//! A dropped receive is cancelled in the kernel, but the cancellation can
//! come too late: the kernel may already have copied bytes into the
//! caller's buffer, and its completion then arrives for an op nobody
//! awaits. Those bytes are gone from the socket, so dropping them would
//! cut a hole in the stream. The wrapper hands them to its receiver
//! instead ([`Salvage::salvaged`]), whose next read returns them first.
//! The receiver runs one plain receive at a time, so salvaged bytes always
//! come before anything a later receive gets. A datagram is salvaged
//! whole, with its sender's address; an accepted connection with its
//! peer's.

use std::io;
use std::os::fd::OwnedFd;
use std::sync::Arc;

use io_uring::squeue;

use super::{owned_fd, Accept, Recv, RecvMsg, SockAddr};
use crate::buf::IoBufMut;
use crate::op::OpCode;

/// Where what a dropped op got goes, and who learns that the op is over:
/// the receiver's (or acceptor's) shared state. `G` is what the op gets.
pub(crate) trait Salvage<G>: Send + Sync + 'static {
    /// What (or the error) an op got after its future was dropped, to be
    /// handed out before anything else.
    fn salvaged(&self, got: io::Result<G>);

    /// The receive is over, collected or not: the next may start.
    fn finished(&self);
}

/// What a completed receive got: its bytes and, for a RECVMSG that
/// recorded it, the sender's address.
#[derive(Debug)]
pub(crate) struct Got {
    pub(crate) bytes: Vec<u8>,
    pub(crate) from: Option<SockAddr>,
}

/// An op whose result can be taken out of it after its completion.
pub(crate) trait Received {
    /// What the op gets.
    type Got;

    /// What a completion with result `n` (non-negative) got: for a
    /// receive its first `n` bytes, and the sender's address if the op
    /// recorded it. Called at most once per completion (a multishot
    /// accept has one per connection), instead of the op's own
    /// `orphan_completed`: what it returns is owned by the caller.
    fn received(&mut self, n: u32) -> Self::Got;
}

impl<B: IoBufMut + Send> Received for Recv<B> {
    type Got = Got;

    fn received(&mut self, n: u32) -> Got {
        let n = n as usize;
        let mut bytes = Vec::with_capacity(n);
        self.copy_into(n, &mut bytes);
        Got { bytes, from: None }
    }
}

impl<B: IoBufMut + Send> Received for RecvMsg<B> {
    type Got = Got;

    fn received(&mut self, n: u32) -> Got {
        let n = n as usize;
        let mut bytes = Vec::with_capacity(n);
        self.copy_into(n, &mut bytes);
        Got {
            bytes,
            from: self.take_addr(),
        }
    }
}

impl Received for Accept {
    type Got = (OwnedFd, SockAddr);

    fn received(&mut self, n: u32) -> (OwnedFd, SockAddr) {
        // SAFETY: a non-negative ACCEPT result is a fresh descriptor that
        // only this op knows about, and `received` runs at most once.
        let conn = unsafe { owned_fd(n) };
        (conn, self.take_addr())
    }
}

/// Copies `src` into `buf` from offset `at`, as much as fits in its
/// capacity, and marks the bytes up to there initialised; returns how many
/// it copied.
pub(crate) fn fill<B: IoBufMut>(buf: &mut B, at: usize, src: &[u8]) -> usize {
    let n = src.len().min(buf.bytes_total().saturating_sub(at));
    // `src` is a ring buffer or salvaged bytes, never `buf` itself; bytes
    // before `at` were initialised by earlier calls.
    // SAFETY: `at + n <= bytes_total()` keeps the copy inside `buf`
    // (IoBufMut contract), `src` does not overlap it, and `0..at + n` is
    // initialised after it, so `set_init` may cover it.
    unsafe {
        std::ptr::copy_nonoverlapping(src.as_ptr(), buf.stable_mut_ptr().add(at), n);
        buf.set_init(at + n);
    }
    n
}

/// A plain receive (`T`) reporting to its receiver (`S`): a completion
/// nobody collects is salvaged, and the end of the op, whichever way it
/// ends, is reported when the op's data is dropped.
pub(crate) struct Salvaged<T: Received, S: Salvage<T::Got>> {
    op: T,
    end: End<T::Got, S>,
}

/// Reports the end of the op when dropped.
struct End<G, S: Salvage<G>>(Arc<S>, std::marker::PhantomData<fn(G)>);

impl<G, S: Salvage<G>> Drop for End<G, S> {
    fn drop(&mut self) {
        self.0.finished();
    }
}

impl<T: Received, S: Salvage<T::Got>> Salvaged<T, S> {
    pub(crate) fn new(op: T, to: Arc<S>) -> Self {
        Salvaged {
            op,
            end: End(to, std::marker::PhantomData),
        }
    }

    /// The receive op itself, for its result; the end is reported now.
    pub(crate) fn into_inner(self) -> T {
        let Salvaged { op, end } = self;
        drop(end);
        op
    }
}

// SAFETY: every SQE pointer is the inner op's, into memory the inner op
// owns (its own OpCode contract); the wrapper only adds an `Arc`, and
// moving the wrapper moves the inner op, which its contract allows.
unsafe impl<T: OpCode + Received, S: Salvage<T::Got>> OpCode for Salvaged<T, S> {
    fn sqe(&mut self) -> squeue::Entry {
        self.op.sqe()
    }

    fn run_blocking(&mut self) -> io::Result<u32> {
        self.op.run_blocking()
    }

    // The inner op's own `orphan_completed` is not called: what it got
    // is handed on (an accepted descriptor included), not released.
    fn orphan_completed(&mut self, res: i32, _flags: u32) {
        match res {
            // 0 is a stream's end (the receiver ignores it: it stays in the
            // socket) or an empty datagram (the receiver keeps it).
            n if n >= 0 => {
                let got = self.op.received(n as u32);
                self.end.0.salvaged(Ok(got));
            }
            // Our own cancellation: nothing was taken.
            e if -e == libc::ECANCELED || -e == libc::EINTR || -e == libc::EAGAIN => {}
            e => self.end.0.salvaged(Err(io::Error::from_raw_os_error(-e))),
        }
    }

    fn readiness(&self) -> Option<(&crate::fd::SharedFd, u32)> {
        self.op.readiness()
    }

    fn run_nonblocking(&mut self) -> io::Result<u32> {
        self.op.run_nonblocking()
    }

    fn multishot(&self) -> bool {
        self.op.multishot()
    }

    fn blocking_repeats(&self) -> bool {
        self.op.blocking_repeats()
    }
}

/// Polls `f` once with a waker that does nothing (unit tests of the
/// salvage paths, which need no runtime).
#[cfg(test)]
pub(crate) fn poll_once<F: std::future::Future>(f: F) -> std::task::Poll<F::Output> {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    std::pin::pin!(f).poll(&mut cx)
}
