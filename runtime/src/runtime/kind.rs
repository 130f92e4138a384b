//! [`Driver`]: which I/O driver a runtime uses.

use std::io;

/// The I/O driver of a runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Driver {
    /// io_uring when `io_uring_setup` works; the thread-pool driver when it
    /// is refused (EPERM, EACCES, ENOSYS, ENOMEM), with one warning through
    /// `tracing` naming the cause. `RINGBOLT_DRIVER=uring|threadpool`
    /// overrides this choice from the environment.
    #[default]
    Auto,
    /// io_uring, or an error if the kernel refuses it.
    IoUring,
    /// No ring: every file operation runs its synchronous equivalent on
    /// the blocking pool (the approach of `tokio::fs` and Python's
    /// aiofiles); socket operations wait for readiness in the worker's
    /// epoll and then run on the worker without blocking (tokio's
    /// approach).
    ThreadPool,
}

impl Driver {
    /// Parses `uring`/`io_uring`, `threadpool`/`thread_pool`/`pool` or
    /// `auto`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for any other name.
    pub fn parse(name: &str) -> io::Result<Driver> {
        match name.trim().to_ascii_lowercase().as_str() {
            "auto" | "" => Ok(Driver::Auto),
            "uring" | "io_uring" | "iouring" => Ok(Driver::IoUring),
            "threadpool" | "thread_pool" | "pool" => Ok(Driver::ThreadPool),
            other => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("ringbolt: unknown driver {other:?} (expected uring, threadpool or auto)"),
            )),
        }
    }
}

/// Whether a setup error means "this host refuses io_uring" (so `Auto`
/// falls back) rather than a real failure.
pub(crate) fn is_refusal(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error().or_else(|| setup_errno(e)),
        Some(libc::EPERM | libc::EACCES | libc::ENOSYS | libc::ENOMEM)
    )
}

/// The errno carried in the message of an explained setup error.
fn setup_errno(e: &io::Error) -> Option<i32> {
    match e.kind() {
        io::ErrorKind::PermissionDenied => Some(libc::EPERM),
        io::ErrorKind::Unsupported => Some(libc::ENOSYS),
        io::ErrorKind::OutOfMemory => Some(libc::ENOMEM),
        _ => None,
    }
}
