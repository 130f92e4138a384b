//! IORING_OP_ACCEPT (single-shot): accepts one connection and the peer's
//! address; `accept4(2)` when run synchronously.

use std::io;
use std::os::fd::OwnedFd;

use io_uring::{opcode, squeue, types};

use super::{close_orphan_fd, owned_fd, SockAddr};
use crate::fd::SharedFd;
use crate::op::{Op, OpCode};

/// Accepts one connection on a listening socket. The new descriptor is
/// close-on-exec; the peer's address lands in a `SockAddr` boxed in the op.
///
/// If the op completes after its future was dropped, the accepted
/// descriptor is closed ([`OpCode::orphan_completed`]): no fd leaks, and the
/// peer sees its connection closed.
#[derive(Debug)]
pub struct Accept {
    fd: SharedFd,
    addr: SockAddr,
}

impl Accept {
    /// Accepts on the listening socket `fd`.
    pub fn new(fd: SharedFd) -> Self {
        Accept {
            fd,
            addr: SockAddr::empty(),
        }
    }

    /// The peer's address (valid after a successful completion).
    pub fn into_addr(self) -> SockAddr {
        self.addr
    }

    /// The peer's address, taken out (for a completion nobody collects).
    pub(crate) fn take_addr(&mut self) -> SockAddr {
        std::mem::replace(&mut self.addr, SockAddr::empty())
    }
}

// SAFETY: the SQE points to the op's boxed `SockAddr` storage and length,
// which stay at the same address while the op lives and which nothing else
// touches until the completion; the fd is kept open by the SharedFd clone.
unsafe impl OpCode for Accept {
    fn sqe(&mut self) -> squeue::Entry {
        let len = self.addr.len_mut_ptr();
        opcode::Accept::new(types::Fd(self.fd.as_raw_fd()), self.addr.as_mut_ptr(), len)
            .flags(libc::SOCK_CLOEXEC)
            .build()
    }

    fn run_blocking(&mut self) -> io::Result<u32> {
        loop {
            match accept_once(&self.fd, Some(&mut self.addr)) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                res => return res,
            }
        }
    }

    fn readiness(&self) -> Option<(&SharedFd, u32)> {
        Some((&self.fd, crate::driver::READABLE))
    }

    /// `accept4(2)` has no per-call non-blocking flag, so for the
    /// readiness path the listener is switched to non-blocking mode (once
    /// per descriptor, see `SharedFd::ensure_nonblocking`); it stays so,
    /// as under tokio.
    fn run_nonblocking(&mut self) -> io::Result<u32> {
        self.fd.ensure_nonblocking()?;
        accept_once(&self.fd, Some(&mut self.addr))
    }

    fn orphan_completed(&mut self, res: i32, _flags: u32) {
        close_orphan_fd(res);
    }
}

/// One `accept4(2)` (close-on-exec) on the listener `fd`, writing the
/// peer's address into `addr` if given.
pub(super) fn accept_once(fd: &SharedFd, addr: Option<&mut SockAddr>) -> io::Result<u32> {
    let (ptr, len) = match addr {
        Some(a) => (a.as_mut_ptr(), a.len_mut_ptr()),
        None => (std::ptr::null_mut(), std::ptr::null_mut()),
    };
    // SAFETY: either both pointers are null (no address wanted), or the
    // storage has room for any address, whose size the length says; the
    // kernel writes both.
    let r = unsafe { libc::accept4(fd.as_raw_fd(), ptr, len, libc::SOCK_CLOEXEC) };
    crate::sys::cvt(r).map(|fd| fd as u32)
}

/// Accepts one connection on `fd` through the ring: the new socket and the
/// peer's address.
///
/// Dropping the future before it completes closes a connection accepted in
/// the meantime; [`Acceptor`](super::Acceptor) keeps it for the next accept.
///
/// # Errors
///
/// The kernel's error (`EMFILE`, `EINVAL` for a socket that does not
/// listen, ...).
pub async fn accept(fd: SharedFd) -> io::Result<(OwnedFd, SockAddr)> {
    let done = Op::new(Accept::new(fd)).await;
    let n = done.result?;
    // SAFETY: a successful ACCEPT completion is a new descriptor, ours alone.
    let fd = unsafe { owned_fd(n) };
    Ok((fd, done.data.into_addr()))
}
