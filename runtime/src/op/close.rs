//! IORING_OP_CLOSE: closes a descriptor we own; `close(2)` when run
//! synchronously.

use std::io;
use std::os::fd::{AsRawFd, IntoRawFd, OwnedFd};

use io_uring::{opcode, squeue, types};

use super::{Op, OpCode};

/// Closes a descriptor. The op owns it, so it is closed exactly once: by the
/// kernel, by `close(2)` on the blocking path, or — if the op is dropped
/// before it ran, or cancelled — by the `OwnedFd` it still holds.
#[derive(Debug)]
pub struct Close {
    fd: Option<OwnedFd>,
}

impl Close {
    /// An op that closes `fd`.
    pub fn new(fd: OwnedFd) -> Self {
        Close { fd: Some(fd) }
    }

    /// Records a completion: unless the op was cancelled before it ran, the
    /// kernel has released the descriptor (Linux releases it even when
    /// `close` reports an error), so it must not be closed again.
    fn completed(&mut self, res: i32) {
        if res != -libc::ECANCELED {
            if let Some(fd) = self.fd.take() {
                let _ = fd.into_raw_fd();
            }
        }
    }
}

// SAFETY: a CLOSE SQE points to no memory.
unsafe impl OpCode for Close {
    fn sqe(&mut self) -> squeue::Entry {
        let fd = self.fd.as_ref().map_or(-1, |fd| fd.as_raw_fd());
        opcode::Close::new(types::Fd(fd)).build()
    }

    fn run_blocking(&mut self) -> io::Result<u32> {
        let Some(fd) = self.fd.take() else {
            return Err(io::Error::from_raw_os_error(libc::EBADF));
        };
        // SAFETY: the descriptor comes from an OwnedFd given up here, so it is
        // ours and is closed exactly once.
        crate::sys::cvt(unsafe { libc::close(fd.into_raw_fd()) }).map(|_| 0)
    }

    fn orphan_completed(&mut self, res: i32, _flags: u32) {
        self.completed(res);
    }
}

/// Closes `fd` through the ring and reports the error `close(2)` gives
/// (which matters for files: a failed write-back shows up here).
///
/// # Errors
///
/// The kernel's error for the close, with its errno.
pub async fn close(fd: OwnedFd) -> io::Result<()> {
    let mut done = Op::new(Close::new(fd)).await;
    match &done.result {
        Ok(_) => done.data.completed(0),
        // An error without an errno never reached the kernel (see
        // `Completion::result`): the fd is still ours and closes on drop.
        Err(e) => {
            if let Some(errno) = e.raw_os_error() {
                done.data.completed(-errno);
            }
        }
    }
    done.result.map(|_| ())
}
