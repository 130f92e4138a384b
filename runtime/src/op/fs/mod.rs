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
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::{Completion, Op, OpCode};

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
/// synchronous equivalent on the blocking pool (also under the thread-pool
/// driver); either way the [`Completion`] has the same shape (the blocking
/// path reports flags 0). This is [`Op`]'s own routing; the function is
/// kept as the fs ops' single entry point.
///
/// Dropping the future is safe on both paths: on the ring the op is parked
/// until its CQE; on the blocking pool a result nobody collects is released
/// with [`OpCode::orphan_completed`] (an fd that a late `openat` returned
/// is closed).
pub async fn submit<T: OpCode>(op: T) -> Completion<T> {
    Op::new(op).await
}
