//! [`DgramRecv`]: the receive side of a datagram socket, where a receive
//! whose future is dropped loses no datagram.
//!
//! Each receive is one RECVMSG that records the sender (a plain RECV for a
//! connected socket's `recv`), wrapped in
//! [`Salvaged`]: if its future is dropped and the kernel's completion beats
//! the cancellation, the datagram it got (with its sender) is queued here
//! and the next receive returns it. One receive runs at a time, so a
//! salvaged datagram always comes before the ones after it; concurrent
//! receives on one socket (from several tasks) take turns.
//!
//! On a thread-pool worker a receive runs from its own future by
//! readiness (`ready_io`): nothing is in flight when it is dropped, so
//! such receives need no salvage and run side by side.

use std::collections::VecDeque;
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::sync::Arc;
use std::task::{Poll, Waker};

use super::ready_io::{drive_ready, recv_ready};
use super::recv_salvage::{fill, Got, Salvage, Salvaged};
use super::{Recv, RecvMsg, SockAddr};
use crate::buf::{BufResult, IoBufMut};
use crate::fd::SharedFd;
use crate::op::{ready, Op};
use crate::spin::SpinLock;

/// The receive side of a datagram socket (UDP, Unix datagrams): see the
/// module docs. `Send + Sync`; one per socket.
pub struct DgramRecv {
    shared: Arc<Shared>,
}

struct Shared {
    state: SpinLock<State>,
}

#[derive(Default)]
struct State {
    /// A receive is in flight, its future possibly dropped.
    busy: bool,
    /// Datagrams (or errors) receives got after their future was dropped.
    salvaged: VecDeque<io::Result<Got>>,
    /// Receives waiting for the one in flight to end.
    waiting: Vec<Waker>,
}

impl Salvage<Got> for Shared {
    fn salvaged(&self, got: io::Result<Got>) {
        self.state.lock().salvaged.push_back(got);
    }

    fn finished(&self) {
        let waiting = {
            let mut st = self.state.lock();
            st.busy = false;
            std::mem::take(&mut st.waiting)
        };
        // Outside the lock: a waker may be user code.
        for w in waiting {
            w.wake();
        }
    }
}

impl Default for DgramRecv {
    fn default() -> Self {
        DgramRecv::new()
    }
}

impl DgramRecv {
    /// A receiver with nothing in flight.
    pub fn new() -> Self {
        DgramRecv {
            shared: Arc::new(Shared {
                state: SpinLock::new(State::default()),
            }),
        }
    }

    /// Receives one datagram on `fd` into `buf` (from its start up to its
    /// capacity): its length and sender. The part of a datagram longer than
    /// the buffer is lost, as with `recvfrom(2)`.
    ///
    /// # Errors
    ///
    /// The kernel's error; the buffer comes back too.
    pub async fn recv_from<B: IoBufMut + Send>(
        &self,
        fd: &SharedFd,
        mut buf: B,
    ) -> BufResult<(usize, SockAddr), B> {
        let by_readiness = ready::on_pool_worker();
        match self.take_turn(!by_readiness).await {
            Some(Ok(got)) => {
                let n = fill(&mut buf, 0, &got.bytes);
                let from = got.from.unwrap_or_else(SockAddr::empty);
                (Ok((n, from)), buf)
            }
            Some(Err(e)) => (Err(e), buf),
            None if by_readiness => {
                let mut recv = RecvMsg::new(fd.clone(), vec![buf], true, 0);
                let res = drive_ready(&mut recv).await;
                let (mut bufs, from, _) = recv.into_parts(&res);
                let buf = bufs.pop().expect("one buffer in, one out");
                let res = res.map(|n| (n as usize, from.unwrap_or_else(SockAddr::empty)));
                (res, buf)
            }
            None => {
                let recv = RecvMsg::new(fd.clone(), vec![buf], true, 0);
                let done = Op::new(Salvaged::new(recv, self.shared.clone())).await;
                let (mut bufs, from, _) = done.data.into_inner().into_parts(&done.result);
                let buf = bufs.pop().expect("one buffer in, one out");
                let res = done
                    .result
                    .map(|n| (n as usize, from.unwrap_or_else(SockAddr::empty)));
                (res, buf)
            }
        }
    }

    /// Receives one datagram on the connected socket `fd` into `buf`, as
    /// [`recv_from`](DgramRecv::recv_from) does but with a plain RECV: no
    /// sender is recorded, and nothing is allocated for the op.
    ///
    /// # Errors
    ///
    /// The kernel's error; the buffer comes back too.
    pub async fn recv<B: IoBufMut + Send>(&self, fd: &SharedFd, mut buf: B) -> BufResult<usize, B> {
        let by_readiness = ready::on_pool_worker();
        match self.take_turn(!by_readiness).await {
            Some(Ok(got)) => {
                let n = fill(&mut buf, 0, &got.bytes);
                (Ok(n), buf)
            }
            Some(Err(e)) => (Err(e), buf),
            None if by_readiness => {
                let (res, buf) = recv_ready(fd, buf, false).await;
                (res.map(|n| n as usize), buf)
            }
            None => {
                let recv = Recv::new(fd.clone(), buf, 0);
                let done = Op::new(Salvaged::new(recv, self.shared.clone())).await;
                let buf = done.data.into_inner().into_buf(&done.result);
                (done.result.map(|n| n as usize), buf)
            }
        }
    }

    /// Waits for this receive's turn: what a dropped receive got, first;
    /// else `None` once no receive is in flight, and, with `in_flight`,
    /// this one is marked as in flight until its op is over
    /// (`Salvage::finished`). A receive by readiness (thread-pool worker)
    /// leaves nothing in flight when dropped, so it is not marked, and
    /// such receives run side by side.
    async fn take_turn(&self, in_flight: bool) -> Option<io::Result<Got>> {
        poll_fn(|cx| {
            let mut st = self.shared.state.lock();
            if let Some(got) = st.salvaged.pop_front() {
                return Poll::Ready(Some(got));
            }
            if st.busy {
                if !st.waiting.iter().any(|w| w.will_wake(cx.waker())) {
                    st.waiting.push(cx.waker().clone());
                }
                return Poll::Pending;
            }
            // Until the receive is over (`Salvage::finished`).
            st.busy = in_flight;
            Poll::Ready(None)
        })
        .await
    }

    /// Datagrams received after their receive's future was dropped, not
    /// handed out yet.
    pub fn salvaged(&self) -> usize {
        self.shared.state.lock().salvaged.len()
    }
}

impl fmt::Debug for DgramRecv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.shared.state.lock();
        f.debug_struct("DgramRecv")
            .field("busy", &st.busy)
            .field("salvaged", &st.salvaged.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::OwnedFd;

    use super::super::recv_salvage::poll_once;
    use super::*;
    use crate::op::OpCode;

    #[test]
    fn datagrams_dropped_receives_got_come_next_whole_and_in_order() {
        let (a, _b) = std::os::unix::net::UnixDatagram::pair().unwrap();
        let fd = SharedFd::new(OwnedFd::from(a));
        let recv = DgramRecv::new();
        recv.shared.state.lock().busy = true;
        assert!(poll_once(recv.recv_from(&fd, Vec::with_capacity(8))).is_pending());
        for (dgram, n) in [(b"first".to_vec(), 5), (b"x".to_vec(), 0)] {
            // A receive whose future was dropped completes after all: a
            // datagram of `n` bytes (0: an empty one, kept as well).
            let mut op = Salvaged::new(
                RecvMsg::new(fd.clone(), vec![dgram], true, 0),
                recv.shared.clone(),
            );
            op.orphan_completed(n, 0);
        }
        recv.shared.finished();
        assert_eq!(recv.salvaged(), 2);
        // Handed out without any I/O (no runtime here to do any), each
        // whole as far as the buffer holds it.
        let Poll::Ready((Ok((3, _)), buf)) = poll_once(recv.recv_from(&fd, Vec::with_capacity(3)))
        else {
            panic!("the salvaged datagram was not received first");
        };
        assert_eq!(buf, b"fir");
        let Poll::Ready((Ok((0, _)), _)) = poll_once(recv.recv_from(&fd, Vec::with_capacity(8)))
        else {
            panic!("the salvaged empty datagram was not received next");
        };
        assert_eq!(recv.salvaged(), 0);
    }

    #[test]
    fn a_connected_receive_gets_what_a_dropped_plain_receive_got() {
        let (a, _b) = std::os::unix::net::UnixDatagram::pair().unwrap();
        let fd = SharedFd::new(OwnedFd::from(a));
        let recv = DgramRecv::new();
        recv.shared.state.lock().busy = true;
        assert!(poll_once(recv.recv(&fd, Vec::with_capacity(8))).is_pending());
        // A plain RECV whose future was dropped completes after all.
        let mut op = Salvaged::new(
            Recv::new(fd.clone(), b"late".to_vec(), 0),
            recv.shared.clone(),
        );
        op.orphan_completed(4, 0);
        drop(op);
        assert_eq!(recv.salvaged(), 1);
        let Poll::Ready((Ok(4), buf)) = poll_once(recv.recv(&fd, Vec::with_capacity(8))) else {
            panic!("the salvaged datagram was not received first");
        };
        assert_eq!(buf, b"late");
        assert_eq!(recv.salvaged(), 0);
    }
}
