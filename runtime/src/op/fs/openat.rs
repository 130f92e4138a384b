//! IORING_OP_OPENAT: opens a path relative to the current directory;
//! `openat(2)` when run synchronously.

use std::ffi::CString;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

use io_uring::{opcode, squeue, types};

use super::submit;
use crate::op::OpCode;

/// Opens `path` (relative paths start at the current directory) with
/// `flags` and, when creating, `mode`. `O_CLOEXEC` is always added.
///
/// The new descriptor is the CQE's result; if the op's future was dropped
/// before the result was collected, the descriptor is closed in
/// [`OpCode::orphan_completed`], so no open leaks an fd.
#[derive(Debug)]
pub struct OpenAt {
    path: CString,
    flags: i32,
    mode: libc::mode_t,
}

impl OpenAt {
    /// An open of `path` with `flags` (`O_*`) and `mode` (used with
    /// `O_CREAT`/`O_TMPFILE`).
    pub fn new(path: CString, flags: i32, mode: u32) -> Self {
        OpenAt {
            path,
            flags: flags | libc::O_CLOEXEC,
            mode: mode as libc::mode_t,
        }
    }
}

/// Takes ownership of a descriptor a successful open returned.
fn own(fd: u32) -> OwnedFd {
    // SAFETY: `fd` is the result of a successful openat (a CQE result or
    // openat(2)'s return value): a new descriptor that nothing else owns.
    unsafe { OwnedFd::from_raw_fd(fd as i32) }
}

// SAFETY: the SQE points to `path`, a CString whose heap buffer stays at the
// same address when the op moves and which the kernel only reads.
unsafe impl OpCode for OpenAt {
    fn sqe(&mut self) -> squeue::Entry {
        opcode::OpenAt::new(types::Fd(libc::AT_FDCWD), self.path.as_ptr())
            .flags(self.flags)
            .mode(self.mode)
            .build()
    }

    fn run_blocking(&mut self) -> io::Result<u32> {
        // SAFETY: `path` is a valid NUL-terminated string for the call.
        let fd = unsafe {
            libc::openat(
                libc::AT_FDCWD,
                self.path.as_ptr(),
                self.flags,
                self.mode as libc::c_uint,
            )
        };
        crate::sys::cvt(fd).map(|fd| fd as u32)
    }

    fn orphan_completed(&mut self, res: i32, _flags: u32) {
        if res >= 0 {
            drop(own(res as u32));
        }
    }
}

/// Opens `path` with `flags` and `mode` through the ring (see [`OpenAt`]).
///
/// # Errors
///
/// The kernel's error, with its errno (`ENOENT` for a missing path, ...).
pub async fn openat(path: CString, flags: i32, mode: u32) -> io::Result<OwnedFd> {
    let done = submit(OpenAt::new(path, flags, mode)).await;
    done.result.map(own)
}
