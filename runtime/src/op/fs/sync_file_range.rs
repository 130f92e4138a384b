//! IORING_OP_SYNC_FILE_RANGE: starts or waits for write-back of a byte
//! range; `sync_file_range(2)` when run synchronously.

use std::io;

use io_uring::{opcode, squeue, types};

use crate::fd::SharedFd;
use crate::op::OpCode;

/// Write-back of `len` bytes of `fd` from `offset` (`len` 0: to the end of
/// the file), with `SYNC_FILE_RANGE_*` flags. The SQE's length is 32 bits:
/// a longer range is widened to the end of the file.
#[derive(Debug)]
pub struct SyncFileRange {
    fd: SharedFd,
    offset: u64,
    len: u32,
    flags: u32,
}

impl SyncFileRange {
    /// A sync_file_range of `fd` over `offset..offset + len`.
    pub fn new(fd: SharedFd, offset: u64, len: u64, flags: u32) -> Self {
        let len = u32::try_from(len).unwrap_or(0);
        SyncFileRange {
            fd,
            offset,
            len,
            flags,
        }
    }
}

// SAFETY: a SYNC_FILE_RANGE SQE points to no memory; the fd is kept open by
// the SharedFd clone held here.
unsafe impl OpCode for SyncFileRange {
    fn sqe(&mut self) -> squeue::Entry {
        opcode::SyncFileRange::new(types::Fd(self.fd.as_raw_fd()), self.len)
            .offset(self.offset)
            .flags(self.flags)
            .build()
    }

    fn run_blocking(&mut self) -> io::Result<u32> {
        // SAFETY: sync_file_range takes no memory arguments.
        let res = unsafe {
            libc::sync_file_range(
                self.fd.as_raw_fd(),
                self.offset as libc::off64_t,
                libc::off64_t::from(self.len),
                self.flags,
            )
        };
        crate::sys::cvt(res).map(|_| 0)
    }
}
