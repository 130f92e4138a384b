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
    /// A non-blocking connect is under way (the readiness path).
    in_progress: bool,
}

impl Connect {
    /// Connects `fd` to `addr`.
    pub fn new(fd: SharedFd, addr: SockAddr) -> Self {
        Connect {
            fd,
            addr,
            in_progress: false,
        }
    }

    /// One `connect(2)`.
    fn call(&self) -> io::Result<u32> {
        // SAFETY: the address points to `socklen()` readable bytes.
        let r =
            unsafe { libc::connect(self.fd.as_raw_fd(), self.addr.as_ptr(), self.addr.socklen()) };
        crate::sys::cvt(r).map(|_| 0)
    }

    /// The outcome of a connect under way once the socket is writable:
    /// its pending error (`SO_ERROR`), if any.
    fn outcome(&self) -> io::Result<u32> {
        let fd = self.fd.as_raw_fd();
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLOUT,
            revents: 0,
        };
        // SAFETY: `pfd` is one valid pollfd on the stack.
        if crate::sys::cvt(unsafe { libc::poll(&mut pfd, 1, 0) })? == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let mut err: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: `err` and `len` are valid for writes of the sizes `len` says.
        crate::sys::cvt(unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_ERROR,
                (&mut err as *mut libc::c_int).cast(),
                &mut len,
            )
        })?;
        match err {
            0 => Ok(0),
            e => Err(io::Error::from_raw_os_error(e)),
        }
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
        self.call()
    }

    fn readiness(&self) -> Option<(&SharedFd, u32)> {
        Some((&self.fd, crate::driver::WRITABLE))
    }

    /// A non-blocking connect: the socket is switched to non-blocking mode
    /// (it stays so; the other socket ops do not depend on it), `EINPROGRESS`
    /// waits until it is writable, and `SO_ERROR` then tells the outcome.
    /// (`EAGAIN` from a Unix socket whose listener's backlog is full is
    /// returned, as tokio does, rather than waited on.)
    fn run_nonblocking(&mut self) -> io::Result<u32> {
        if self.in_progress {
            return self.outcome();
        }
        self.fd.ensure_nonblocking()?;
        match self.call() {
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINPROGRESS | libc::EALREADY)) => {
                self.in_progress = true;
                Err(io::ErrorKind::WouldBlock.into())
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                Err(io::Error::new(io::ErrorKind::ResourceBusy, BacklogFull(e)))
            }
            res => res,
        }
    }
}

/// A Unix connect's `EAGAIN`: the listener's backlog is full. Returned
/// as `ResourceBusy`, since `WouldBlock` out of an async call would read as
/// "poll again"; the kernel's error stays reachable as the source.
#[derive(Debug)]
struct BacklogFull(io::Error);

impl std::fmt::Display for BacklogFull {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ringbolt: connect: the listener's backlog is full ({})",
            self.0
        )
    }
}

impl std::error::Error for BacklogFull {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
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
