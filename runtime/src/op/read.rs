//! IORING_OP_READ: a positional read into an owned buffer; `pread(2)` when
//! run synchronously.

use std::io;

use io_uring::{opcode, squeue, types};

use super::OpCode;
use crate::buf::IoBufMut;
use crate::fd::SharedFd;

/// Reads into `buf` from its start up to its capacity, at `offset` (or at
/// the file position when `offset` is `u64::MAX`).
#[derive(Debug)]
pub struct Read<B> {
    fd: SharedFd,
    buf: B,
    offset: u64,
}

impl<B: IoBufMut + Send> Read<B> {
    /// A read of `fd` at `offset` into `buf`. The fd is kept open until the
    /// operation completes.
    pub fn new(fd: SharedFd, buf: B, offset: u64) -> Self {
        Read { fd, buf, offset }
    }

    /// The buffer with its length set to cover the bytes read (`n` from a
    /// successful completion).
    pub fn into_buf(self, n: io::Result<u32>) -> B {
        let mut buf = self.buf;
        if let Ok(n) = n {
            // SAFETY: the kernel (or pread) initialised exactly `n` bytes
            // from the buffer's start, and `n` <= bytes_total because that is
            // the length the read was given.
            unsafe { buf.set_init(n as usize) };
        }
        buf
    }
}

// SAFETY: the SQE points into `buf`, whose IoBufMut contract keeps the
// pointer valid and fixed while `buf` is owned (also across moves); the fd is
// kept open by the SharedFd clone held here.
unsafe impl<B: IoBufMut + Send> OpCode for Read<B> {
    fn sqe(&mut self) -> squeue::Entry {
        let len = self.buf.bytes_total().min(crate::op::MAX_RW) as u32;
        opcode::Read::new(
            types::Fd(self.fd.as_raw_fd()),
            self.buf.stable_mut_ptr(),
            len,
        )
        .offset(self.offset)
        .build()
    }

    fn run_blocking(&mut self) -> io::Result<u32> {
        let len = self.buf.bytes_total().min(crate::op::MAX_RW);
        let ptr = self.buf.stable_mut_ptr().cast();
        // SAFETY: `ptr` is valid for `len` writable bytes (IoBufMut contract).
        let n = unsafe {
            if self.offset == u64::MAX {
                libc::read(self.fd.as_raw_fd(), ptr, len)
            } else {
                libc::pread(self.fd.as_raw_fd(), ptr, len, self.offset as libc::off_t)
            }
        };
        crate::sys::cvt(n).map(|n| n as u32)
    }
}
