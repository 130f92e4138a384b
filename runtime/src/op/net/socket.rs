//! IORING_OP_SOCKET: creates a socket; `socket(2)` when run synchronously
//! or when the kernel lacks the opcode (before Linux 5.19).

use std::io;
use std::os::fd::OwnedFd;

use io_uring::{opcode, squeue};

use super::{close_orphan_fd, owned_fd, supported, sys};
use crate::op::{Op, OpCode};

/// Creates a socket of `domain`, `ty` and `protocol`, close-on-exec.
#[derive(Debug)]
pub struct Socket {
    domain: i32,
    ty: i32,
    protocol: i32,
}

impl Socket {
    /// A socket of `domain` (`libc::AF_INET`, ...), `ty`
    /// (`libc::SOCK_STREAM`, ...; `SOCK_CLOEXEC` is added) and `protocol`.
    pub fn new(domain: i32, ty: i32, protocol: i32) -> Self {
        Socket {
            domain,
            ty: ty | libc::SOCK_CLOEXEC,
            protocol,
        }
    }
}

// SAFETY: a SOCKET SQE points to no memory.
unsafe impl OpCode for Socket {
    fn sqe(&mut self) -> squeue::Entry {
        opcode::Socket::new(self.domain, self.ty, self.protocol).build()
    }

    fn run_blocking(&mut self) -> io::Result<u32> {
        // The sync call owns the descriptor; the op's convention hands it on
        // as a number, owned by whoever receives the result.
        sys::socket(self.domain, self.ty, self.protocol)
            .map(|fd| std::os::fd::IntoRawFd::into_raw_fd(fd) as u32)
    }

    fn orphan_completed(&mut self, res: i32, _flags: u32) {
        close_orphan_fd(res);
    }
}

/// Creates a socket through the ring (close-on-exec), or with `socket(2)`
/// when the kernel lacks IORING_OP_SOCKET.
///
/// # Errors
///
/// The kernel's error (`EAFNOSUPPORT`, `EMFILE`, ...).
///
/// # Examples
///
/// ```
/// ringbolt_runtime::run(async {
///     let fd = ringbolt_runtime::op::net::socket(libc::AF_INET, libc::SOCK_STREAM, 0).await?;
///     drop(fd);
///     Ok::<(), std::io::Error>(())
/// })
/// .unwrap();
/// ```
pub async fn socket(domain: i32, ty: i32, protocol: i32) -> io::Result<OwnedFd> {
    if supported(opcode::Socket::CODE) != Some(true) {
        return sys::socket(domain, ty, protocol);
    }
    let n = Op::new(Socket::new(domain, ty, protocol)).await.result?;
    // SAFETY: a successful SOCKET completion is a new descriptor, ours alone.
    Ok(unsafe { owned_fd(n) })
}
