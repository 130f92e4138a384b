//! The readiness path of a socket op under the thread-pool driver: try the
//! call without blocking on the worker; when it would block, wait in the
//! worker's readiness table for the socket (see `driver::readiness`), then
//! try again.

use std::io;
use std::task::{Context, Poll};

use super::{no_runtime, OpCode};
use crate::driver::{Readiness, WaitToken};
use crate::executor::context;
use crate::fd::SharedFd;

/// A call the readiness path can drive: every socket [`OpCode`], and the
/// calls of `op::net::ready_io`, which run from their own futures and
/// borrow their descriptor instead of holding a [`SharedFd`] clone.
pub(crate) trait Attempt {
    /// The call without blocking: `WouldBlock` when it has to wait.
    fn attempt(&mut self) -> io::Result<u32>;

    /// The descriptor and the poll events a `WouldBlock` waits for
    /// (`None`: the `WouldBlock` is the result).
    fn readiness(&self) -> Option<(&SharedFd, u32)>;

    /// For a receive on a TCP socket: the bytes it asks for. A result of
    /// fewer (but some) shows that it drained the socket, and the next
    /// receive then waits without trying until the socket reports (see
    /// `Readiness::read_drained`). Default: `None` (a datagram's size says
    /// nothing about the queue behind it, and a Unix stream receive may
    /// stop short before a message that carries descriptors).
    fn tcp_receive_len(&self) -> Option<usize> {
        None
    }
}

impl<T: OpCode> Attempt for T {
    #[inline]
    fn attempt(&mut self) -> io::Result<u32> {
        self.run_nonblocking()
    }

    #[inline]
    fn readiness(&self) -> Option<(&SharedFd, u32)> {
        OpCode::readiness(self)
    }
}

/// What a poll of the readiness path gives.
pub(crate) enum Step {
    /// The call's result.
    Done(io::Result<u32>),
    /// epoll cannot watch the fd (`EPERM`: not a socket, pipe or the
    /// like): the op should run on the blocking pool instead.
    Unwatchable,
}

/// An op's wait for its socket, if it waits.
#[derive(Debug, Default)]
pub(crate) struct ReadyWait {
    /// The worker whose table holds the waiter, and its token.
    waiting: Option<(u64, WaitToken)>,
}

impl ReadyWait {
    /// Polls the op: keeps waiting while its waiter is registered; else
    /// tries the call, registering a new waiter when it would block.
    pub(crate) fn poll<T: Attempt + ?Sized>(
        &mut self,
        data: &mut T,
        cx: &mut Context<'_>,
    ) -> Poll<Step> {
        // Dropped after the table's borrow (see `still_waiting`).
        let mut replaced = None;
        let polled = context::with_current(|w| {
            let mut pool = w.pool()?.borrow_mut();
            let table = &mut pool.readiness;
            if let Some((worker, token)) = self.waiting {
                if worker == w.id && table.still_waiting(token, cx.waker(), &mut replaced) {
                    return Some(Poll::Pending);
                }
                // The socket was reported ready (or the op is polled on
                // another worker, where a stale waiter only wakes once).
                self.waiting = None;
            }
            let tcp_len = data.tcp_receive_len();
            if tcp_len.is_some() {
                if let Some((fd, events)) = data.readiness() {
                    if table.read_drained(fd) {
                        // Nothing to read since the last receive drained
                        // the socket: the attempt could only fail.
                        return Some(self.register(table, w.id, fd, events, cx));
                    }
                }
            }
            loop {
                match data.attempt() {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        let Some((fd, events)) = data.readiness() else {
                            return Some(Poll::Ready(Step::Done(Err(e))));
                        };
                        return Some(self.register(table, w.id, fd, events, cx));
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    res => {
                        if let (Ok(n), Some(len)) = (&res, tcp_len) {
                            if *n > 0 && (*n as usize) < len {
                                if let Some((fd, _)) = data.readiness() {
                                    table.note_read_drained(fd);
                                }
                            }
                        }
                        return Some(Poll::Ready(Step::Done(res)));
                    }
                }
            }
        })
        .flatten();
        drop(replaced);
        // Only an op moved to a thread without a thread-pool worker.
        polled.unwrap_or_else(|| Poll::Ready(Step::Done(Err(no_runtime()))))
    }

    /// Registers the waiter of a call on `fd` that has to wait for
    /// `events`.
    fn register(
        &mut self,
        table: &mut Readiness,
        worker: u64,
        fd: &SharedFd,
        events: u32,
        cx: &mut Context<'_>,
    ) -> Poll<Step> {
        match table.register(fd, events, cx.waker().clone()) {
            Ok(token) => {
                self.waiting = Some((worker, token));
                Poll::Pending
            }
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => Poll::Ready(Step::Unwatchable),
            Err(e) => Poll::Ready(Step::Done(Err(e))),
        }
    }
}

/// Whether this thread is a worker of the thread-pool driver, where socket
/// calls run on the worker by readiness ([`ReadyWait`]).
pub(crate) fn on_pool_worker() -> bool {
    context::with_current(|w| w.pool().is_some()).unwrap_or(false)
}

impl Drop for ReadyWait {
    fn drop(&mut self) {
        // The future went away while waiting: forget its waiter, so that
        // nothing is woken for it. Dropped on another thread (a hand-made
        // future moved away), the waiter stays until its socket reports
        // once, a spurious wake-up of a task that no longer waits.
        if let Some((worker, token)) = self.waiting.take() {
            context::with_current(|w| {
                if w.id != worker {
                    return;
                }
                let waker = match w.pool().map(|p| p.try_borrow_mut()) {
                    Some(Ok(mut pool)) => pool.readiness.cancel(token),
                    _ => None,
                };
                // Outside the borrow: it may drop a task with waits of its own.
                drop(waker);
            });
        }
    }
}
