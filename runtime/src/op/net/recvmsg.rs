//! IORING_OP_RECVMSG: a vectored receive, optionally with the sender's
//! address; `recvmsg(2)` when run synchronously.

use std::io;

use io_uring::{opcode, squeue};

use super::msghdr::MsgHdr;
use super::SockAddr;
use crate::buf::{BufResult, IoBufMut};
use crate::fd::SharedFd;
use crate::op::{Op, OpCode};

/// Receives one message (or, on a stream socket, what is available) into
/// the buffers in order, each from its start up to its capacity, and the
/// sender's address if asked for.
#[derive(Debug)]
pub struct RecvMsg<B> {
    fd: SharedFd,
    bufs: Vec<B>,
    msg: MsgHdr,
    flags: i32,
}

impl<B: IoBufMut + Send> RecvMsg<B> {
    /// A receive on `fd` into `bufs`, recording the sender's address if
    /// `with_addr`.
    pub fn new(fd: SharedFd, mut bufs: Vec<B>, with_addr: bool, flags: i32) -> Self {
        let iovecs = bufs
            .iter_mut()
            .map(|b| libc::iovec {
                iov_base: b.stable_mut_ptr().cast(),
                iov_len: b.bytes_total(),
            })
            .collect();
        let addr = with_addr.then(SockAddr::empty);
        RecvMsg {
            fd,
            bufs,
            msg: MsgHdr::new(iovecs, addr),
            flags,
        }
    }

    /// The buffers with their lengths set to cover the `n` bytes received
    /// (filled in order), the sender's address (if asked for) and the
    /// message flags (`MSG_TRUNC`: a datagram was longer than the buffers).
    pub fn into_parts(mut self, n: &io::Result<u32>) -> (Vec<B>, Option<SockAddr>, i32) {
        let addr = self.msg.take_addr();
        let flags = self.msg.flags();
        let mut bufs = self.bufs;
        if let Ok(n) = n {
            let mut left = *n as usize;
            for b in &mut bufs {
                let take = left.min(b.bytes_total());
                // SAFETY: the kernel fills the iovecs in order, so the first
                // `take` bytes of this buffer (<= its bytes_total, the length
                // its iovec was given) were initialised.
                unsafe { b.set_init(take) };
                left -= take;
            }
        }
        (bufs, addr, flags)
    }
}

// SAFETY: the SQE points to the boxed msghdr, which points to the boxed
// iovecs and address (all owned by the op, fixed while it lives) and,
// through the iovecs, into the buffers, whose IoBufMut contract keeps their
// memory valid and fixed while the op owns them; nothing else touches any of
// it until the completion. The fd is kept open by the SharedFd clone.
unsafe impl<B: IoBufMut + Send> OpCode for RecvMsg<B> {
    fn sqe(&mut self) -> squeue::Entry {
        let msg = self.msg.as_mut_ptr();
        sqe_on_fd!(self.fd, |fd| opcode::RecvMsg::new(fd, msg)
            .flags(self.flags as u32)
            .build())
    }

    fn run_blocking(&mut self) -> io::Result<u32> {
        loop {
            match self.call(self.flags) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                res => return res,
            }
        }
    }

    fn readiness(&self) -> Option<(&SharedFd, u32)> {
        Some((&self.fd, crate::driver::READABLE))
    }

    fn run_nonblocking(&mut self) -> io::Result<u32> {
        self.call(self.flags | libc::MSG_DONTWAIT)
    }
}

impl<B: IoBufMut + Send> RecvMsg<B> {
    /// Appends the first `n` bytes the receive scattered over the buffers
    /// to `out` (`n` is a completed receive's result).
    pub(crate) fn copy_into(&self, n: usize, out: &mut Vec<u8>) {
        let mut left = n;
        for b in &self.bufs {
            let take = left.min(b.bytes_total());
            // The kernel fills the iovecs in order; the op owns the buffers.
            // SAFETY: this buffer's first `take` bytes (at most its iovec's
            // length) were written, and nothing writes them now.
            let got = unsafe { std::slice::from_raw_parts(b.stable_ptr(), take) };
            out.extend_from_slice(got);
            left -= take;
        }
    }

    /// The sender's address, if the op recorded it (taken out).
    pub(crate) fn take_addr(&mut self) -> Option<SockAddr> {
        self.msg.take_addr()
    }

    /// One `recvmsg(2)` with `flags`.
    fn call(&mut self, flags: i32) -> io::Result<u32> {
        // SAFETY: the msghdr and everything it points to is valid and
        // writable (see the OpCode impl's SAFETY comment).
        let n = unsafe { libc::recvmsg(self.fd.as_raw_fd(), self.msg.as_mut_ptr(), flags) };
        crate::sys::cvt(n).map(|n| n as u32)
    }
}

/// Receives one datagram into `buf` (from its start up to its capacity)
/// through the ring: its length and sender, and the buffer. A datagram
/// longer than the buffer is truncated (the rest is lost, as with
/// `recvfrom(2)`). A raw op: dropped, it may lose the datagram it
/// received; [`DgramRecv`](super::DgramRecv) keeps it.
///
/// # Errors
///
/// The kernel's error.
pub async fn recv_from<B: IoBufMut + Send>(
    fd: SharedFd,
    buf: B,
) -> BufResult<(usize, SockAddr), B> {
    let done = Op::new(RecvMsg::new(fd, vec![buf], true, 0)).await;
    let (mut bufs, addr, _flags) = done.data.into_parts(&done.result);
    let buf = bufs.pop().expect("recv_from owns one buffer");
    let res = done
        .result
        .map(|n| (n as usize, addr.unwrap_or_else(SockAddr::empty)));
    (res, buf)
}

/// Receives into the buffers in order through the ring (a vectored read on
/// a socket): the number of bytes received, 0 when the peer closed. A
/// raw op: dropped, it may lose what it received;
/// [`RingRecv`](super::RingRecv) keeps it.
///
/// # Errors
///
/// The kernel's error.
pub async fn recv_vectored<B: IoBufMut + Send>(
    fd: SharedFd,
    bufs: Vec<B>,
) -> BufResult<usize, Vec<B>> {
    let done = Op::new(RecvMsg::new(fd, bufs, false, 0)).await;
    let (bufs, _, _) = done.data.into_parts(&done.result);
    (done.result.map(|n| n as usize), bufs)
}
