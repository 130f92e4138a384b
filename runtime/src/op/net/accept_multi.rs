//! IORING_OP_ACCEPT with IORING_ACCEPT_MULTISHOT: one SQE accepts every
//! incoming connection; [`AcceptStream`] wraps it as a stream of sockets and
//! falls back to single-shot accepts on kernels without it (before 5.19).

use std::fmt;
use std::future::Future;
use std::io;
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use io_uring::{opcode, squeue, types};

use super::accept::{accept_once, Accept};
use super::acceptor::{Acceptor, Registration, Shared};
use super::recv_salvage::{Received, Salvaged};
use super::{close_orphan_fd, owned_fd, sys, SockAddr};
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
}

impl AcceptMulti {
    /// Accepts on the listening socket `fd` until cancelled.
    pub fn new(fd: SharedFd) -> Self {
        AcceptMulti { fd }
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

    fn readiness(&self) -> Option<(&SharedFd, u32)> {
        Some((&self.fd, crate::driver::READABLE))
    }

    /// As `Accept`'s: the listener is switched to non-blocking mode.
    fn run_nonblocking(&mut self) -> io::Result<u32> {
        self.fd.ensure_nonblocking()?;
        accept_once(&self.fd, None)
    }

    fn orphan_completed(&mut self, res: i32, _flags: u32) {
        close_orphan_fd(res);
    }

    fn blocking_repeats(&self) -> bool {
        true
    }
}

impl Received for AcceptMulti {
    type Got = (OwnedFd, SockAddr);

    /// The connection of one CQE, with its peer's address (a multishot
    /// accept records none: asked with `getpeername`, or left empty if the
    /// peer is gone already).
    fn received(&mut self, n: u32) -> (OwnedFd, SockAddr) {
        // SAFETY: a non-negative ACCEPT result is a fresh descriptor that
        // only this completion knows about; each CQE is received once.
        let conn = unsafe { owned_fd(n) };
        let peer = sys::peer_addr(&conn).unwrap_or_else(|_| SockAddr::empty());
        (conn, peer)
    }
}

enum Mode {
    /// A multishot accept (armed on the next poll if `None`).
    Multi(Option<MultiOp<Salvaged<AcceptMulti, Shared>>>),
    /// Single-shot accepts, one after the other.
    Single(Option<Op<Salvaged<Accept, Shared>>>),
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
/// The stream never ends by itself. Dropping it cancels the accept. The
/// connections accepted in the meantime, and those accepted but not yet
/// yielded, are queued on the [`Acceptor`] the stream reports to (made
/// by [`Acceptor::incoming`]), whose next accept or stream hands them
/// out; a stream made by [`AcceptStream::new`] has an acceptor of its own,
/// and those connections are closed with it, never leaked.
pub struct AcceptStream {
    fd: SharedFd,
    mode: Mode,
    /// Whether the multishot accept ever produced a connection (an `EINVAL`
    /// then is the socket's error, not a missing feature).
    accepted_any: bool,
    /// Where connections accepted after a drop go, and come from.
    acceptor: Acceptor,
    /// Our place on `acceptor`'s list of waiters, left on drop.
    registration: Registration,
}

impl AcceptStream {
    /// Accepts on the listening socket `fd`, multishot where the kernel
    /// has it, with an acceptor of its own (see the type docs).
    pub fn new(fd: SharedFd) -> Self {
        AcceptStream::reporting_to(fd, Acceptor::new())
    }

    /// Accepts with single-shot ops only (the fallback, forced).
    pub fn single_shot(fd: SharedFd) -> Self {
        let mut stream = AcceptStream::new(fd);
        stream.mode = Mode::Single(None);
        stream
    }

    /// Accepts on `fd`, salvaging into (and taking first from) `acceptor`.
    pub(super) fn reporting_to(fd: SharedFd, acceptor: Acceptor) -> Self {
        AcceptStream {
            fd,
            mode: Mode::Multi(None),
            accepted_any: false,
            acceptor,
            registration: None,
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
        if let Some((conn, _)) = self.acceptor.take_salvaged() {
            return Poll::Ready(Ok(conn));
        }
        match self.poll_op(cx) {
            Poll::Pending => {
                // A connection salvaged meanwhile (by a dropped accept on
                // the same listener) wakes us too.
                self.acceptor
                    .poll_salvaged(cx, &mut self.registration)
                    .map(|(conn, _)| Ok(conn))
            }
            ready => ready,
        }
    }

    #[track_caller]
    fn poll_op(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<OwnedFd>> {
        loop {
            match &mut self.mode {
                Mode::Multi(slot) => {
                    let op = slot.get_or_insert_with(|| {
                        MultiOp::new(self.acceptor.salvaging(AcceptMulti::new(self.fd.clone())))
                    });
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
                    let op = slot.get_or_insert_with(|| {
                        Op::new(self.acceptor.salvaging(Accept::new(self.fd.clone())))
                    });
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

impl Drop for AcceptStream {
    fn drop(&mut self) {
        self.acceptor.forget_waiter(&mut self.registration);
    }
}

impl fmt::Debug for AcceptStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = match &self.mode {
            Mode::Multi(op) => {
                if op.is_some() {
                    "multishot, armed"
                } else {
                    "multishot"
                }
            }
            Mode::Single(op) => {
                if op.is_some() {
                    "single-shot, pending"
                } else {
                    "single-shot"
                }
            }
        };
        f.debug_struct("AcceptStream")
            .field("fd", &self.fd)
            .field("mode", &mode)
            .field("acceptor", &self.acceptor)
            .finish()
    }
}

impl Stream for AcceptStream {
    type Item = io::Result<OwnedFd>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_accept(cx).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::{AsRawFd, IntoRawFd};

    use super::super::recv_salvage::poll_once;
    use super::*;

    #[test]
    fn connections_a_dropped_stream_accepted_go_to_its_acceptor() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let peers: Vec<_> = (0..2)
            .map(|_| std::net::TcpStream::connect(addr).unwrap())
            .collect();
        let conns: Vec<OwnedFd> = (0..2)
            .map(|_| OwnedFd::from(listener.accept().unwrap().0))
            .collect();
        let raws: Vec<_> = conns.iter().map(|c| c.as_raw_fd()).collect();
        let acceptor = Acceptor::new();
        let fd = SharedFd::new(OwnedFd::from(listener));
        let mut op = acceptor.salvaging(AcceptMulti::new(fd.clone()));
        assert!(op.multishot(), "the wrapper hides that the op is multishot");
        // The multishot op's CQEs after its stream was dropped: each
        // connection is queued with its peer's address, the cancellation's
        // ECANCELED is ignored.
        for conn in conns {
            op.orphan_completed(conn.into_raw_fd(), 0);
        }
        op.orphan_completed(-libc::ECANCELED, 0);
        drop(op);
        assert_eq!(acceptor.salvaged(), 2);
        // The next stream on the listener yields the first, an accept
        // takes the second, with the address recorded for it.
        let mut stream = acceptor.incoming(fd.clone());
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let Poll::Ready(Ok(first)) = stream.poll_accept(&mut cx) else {
            panic!("a salvaged connection was not yielded first");
        };
        assert_eq!(first.as_raw_fd(), raws[0]);
        let Poll::Ready(Ok((second, peer))) = poll_once(acceptor.accept(&fd)) else {
            panic!("the second salvaged connection was not accepted");
        };
        assert_eq!(second.as_raw_fd(), raws[1]);
        assert_eq!(peer.to_inet(), Some(peers[1].local_addr().unwrap()));
        assert_eq!(acceptor.salvaged(), 0);
    }
}
