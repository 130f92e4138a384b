//! IORING_OP_UNLINKAT: removes a file or an empty directory;
//! `unlinkat(2)` when run synchronously.

use std::ffi::CString;
use std::io;

use io_uring::{opcode, squeue, types};

use crate::op::OpCode;

/// Removes `path` (relative to the current directory): a file, or with
/// `dir` an empty directory (`AT_REMOVEDIR`).
#[derive(Debug)]
pub struct UnlinkAt {
    path: CString,
    flags: i32,
}

impl UnlinkAt {
    /// An unlink of `path`; `dir` removes a directory instead of a file.
    pub fn new(path: CString, dir: bool) -> Self {
        let flags = if dir { libc::AT_REMOVEDIR } else { 0 };
        UnlinkAt { path, flags }
    }
}

// SAFETY: the SQE points to the CString's heap buffer, which the op owns,
// which does not move with it, and which the kernel only reads.
unsafe impl OpCode for UnlinkAt {
    fn sqe(&mut self) -> squeue::Entry {
        opcode::UnlinkAt::new(types::Fd(libc::AT_FDCWD), self.path.as_ptr())
            .flags(self.flags)
            .build()
    }

    fn run_blocking(&mut self) -> io::Result<u32> {
        // SAFETY: `path` is a valid NUL-terminated string for the call.
        let res = unsafe { libc::unlinkat(libc::AT_FDCWD, self.path.as_ptr(), self.flags) };
        crate::sys::cvt(res).map(|_| 0)
    }
}
