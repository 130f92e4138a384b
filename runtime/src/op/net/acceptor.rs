//! [`Acceptor`]: single-shot accepts on a listener, where an accept whose
//! future is dropped loses no connection.
//!
//! A dropped ACCEPT is cancelled in the kernel, but the cancellation can
//! come too late: an op dropped while its SQE still waits in the
//! submission queue is issued before its cancel, and with a connection
//! pending it completes at once. Its descriptor used to be closed, so the
//! peer saw its connection reset. The op is wrapped here instead: such a
//! connection is queued on the listener's acceptor, and the next accept
//! (or one already waiting in the kernel, which is woken for it) takes it.

use std::collections::VecDeque;
use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::os::fd::{OwnedFd, RawFd};
use std::pin::pin;
use std::sync::Arc;
use std::task::{Poll, Waker};

use io_uring::squeue;

use super::{owned_fd, Accept, SockAddr};
use crate::fd::SharedFd;
use crate::op::{Op, OpCode};
use crate::spin::SpinLock;

/// The accept side of a listener: see the module docs. `Send + Sync`; one
/// per listener.
pub struct Acceptor {
    shared: Arc<Shared>,
}

struct Shared {
    state: SpinLock<State>,
}

#[derive(Default)]
struct State {
    /// Connections accepted by ops whose future was dropped.
    salvaged: VecDeque<(OwnedFd, SockAddr)>,
    /// Accepts in progress, to wake when a connection is salvaged.
    waiting: Vec<Waker>,
}

impl Shared {
    /// Wakes the accepts in progress (a connection was salvaged).
    fn wake_waiting(&self) {
        let waiting = std::mem::take(&mut self.state.lock().waiting);
        // Outside the lock: a waker may be user code.
        for w in waiting {
            w.wake();
        }
    }
}

impl Default for Acceptor {
    fn default() -> Self {
        Acceptor::new()
    }
}

impl Acceptor {
    /// An acceptor with nothing salvaged.
    pub fn new() -> Self {
        Acceptor {
            shared: Arc::new(Shared {
                state: SpinLock::new(State::default()),
            }),
        }
    }

    /// Accepts a connection on the listening socket `fd`: a salvaged one
    /// first, else the next the kernel has. The new descriptor is
    /// close-on-exec.
    ///
    /// # Errors
    ///
    /// The kernel's error (`EMFILE`, `EINVAL` if `fd` is not listening, ...).
    pub async fn accept(&self, fd: &SharedFd) -> io::Result<(OwnedFd, SockAddr)> {
        if let Some(conn) = self.shared.state.lock().salvaged.pop_front() {
            return Ok(conn);
        }
        let wrapped = Salvaging {
            op: Accept::new(fd.clone()),
            to: Wake(self.shared.clone()),
        };
        let mut op = pin!(Op::new(wrapped));
        let done = poll_fn(|cx| {
            if let Poll::Ready(done) = op.as_mut().poll(cx) {
                return Poll::Ready(Ok(done));
            }
            let mut st = self.shared.state.lock();
            if let Some(conn) = st.salvaged.pop_front() {
                // Ours is dropped below: cancelled, or salvaged in turn.
                return Poll::Ready(Err(conn));
            }
            if !st.waiting.iter().any(|w| w.will_wake(cx.waker())) {
                st.waiting.push(cx.waker().clone());
            }
            Poll::Pending
        })
        .await;
        match done {
            Ok(done) => {
                let n = done.result?;
                // SAFETY: a successful ACCEPT completion is a new
                // descriptor, ours alone.
                let conn = unsafe { owned_fd(n) };
                Ok((conn, done.data.op.into_addr()))
            }
            Err(conn) => Ok(conn),
        }
    }

    /// Connections accepted by dropped accepts, not handed out yet.
    pub fn salvaged(&self) -> usize {
        self.shared.state.lock().salvaged.len()
    }
}

impl fmt::Debug for Acceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acceptor")
            .field("salvaged", &self.salvaged())
            .finish()
    }
}

/// Wakes the acceptor's waiting accepts when dropped: an op's data is
/// dropped outside the driver's borrow, after any salvage.
struct Wake(Arc<Shared>);

impl Drop for Wake {
    fn drop(&mut self) {
        if !self.0.state.lock().salvaged.is_empty() {
            self.0.wake_waiting();
        }
    }
}

/// An ACCEPT whose completion, if nobody collects it, is queued on the
/// acceptor instead of closed.
struct Salvaging {
    op: Accept,
    to: Wake,
}

// SAFETY: every SQE pointer is the inner Accept's, into storage it owns
// (its own OpCode contract); moving the wrapper moves it, which that
// contract allows.
unsafe impl OpCode for Salvaging {
    fn sqe(&mut self) -> squeue::Entry {
        self.op.sqe()
    }

    fn run_blocking(&mut self) -> io::Result<u32> {
        self.op.run_blocking()
    }

    fn orphan_completed(&mut self, res: i32, _flags: u32) {
        if res >= 0 {
            // SAFETY: a non-negative ACCEPT result is a fresh descriptor
            // that only this op knows about; its future is gone.
            let conn = unsafe { owned_fd(res as u32) };
            let addr = self.op.take_addr();
            self.to.0.state.lock().salvaged.push_back((conn, addr));
        }
    }

    fn readiness(&self) -> Option<(RawFd, u32)> {
        self.op.readiness()
    }

    fn run_nonblocking(&mut self) -> io::Result<u32> {
        self.op.run_nonblocking()
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsRawFd;

    use super::super::recv_salvage::poll_once;
    use super::*;

    #[test]
    fn a_connection_a_dropped_accept_got_goes_to_the_next_accept() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let _peer = std::net::TcpStream::connect(addr).unwrap();
        let (conn, _) = listener.accept().unwrap();
        let raw = conn.as_raw_fd();
        let acceptor = Acceptor::new();
        let fd = SharedFd::new(OwnedFd::from(listener));
        let mut op = Salvaging {
            op: Accept::new(fd.clone()),
            to: Wake(acceptor.shared.clone()),
        };
        // The kernel's completion for an accept nobody awaits any more:
        // the descriptor is queued, not closed.
        op.orphan_completed(std::os::fd::IntoRawFd::into_raw_fd(conn), 0);
        drop(op);
        assert_eq!(acceptor.salvaged(), 1);
        let Poll::Ready(Ok((got, _))) = poll_once(acceptor.accept(&fd)) else {
            panic!("the salvaged connection was not accepted first");
        };
        assert_eq!(got.as_raw_fd(), raw);
        assert_eq!(acceptor.salvaged(), 0);
    }
}
