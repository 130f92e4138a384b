//! The descriptor a socket's `into_std` hands to std.

use std::io;
use std::os::fd::{AsFd, OwnedFd};

use ringbolt_runtime::SharedFd;

/// A duplicate of `fd` (`dup(2)`, close-on-exec) in blocking mode, as
/// std's own sockets are. The mode belongs to the socket, so `fd` is
/// blocking too, and recorded so: an operation of ours that still runs
/// on it and needs non-blocking mode (an accept or connect under the
/// thread-pool driver) switches it back rather than block its worker.
pub(crate) fn blocking_dup(fd: &SharedFd) -> io::Result<OwnedFd> {
    let dup = fd.as_fd().try_clone_to_owned()?;
    fd.set_nonblocking(false)?;
    Ok(dup)
}
