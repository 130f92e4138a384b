//! [`Metadata`] and [`FileType`]: what statx says about a file.

use std::fmt;
use std::fs::Permissions;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, SystemTime};

/// Information about a file, from `statx(2)`; the counterpart of
/// [`std::fs::Metadata`].
///
/// # Examples
///
/// ```
/// ringbolt_runtime::run(async {
///     let dir = std::env::temp_dir();
///     let meta = ringbolt_fs::metadata(&dir).await?;
///     assert!(meta.is_dir() && !meta.is_file());
///     assert!(meta.modified()? <= std::time::SystemTime::now());
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Copy)]
pub struct Metadata {
    stx: libc::statx,
}

impl Metadata {
    /// The fields every metadata call asks for.
    pub(crate) const MASK: u32 = libc::STATX_BASIC_STATS | libc::STATX_BTIME;

    pub(crate) fn from_statx(stx: libc::statx) -> Metadata {
        Metadata { stx }
    }

    /// The file's type.
    pub fn file_type(&self) -> FileType {
        FileType {
            mode: u32::from(self.stx.stx_mode),
        }
    }

    /// Whether this is a directory.
    pub fn is_dir(&self) -> bool {
        self.file_type().is_dir()
    }

    /// Whether this is a regular file.
    pub fn is_file(&self) -> bool {
        self.file_type().is_file()
    }

    /// Whether this is a symbolic link (only from
    /// [`symlink_metadata`](crate::symlink_metadata), which does not follow
    /// links).
    pub fn is_symlink(&self) -> bool {
        self.file_type().is_symlink()
    }

    /// The size in bytes.
    #[allow(clippy::len_without_is_empty)] // as std's Metadata
    pub fn len(&self) -> u64 {
        self.stx.stx_size
    }

    /// The permission bits, as std's [`Permissions`].
    pub fn permissions(&self) -> Permissions {
        Permissions::from_mode(self.mode() & 0o7777)
    }

    /// The whole `st_mode`: file type and permission bits.
    pub fn mode(&self) -> u32 {
        u32::from(self.stx.stx_mode)
    }

    /// The last modification time.
    ///
    /// # Errors
    ///
    /// `Unsupported` if the file system does not report it.
    pub fn modified(&self) -> io::Result<SystemTime> {
        self.time(libc::STATX_MTIME, self.stx.stx_mtime, "modification")
    }

    /// The last access time.
    ///
    /// # Errors
    ///
    /// `Unsupported` if the file system does not report it.
    pub fn accessed(&self) -> io::Result<SystemTime> {
        self.time(libc::STATX_ATIME, self.stx.stx_atime, "access")
    }

    /// The creation (birth) time.
    ///
    /// # Errors
    ///
    /// `Unsupported` if the file system does not report it.
    pub fn created(&self) -> io::Result<SystemTime> {
        self.time(libc::STATX_BTIME, self.stx.stx_btime, "creation")
    }

    /// The inode number.
    pub fn ino(&self) -> u64 {
        self.stx.stx_ino
    }

    /// The device the file lives on (`makedev(major, minor)`).
    pub fn dev(&self) -> u64 {
        libc::makedev(self.stx.stx_dev_major, self.stx.stx_dev_minor)
    }

    /// The number of hard links.
    pub fn nlink(&self) -> u64 {
        u64::from(self.stx.stx_nlink)
    }

    /// The owner's user id.
    pub fn uid(&self) -> u32 {
        self.stx.stx_uid
    }

    /// The owner's group id.
    pub fn gid(&self) -> u32 {
        self.stx.stx_gid
    }

    /// The preferred I/O block size.
    pub fn blksize(&self) -> u64 {
        u64::from(self.stx.stx_blksize)
    }

    /// The number of 512-byte blocks allocated.
    pub fn blocks(&self) -> u64 {
        self.stx.stx_blocks
    }

    fn time(&self, bit: u32, ts: libc::statx_timestamp, what: &str) -> io::Result<SystemTime> {
        if self.stx.stx_mask & bit == 0 {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("the {what} time is not available on this file system"),
            ));
        }
        let nanos = Duration::from_nanos(u64::from(ts.tv_nsec));
        let t = if ts.tv_sec >= 0 {
            SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(ts.tv_sec as u64) + nanos)
        } else {
            SystemTime::UNIX_EPOCH
                .checked_sub(Duration::from_secs(ts.tv_sec.unsigned_abs()))
                .and_then(|t| t.checked_add(nanos))
        };
        t.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("the {what} time is out of SystemTime's range"),
            )
        })
    }
}

impl fmt::Debug for Metadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metadata")
            .field("file_type", &self.file_type())
            .field("len", &self.len())
            .field("mode", &format_args!("{:#o}", self.mode()))
            .field("ino", &self.ino())
            .field("modified", &self.modified().ok())
            .finish_non_exhaustive()
    }
}

/// The type of a file: regular file, directory, symbolic link, ...
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileType {
    mode: u32,
}

impl FileType {
    /// From a std file type (as `read_dir` gives it).
    pub(crate) fn from_std(ft: std::fs::FileType) -> FileType {
        use std::os::unix::fs::FileTypeExt;
        let mode = if ft.is_file() {
            libc::S_IFREG
        } else if ft.is_dir() {
            libc::S_IFDIR
        } else if ft.is_symlink() {
            libc::S_IFLNK
        } else if ft.is_block_device() {
            libc::S_IFBLK
        } else if ft.is_char_device() {
            libc::S_IFCHR
        } else if ft.is_fifo() {
            libc::S_IFIFO
        } else if ft.is_socket() {
            libc::S_IFSOCK
        } else {
            0
        };
        FileType { mode }
    }

    fn is(&self, fmt: libc::mode_t) -> bool {
        self.mode & libc::S_IFMT == fmt
    }

    /// A directory.
    pub fn is_dir(&self) -> bool {
        self.is(libc::S_IFDIR)
    }

    /// A regular file.
    pub fn is_file(&self) -> bool {
        self.is(libc::S_IFREG)
    }

    /// A symbolic link.
    pub fn is_symlink(&self) -> bool {
        self.is(libc::S_IFLNK)
    }

    /// A block device.
    pub fn is_block_device(&self) -> bool {
        self.is(libc::S_IFBLK)
    }

    /// A character device.
    pub fn is_char_device(&self) -> bool {
        self.is(libc::S_IFCHR)
    }

    /// A FIFO (named pipe).
    pub fn is_fifo(&self) -> bool {
        self.is(libc::S_IFIFO)
    }

    /// A Unix socket.
    pub fn is_socket(&self) -> bool {
        self.is(libc::S_IFSOCK)
    }
}

impl fmt::Debug for FileType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.mode & libc::S_IFMT {
            libc::S_IFREG => "file",
            libc::S_IFDIR => "dir",
            libc::S_IFLNK => "symlink",
            libc::S_IFBLK => "block device",
            libc::S_IFCHR => "char device",
            libc::S_IFIFO => "fifo",
            libc::S_IFSOCK => "socket",
            _ => "unknown",
        };
        f.write_str(name)
    }
}
