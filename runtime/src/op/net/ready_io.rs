//! Socket calls that run from their own future on a thread-pool worker:
//! the call without blocking, and a wait in the worker's readiness table
//! (`op::ready`) when the socket is not ready, with no [`Op`](crate::op::Op),
//! no box and no clone of the descriptor, which the future borrows.
//!
//! Nothing is in flight while such a call waits, so a dropped future
//! loses nothing (the bytes stay in the socket, or were not sent) and
//! needs none of the salvage of a ring's plain receives. Streams,
//! datagram sockets and stream writes use these under the thread-pool
//! driver; under io_uring they use ops.

use std::future::poll_fn;
use std::io;

use super::recv::recv_into;
use super::send::send_now;
use crate::buf::{IoBuf, IoBufMut};
use crate::driver::{READABLE, WRITABLE};
use crate::fd::SharedFd;
use crate::op::ready::{Attempt, ReadyWait, Step};

/// A `recv(2)` into `buf`, from its start up to its capacity.
struct ReadyRecv<'a, B> {
    fd: &'a SharedFd,
    buf: B,
    /// The socket is TCP (see `RingRecv::tcp`): a short receive shows that
    /// it drained the socket.
    tcp: bool,
}

impl<B: IoBufMut> Attempt for ReadyRecv<'_, B> {
    #[inline]
    fn attempt(&mut self) -> io::Result<u32> {
        recv_into(self.fd, &mut self.buf, libc::MSG_DONTWAIT)
    }

    #[inline]
    fn readiness(&self) -> Option<(&SharedFd, u32)> {
        Some((self.fd, READABLE))
    }

    #[inline]
    fn tcp_receive_len(&self) -> Option<usize> {
        self.tcp
            .then(|| self.buf.bytes_total().min(crate::op::MAX_RW))
    }
}

/// A `send(2)` of the initialised bytes of `buf` (`MSG_NOSIGNAL` added).
struct ReadySend<'a, B> {
    fd: &'a SharedFd,
    buf: B,
    flags: i32,
}

impl<B: IoBuf> Attempt for ReadySend<'_, B> {
    #[inline]
    fn attempt(&mut self) -> io::Result<u32> {
        send_now(self.fd, &self.buf, 0, self.flags).map(|n| n as u32)
    }

    #[inline]
    fn readiness(&self) -> Option<(&SharedFd, u32)> {
        Some((self.fd, WRITABLE))
    }
}

/// Drives `attempt` on this thread-pool worker's readiness path until it
/// has a result, spending a unit of the coop budget for it. Outside a
/// thread-pool worker it fails as an op outside a runtime does.
pub(crate) async fn drive_ready<A: Attempt>(attempt: &mut A) -> io::Result<u32> {
    let mut wait = ReadyWait::default();
    let step = poll_fn(|cx| {
        std::task::ready!(crate::task::coop::poll_proceed(cx));
        let polled = wait.poll(attempt, cx);
        if polled.is_ready() {
            crate::task::coop::spend();
        }
        polled
    })
    .await;
    match step {
        Step::Done(res) => res,
        // Only a socket's calls wait (`EAGAIN`), and epoll watches every
        // socket; kept as an error rather than a panic.
        Step::Unwatchable => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "ringbolt: epoll cannot watch this descriptor",
        )),
    }
}

/// Receives into `buf` (from its start up to its capacity) on `fd`: the
/// result, and the buffer with its length set to the bytes received.
/// `tcp`: `fd` is a TCP socket (see `RingRecv::tcp`).
pub(crate) async fn recv_ready<B: IoBufMut>(
    fd: &SharedFd,
    buf: B,
    tcp: bool,
) -> (io::Result<u32>, B) {
    let mut recv = ReadyRecv { fd, buf, tcp };
    let res = drive_ready(&mut recv).await;
    if let Ok(n) = res {
        // SAFETY: the recv(2) that returned `n` wrote the buffer's first
        // `n` bytes, and `n` <= bytes_total, the length it was given.
        unsafe { recv.buf.set_init(n as usize) };
    }
    (res, recv.buf)
}

/// Sends the initialised bytes of `buf` on `fd` with `flags` (and
/// `MSG_NOSIGNAL`): the bytes the socket took (once it has room for
/// some), and the buffer.
pub(crate) async fn send_ready<B: IoBuf>(
    fd: &SharedFd,
    buf: B,
    flags: i32,
) -> (io::Result<u32>, B) {
    let mut send = ReadySend { fd, buf, flags };
    let res = drive_ready(&mut send).await;
    (res, send.buf)
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::io::Write;
    use std::os::fd::OwnedFd;
    use std::os::unix::net::UnixStream;
    use std::time::Duration;

    use super::*;
    use crate::{Builder, Driver};

    /// A TCP-style receive (`tcp: true`) that counts its `recv(2)` calls.
    struct Counted<'a> {
        recv: ReadyRecv<'a, Vec<u8>>,
        calls: &'a Cell<usize>,
    }

    impl Attempt for Counted<'_> {
        fn attempt(&mut self) -> io::Result<u32> {
            self.calls.set(self.calls.get() + 1);
            self.recv.buf.clear();
            self.recv.attempt()
        }
        fn readiness(&self) -> Option<(&SharedFd, u32)> {
            self.recv.readiness()
        }
        fn tcp_receive_len(&self) -> Option<usize> {
            self.recv.tcp_receive_len()
        }
    }

    #[test]
    fn after_a_short_receive_the_next_waits_without_a_call() {
        let rt = Builder::new().driver(Driver::ThreadPool).build().unwrap();
        rt.block_on(async {
            let (a, mut peer) = UnixStream::pair().unwrap();
            let fd = SharedFd::new(OwnedFd::from(a));
            let calls = Cell::new(0);
            let mut c = Counted {
                recv: ReadyRecv {
                    fd: &fd,
                    buf: Vec::with_capacity(100),
                    tcp: true,
                },
                calls: &calls,
            };
            // Nothing yet: one call (EAGAIN) registers the socket and waits.
            let writer = std::thread::spawn({
                let mut peer = peer.try_clone().unwrap();
                move || {
                    std::thread::sleep(Duration::from_millis(20));
                    peer.write_all(b"abc").unwrap();
                }
            });
            assert_eq!(drive_ready(&mut c).await.unwrap(), 3);
            writer.join().unwrap();
            assert_eq!(calls.get(), 2, "EAGAIN, then the 3 bytes");
            // 3 of 100: drained. The next receive waits with no call.
            let waited = crate::time::timeout(Duration::from_millis(30), drive_ready(&mut c)).await;
            assert!(waited.is_err(), "nothing was sent");
            assert_eq!(calls.get(), 2, "a call was made on a drained socket");
            // New bytes are reported, and the receive after the report calls.
            peer.write_all(b"de").unwrap();
            assert_eq!(drive_ready(&mut c).await.unwrap(), 2);
            assert_eq!(calls.get(), 3);
        });
    }
}
