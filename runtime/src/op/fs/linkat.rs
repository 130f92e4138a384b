//! IORING_OP_LINKAT: creates a hard link; `linkat(2)` when run
//! synchronously.

use std::ffi::CString;
use std::io;

use io_uring::{opcode, squeue, types};

use crate::op::OpCode;

/// Creates the hard link `link` to the existing `original` (both relative to
/// the current directory; a symbolic link `original` is not followed, as
/// with `link(2)` on Linux).
#[derive(Debug)]
pub struct LinkAt {
    original: CString,
    link: CString,
}

impl LinkAt {
    /// A hard link `link` -> `original`.
    pub fn new(original: CString, link: CString) -> Self {
        LinkAt { original, link }
    }
}

// SAFETY: the SQE points to the heap buffers of the two CStrings, which the
// op owns, which do not move with it, and which the kernel only reads.
unsafe impl OpCode for LinkAt {
    fn sqe(&mut self) -> squeue::Entry {
        opcode::LinkAt::new(
            types::Fd(libc::AT_FDCWD),
            self.original.as_ptr(),
            types::Fd(libc::AT_FDCWD),
            self.link.as_ptr(),
        )
        .build()
    }

    fn run_blocking(&mut self) -> io::Result<u32> {
        // SAFETY: both paths are valid NUL-terminated strings for the call.
        let res = unsafe {
            libc::linkat(
                libc::AT_FDCWD,
                self.original.as_ptr(),
                libc::AT_FDCWD,
                self.link.as_ptr(),
                0,
            )
        };
        crate::sys::cvt(res).map(|_| 0)
    }
}
