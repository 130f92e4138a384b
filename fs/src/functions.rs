//! Whole-file and path functions: `read`, `write`, `metadata`, `rename`,
//! `remove_file`, links, `canonicalize`.

use std::io;
use std::path::{Path, PathBuf};

use ringbolt_runtime::op::fs::{statx, submit, LinkAt, RenameAt, StatxTarget, SymlinkAt, UnlinkAt};

use crate::file::File;
use crate::metadata::Metadata;
use crate::path::cstr;
use crate::read_all::read_all;

/// Reads the whole file at `path` (large reads, several in flight).
///
/// # Errors
///
/// As for [`File::open`] and [`File::read_at`].
///
/// # Examples
///
/// ```
/// ringbolt_runtime::run(async {
///     let path = std::env::temp_dir().join(format!("ringbolt-read-doc-{}", std::process::id()));
///     ringbolt_fs::write(&path, "contents").await?;
///     assert_eq!(ringbolt_fs::read(&path).await?, b"contents");
///     ringbolt_fs::remove_file(&path).await
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    let file = File::open(path).await?;
    let data = read_all(&file).await?;
    file.close().await?;
    Ok(data)
}

/// Writes `contents` to `path`, creating the file or truncating it. Not
/// durable on its own: see [`write_atomic`](crate::write_atomic).
///
/// # Errors
///
/// As for [`File::create`] and [`File::write_all_at`]; the error of the
/// final close too.
pub async fn write(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> io::Result<()> {
    let file = File::create(path).await?;
    let (res, _) = file.write_all_at(contents.as_ref().to_vec(), 0).await;
    res?;
    file.close().await
}

/// The metadata of `path`, following symbolic links.
///
/// # Errors
///
/// The kernel's error (`NotFound`, ...); `InvalidInput` for a NUL byte.
pub async fn metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    stat(path.as_ref(), true).await
}

/// The metadata of `path` itself: a symbolic link is described, not
/// followed.
///
/// # Errors
///
/// As for [`metadata`].
pub async fn symlink_metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    stat(path.as_ref(), false).await
}

async fn stat(path: &Path, follow: bool) -> io::Result<Metadata> {
    let target = StatxTarget::Path {
        path: cstr(path)?,
        follow,
    };
    Ok(Metadata::from_statx(statx(target, Metadata::MASK).await?))
}

/// Renames `from` to `to`, atomically replacing `to` if it exists.
///
/// # Errors
///
/// The kernel's error (`NotFound`, `EXDEV` across file systems, ...).
pub async fn rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
    let op = RenameAt::new(cstr(from.as_ref())?, cstr(to.as_ref())?, 0);
    submit(op).await.result.map(drop)
}

/// Removes the file (or symbolic link) at `path`.
///
/// # Errors
///
/// The kernel's error (`NotFound`, `EISDIR` for a directory, ...).
pub async fn remove_file(path: impl AsRef<Path>) -> io::Result<()> {
    let op = UnlinkAt::new(cstr(path.as_ref())?, false);
    submit(op).await.result.map(drop)
}

/// Creates the hard link `link` to the file `original`.
///
/// # Errors
///
/// The kernel's error (`AlreadyExists` if `link` exists, ...).
pub async fn hard_link(original: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
    let op = LinkAt::new(cstr(original.as_ref())?, cstr(link.as_ref())?);
    submit(op).await.result.map(drop)
}

/// Creates the symbolic link `link` pointing to `original` (stored as
/// given; a relative `original` is resolved from the link's directory).
///
/// # Errors
///
/// The kernel's error (`AlreadyExists` if `link` exists, ...).
pub async fn symlink(original: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
    let op = SymlinkAt::new(cstr(original.as_ref())?, cstr(link.as_ref())?);
    submit(op).await.result.map(drop)
}

/// The absolute form of `path` with every symbolic link, `.` and `..`
/// resolved. There is no opcode for it: it runs on the blocking pool.
///
/// # Errors
///
/// As [`std::fs::canonicalize`].
pub async fn canonicalize(path: impl AsRef<Path>) -> io::Result<PathBuf> {
    let path = path.as_ref().to_path_buf();
    blocking(move || std::fs::canonicalize(path)).await
}

/// Runs `f` on the blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    ringbolt_runtime::spawn_blocking(f).await.map_err(|e| {
        if e.is_cancelled() {
            io::Error::other(
                "ringbolt-fs: the blocking pool did not run the call \
                 (it could not start a thread, or the runtime is shutting down)",
            )
        } else {
            io::Error::other(format!("ringbolt-fs: blocking task failed: {e}"))
        }
    })?
}
