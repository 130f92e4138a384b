//! IORING_OP_RENAMEAT: renames a path; `renameat2(2)` when run
//! synchronously.

use std::ffi::CString;
use std::io;

use io_uring::{opcode, squeue, types};

use crate::op::OpCode;

/// Renames `from` to `to` (both relative to the current directory),
/// replacing `to` if it exists, atomically; `flags` are `RENAME_*`.
#[derive(Debug)]
pub struct RenameAt {
    from: CString,
    to: CString,
    flags: u32,
}

impl RenameAt {
    /// A rename of `from` to `to` with `flags` (0, `RENAME_NOREPLACE`, ...).
    pub fn new(from: CString, to: CString, flags: u32) -> Self {
        RenameAt { from, to, flags }
    }
}

// SAFETY: the SQE points to the heap buffers of the two CStrings, which the
// op owns, which do not move with it, and which the kernel only reads.
unsafe impl OpCode for RenameAt {
    fn sqe(&mut self) -> squeue::Entry {
        opcode::RenameAt::new(
            types::Fd(libc::AT_FDCWD),
            self.from.as_ptr(),
            types::Fd(libc::AT_FDCWD),
            self.to.as_ptr(),
        )
        .flags(self.flags)
        .build()
    }

    fn run_blocking(&mut self) -> io::Result<u32> {
        // SAFETY: both paths are valid NUL-terminated strings for the call.
        let res = unsafe {
            libc::renameat2(
                libc::AT_FDCWD,
                self.from.as_ptr(),
                libc::AT_FDCWD,
                self.to.as_ptr(),
                self.flags,
            )
        };
        crate::sys::cvt(res).map(|_| 0)
    }
}
