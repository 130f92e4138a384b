//! IORING_OP_WRITEV: a positional write from several owned buffers;
//! `pwritev2(2)` when run synchronously.

use std::io;

use io_uring::{opcode, squeue, types};

use super::iovecs::IoVecs;
use crate::buf::IoBuf;
use crate::fd::SharedFd;
use crate::op::OpCode;

/// Writes the initialised bytes of `bufs`, in order, at `offset` (or at the
/// file position when `offset` is `u64::MAX`).
#[derive(Debug)]
pub struct Writev<B> {
    fd: SharedFd,
    bufs: Vec<B>,
    iovecs: IoVecs,
    offset: u64,
}

impl<B: IoBuf + Send> Writev<B> {
    /// A vectored write of `bufs` to `fd` at `offset`.
    pub fn new(fd: SharedFd, bufs: Vec<B>, offset: u64) -> Self {
        let iovecs = IoVecs::new(bufs.iter().map(|b| libc::iovec {
            iov_base: b.stable_ptr().cast_mut().cast(),
            iov_len: b.bytes_init(),
        }));
        Writev {
            fd,
            bufs,
            iovecs,
            offset,
        }
    }

    /// The buffers, given back.
    pub fn into_bufs(self) -> Vec<B> {
        self.bufs
    }
}

// SAFETY: the SQE points to the boxed iovec array, which does not move with
// the op, and whose entries point into the buffers' initialised bytes, which
// the IoBuf contract keeps valid and fixed while the op owns the buffers;
// the kernel only reads them. The fd is kept open by the SharedFd clone.
unsafe impl<B: IoBuf + Send> OpCode for Writev<B> {
    fn sqe(&mut self) -> squeue::Entry {
        opcode::Writev::new(
            types::Fd(self.fd.as_raw_fd()),
            self.iovecs.as_ptr(),
            self.iovecs.len(),
        )
        .offset(self.offset)
        .build()
    }

    fn run_blocking(&mut self) -> io::Result<u32> {
        // SAFETY: the iovecs describe initialised memory owned by `bufs`.
        let n = unsafe {
            libc::pwritev2(
                self.fd.as_raw_fd(),
                self.iovecs.as_ptr(),
                self.iovecs.len() as libc::c_int,
                self.offset as libc::off_t,
                0,
            )
        };
        crate::sys::cvt(n).map(|n| n as u32)
    }
}
