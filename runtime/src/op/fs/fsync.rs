//! IORING_OP_FSYNC: flushes a file's data (and metadata) to the device;
//! `fsync(2)` / `fdatasync(2)` when run synchronously.

use std::io;

use io_uring::{opcode, squeue, types};

use crate::fd::SharedFd;
use crate::op::OpCode;

/// Flushes `fd` to the device: data and metadata (`fsync`), or with
/// `datasync` only the data and the metadata needed to read it back
/// (`fdatasync`).
#[derive(Debug)]
pub struct Fsync {
    fd: SharedFd,
    datasync: bool,
}

impl Fsync {
    /// An fsync of `fd`, or an fdatasync when `datasync` is true.
    pub fn new(fd: SharedFd, datasync: bool) -> Self {
        Fsync { fd, datasync }
    }
}

// SAFETY: an FSYNC SQE points to no memory; the fd is kept open by the
// SharedFd clone held here.
unsafe impl OpCode for Fsync {
    fn sqe(&mut self) -> squeue::Entry {
        let flags = if self.datasync {
            types::FsyncFlags::DATASYNC
        } else {
            types::FsyncFlags::empty()
        };
        opcode::Fsync::new(types::Fd(self.fd.as_raw_fd()))
            .flags(flags)
            .build()
    }

    fn run_blocking(&mut self) -> io::Result<u32> {
        let fd = self.fd.as_raw_fd();
        // SAFETY: fsync/fdatasync take no memory arguments.
        let res = unsafe {
            if self.datasync {
                libc::fdatasync(fd)
            } else {
                libc::fsync(fd)
            }
        };
        crate::sys::cvt(res).map(|_| 0)
    }
}
