//! Directories: create, remove, list.

use std::ffi::OsString;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use ringbolt_runtime::op::fs::{submit, MkDirAt, UnlinkAt};

use crate::functions::{blocking, symlink_metadata};
use crate::metadata::{FileType, Metadata};
use crate::path::cstr;

/// Creates the directory `path` (mode `0o777`, masked by the umask).
///
/// # Errors
///
/// The kernel's error: `AlreadyExists`, `NotFound` for a missing parent, ...
pub async fn create_dir(path: impl AsRef<Path>) -> io::Result<()> {
    mkdir(path.as_ref()).await
}

async fn mkdir(path: &Path) -> io::Result<()> {
    submit(MkDirAt::new(cstr(path)?, 0o777))
        .await
        .result
        .map(drop)
}

/// Creates `path` and every missing parent; an existing directory is fine.
///
/// # Errors
///
/// The first error other than "already exists as a directory".
///
/// # Examples
///
/// ```
/// ringbolt_runtime::run(async {
///     let root = std::env::temp_dir().join(format!("ringbolt-cda-doc-{}", std::process::id()));
///     ringbolt_fs::create_dir_all(root.join("a/b/c")).await?;
///     ringbolt_fs::create_dir_all(root.join("a/b/c")).await?;
///     assert!(ringbolt_fs::metadata(root.join("a/b/c")).await?.is_dir());
///     for p in ["a/b/c", "a/b", "a", ""] {
///         ringbolt_fs::remove_dir(root.join(p)).await?;
///     }
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn create_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref();
    if path.as_os_str().is_empty() {
        return Ok(());
    }
    // Walk up until a directory could be created or exists, then create the
    // missing ones back down.
    let mut missing = Vec::new();
    let mut cur = path;
    loop {
        match mkdir(cur).await {
            Ok(()) => break,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                if is_dir(cur).await {
                    break;
                }
                return Err(e);
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => match cur.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => {
                    missing.push(cur);
                    cur = parent;
                }
                _ => return Err(e),
            },
            Err(e) => return Err(e),
        }
    }
    while let Some(dir) = missing.pop() {
        match mkdir(dir).await {
            Ok(()) => {}
            // Created concurrently by someone else: fine.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && is_dir(dir).await => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

async fn is_dir(path: &Path) -> bool {
    crate::functions::metadata(path)
        .await
        .is_ok_and(|m| m.is_dir())
}

/// Removes the empty directory `path`.
///
/// # Errors
///
/// The kernel's error (`NotFound`, `ENOTEMPTY`, `ENOTDIR`, ...).
pub async fn remove_dir(path: impl AsRef<Path>) -> io::Result<()> {
    submit(UnlinkAt::new(cstr(path.as_ref())?, true))
        .await
        .result
        .map(drop)
}

/// The entries of the directory `path` (without `.` and `..`), in the
/// order the file system gives them. There is no opcode for reading a
/// directory: it runs on the blocking pool with [`std::fs::read_dir`].
///
/// # Errors
///
/// As [`std::fs::read_dir`] and its iterator.
///
/// # Examples
///
/// ```
/// ringbolt_runtime::run(async {
///     let dir = std::env::temp_dir().join(format!("ringbolt-rd-doc-{}", std::process::id()));
///     ringbolt_fs::create_dir(&dir).await?;
///     ringbolt_fs::write(dir.join("x"), b"1").await?;
///     let entries = ringbolt_fs::read_dir(&dir).await?;
///     assert_eq!(entries.len(), 1);
///     assert_eq!(entries[0].file_name(), "x");
///     assert!(entries[0].file_type()?.is_file());
///     ringbolt_fs::remove_file(dir.join("x")).await?;
///     ringbolt_fs::remove_dir(&dir).await
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn read_dir(path: impl AsRef<Path>) -> io::Result<Vec<DirEntry>> {
    let path = path.as_ref().to_path_buf();
    blocking(move || {
        std::fs::read_dir(path)?
            .map(|entry| entry.map(DirEntry::from_std))
            .collect()
    })
    .await
}

/// An entry of a directory listed by [`read_dir`].
pub struct DirEntry {
    path: PathBuf,
    file_name: OsString,
    ino: u64,
    /// The type from the listing; the error's kind and errno if the file
    /// system did not say and the `lstat` fallback failed.
    file_type: Result<FileType, (io::ErrorKind, Option<i32>)>,
}

impl DirEntry {
    fn from_std(entry: std::fs::DirEntry) -> DirEntry {
        use std::os::unix::fs::DirEntryExt;
        DirEntry {
            path: entry.path(),
            file_name: entry.file_name(),
            ino: entry.ino(),
            file_type: entry
                .file_type()
                .map(FileType::from_std)
                .map_err(|e| (e.kind(), e.raw_os_error())),
        }
    }

    /// The entry's full path: the listed directory joined with its name.
    pub fn path(&self) -> PathBuf {
        self.path.clone()
    }

    /// The entry's name.
    pub fn file_name(&self) -> OsString {
        self.file_name.clone()
    }

    /// The entry's inode number, from the listing.
    pub fn ino(&self) -> u64 {
        self.ino
    }

    /// The entry's type (a symbolic link is reported as such), from the
    /// listing.
    ///
    /// # Errors
    ///
    /// If the listing did not say and `lstat` failed.
    pub fn file_type(&self) -> io::Result<FileType> {
        self.file_type.map_err(|(kind, errno)| match errno {
            Some(errno) => io::Error::from_raw_os_error(errno),
            None => io::Error::from(kind),
        })
    }

    /// The entry's metadata, not following a symbolic link (as std's).
    ///
    /// # Errors
    ///
    /// As for [`symlink_metadata`](crate::symlink_metadata).
    pub async fn metadata(&self) -> io::Result<Metadata> {
        symlink_metadata(&self.path).await
    }
}

impl fmt::Debug for DirEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DirEntry").field(&self.path).finish()
    }
}
