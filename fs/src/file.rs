//! [`File`]: an open file, its opening and closing, and its whole-file
//! operations (sync, length, allocation, metadata).

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::path::Path;

use ringbolt_runtime::op::fs::{
    openat, statx, submit, Fallocate, Fsync, Ftruncate, StatxTarget, SyncFileRange,
};
use ringbolt_runtime::SharedFd;

use crate::direct::DioAlign;
use crate::metadata::Metadata;
use crate::open_options::OpenOptions;
use crate::path::cstr;

/// An open file. `Send + Sync`: positional I/O takes `&self`, so one file
/// can serve many reads at once, from several tasks.
///
/// Dropping a `File` closes its descriptor exactly once, after every
/// operation still using it has completed; [`File::close`] does it through
/// the ring and reports the error.
///
/// # Examples
///
/// ```
/// use ringbolt_fs::File;
///
/// ringbolt_runtime::run(async {
///     let path = std::env::temp_dir().join(format!("ringbolt-file-doc-{}", std::process::id()));
///     let file = File::create(&path).await?;
///     let (res, _) = file.write_all_at(b"0123456789".to_vec(), 0).await;
///     res?;
///     file.sync_all().await?;
///     assert_eq!(file.metadata().await?.len(), 10);
///     file.close().await?;
///
///     let file = File::open(&path).await?;
///     let (res, buf) = file.read_exact_at(vec![0u8; 4], 3).await;
///     res?;
///     assert_eq!(buf, b"3456");
///     drop(file);
///     ringbolt_fs::remove_file(&path).await
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct File {
    pub(crate) fd: SharedFd,
    /// Opened with `O_APPEND`: writes go to the end of the file.
    pub(crate) append: bool,
    /// Opened with `O_DIRECT`: the alignment every I/O must respect.
    pub(crate) direct: Option<DioAlign>,
}

impl File {
    /// Opens `path` for reading.
    ///
    /// # Errors
    ///
    /// As for [`OpenOptions::open`]: `NotFound` (errno `ENOENT`) for a
    /// missing path, `InvalidInput` for a NUL byte in it, ...
    pub async fn open(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new().read(true).open(path).await
    }

    /// Opens `path` for writing, creating it or truncating it.
    ///
    /// # Errors
    ///
    /// As for [`OpenOptions::open`].
    pub async fn create(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .await
    }

    /// Options to open a file with ([`OpenOptions::new`]).
    pub fn options() -> OpenOptions {
        OpenOptions::new()
    }

    /// Opens `path` with `open(2)` flags and mode (the common path of
    /// [`OpenOptions::open`]).
    pub(crate) async fn open_with(path: &Path, flags: i32, mode: u32) -> io::Result<File> {
        let path = cstr(path)?;
        let fd = SharedFd::new(openat(path, flags, mode).await?);
        let direct = if flags & libc::O_DIRECT != 0 {
            Some(DioAlign::query(fd.clone()).await?)
        } else {
            None
        };
        Ok(File {
            fd,
            append: flags & libc::O_APPEND != 0,
            direct,
        })
    }

    /// Flushes the file's data and metadata to the device (`fsync`).
    ///
    /// # Errors
    ///
    /// The kernel's error (`EIO` for a failed write-back, ...).
    pub async fn sync_all(&self) -> io::Result<()> {
        submit(Fsync::new(self.fd.clone(), false))
            .await
            .result
            .map(drop)
    }

    /// Flushes the file's data, and only the metadata needed to read it back
    /// (`fdatasync`).
    ///
    /// # Errors
    ///
    /// The kernel's error.
    pub async fn sync_data(&self) -> io::Result<()> {
        submit(Fsync::new(self.fd.clone(), true))
            .await
            .result
            .map(drop)
    }

    /// Writes back the dirty pages of `offset..offset + len` (`len` 0: to
    /// the end of the file) and waits for them (`sync_file_range` with
    /// `WAIT_BEFORE | WRITE | WAIT_AFTER`). Unlike [`File::sync_data`] it
    /// neither flushes metadata nor the device's cache: use it to pace
    /// write-back, not for durability.
    ///
    /// # Errors
    ///
    /// The kernel's error.
    pub async fn sync_range(&self, offset: u64, len: u64) -> io::Result<()> {
        let flags = libc::SYNC_FILE_RANGE_WAIT_BEFORE
            | libc::SYNC_FILE_RANGE_WRITE
            | libc::SYNC_FILE_RANGE_WAIT_AFTER;
        let op = SyncFileRange::new(self.fd.clone(), offset, len, flags);
        submit(op).await.result.map(drop)
    }

    /// Manipulates the space of `offset..offset + len` (`fallocate(2)`):
    /// `mode` 0 allocates it (extending the file), `FALLOC_FL_KEEP_SIZE`,
    /// `FALLOC_FL_PUNCH_HOLE`, ... do what `fallocate(2)` says.
    ///
    /// # Errors
    ///
    /// The kernel's error (`EOPNOTSUPP` where the file system lacks a mode).
    pub async fn fallocate(&self, offset: u64, len: u64, mode: i32) -> io::Result<()> {
        let op = Fallocate::new(self.fd.clone(), offset, len, mode);
        submit(op).await.result.map(drop)
    }

    /// Truncates or extends the file to `len` bytes (IORING_OP_FTRUNCATE,
    /// or `ftruncate(2)` on the blocking pool before Linux 6.9).
    ///
    /// # Errors
    ///
    /// The kernel's error (`EINVAL` if the file is not open for writing).
    pub async fn set_len(&self, len: u64) -> io::Result<()> {
        submit(Ftruncate::new(self.fd.clone(), len))
            .await
            .result
            .map(drop)
    }

    /// The file's metadata (`statx` on the descriptor).
    ///
    /// # Errors
    ///
    /// The kernel's error.
    pub async fn metadata(&self) -> io::Result<Metadata> {
        let stx = statx(StatxTarget::Fd(self.fd.clone()), Metadata::MASK).await?;
        Ok(Metadata::from_statx(stx))
    }

    /// The alignment direct I/O on this file needs: `(memory alignment of
    /// buffers, alignment of offsets and lengths)`, from statx
    /// `STATX_DIOALIGN` (Linux 6.1); 4096 for what the kernel does not
    /// report. For a file opened with `O_DIRECT` these are the values its
    /// I/O is checked against.
    ///
    /// # Errors
    ///
    /// The kernel's error for the statx.
    pub async fn dio_alignment(&self) -> io::Result<(usize, usize)> {
        let align = match self.direct {
            Some(align) => align,
            None => DioAlign::query(self.fd.clone()).await?,
        };
        Ok((align.mem as usize, align.offset as usize))
    }

    /// Whether the file was opened with `O_DIRECT`.
    pub fn is_direct(&self) -> bool {
        self.direct.is_some()
    }

    /// Closes the file through the ring and returns the error `close(2)`
    /// reports (a failed write-back can show up here). If operations on the
    /// file are still in flight (only possible for cancelled ones), the
    /// descriptor is closed when the last of them completes and `Ok(())` is
    /// returned.
    ///
    /// # Errors
    ///
    /// The kernel's error for the close.
    pub async fn close(self) -> io::Result<()> {
        self.fd.close().await
    }
}

impl AsRawFd for File {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for File {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl fmt::Debug for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("File")
            .field("fd", &self.fd.as_raw_fd())
            .field("append", &self.append)
            .field("direct", &self.direct)
            .finish()
    }
}
