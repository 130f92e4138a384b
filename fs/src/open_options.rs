//! [`OpenOptions`]: how to open a file, as in std.

use std::io;
use std::path::Path;

use crate::file::File;

/// Options for opening a file: access mode, creation, truncation, mode bits
/// and extra `O_*` flags (such as `O_DIRECT`), with std's rules.
///
/// # Examples
///
/// ```
/// use ringbolt_fs::OpenOptions;
///
/// ringbolt_runtime::run(async {
///     let path = std::env::temp_dir().join(format!("ringbolt-oo-doc-{}", std::process::id()));
///     let file = OpenOptions::new()
///         .read(true)
///         .write(true)
///         .create(true)
///         .truncate(true)
///         .mode(0o600)
///         .open(&path)
///         .await?;
///     let (res, _) = file.write_at(b"data".to_vec(), 0).await;
///     assert_eq!(res?, 4);
///     file.close().await?;
///     ringbolt_fs::remove_file(&path).await
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct OpenOptions {
    read: bool,
    write: bool,
    append: bool,
    truncate: bool,
    create: bool,
    create_new: bool,
    mode: u32,
    custom_flags: i32,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions::new()
    }
}

impl OpenOptions {
    /// Options with everything off and mode `0o666` (masked by the umask).
    pub fn new() -> Self {
        OpenOptions {
            read: false,
            write: false,
            append: false,
            truncate: false,
            create: false,
            create_new: false,
            mode: 0o666,
            custom_flags: 0,
        }
    }

    /// Open for reading.
    pub fn read(&mut self, read: bool) -> &mut Self {
        self.read = read;
        self
    }

    /// Open for writing.
    pub fn write(&mut self, write: bool) -> &mut Self {
        self.write = write;
        self
    }

    /// Open for appending (implies writing): every write goes to the end of
    /// the file, whatever position it is given.
    pub fn append(&mut self, append: bool) -> &mut Self {
        self.append = append;
        self
    }

    /// Truncate an existing file to length 0 (needs write access).
    pub fn truncate(&mut self, truncate: bool) -> &mut Self {
        self.truncate = truncate;
        self
    }

    /// Create the file if it does not exist (needs write or append access).
    pub fn create(&mut self, create: bool) -> &mut Self {
        self.create = create;
        self
    }

    /// Create the file, failing with `AlreadyExists` if it exists
    /// (`O_CREAT | O_EXCL`; `create` and `truncate` are then ignored).
    pub fn create_new(&mut self, create_new: bool) -> &mut Self {
        self.create_new = create_new;
        self
    }

    /// The permission bits of a newly created file (default `0o666`, masked
    /// by the process's umask).
    pub fn mode(&mut self, mode: u32) -> &mut Self {
        self.mode = mode;
        self
    }

    /// Extra `open(2)` flags, such as `libc::O_DIRECT` or `libc::O_NOATIME`;
    /// the access-mode bits (`O_ACCMODE`) are ignored. `O_CLOEXEC` is
    /// always set.
    pub fn custom_flags(&mut self, flags: i32) -> &mut Self {
        self.custom_flags = flags;
        self
    }

    /// Opens `path` with these options.
    ///
    /// # Errors
    ///
    /// - `InvalidInput` (errno `EINVAL`) for an impossible combination
    ///   (no access mode; `truncate`/`create` without write access; append
    ///   with truncate), or (no errno) for a NUL byte in the path — nothing
    ///   is submitted then.
    /// - The kernel's error, with its errno: `NotFound`/`ENOENT`,
    ///   `AlreadyExists`/`EEXIST` for `create_new`, `PermissionDenied`, ...
    pub async fn open(&self, path: impl AsRef<Path>) -> io::Result<File> {
        let flags = self.flags()?;
        File::open_with(path.as_ref(), flags, self.mode).await
    }

    /// The `open(2)` flags these options stand for (std's rules).
    pub(crate) fn flags(&self) -> io::Result<i32> {
        let einval = || io::Error::from_raw_os_error(libc::EINVAL);
        let access = match (self.read, self.write, self.append) {
            (true, false, false) => libc::O_RDONLY,
            (false, true, false) => libc::O_WRONLY,
            (true, true, false) => libc::O_RDWR,
            (false, _, true) => libc::O_WRONLY | libc::O_APPEND,
            (true, _, true) => libc::O_RDWR | libc::O_APPEND,
            (false, false, false) => return Err(einval()),
        };
        match (self.write, self.append) {
            (true, false) => {}
            (false, false) => {
                if self.truncate || self.create || self.create_new {
                    return Err(einval());
                }
            }
            (_, true) => {
                if self.truncate && !self.create_new {
                    return Err(einval());
                }
            }
        }
        let creation = match (self.create, self.truncate, self.create_new) {
            (false, false, false) => 0,
            (true, false, false) => libc::O_CREAT,
            (false, true, false) => libc::O_TRUNC,
            (true, true, false) => libc::O_CREAT | libc::O_TRUNC,
            (_, _, true) => libc::O_CREAT | libc::O_EXCL,
        };
        Ok(access | creation | (self.custom_flags & !libc::O_ACCMODE))
    }
}
