//! IORING_OP_SENDMSG: a vectored send, optionally to an address;
//! `sendmsg(2)` when run synchronously. Always with `MSG_NOSIGNAL`.

use std::io;

use io_uring::{opcode, squeue};

use super::msghdr::MsgHdr;
use super::SockAddr;
use crate::buf::{BufResult, IoBuf};
use crate::fd::SharedFd;
use crate::op::{Op, OpCode};

/// Sends the initialised bytes of every buffer in `bufs`, in order, as one
/// message (one datagram on a datagram socket), to `addr` if given.
#[derive(Debug)]
pub struct SendMsg<B> {
    fd: SharedFd,
    bufs: Vec<B>,
    msg: MsgHdr,
    flags: i32,
}

impl<B: IoBuf + Send> SendMsg<B> {
    /// A send of `bufs` on `fd`, to `addr` (for unconnected datagram
    /// sockets), with `flags | MSG_NOSIGNAL`.
    pub fn new(fd: SharedFd, bufs: Vec<B>, addr: Option<SockAddr>, flags: i32) -> Self {
        let iovecs = bufs
            .iter()
            .map(|b| libc::iovec {
                iov_base: b.stable_ptr() as *mut libc::c_void,
                iov_len: b.bytes_init(),
            })
            .collect();
        SendMsg {
            fd,
            bufs,
            msg: MsgHdr::new(iovecs, addr),
            flags: flags | libc::MSG_NOSIGNAL,
        }
    }

    /// The buffers, given back.
    pub fn into_bufs(self) -> Vec<B> {
        self.bufs
    }
}

// SAFETY: the SQE points to the boxed msghdr, which points to the boxed
// iovecs and address (all owned by the op, fixed while it lives) and, through
// the iovecs, into the buffers, whose IoBuf contract keeps their memory valid
// and fixed while they are owned by the op; the kernel only reads all of it.
// The fd is kept open by the SharedFd clone held here.
unsafe impl<B: IoBuf + Send> OpCode for SendMsg<B> {
    fn sqe(&mut self) -> squeue::Entry {
        let msg = self.msg.as_ptr();
        sqe_on_fd!(self.fd, |fd| opcode::SendMsg::new(fd, msg)
            .flags(self.flags as u32)
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

impl<B: IoBuf + Send> SendMsg<B> {
    /// One `sendmsg(2)` with `flags`.
    fn call(&self, flags: i32) -> io::Result<u32> {
        // SAFETY: the msghdr and everything it points to is valid (see the
        // OpCode impl's SAFETY comment).
        let n = unsafe { libc::sendmsg(self.fd.as_raw_fd(), self.msg.as_ptr(), flags) };
        crate::sys::cvt(n).map(|n| n as u32)
    }
}

/// Sends `buf` to `addr` on an unconnected datagram socket through the ring.
///
/// # Errors
///
/// The kernel's error (`EMSGSIZE`, `ENETUNREACH`, ...).
pub async fn send_to<B: IoBuf + Send>(fd: SharedFd, buf: B, addr: SockAddr) -> BufResult<usize, B> {
    let done = Op::new(SendMsg::new(fd, vec![buf], Some(addr), 0)).await;
    let buf = done
        .data
        .into_bufs()
        .pop()
        .expect("send_to owns one buffer");
    (done.result.map(|n| n as usize), buf)
}

/// Sends the buffers in order, as one message, on a connected socket through
/// the ring (a vectored write that still carries `MSG_NOSIGNAL`).
///
/// # Errors
///
/// The kernel's error (`EPIPE`, `ECONNRESET`, ...).
pub async fn send_vectored<B: IoBuf + Send>(
    fd: SharedFd,
    bufs: Vec<B>,
) -> BufResult<usize, Vec<B>> {
    let done = Op::new(SendMsg::new(fd, bufs, None, 0)).await;
    (done.result.map(|n| n as usize), done.data.into_bufs())
}
