//! IORING_OP_SEND_ZC: a zero-copy send; plain SEND when the kernel lacks it
//! (before Linux 6.0). Always with `MSG_NOSIGNAL`.
//!
//! The kernel posts two CQEs: the result (flagged IORING_CQE_F_MORE), then,
//! once the network stack no longer references the pages, a notification
//! (IORING_CQE_F_NOTIF). The buffer must stay alive until the notification,
//! so the op runs as a [`MultiOp`]: [`send_zc`] keeps the first CQE's result
//! and waits for the stream to end before handing the buffer back. If the
//! future is dropped in between, the driver keeps the op (and the buffer)
//! until the notification.

use std::future::poll_fn;
use std::io;
use std::sync::{Arc, Mutex, PoisonError};

use io_uring::{cqueue, opcode, squeue, types};

use super::{send, supported};
use crate::buf::{BufResult, IoBuf};
use crate::fd::SharedFd;
use crate::op::{MultiOp, OpCode};

/// The buffer, shared between the op (which keeps it alive until the last
/// CQE, also when parked in the driver) and [`send_zc`] (which takes it back
/// once the op has ended).
type Slot<B> = Arc<Mutex<Option<B>>>;

/// A zero-copy send of the initialised bytes of a buffer (use it with
/// [`MultiOp`]; see the module docs).
#[derive(Debug)]
pub struct SendZc<B> {
    fd: SharedFd,
    buf: Slot<B>,
    flags: i32,
}

impl<B: IoBuf + Send> SendZc<B> {
    fn new(fd: SharedFd, buf: Slot<B>, flags: i32) -> Self {
        SendZc {
            fd,
            buf,
            flags: flags | libc::MSG_NOSIGNAL,
        }
    }

    /// (pointer, length) of the buffer's initialised bytes; (dangling, 0)
    /// if the buffer was taken, which [`send_zc`] only does after the end.
    fn region(&self) -> (*const u8, usize) {
        let guard = self.buf.lock().unwrap_or_else(PoisonError::into_inner);
        match guard.as_ref() {
            Some(b) => (b.stable_ptr(), b.bytes_init().min(crate::op::MAX_RW)),
            None => (std::ptr::NonNull::dangling().as_ptr(), 0),
        }
    }
}

// SAFETY: the SQE points into the buffer held in the shared slot. The op
// holds a strong reference to the slot, so the buffer lives at least as long
// as the op (which the driver keeps until the last CQE — the notification —
// also when the stream is dropped); `send_zc` takes the buffer out only after
// that last CQE. The IoBuf contract keeps its memory fixed across moves and
// unwritten while it is owned. The fd is kept open by the SharedFd clone.
unsafe impl<B: IoBuf + Send> OpCode for SendZc<B> {
    fn sqe(&mut self) -> squeue::Entry {
        let (ptr, len) = self.region();
        opcode::SendZc::new(types::Fd(self.fd.as_raw_fd()), ptr, len as u32)
            .flags(self.flags)
            .build()
    }

    fn run_blocking(&mut self) -> io::Result<u32> {
        let (ptr, len) = self.region();
        // SAFETY: the pointer is valid for `len` initialised bytes (IoBuf
        // contract), and the slot keeps the buffer alive during the call.
        let n = unsafe { libc::send(self.fd.as_raw_fd(), ptr.cast(), len, self.flags) };
        crate::sys::cvt(n).map(|n| n as u32)
    }
}

/// Sends the initialised bytes of `buf` on `fd` without copying them into
/// the kernel (IORING_OP_SEND_ZC), with `flags | MSG_NOSIGNAL`: the bytes
/// sent, and the buffer once the kernel has released it. Falls back to a
/// plain send when the kernel lacks SEND_ZC.
///
/// Zero-copy pays only for large writes to a real NIC; on loopback the
/// pages are copied anyway (see the `ringbolt-net` docs for measurements).
///
/// # Errors
///
/// The kernel's error (`EPIPE`, `ECONNRESET`, ...).
pub async fn send_zc<B: IoBuf + Send>(fd: SharedFd, buf: B, flags: i32) -> BufResult<usize, B> {
    if supported(opcode::SendZc::CODE) != Some(true) {
        return send(fd, buf, flags).await;
    }
    let slot: Slot<B> = Arc::new(Mutex::new(Some(buf)));
    let mut op = MultiOp::new(SendZc::new(fd, slot.clone(), flags));
    let mut result = None;
    while let Some((res, cqe_flags)) = poll_fn(|cx| op.poll_next_completion(cx)).await {
        if !cqueue::notif(cqe_flags) && result.is_none() {
            result = Some(res);
        }
    }
    drop(op);
    let buf = slot
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take()
        .expect("the zero-copy send's buffer is taken only here");
    let result =
        result.unwrap_or_else(|| Err(io::Error::other("ringbolt: SEND_ZC ended without a result")));
    (result.map(|n| n as usize), buf)
}
