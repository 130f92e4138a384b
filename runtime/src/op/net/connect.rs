//! IORING_OP_CONNECT: connects a socket; `connect(2)` when run
//! synchronously.

use std::io;

use io_uring::{opcode, squeue, types};

use super::SockAddr;
use crate::fd::SharedFd;
use crate::op::{Op, OpCode};

/// Connects a socket to an address. The address is boxed inside the op.
#[derive(Debug)]
pub struct Connect {
    fd: SharedFd,
    addr: SockAddr,
}

impl Connect {
    /// Connects `fd` to `addr`.
    pub fn new(fd: SharedFd, addr: SockAddr) -> Self {
        Connect { fd, addr }
    }
}

// SAFETY: the SQE points to the op's boxed `SockAddr`, which stays at the
// same address while the op lives and is only read; the fd is kept open by
// the SharedFd clone held here.
unsafe impl OpCode for Connect {
    fn sqe(&mut self) -> squeue::Entry {
        opcode::Connect::new(
            types::Fd(self.fd.as_raw_fd()),
            self.addr.as_ptr(),
            self.addr.socklen(),
        )
        .build()
    }

    fn run_blocking(&mut self) -> io::Result<u32> {
        // SAFETY: the address points to `socklen()` readable bytes.
        let r =
            unsafe { libc::connect(self.fd.as_raw_fd(), self.addr.as_ptr(), self.addr.socklen()) };
        crate::sys::cvt(r).map(|_| 0)
    }
}

/// Connects `fd` to `addr` through the ring.
///
/// # Errors
///
/// The kernel's error: `ECONNREFUSED`, `ETIMEDOUT`, `ENETUNREACH`, ...
pub async fn connect(fd: SharedFd, addr: SockAddr) -> io::Result<()> {
    Op::new(Connect::new(fd, addr)).await.result.map(|_| ())
}
