//! ringbolt-fs: files and directories over the io_uring driver.
//!
//! Every operation that has an io_uring opcode goes through the ring
//! (`openat`, `read`, `write`, `readv`, `writev`, `fsync`,
//! `sync_file_range`, `fallocate`, `statx`, `renameat`, `unlinkat`,
//! `mkdirat`, `linkat`, `symlinkat`, `ftruncate`, `close`). An opcode the
//! running kernel lacks (the ring's probe says so, e.g. `ftruncate` before
//! Linux 6.9) runs its synchronous equivalent on the blocking pool. What has
//! no opcode at all — listing a directory, resolving a path — runs on the
//! blocking pool with `std::fs`.
//!
//! Buffers are owned, as everywhere in ringbolt: `read_at(buf, pos)` takes
//! the buffer and gives it back with the result ([`BufResult`]). Reads fill
//! a buffer from its start up to its capacity.
//!
//! Choices where std and tokio differ or are silent:
//! - [`File`] is `Send + Sync` and positional I/O takes `&self`, so many
//!   reads of one file can be in flight at once, from several tasks.
//! - Dropping a [`File`] closes its descriptor (with `close(2)`, once, and
//!   only after every in-flight operation on it has completed);
//!   [`File::close`] closes through the ring and reports the error.
//! - A file opened with `O_DIRECT` checks the alignment of buffers, offsets
//!   and lengths before submitting and reports a misaligned one as
//!   `InvalidInput`; [`AlignedBuf`] gives aligned buffers.
//! - A file opened for appending writes at its end whatever position is
//!   passed to `write_at`.
//! - Registered buffers: a [`FixedBufPool`] registers buffers with the
//!   worker's ring; [`File::read_fixed_at`] and [`File::write_fixed_at`]
//!   use them with `READ_FIXED`/`WRITE_FIXED`.
//! - A NUL byte in a path is `InvalidInput` before anything is submitted;
//!   kernel errors keep their errno ([`io::Error::raw_os_error`]).
//!
//! [`BufResult`]: ringbolt_runtime::buf::BufResult
//! [`AlignedBuf`]: ringbolt_runtime::buf::AlignedBuf
//! [`io::Error::raw_os_error`]: std::io::Error::raw_os_error
//!
//! # Examples
//!
//! ```
//! use ringbolt_fs as fs;
//!
//! ringbolt_runtime::run(async {
//!     let dir = std::env::temp_dir().join(format!("ringbolt-fs-doc-{}", std::process::id()));
//!     fs::create_dir_all(&dir).await?;
//!     let path = dir.join("hello.txt");
//!
//!     fs::write(&path, b"hello, ring").await?;
//!     let file = fs::File::open(&path).await?;
//!     let (res, buf) = file.read_at(Vec::with_capacity(64), 7).await;
//!     assert_eq!(res?, 4);
//!     assert_eq!(buf, b"ring");
//!     file.close().await?;
//!
//!     assert_eq!(fs::read(&path).await?, b"hello, ring");
//!     fs::remove_file(&path).await?;
//!     fs::remove_dir(&dir).await?;
//!     Ok::<(), std::io::Error>(())
//! })?;
//! # Ok::<(), std::io::Error>(())
//! ```

#![forbid(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]

mod atomic;
mod dir;
mod direct;
mod file;
mod file_io;
mod fixed;
mod functions;
mod metadata;
mod open_options;
mod path;
mod read_all;
mod window;

pub use atomic::write_atomic;
pub use dir::{create_dir, create_dir_all, read_dir, remove_dir, DirEntry};
pub use file::File;
pub use functions::{
    canonicalize, hard_link, metadata, read, remove_file, rename, symlink, symlink_metadata, write,
};
pub use metadata::{FileType, Metadata};
pub use open_options::OpenOptions;
pub use ringbolt_runtime::op::fs::{FixedBuf, FixedBufPool};
