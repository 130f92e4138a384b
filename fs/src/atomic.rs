//! [`write_atomic`]: replacing a file's content so that a crash leaves the
//! old content or the new one, never a mix.

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::file::File;
use crate::functions::{metadata, remove_file, rename};
use crate::open_options::OpenOptions;

/// Replaces the content of `path` with `contents`, durably and atomically:
/// after a crash the file holds the old content or the new one, never a
/// mix, and once this returns `Ok` the new content survives a crash.
///
/// Steps: write a temporary file in the same directory, `fsync` it, rename
/// it over `path`, then `fsync` the directory so the rename itself is
/// durable. The new file gets the permission bits of the file it replaces
/// (or `0o666`, masked by the umask, for a new one); other attributes
/// (owner, extended attributes, hard links) are not carried over. On error
/// the temporary file is removed; if the future is dropped midway it is
/// removed too (with a synchronous `unlink`, the one blocking call here).
///
/// # Errors
///
/// The first error of the steps above; `InvalidInput` for a path without a
/// file name or with a NUL byte.
///
/// # Examples
///
/// ```
/// ringbolt_runtime::run(async {
///     let path = std::env::temp_dir().join(format!("ringbolt-atomic-doc-{}", std::process::id()));
///     ringbolt_fs::write(&path, "old content, longer than the new").await?;
///     ringbolt_fs::write_atomic(&path, "new").await?;
///     assert_eq!(ringbolt_fs::read(&path).await?, b"new");
///     ringbolt_fs::remove_file(&path).await
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn write_atomic(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> io::Result<()> {
    let path = path.as_ref();
    let Some(name) = path.file_name() else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("write_atomic: {} has no file name", path.display()),
        ));
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mode = match metadata(path).await {
        Ok(m) => m.mode() & 0o7777,
        Err(e) if e.kind() == io::ErrorKind::NotFound => 0o666,
        Err(e) => return Err(e),
    };

    let (file, tmp) = create_temp(dir, name, mode).await?;
    let guard = TempGuard(Some(tmp.clone()));
    let written = async {
        let (res, _) = file.write_all_at(contents.as_ref().to_vec(), 0).await;
        res?;
        file.sync_all().await
    }
    .await;
    let closed = file.close().await;
    if let Err(e) = written.and(closed) {
        guard.remove().await;
        return Err(e);
    }
    if let Err(e) = rename(&tmp, path).await {
        guard.remove().await;
        return Err(e);
    }
    guard.defuse();

    let dir = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY)
        .open(dir)
        .await?;
    let synced = dir.sync_all().await;
    let closed = dir.close().await;
    synced.and(closed)
}

/// Creates a new, uniquely named temporary file next to the target.
async fn create_temp(dir: &Path, name: &std::ffi::OsStr, mode: u32) -> io::Result<(File, PathBuf)> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut attempts = 0;
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let mut tmp_name = OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".{}.{n}.tmp", std::process::id()));
        let tmp = dir.join(tmp_name);
        let opened = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
            .await;
        match opened {
            Ok(file) => return Ok((file, tmp)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempts < 100 => {
                attempts += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Removes the temporary file unless defused (after the rename).
struct TempGuard(Option<PathBuf>);

impl TempGuard {
    /// Removes the temporary file through the ring (best effort).
    async fn remove(mut self) {
        if let Some(tmp) = self.0.take() {
            let _ = remove_file(&tmp).await;
        }
    }

    fn defuse(mut self) {
        self.0 = None;
    }
}

impl Drop for TempGuard {
    fn drop(&mut self) {
        // Only reached when the future was dropped midway.
        if let Some(tmp) = self.0.take() {
            let _ = std::fs::remove_file(tmp);
        }
    }
}
