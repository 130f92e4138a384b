//! IORING_OP_SEND: sends from an owned buffer on a connected socket;
//! `send(2)` when run synchronously. Always with `MSG_NOSIGNAL`.

use std::io;

use io_uring::{opcode, squeue};

use crate::buf::{BufResult, IoBuf};
use crate::fd::SharedFd;
use crate::op::{Op, OpCode};

/// Sends the initialised bytes of `buf`. `MSG_NOSIGNAL` is always added to
/// the flags: a send to a reset peer fails with `EPIPE` instead of raising
/// SIGPIPE.
#[derive(Debug)]
pub struct Send<B> {
    fd: SharedFd,
    buf: B,
    flags: i32,
    /// Bytes at the start of `buf` that an earlier send already sent.
    skip: usize,
}

impl<B: IoBuf + std::marker::Send> Send<B> {
    /// A send of `buf` on `fd` with `flags` (`MSG_NOSIGNAL` added).
    pub fn new(fd: SharedFd, buf: B, flags: i32) -> Self {
        Send {
            fd,
            buf,
            flags: flags | libc::MSG_NOSIGNAL,
            skip: 0,
        }
    }

    /// The same send, for the bytes after the first `n` it has not sent
    /// yet: how a short send is resumed without changing the buffer's type.
    /// `n` is capped at the bytes left.
    pub fn advance(mut self, n: usize) -> Self {
        self.skip = (self.skip + n).min(self.buf.bytes_init());
        self
    }

    /// Bytes this send still has to send.
    pub fn remaining(&self) -> usize {
        self.buf.bytes_init() - self.skip
    }

    /// The descriptor this send is on.
    pub fn fd(&self) -> &SharedFd {
        &self.fd
    }

    /// The buffer, given back.
    pub fn into_buf(self) -> B {
        self.buf
    }

    /// The descriptor and the buffer, given back.
    pub fn into_parts(self) -> (SharedFd, B) {
        (self.fd, self.buf)
    }
}

// SAFETY: the SQE points into `buf`, whose IoBuf contract keeps the pointer
// valid and fixed while `buf` is owned (also across moves); the kernel only
// reads it. The fd is kept open by the SharedFd clone held here.
unsafe impl<B: IoBuf + std::marker::Send> OpCode for Send<B> {
    fn sqe(&mut self) -> squeue::Entry {
        let len = self.remaining().min(crate::op::MAX_RW) as u32;
        // SAFETY: `skip <= bytes_init()` (`advance` caps it), so the
        // pointer stays inside the buffer's initialised bytes.
        let ptr = unsafe { self.buf.stable_ptr().add(self.skip) };
        sqe_on_fd!(self.fd, |fd| opcode::Send::new(fd, ptr, len)
            .flags(self.flags)
            .build())
    }

    fn run_blocking(&mut self) -> io::Result<u32> {
        self.call(self.flags)
    }

    fn readiness(&self) -> Option<(&SharedFd, u32)> {
        Some((&self.fd, crate::driver::WRITABLE))
    }

    fn run_nonblocking(&mut self) -> io::Result<u32> {
        self.call(self.flags | libc::MSG_DONTWAIT)
    }
}

impl<B: IoBuf + std::marker::Send> Send<B> {
    /// One `send(2)` of the bytes left, with `flags`.
    fn call(&self, flags: i32) -> io::Result<u32> {
        send_from(&self.fd, &self.buf, self.skip, flags).map(|n| n as u32)
    }
}

/// Sends the initialised bytes of `buf` on `fd` through the ring, with
/// `flags | MSG_NOSIGNAL`: the number of bytes sent, and the buffer.
///
/// # Errors
///
/// The kernel's error: `EPIPE`/`ECONNRESET` for a peer that is gone, ...
pub async fn send<B: IoBuf + std::marker::Send>(
    fd: SharedFd,
    buf: B,
    flags: i32,
) -> BufResult<usize, B> {
    let done = Op::new(Send::new(fd, buf, flags)).await;
    (done.result.map(|n| n as usize), done.data.into_buf())
}

/// Sends the initialised bytes of `buf` on `fd`, as [`send`] does, but
/// borrowing the descriptor: on a thread-pool worker the `send(2)` runs
/// from this future itself, waiting for room in the worker's readiness
/// table, with no op and no clone of the descriptor; elsewhere it is
/// [`send`]'s op.
///
/// # Errors
///
/// As [`send`].
pub async fn send_on<B: IoBuf + std::marker::Send>(
    fd: &SharedFd,
    buf: B,
    flags: i32,
) -> BufResult<usize, B> {
    if crate::op::ready::on_pool_worker() {
        let (res, buf) = super::ready_io::send_ready(fd, buf, flags).await;
        return (res.map(|n| n as usize), buf);
    }
    let done = Op::new(Send::new(fd.clone(), buf, flags)).await;
    (done.result.map(|n| n as usize), done.data.into_buf())
}

/// Whether socket calls on this thread run by readiness from their own
/// futures ([`send_on`], stream and datagram reads): a thread-pool
/// worker. `false` on an io_uring worker and outside a runtime.
pub fn sockets_by_readiness() -> bool {
    crate::op::ready::on_pool_worker()
}

/// One non-blocking `send(2)` on `fd` of the initialised bytes of `buf`
/// from `skip` on (`MSG_DONTWAIT | MSG_NOSIGNAL`, with `flags`): how many
/// the socket took. For a caller with no ring to take the send (the
/// thread-pool driver), who sends at once and waits only when the socket
/// is full, as tokio's writes do. `skip` is capped at the bytes there are.
///
/// # Errors
///
/// `WouldBlock` when the socket's buffer is full; the kernel's error
/// (`EPIPE`, `ECONNRESET`, ...).
#[inline]
pub fn send_now<B: IoBuf>(fd: &SharedFd, buf: &B, skip: usize, flags: i32) -> io::Result<usize> {
    send_from(
        fd,
        buf,
        skip,
        flags | libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
    )
}

/// One `send(2)` on `fd`, with `flags` as given, of `buf`'s initialised
/// bytes from `skip` on (capped at the bytes there are, and at `MAX_RW`).
#[inline]
fn send_from<B: IoBuf>(fd: &SharedFd, buf: &B, skip: usize, flags: i32) -> io::Result<usize> {
    let skip = skip.min(buf.bytes_init());
    let len = (buf.bytes_init() - skip).min(crate::op::MAX_RW);
    let ptr = buf.stable_ptr().wrapping_add(skip).cast::<libc::c_void>();
    // SAFETY: `ptr` is `skip <= bytes_init()` bytes in, valid for `len` initialised bytes.
    let n = unsafe { libc::send(fd.as_raw_fd(), ptr, len, flags) };
    crate::sys::cvt(n).map(|n| n as usize)
}
