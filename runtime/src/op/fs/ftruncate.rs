//! IORING_OP_FTRUNCATE (Linux 6.9): sets a file's length; `ftruncate(2)`
//! when run synchronously, which [`submit`](super::submit) does on the
//! blocking pool when the kernel lacks the opcode.

use std::io;

use io_uring::{opcode, squeue, types};

use crate::fd::SharedFd;
use crate::op::OpCode;

/// Truncates or extends `fd` to `len` bytes.
#[derive(Debug)]
pub struct Ftruncate {
    fd: SharedFd,
    len: u64,
}

impl Ftruncate {
    /// An ftruncate of `fd` to `len` bytes.
    pub fn new(fd: SharedFd, len: u64) -> Self {
        Ftruncate { fd, len }
    }
}

// SAFETY: an FTRUNCATE SQE points to no memory; the fd is kept open by the
// SharedFd clone held here.
unsafe impl OpCode for Ftruncate {
    fn sqe(&mut self) -> squeue::Entry {
        opcode::Ftruncate::new(types::Fd(self.fd.as_raw_fd()), self.len).build()
    }

    fn run_blocking(&mut self) -> io::Result<u32> {
        let len = libc::off_t::try_from(self.len)
            .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        // SAFETY: ftruncate takes no memory arguments.
        let res = unsafe { libc::ftruncate(self.fd.as_raw_fd(), len) };
        crate::sys::cvt(res).map(|_| 0)
    }
}
