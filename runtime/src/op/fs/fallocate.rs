//! IORING_OP_FALLOCATE: allocates (or punches, zeroes, ...) a byte range of
//! a file; `fallocate(2)` when run synchronously.

use std::io;

use io_uring::{opcode, squeue, types};

use crate::fd::SharedFd;
use crate::op::OpCode;

/// `fallocate(fd, mode, offset, len)`; `mode` is `FALLOC_FL_*` (0 allocates
/// and extends the file if needed).
#[derive(Debug)]
pub struct Fallocate {
    fd: SharedFd,
    offset: u64,
    len: u64,
    mode: i32,
}

impl Fallocate {
    /// A fallocate of `fd` over `offset..offset + len` with `mode`.
    pub fn new(fd: SharedFd, offset: u64, len: u64, mode: i32) -> Self {
        Fallocate {
            fd,
            offset,
            len,
            mode,
        }
    }
}

// SAFETY: a FALLOCATE SQE points to no memory; the fd is kept open by the
// SharedFd clone held here.
unsafe impl OpCode for Fallocate {
    fn sqe(&mut self) -> squeue::Entry {
        opcode::Fallocate::new(types::Fd(self.fd.as_raw_fd()), self.len)
            .offset(self.offset)
            .mode(self.mode)
            .build()
    }

    fn run_blocking(&mut self) -> io::Result<u32> {
        // SAFETY: fallocate takes no memory arguments.
        let res = unsafe {
            libc::fallocate(
                self.fd.as_raw_fd(),
                self.mode,
                self.offset as libc::off_t,
                self.len as libc::off_t,
            )
        };
        crate::sys::cvt(res).map(|_| 0)
    }
}
