//! File-system operations (openat, statx, fsync, ...), used by `ringbolt-fs`.
//!
//! One operation per file, each with its SQE and its synchronous equivalent.
//! Paths are owned [`CString`]s inside the op (heap memory that does not move
//! with the op); [`path_to_cstring`] makes one and refuses a NUL byte with
//! `InvalidInput`, so a bad path never reaches the kernel. Structures the
//! kernel writes (`statx`, iovec arrays) are boxed inside the op for the
//! same reason.
//!
//! [`submit`] runs an operation through the ring when the kernel knows its
//! opcode (the probe taken at start-up says so) and on the blocking pool
//! with its synchronous equivalent otherwise, for instance
//! `IORING_OP_FTRUNCATE` before Linux 6.9.

mod fallocate;
mod fixed_buf;
mod fsync;
mod ftruncate;
mod iovecs;
mod linkat;
mod mkdirat;
mod openat;
mod read_fixed;
mod readv;
mod renameat;
mod statx;
mod symlinkat;
mod sync_file_range;
mod unlinkat;
mod write_fixed;
mod writev;

use std::ffi::CString;
use std::future::Future;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::{Completion, Op, OpCode};
use crate::executor::context;
use crate::task::JoinHandle;

pub use fallocate::Fallocate;
pub use fixed_buf::{FixedBuf, FixedBufPool};
pub use fsync::Fsync;
pub use ftruncate::Ftruncate;
pub use linkat::LinkAt;
pub use mkdirat::MkDirAt;
pub use openat::{openat, OpenAt};
pub use read_fixed::{read_fixed, ReadFixed};
pub use readv::Readv;
pub use renameat::RenameAt;
pub use statx::{statx, Statx, StatxTarget};
pub use symlinkat::SymlinkAt;
pub use sync_file_range::SyncFileRange;
pub use unlinkat::UnlinkAt;
pub use write_fixed::{write_fixed, WriteFixed};
pub use writev::Writev;

/// A file-system operation: an [`OpCode`] whose opcode the kernel may lack.
pub trait FsOp: OpCode {
    /// The io_uring opcode (`IORING_OP_*`) the SQE carries; [`submit`] asks
    /// the kernel's probe about it.
    const CODE: u8;
}

/// Turns a path into the NUL-terminated string the kernel takes.
///
/// # Errors
///
/// [`io::ErrorKind::InvalidInput`] if the path contains a NUL byte.
///
/// # Examples
///
/// ```
/// use ringbolt_runtime::op::fs::path_to_cstring;
///
/// assert_eq!(path_to_cstring("a/b".as_ref())?.as_bytes(), b"a/b");
/// let err = path_to_cstring("a\0b".as_ref()).unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn path_to_cstring(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("path contains a NUL byte: {}", path.display()),
        )
    })
}

/// Whether the ring of this thread's worker supports `opcode` (the probe
/// taken at start-up). `false` outside a runtime.
pub fn is_supported(opcode: u8) -> bool {
    super::ring_supports(opcode)
}

/// Runs `op` through the ring if the kernel has its opcode, else with its
/// synchronous equivalent on the blocking pool; either way the
/// [`Completion`] has the same shape (the blocking path reports flags 0).
///
/// Dropping the future is safe on both paths: on the ring the op is parked
/// until its CQE; on the blocking pool the op's closure owns it, and a
/// result nobody collects is released with [`OpCode::orphan_completed`] (an
/// fd that a late `openat` returned is closed).
///
/// Outside a runtime the op goes to the ring path, which reports the error
/// (without errno) that no runtime runs here.
pub async fn submit<T: FsOp>(op: T) -> Completion<T> {
    let on_ring = context::with_current(|w| {
        w.ring()
            .map(|r| r.borrow().features().supports(T::CODE))
            .unwrap_or(false)
    });
    match on_ring {
        Some(false) => Blocking::spawn(op).await,
        _ => Op::new(op).await,
    }
}

/// The blocking-pool path of [`submit`].
struct Blocking<T: OpCode> {
    handle: JoinHandle<Done<T>>,
}

impl<T: OpCode> Blocking<T> {
    fn spawn(op: T) -> Self {
        let handle = crate::task::spawn_blocking(move || {
            let mut op = op;
            let result = op.run_blocking();
            Done {
                op: Some(op),
                result: Some(result),
            }
        });
        Blocking { handle }
    }
}

impl<T: OpCode> Future for Blocking<T> {
    type Output = Completion<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Completion<T>> {
        let done = match Pin::new(&mut self.handle).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(done) => done,
        };
        match done {
            Ok(mut done) => {
                let (Some(data), Some(result)) = (done.op.take(), done.result.take()) else {
                    unreachable!("a blocking op's result is taken once");
                };
                Poll::Ready(Completion {
                    result,
                    flags: 0,
                    data,
                })
            }
            // `run_blocking` does not panic on I/O errors: a panic is a bug
            // in an op, and is passed on.
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            // Nobody aborts the closure; only a pool shutting down before it
            // started gets here, while the runtime itself is going away.
            Err(_) => panic!(
                "ringbolt: the blocking pool shut down before a file-system operation ran; \
                 finish file I/O before the runtime shuts down"
            ),
        }
    }
}

impl<T: OpCode> std::fmt::Debug for Blocking<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blocking").finish_non_exhaustive()
    }
}

/// An op that ran on the blocking pool and its result. Dropped without
/// being taken (its future was dropped), it releases the result's resource.
struct Done<T: OpCode> {
    op: Option<T>,
    result: Option<io::Result<u32>>,
}

impl<T: OpCode> Drop for Done<T> {
    fn drop(&mut self) {
        if let (Some(op), Some(result)) = (self.op.as_mut(), self.result.take()) {
            let res = match result {
                Ok(n) => n as i32,
                Err(e) => -e.raw_os_error().unwrap_or(libc::EIO),
            };
            op.orphan_completed(res, 0);
        }
    }
}
