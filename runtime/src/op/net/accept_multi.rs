//! IORING_OP_ACCEPT with IORING_ACCEPT_MULTISHOT: one SQE accepts every
//! incoming connection; [`AcceptStream`] wraps it as a stream of sockets and
//! falls back to single-shot accepts on kernels without it (before 5.19).

use std::future::Future;
use std::io;
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use io_uring::{opcode, squeue, types};

use super::accept::{accept_once, ensure_nonblocking, Accept};
use super::{close_orphan_fd, owned_fd};
use crate::fd::SharedFd;
use crate::op::{multishot_supported, MultiOp, Op, OpCode};

/// A multishot accept: one completion per accepted connection (no peer
/// address; ask the socket with `getpeername`). Use it with [`MultiOp`].
///
/// Connections accepted after the stream was dropped are closed
/// ([`OpCode::orphan_completed`]).
#[derive(Debug)]
pub struct AcceptMulti {
    fd: SharedFd,
    /// The listener was switched to non-blocking mode (readiness path).
    nonblocking: bool,
}

impl AcceptMulti {
    /// Accepts on the listening socket `fd` until cancelled.
    pub fn new(fd: SharedFd) -> Self {
        AcceptMulti {
            fd,
            nonblocking: false,
        }
    }
}

// SAFETY: a multishot ACCEPT SQE points to no memory (no address is
// requested); the fd is kept open by the SharedFd clone held here.
unsafe impl OpCode for AcceptMulti {
    fn multishot(&self) -> bool {
        true
    }

    fn sqe(&mut self) -> squeue::Entry {
        opcode::AcceptMulti::new(types::Fd(self.fd.as_raw_fd()))
            .flags(libc::SOCK_CLOEXEC)
            .build()
    }

    fn run_blocking(&mut self) -> io::Result<u32> {
        // One connection per call (no address, as on the ring): the
        // synchronous equivalent of one CQE.
        loop {
            match accept_once(&self.fd, None) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                res => return res,
            }
        }
    }

    fn readiness(&self) -> Option<(std::os::fd::RawFd, u32)> {
        Some((self.fd.as_raw_fd(), crate::driver::READABLE))
    }

    fn run_nonblocking(&mut self) -> io::Result<u32> {
        ensure_nonblocking(&self.fd, &mut self.nonblocking)?;
        accept_once(&self.fd, None)
    }

    fn orphan_completed(&mut self, res: i32, _flags: u32) {
        close_orphan_fd(res);
    }

    fn blocking_repeats(&self) -> bool {
        true
    }
}

#[derive(Debug)]
enum Mode {
    /// A multishot accept (armed on the next poll if `None`).
    Multi(Option<MultiOp<AcceptMulti>>),
    /// Single-shot accepts, one after the other.
    Single(Option<Op<Accept>>),
}

/// The connections accepted on a listening socket, as a stream of new
/// descriptors (close-on-exec).
///
/// Backed by a multishot accept: connections are accepted by the kernel as
/// they arrive, with no SQE per connection. When the multishot op ends (an
/// error such as `EMFILE` ends it; the error is yielded) it is re-armed on
/// the next poll. Where the ring has no multishot ops (kernels before 5.19,
/// multishot switched off, the thread-pool driver) or the kernel refuses
/// multishot accept (`EINVAL` before any connection), the stream uses
/// single-shot accepts.
///
/// The stream never ends by itself. Dropping it cancels the accept; a
/// connection accepted in the meantime is closed, never leaked.
#[derive(Debug)]
pub struct AcceptStream {
    fd: SharedFd,
    mode: Mode,
    /// Whether the multishot accept ever produced a connection (an `EINVAL`
    /// then is the socket's error, not a missing feature).
    accepted_any: bool,
}

impl AcceptStream {
    /// Accepts on the listening socket `fd`, multishot where the kernel has it.
    pub fn new(fd: SharedFd) -> Self {
        AcceptStream {
            fd,
            mode: Mode::Multi(None),
            accepted_any: false,
        }
    }

    /// Accepts with single-shot ops only (the fallback, forced).
    pub fn single_shot(fd: SharedFd) -> Self {
        AcceptStream {
            fd,
            mode: Mode::Single(None),
            accepted_any: false,
        }
    }

    /// Whether the stream uses (or, before its first poll, will use) a
    /// multishot accept.
    pub fn is_multishot(&self) -> bool {
        matches!(self.mode, Mode::Multi(_)) && multishot_supported()
    }

    /// Polls for the next accepted connection.
    ///
    /// # Panics
    ///
    /// When polled on a thread other than the one whose ring the pending
    /// accept was submitted to.
    #[track_caller]
    pub fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<OwnedFd>> {
        loop {
            match &mut self.mode {
                Mode::Multi(slot) => {
                    let op =
                        slot.get_or_insert_with(|| MultiOp::new(AcceptMulti::new(self.fd.clone())));
                    match op.poll_next_completion(cx) {
                        Poll::Pending => return Poll::Pending,
                        // The multishot op ended: re-arm it.
                        Poll::Ready(None) => *slot = None,
                        Poll::Ready(Some((Ok(n), _flags))) => {
                            self.accepted_any = true;
                            // SAFETY: a successful ACCEPT completion is a new
                            // descriptor, ours alone.
                            return Poll::Ready(Ok(unsafe { owned_fd(n) }));
                        }
                        Poll::Ready(Some((Err(e), flags))) => {
                            let ended = !io_uring::cqueue::more(flags);
                            if ended {
                                *slot = None;
                            }
                            if ended && !self.accepted_any && e.raw_os_error() == Some(libc::EINVAL)
                            {
                                // No multishot accept in this kernel.
                                self.mode = Mode::Single(None);
                                continue;
                            }
                            return Poll::Ready(Err(e));
                        }
                    }
                }
                Mode::Single(slot) => {
                    let op = slot.get_or_insert_with(|| Op::new(Accept::new(self.fd.clone())));
                    let done = match Pin::new(op).poll(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(done) => done,
                    };
                    *slot = None;
                    return Poll::Ready(done.result.map(|n| {
                        // SAFETY: a successful ACCEPT completion is a new
                        // descriptor, ours alone.
                        unsafe { owned_fd(n) }
                    }));
                }
            }
        }
    }
}

impl Stream for AcceptStream {
    type Item = io::Result<OwnedFd>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_accept(cx).map(Some)
    }
}
