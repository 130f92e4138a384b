//! A file descriptor shared by a handle and its in-flight operations.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::Arc;

/// An owned file descriptor that every in-flight operation on it keeps
/// open: the descriptor is closed exactly once, when the last clone is
/// dropped (or by [`SharedFd::close`]), never while the kernel may still use
/// it — so a cancelled read can never land in a file that reused its number.
#[derive(Clone)]
pub struct SharedFd {
    inner: Arc<OwnedFd>,
}

impl SharedFd {
    /// Takes ownership of `fd`.
    pub fn new(fd: OwnedFd) -> Self {
        SharedFd {
            inner: Arc::new(fd),
        }
    }

    /// The raw descriptor number (valid while this `SharedFd` lives).
    pub fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }

    /// The descriptor itself, if this is its only owner (no clone and no
    /// operation holds it); otherwise `self` back.
    ///
    /// # Errors
    ///
    /// Gives `self` back while other owners exist.
    pub fn try_unwrap(self) -> Result<OwnedFd, SharedFd> {
        Arc::try_unwrap(self.inner).map_err(|inner| SharedFd { inner })
    }

    /// Closes the descriptor through the ring and returns the error
    /// `close(2)` reports. If operations still hold the descriptor (only
    /// possible for cancelled ones waiting for their completion), it is
    /// closed when the last of them finishes, and `Ok(())` is returned.
    ///
    /// # Errors
    ///
    /// The kernel's error for the close.
    pub async fn close(self) -> io::Result<()> {
        match Arc::try_unwrap(self.inner) {
            Ok(fd) => crate::op::close(fd).await,
            Err(_) => Ok(()),
        }
    }
}

impl AsRawFd for SharedFd {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

impl AsFd for SharedFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

impl fmt::Debug for SharedFd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SharedFd").field(&self.as_raw_fd()).finish()
    }
}
