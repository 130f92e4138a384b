//! IORING_OP_MKDIRAT: creates a directory; `mkdirat(2)` when run
//! synchronously.

use std::ffi::CString;
use std::io;

use io_uring::{opcode, squeue, types};

use crate::op::OpCode;

/// Creates the directory `path` (relative to the current directory) with
/// `mode` (masked by the umask).
#[derive(Debug)]
pub struct MkDirAt {
    path: CString,
    mode: libc::mode_t,
}

impl MkDirAt {
    /// A mkdir of `path` with `mode`.
    pub fn new(path: CString, mode: u32) -> Self {
        MkDirAt {
            path,
            mode: mode as libc::mode_t,
        }
    }
}

// SAFETY: the SQE points to the CString's heap buffer, which the op owns,
// which does not move with it, and which the kernel only reads.
unsafe impl OpCode for MkDirAt {
    fn sqe(&mut self) -> squeue::Entry {
        opcode::MkDirAt::new(types::Fd(libc::AT_FDCWD), self.path.as_ptr())
            .mode(self.mode)
            .build()
    }

    fn run_blocking(&mut self) -> io::Result<u32> {
        // SAFETY: `path` is a valid NUL-terminated string for the call.
        let res = unsafe { libc::mkdirat(libc::AT_FDCWD, self.path.as_ptr(), self.mode) };
        crate::sys::cvt(res).map(|_| 0)
    }
}
