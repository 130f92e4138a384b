//! [`Acceptor`]: single-shot accepts on a listener, where an accept whose
//! future is dropped loses no connection.
//!
//! A dropped ACCEPT is cancelled in the kernel, but the cancellation can
//! come too late: an op dropped while its SQE still waits in the
//! submission queue is issued before its cancel, and with a connection
//! pending it completes at once. Its descriptor used to be closed, so the
//! peer saw its connection reset. The op is wrapped in
//! [`Salvaged`] instead: such a connection is queued on the listener's
//! acceptor, and the next accept (or one already waiting in the kernel,
//! which is woken for it) takes it.

use std::collections::VecDeque;
use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::os::fd::OwnedFd;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Poll, Waker};

use super::recv_salvage::{Salvage, Salvaged};
use super::{owned_fd, Accept, SockAddr};
use crate::fd::SharedFd;
use crate::op::Op;
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

impl Salvage<(OwnedFd, SockAddr)> for Shared {
    fn salvaged(&self, got: io::Result<(OwnedFd, SockAddr)>) {
        // An error a dropped accept got (EMFILE, ...) is the listener's
        // state, not a connection: the next accept meets it again.
        if let Ok(conn) = got {
            self.state.lock().salvaged.push_back(conn);
        }
    }

    /// Called as the op's data is dropped, outside the driver's borrow:
    /// wakes the accepts in progress if a connection is waiting for them.
    fn finished(&self) {
        let waiting = {
            let mut st = self.state.lock();
            if st.salvaged.is_empty() {
                return;
            }
            std::mem::take(&mut st.waiting)
        };
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
        let wrapped = Salvaged::new(Accept::new(fd.clone()), self.shared.clone());
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
                Ok((conn, done.data.into_inner().into_addr()))
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

#[cfg(test)]
mod tests {
    use std::os::fd::AsRawFd;

    use super::super::recv_salvage::poll_once;
    use super::*;
    use crate::op::OpCode;

    #[test]
    fn a_connection_a_dropped_accept_got_goes_to_the_next_accept() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let _peer = std::net::TcpStream::connect(addr).unwrap();
        let (conn, _) = listener.accept().unwrap();
        let raw = conn.as_raw_fd();
        let acceptor = Acceptor::new();
        let fd = SharedFd::new(OwnedFd::from(listener));
        let mut op = Salvaged::new(Accept::new(fd.clone()), acceptor.shared.clone());
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
