//! IORING_OP_SHUTDOWN: shuts down one or both directions of a connection;
//! `shutdown(2)` when run synchronously or when the kernel lacks the opcode
//! (before Linux 5.11).

use std::io;

use io_uring::{opcode, squeue, types};

use super::supported;
use crate::fd::SharedFd;
use crate::op::{Op, OpCode};

/// Shuts down `how` (`libc::SHUT_RD`, `SHUT_WR`, `SHUT_RDWR`) on a socket.
#[derive(Debug)]
pub struct Shutdown {
    fd: SharedFd,
    how: i32,
}

impl Shutdown {
    /// A shutdown of `how` on `fd`.
    pub fn new(fd: SharedFd, how: i32) -> Self {
        Shutdown { fd, how }
    }
}

// SAFETY: a SHUTDOWN SQE points to no memory; the fd is kept open by the
// SharedFd clone held here.
unsafe impl OpCode for Shutdown {
    fn sqe(&mut self) -> squeue::Entry {
        opcode::Shutdown::new(types::Fd(self.fd.as_raw_fd()), self.how).build()
    }

    fn run_blocking(&mut self) -> io::Result<u32> {
        // SAFETY: shutdown(2) takes no pointers.
        crate::sys::cvt(unsafe { libc::shutdown(self.fd.as_raw_fd(), self.how) }).map(|_| 0)
    }
}

/// Shuts down `how` on `fd`: through the ring, or with `shutdown(2)` (which
/// never blocks) when the kernel lacks IORING_OP_SHUTDOWN.
///
/// # Errors
///
/// The kernel's error (`ENOTCONN`, ...).
pub async fn shutdown(fd: SharedFd, how: std::net::Shutdown) -> io::Result<()> {
    let how = match how {
        std::net::Shutdown::Read => libc::SHUT_RD,
        std::net::Shutdown::Write => libc::SHUT_WR,
        std::net::Shutdown::Both => libc::SHUT_RDWR,
    };
    let mut op = Shutdown::new(fd, how);
    if supported(opcode::Shutdown::CODE) != Some(true) {
        return op.run_blocking().map(|_| ());
    }
    Op::new(op).await.result.map(|_| ())
}
