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
//!
//! The listener's stream of connections ([`Acceptor::incoming`], a
//! multishot accept) reports to the same queue: the connections its
//! multishot op accepts after the stream is dropped, and those it had
//! accepted but not yet yielded, are queued too, for the next accept or
//! stream.

use std::collections::VecDeque;
use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::os::fd::OwnedFd;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use super::accept_multi::AcceptStream;
use super::recv_salvage::{Received, Salvage, Salvaged};
use super::{owned_fd, Accept, SockAddr};
use crate::fd::SharedFd;
use crate::op::Op;
use crate::spin::SpinLock;

/// The accept side of a listener: see the module docs. `Send + Sync`; one
/// per listener.
pub struct Acceptor {
    shared: Arc<Shared>,
}

pub(super) struct Shared {
    state: SpinLock<State>,
}

#[derive(Default)]
struct State {
    /// Connections accepted by ops whose future was dropped.
    salvaged: VecDeque<(OwnedFd, SockAddr)>,
    /// Accepts and streams in progress, to wake when a connection is
    /// salvaged: each by its registration id ([`Registration`]), so that
    /// two of them in one task (the same waker) come off the list one by
    /// one as each ends.
    waiting: Vec<(u64, Waker)>,
    /// The id of the next registration.
    next_id: u64,
}

/// An accept's (or stream's) place on its acceptor's list of waiters:
/// none until it first waits; taken off the list by
/// [`Acceptor::forget_waiter`].
pub(super) type Registration = Option<u64>;

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
        for (_, w) in waiting {
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
        if let Some(conn) = self.take_salvaged() {
            return Ok(conn);
        }
        let mut op = pin!(Op::new(self.salvaging(Accept::new(fd.clone()))));
        // Takes our waker off the list however the accept ends.
        let mut waiting = Waiting(self, None);
        let done = poll_fn(|cx| {
            if let Poll::Ready(done) = op.as_mut().poll(cx) {
                return Poll::Ready(Ok(done));
            }
            // Ours is dropped below if a connection was salvaged meanwhile:
            // cancelled, or salvaged in turn.
            self.poll_salvaged(cx, &mut waiting.1).map(Err)
        })
        .await;
        drop(waiting);
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

    /// The connections accepted on the listening socket `fd`, as a stream
    /// (a multishot accept where the kernel has it), reporting to this
    /// acceptor: connections salvaged from dropped accepts come first, and
    /// those the stream's op accepted but did not yield when the stream
    /// was dropped are queued here for the next accept or stream.
    pub fn incoming(&self, fd: SharedFd) -> AcceptStream {
        AcceptStream::reporting_to(fd, self.clone_handle())
    }

    /// Connections accepted by dropped accepts or streams, not handed out
    /// yet.
    pub fn salvaged(&self) -> usize {
        self.shared.state.lock().salvaged.len()
    }

    /// Another handle to the same queue.
    pub(super) fn clone_handle(&self) -> Acceptor {
        Acceptor {
            shared: self.shared.clone(),
        }
    }

    /// `op` wrapped so that what it accepts after its future (or stream)
    /// is dropped is queued here.
    pub(super) fn salvaging<T>(&self, op: T) -> Salvaged<T, Shared>
    where
        T: Received<Got = (OwnedFd, SockAddr)>,
    {
        Salvaged::new(op, self.shared.clone())
    }

    /// Takes the accept registered as `reg` off the list of accepts to
    /// wake (it is over); others with the same waker stay on it.
    pub(super) fn forget_waiter(&self, reg: &mut Registration) {
        if let Some(id) = reg.take() {
            self.shared
                .state
                .lock()
                .waiting
                .retain(|(other, _)| *other != id);
        }
    }

    /// The oldest salvaged connection, if any.
    pub(super) fn take_salvaged(&self) -> Option<(OwnedFd, SockAddr)> {
        self.shared.state.lock().salvaged.pop_front()
    }

    /// The oldest salvaged connection; else `cx`'s waker is registered as
    /// `reg` (a new registration the first time, or the one `reg` already
    /// names, its waker updated), to be woken when one is salvaged.
    pub(super) fn poll_salvaged(
        &self,
        cx: &mut Context<'_>,
        reg: &mut Registration,
    ) -> Poll<(OwnedFd, SockAddr)> {
        let mut st = self.shared.state.lock();
        if let Some(conn) = st.salvaged.pop_front() {
            return Poll::Ready(conn);
        }
        let id = match *reg {
            Some(id) => id,
            None => {
                let id = st.next_id;
                st.next_id += 1;
                *reg = Some(id);
                id
            }
        };
        // A wake-up (`finished`) empties the list: registered again then.
        match st.waiting.iter_mut().find(|(other, _)| *other == id) {
            Some((_, w)) => w.clone_from(cx.waker()),
            None => st.waiting.push((id, cx.waker().clone())),
        }
        Poll::Pending
    }
}

/// An accept registered in `State::waiting`: takes its waker off the list
/// when dropped.
struct Waiting<'a>(&'a Acceptor, Registration);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.forget_waiter(&mut self.1);
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

    /// Counts its wake-ups.
    struct Count(std::sync::atomic::AtomicUsize);

    impl std::task::Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    #[test]
    fn an_accept_that_ends_leaves_another_of_its_task_registered() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let _peer = std::net::TcpStream::connect(addr).unwrap();
        let (conn, _) = listener.accept().unwrap();
        let acceptor = Acceptor::new();
        let count = Arc::new(Count(Default::default()));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        // Two accepts of one task wait, with the same waker.
        let (mut first, mut second) = (None, None);
        assert!(acceptor.poll_salvaged(&mut cx, &mut first).is_pending());
        assert!(acceptor.poll_salvaged(&mut cx, &mut second).is_pending());
        assert_ne!(first, second);
        // A second poll keeps one entry per accept.
        assert!(acceptor.poll_salvaged(&mut cx, &mut first).is_pending());
        assert_eq!(acceptor.shared.state.lock().waiting.len(), 2);
        // The first ends (its own op completed): the second still waits.
        acceptor.forget_waiter(&mut first);
        assert_eq!(first, None);
        // A connection salvaged now wakes the task for the second.
        let peer = SockAddr::empty();
        acceptor.shared.salvaged(Ok((OwnedFd::from(conn), peer)));
        acceptor.shared.finished();
        assert_eq!(count.0.load(std::sync::atomic::Ordering::SeqCst), 1);
        let Poll::Ready(_) = acceptor.poll_salvaged(&mut cx, &mut second) else {
            panic!("the salvaged connection was not handed to the second accept");
        };
        acceptor.forget_waiter(&mut second);
        assert!(acceptor.shared.state.lock().waiting.is_empty());
    }
}
