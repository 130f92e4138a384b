//! IORING_OP_SYMLINKAT: creates a symbolic link; `symlinkat(2)` when run
//! synchronously.

use std::ffi::CString;
use std::io;

use io_uring::{opcode, squeue, types};

use crate::op::OpCode;

/// Creates the symbolic link `link` (relative to the current directory)
/// whose content is `target` (stored as given, not resolved).
#[derive(Debug)]
pub struct SymlinkAt {
    target: CString,
    link: CString,
}

impl SymlinkAt {
    /// A symbolic link `link` -> `target`.
    pub fn new(target: CString, link: CString) -> Self {
        SymlinkAt { target, link }
    }
}

// SAFETY: the SQE points to the heap buffers of the two CStrings, which the
// op owns, which do not move with it, and which the kernel only reads.
unsafe impl OpCode for SymlinkAt {
    fn sqe(&mut self) -> squeue::Entry {
        opcode::SymlinkAt::new(
            types::Fd(libc::AT_FDCWD),
            self.target.as_ptr(),
            self.link.as_ptr(),
        )
        .build()
    }

    fn run_blocking(&mut self) -> io::Result<u32> {
        // SAFETY: both paths are valid NUL-terminated strings for the call.
        let res =
            unsafe { libc::symlinkat(self.target.as_ptr(), libc::AT_FDCWD, self.link.as_ptr()) };
        crate::sys::cvt(res).map(|_| 0)
    }
}
