//! [`Salvaged`]: a plain receive of a [`RingRecv`](super::RingRecv) or a
//! [`DgramRecv`](super::DgramRecv) that loses nothing when its future is
//! dropped.
//!
//! A dropped receive is cancelled in the kernel, but the cancellation can
//! come too late: the kernel may already have copied bytes into the
//! caller's buffer, and its completion then arrives for an op nobody
//! awaits. Those bytes are gone from the socket, so dropping them would
//! cut a hole in the stream. The wrapper hands them to its receiver
//! instead ([`Salvage::salvaged`]), whose next read returns them first.
//! The receiver runs one plain receive at a time, so salvaged bytes always
//! come before anything a later receive gets. A datagram is salvaged
//! whole, with its sender's address.

use std::io;
use std::os::fd::RawFd;
use std::sync::Arc;

use io_uring::squeue;

use super::{Recv, RecvMsg, SockAddr};
use crate::buf::IoBufMut;
use crate::op::OpCode;

/// Where a dropped receive's bytes go, and who learns that the receive is
/// over: the receiver's shared state.
pub(crate) trait Salvage: Send + Sync + 'static {
    /// What (or the error) a receive got after its future was dropped, to
    /// be read before anything else.
    fn salvaged(&self, got: io::Result<Got>);

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

/// A receive op whose received bytes can be copied out after its
/// completion.
pub(crate) trait Received {
    /// The first `n` received bytes (`n` is the completion's result), and
    /// the sender's address if the op recorded it.
    fn received(&mut self, n: usize) -> Got;
}

impl<B: IoBufMut + Send> Received for Recv<B> {
    fn received(&mut self, n: usize) -> Got {
        let mut bytes = Vec::with_capacity(n);
        self.copy_into(n, &mut bytes);
        Got { bytes, from: None }
    }
}

impl<B: IoBufMut + Send> Received for RecvMsg<B> {
    fn received(&mut self, n: usize) -> Got {
        let mut bytes = Vec::with_capacity(n);
        self.copy_into(n, &mut bytes);
        Got {
            bytes,
            from: self.take_addr(),
        }
    }
}

/// Copies `src` into `buf` from offset `at`, as much as fits in its
/// capacity, and marks the bytes up to there initialised; returns how many
/// it copied.
pub(crate) fn fill<B: IoBufMut>(buf: &mut B, at: usize, src: &[u8]) -> usize {
    let n = src.len().min(buf.bytes_total().saturating_sub(at));
    // SAFETY: `at + n <= bytes_total()`, so the copy stays inside the
    // buffer's memory (IoBufMut contract), which `src` (a ring buffer or
    // salvaged bytes, never the caller's buffer) does not overlap; the
    // bytes up to `at + n` are initialised (those before `at` by earlier
    // calls), so `set_init` may cover them.
    unsafe {
        std::ptr::copy_nonoverlapping(src.as_ptr(), buf.stable_mut_ptr().add(at), n);
        buf.set_init(at + n);
    }
    n
}

/// A plain receive (`T`) reporting to its receiver (`S`): a completion
/// nobody collects is salvaged, and the end of the op, whichever way it
/// ends, is reported when the op's data is dropped.
pub(crate) struct Salvaged<T, S: Salvage> {
    op: T,
    end: End<S>,
}

/// Reports the end of the receive when dropped.
struct End<S: Salvage>(Arc<S>);

impl<S: Salvage> Drop for End<S> {
    fn drop(&mut self) {
        self.0.finished();
    }
}

impl<T, S: Salvage> Salvaged<T, S> {
    pub(crate) fn new(op: T, to: Arc<S>) -> Self {
        Salvaged { op, end: End(to) }
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
unsafe impl<T: OpCode + Received, S: Salvage> OpCode for Salvaged<T, S> {
    fn sqe(&mut self) -> squeue::Entry {
        self.op.sqe()
    }

    fn run_blocking(&mut self) -> io::Result<u32> {
        self.op.run_blocking()
    }

    fn orphan_completed(&mut self, res: i32, flags: u32) {
        match res {
            // 0 is a stream's end (the receiver ignores it: it stays in the
            // socket) or an empty datagram (the receiver keeps it).
            n if n >= 0 => {
                let got = self.op.received(n as usize);
                self.end.0.salvaged(Ok(got));
            }
            // Our own cancellation: nothing was taken.
            e if -e == libc::ECANCELED || -e == libc::EINTR || -e == libc::EAGAIN => {}
            e => self.end.0.salvaged(Err(io::Error::from_raw_os_error(-e))),
        }
        self.op.orphan_completed(res, flags);
    }

    fn readiness(&self) -> Option<(RawFd, u32)> {
        self.op.readiness()
    }

    fn run_nonblocking(&mut self) -> io::Result<u32> {
        self.op.run_nonblocking()
    }
}

/// Polls `f` once with a waker that does nothing (unit tests of the
/// salvage paths, which need no runtime).
#[cfg(test)]
pub(crate) fn poll_once<F: std::future::Future>(f: F) -> std::task::Poll<F::Output> {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    std::pin::pin!(f).poll(&mut cx)
}
