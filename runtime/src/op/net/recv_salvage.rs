//! [`Salvaged`]: a plain receive of a [`RingRecv`](super::RingRecv) that
//! loses nothing when its future is dropped.
//!
//! A dropped receive is cancelled in the kernel, but the cancellation can
//! come too late: the kernel may already have copied bytes into the
//! caller's buffer, and its completion then arrives for an op nobody
//! awaits. Those bytes are gone from the socket, so dropping them would
//! cut a hole in the stream. The wrapper hands them to its receiver
//! instead ([`Salvage::salvaged`]), whose next read returns them first.
//! The receiver runs one plain receive at a time, so salvaged bytes always
//! come before anything a later receive gets.

use std::io;
use std::os::fd::RawFd;
use std::sync::Arc;

use io_uring::squeue;

use super::{Recv, RecvMsg};
use crate::buf::IoBufMut;
use crate::op::OpCode;

/// Where a dropped receive's bytes go, and who learns that the receive is
/// over: the receiver's shared state.
pub(crate) trait Salvage: Send + Sync + 'static {
    /// The bytes (or the error) a receive got after its future was
    /// dropped, to be read before anything else.
    fn salvaged(&self, got: io::Result<Vec<u8>>);

    /// The receive is over, collected or not: the next may start.
    fn finished(&self);
}

/// A receive op whose received bytes can be copied out after its
/// completion.
pub(crate) trait Received {
    /// Appends the first `n` received bytes to `out`.
    fn copy_received(&self, n: usize, out: &mut Vec<u8>);
}

impl<B: IoBufMut + Send> Received for Recv<B> {
    fn copy_received(&self, n: usize, out: &mut Vec<u8>) {
        self.copy_into(n, out);
    }
}

impl<B: IoBufMut + Send> Received for RecvMsg<B> {
    fn copy_received(&self, n: usize, out: &mut Vec<u8>) {
        self.copy_into(n, out);
    }
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
            // The end of the stream stays in the socket: the next receive
            // sees it again.
            0 => {}
            n if n > 0 => {
                let mut got = Vec::with_capacity(n as usize);
                self.op.copy_received(n as usize, &mut got);
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
