//! IORING_OP_WRITE: a positional write from an owned buffer; `pwrite(2)`
//! when run synchronously.

use std::io;

use io_uring::{opcode, squeue, types};

use super::OpCode;
use crate::buf::IoBuf;
use crate::fd::SharedFd;

/// Writes the initialised bytes of `buf` at `offset` (or at the file
/// position when `offset` is `u64::MAX`).
#[derive(Debug)]
pub struct Write<B> {
    fd: SharedFd,
    buf: B,
    offset: u64,
}

impl<B: IoBuf + Send> Write<B> {
    /// A write of `buf` to `fd` at `offset`. The fd is kept open until the
    /// operation completes.
    pub fn new(fd: SharedFd, buf: B, offset: u64) -> Self {
        Write { fd, buf, offset }
    }

    /// The buffer, given back.
    pub fn into_buf(self) -> B {
        self.buf
    }
}

// SAFETY: the SQE points into `buf`, whose IoBuf contract keeps the pointer
// valid and fixed while `buf` is owned (also across moves); the kernel only
// reads it. The fd is kept open by the SharedFd clone held here.
unsafe impl<B: IoBuf + Send> OpCode for Write<B> {
    fn sqe(&mut self) -> squeue::Entry {
        let len = self.buf.bytes_init().min(crate::op::MAX_RW) as u32;
        opcode::Write::new(types::Fd(self.fd.as_raw_fd()), self.buf.stable_ptr(), len)
            .offset(self.offset)
            .build()
    }

    fn run_blocking(&mut self) -> io::Result<u32> {
        let len = self.buf.bytes_init().min(crate::op::MAX_RW);
        let ptr = self.buf.stable_ptr().cast();
        // SAFETY: `ptr` is valid for `len` initialised bytes (IoBuf contract).
        let n = unsafe {
            if self.offset == u64::MAX {
                libc::write(self.fd.as_raw_fd(), ptr, len)
            } else {
                libc::pwrite(self.fd.as_raw_fd(), ptr, len, self.offset as libc::off_t)
            }
        };
        crate::sys::cvt(n).map(|n| n as u32)
    }
}
