//! IORING_OP_RECV: receives into an owned buffer; `recv(2)` when run
//! synchronously.

use std::io;

use io_uring::{opcode, squeue};

use crate::buf::{BufResult, IoBufMut, RecvBuf};
use crate::fd::SharedFd;
use crate::op::{Op, OpCode};

/// Receives into `buf`, from its start up to its capacity.
#[derive(Debug)]
pub struct Recv<B> {
    fd: SharedFd,
    buf: B,
    flags: i32,
}

impl<B: IoBufMut + Send> Recv<B> {
    /// A receive on `fd` into `buf` with `flags` (`MSG_PEEK`, ...).
    pub fn new(fd: SharedFd, buf: B, flags: i32) -> Self {
        Recv { fd, buf, flags }
    }

    /// The buffer with its length set to cover the bytes received (`n` from
    /// a successful completion).
    pub fn into_buf(self, n: &io::Result<u32>) -> B {
        let mut buf = self.buf;
        if let Ok(n) = n {
            // SAFETY: the kernel (or recv) initialised exactly `n` bytes from
            // the buffer's start, and `n` <= bytes_total because that is the
            // length the receive was given.
            unsafe { buf.set_init(*n as usize) };
        }
        buf
    }
}

// SAFETY: the SQE points into `buf`, whose IoBufMut contract keeps the
// pointer valid and fixed while `buf` is owned (also across moves), and
// nothing else touches it until the completion; the fd is kept open by the
// SharedFd clone held here.
unsafe impl<B: IoBufMut + Send> OpCode for Recv<B> {
    fn sqe(&mut self) -> squeue::Entry {
        let len = self.buf.bytes_total().min(crate::op::MAX_RW) as u32;
        let ptr = self.buf.stable_mut_ptr();
        sqe_on_fd!(self.fd, |fd| opcode::Recv::new(fd, ptr, len)
            .flags(self.flags)
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

impl<B: IoBufMut + Send> Recv<B> {
    /// Appends the first `n` bytes the receive put in the buffer to `out`
    /// (`n` is a completed receive's result).
    pub(crate) fn copy_into(&self, n: usize, out: &mut Vec<u8>) {
        let n = n.min(self.buf.bytes_total());
        // SAFETY: a receive that returned `n` wrote the buffer's first `n`
        // bytes (`n` is clamped to the length it was given), so they are
        // initialised; the op owns the buffer and nothing writes it now.
        let got = unsafe { std::slice::from_raw_parts(self.buf.stable_ptr(), n) };
        out.extend_from_slice(got);
    }

    /// One `recv(2)` with `flags`.
    fn call(&mut self, flags: i32) -> io::Result<u32> {
        recv_into(&self.fd, &mut self.buf, flags)
    }
}

/// One `recv(2)` on `fd` with `flags` as given, into `buf` from its start
/// up to its capacity (capped at `MAX_RW`). The caller sets the buffer's
/// length from the result ([`IoBufMut::set_init`]).
#[inline]
pub(crate) fn recv_into<B: IoBufMut>(fd: &SharedFd, buf: &mut B, flags: i32) -> io::Result<u32> {
    let len = buf.bytes_total().min(crate::op::MAX_RW);
    let ptr = buf.stable_mut_ptr().cast();
    // SAFETY: `ptr` is valid for `len` writable bytes (IoBufMut contract).
    let n = unsafe { libc::recv(fd.as_raw_fd(), ptr, len, flags) };
    crate::sys::cvt(n).map(|n| n as u32)
}

/// Receives on `fd` into `buf` (from its start up to its capacity) through
/// the ring: the number of bytes received (0: the peer closed its side, or
/// an empty datagram), and the buffer with its length covering them.
///
/// A raw op: dropping the future may lose what the kernel received in the
/// meantime. [`RingRecv`](super::RingRecv) and
/// [`DgramRecv`](super::DgramRecv) keep it for the next call.
///
/// # Errors
///
/// The kernel's error (`ECONNRESET`, ...).
pub async fn recv<B: IoBufMut + Send>(fd: SharedFd, buf: B, flags: i32) -> BufResult<usize, B> {
    let done = Op::new(Recv::new(fd, buf, flags)).await;
    let buf = done.data.into_buf(&done.result);
    (done.result.map(|n| n as usize), buf)
}

/// Capacity of the `Vec` a [`recv_chunk`] receives into (the chunk reads
/// of streams that have no buffer ring).
pub const READ_CHUNK_FALLBACK: usize = 16 * 1024;

/// Receives the next chunk on a stream socket into a new `Vec` of
/// [`READ_CHUNK_FALLBACK`] bytes: the plain-receive form of
/// [`RingRecv::read_chunk`](super::RingRecv::read_chunk). `None` when the
/// peer closed its side. A raw op, as [`recv`]: dropped, it may lose
/// what it received.
///
/// # Errors
///
/// The kernel's error (`ECONNRESET`, ...).
pub async fn recv_chunk(fd: SharedFd) -> io::Result<Option<RecvBuf>> {
    let (res, buf) = recv(fd, Vec::with_capacity(READ_CHUNK_FALLBACK), 0).await;
    Ok((res? > 0).then(|| RecvBuf::from(buf)))
}
