//! IORING_OP_STATX: a file's metadata, by path or by descriptor;
//! `statx(2)` when run synchronously.

use std::ffi::CString;
use std::io;

use io_uring::{opcode, squeue, types};

use super::submit;
use crate::fd::SharedFd;
use crate::op::OpCode;

/// What a [`Statx`] describes.
#[derive(Debug)]
pub enum StatxTarget {
    /// A path relative to the current directory; symbolic links are followed
    /// when `follow` is true.
    Path {
        /// The path.
        path: CString,
        /// Follow a final symbolic link (`false` adds `AT_SYMLINK_NOFOLLOW`).
        follow: bool,
    },
    /// An open descriptor (`AT_EMPTY_PATH`).
    Fd(SharedFd),
}

/// Reads metadata into a boxed `statx` the op owns: the kernel writes it
/// after submission, so it must not move with the op.
#[derive(Debug)]
pub struct Statx {
    /// Keeps the descriptor of [`StatxTarget::Fd`] open while the op runs.
    fd: Option<SharedFd>,
    path: CString,
    flags: i32,
    mask: u32,
    buf: Box<libc::statx>,
}

impl Statx {
    /// A statx of `target`, asking for the fields in `mask` (`STATX_*`).
    pub fn new(target: StatxTarget, mask: u32) -> Self {
        let (fd, path, flags) = match target {
            StatxTarget::Path { path, follow } => {
                let flags = if follow { 0 } else { libc::AT_SYMLINK_NOFOLLOW };
                (None, path, flags)
            }
            StatxTarget::Fd(fd) => (Some(fd), CString::default(), libc::AT_EMPTY_PATH),
        };
        Statx {
            fd,
            path,
            flags,
            mask,
            // SAFETY: `statx` is plain integers (and integer padding), for
            // which all-zero bytes are a valid value.
            buf: Box::new(unsafe { std::mem::zeroed() }),
        }
    }

    fn dirfd(&self) -> i32 {
        self.fd.as_ref().map_or(libc::AT_FDCWD, SharedFd::as_raw_fd)
    }

    /// The metadata the kernel wrote (meaningful after a successful
    /// completion; `stx_mask` says which fields are filled).
    pub fn into_statx(self) -> libc::statx {
        *self.buf
    }
}

// SAFETY: the SQE points to `path` (a CString's heap buffer, read only) and
// to `buf` (a Box the op owns and nobody else touches while the op runs);
// neither moves when the op moves. The descriptor, if any, is kept open by
// the SharedFd clone held here.
unsafe impl OpCode for Statx {
    fn sqe(&mut self) -> squeue::Entry {
        let buf: *mut libc::statx = &mut *self.buf;
        opcode::Statx::new(
            types::Fd(self.dirfd()),
            self.path.as_ptr(),
            buf.cast::<types::statx>(),
        )
        .flags(self.flags)
        .mask(self.mask)
        .build()
    }

    fn run_blocking(&mut self) -> io::Result<u32> {
        let buf: *mut libc::statx = &mut *self.buf;
        // SAFETY: `path` is NUL-terminated and `buf` is a valid, exclusively
        // borrowed statx for the duration of the call.
        let res =
            unsafe { libc::statx(self.dirfd(), self.path.as_ptr(), self.flags, self.mask, buf) };
        crate::sys::cvt(res).map(|_| 0)
    }
}

/// Reads the metadata of `target` (fields in `mask`, `STATX_*`) through the
/// ring.
///
/// # Errors
///
/// The kernel's error, with its errno.
pub async fn statx(target: StatxTarget, mask: u32) -> io::Result<libc::statx> {
    let done = submit(Statx::new(target, mask)).await;
    done.result.map(|_| done.data.into_statx())
}
