//! Thin wrappers over the few raw system calls the runtime makes itself.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// Turns a libc return value into `io::Result`, reading `errno` on -1.
pub(crate) fn cvt<T: PartialEq + From<i8>>(ret: T) -> io::Result<T> {
    if ret == T::from(-1) {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// A blocking, close-on-exec eventfd (the ring reads it; other threads
/// write it to wake the worker).
pub(crate) fn eventfd() -> io::Result<OwnedFd> {
    // SAFETY: eventfd has no memory arguments.
    let fd = cvt(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) })?;
    // SAFETY: `fd` was just returned by eventfd and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Adds 1 to an eventfd's counter, waking whoever reads it.
pub(crate) fn eventfd_signal(fd: RawFd) {
    let one: u64 = 1;
    // SAFETY: writes 8 bytes from a valid u64 on the stack. A failure
    // (impossible short of counter overflow) only loses a redundant wake.
    unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
}
