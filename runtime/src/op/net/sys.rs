//! The socket calls that never block and need no ring: `bind`, `listen`,
//! socket options, `getsockname`/`getpeername`, `socketpair`.
//!
//! They take any [`AsFd`] (a [`SharedFd`](crate::SharedFd), a std socket),
//! so the borrow keeps the descriptor open for the duration of the call.

use std::io;
use std::mem;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use super::{owned_fd, SockAddr};
use crate::sys::cvt;

/// `socket(2)` with `SOCK_CLOEXEC` added to `ty`.
///
/// # Errors
///
/// The kernel's error (`EAFNOSUPPORT`, `EMFILE`, ...).
pub fn socket(domain: i32, ty: i32, protocol: i32) -> io::Result<OwnedFd> {
    // SAFETY: socket(2) takes no pointers.
    let fd = cvt(unsafe { libc::socket(domain, ty | libc::SOCK_CLOEXEC, protocol) })?;
    // SAFETY: socket(2) just returned this descriptor to us alone.
    Ok(unsafe { owned_fd(fd as u32) })
}

/// `socketpair(2)` with `SOCK_CLOEXEC` added to `ty`: two connected sockets.
///
/// # Errors
///
/// The kernel's error.
pub fn socketpair(domain: i32, ty: i32, protocol: i32) -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0i32; 2];
    // SAFETY: `fds` is room for the two descriptors socketpair writes.
    cvt(unsafe { libc::socketpair(domain, ty | libc::SOCK_CLOEXEC, protocol, fds.as_mut_ptr()) })?;
    // SAFETY: both descriptors were just created for us alone.
    Ok(unsafe { (owned_fd(fds[0] as u32), owned_fd(fds[1] as u32)) })
}

/// `bind(2)`.
///
/// # Errors
///
/// The kernel's error (`EADDRINUSE`, `EACCES`, ...).
pub fn bind(fd: impl AsFd, addr: &SockAddr) -> io::Result<()> {
    // SAFETY: `addr` points to `socklen()` readable bytes of its storage.
    cvt(unsafe { libc::bind(fd.as_fd().as_raw_fd(), addr.as_ptr(), addr.socklen()) }).map(|_| ())
}

/// `listen(2)`.
///
/// # Errors
///
/// The kernel's error.
pub fn listen(fd: impl AsFd, backlog: i32) -> io::Result<()> {
    // SAFETY: listen(2) takes no pointers.
    cvt(unsafe { libc::listen(fd.as_fd().as_raw_fd(), backlog) }).map(|_| ())
}

/// `setsockopt(2)` of an `int`-valued option.
///
/// # Errors
///
/// The kernel's error (`ENOPROTOOPT`, ...).
pub fn set_int_option(fd: impl AsFd, level: i32, name: i32, value: i32) -> io::Result<()> {
    // SAFETY: the option value is one `c_int` on the stack, and its size is
    // passed along.
    cvt(unsafe {
        libc::setsockopt(
            fd.as_fd().as_raw_fd(),
            level,
            name,
            (&value as *const i32).cast(),
            mem::size_of::<i32>() as libc::socklen_t,
        )
    })
    .map(|_| ())
}

/// `getsockopt(2)` of an `int`-valued option.
///
/// # Errors
///
/// The kernel's error.
pub fn int_option(fd: impl AsFd, level: i32, name: i32) -> io::Result<i32> {
    let mut value: i32 = 0;
    let mut len = mem::size_of::<i32>() as libc::socklen_t;
    // SAFETY: room for one `c_int`, whose size is passed in `len`.
    cvt(unsafe {
        libc::getsockopt(
            fd.as_fd().as_raw_fd(),
            level,
            name,
            (&mut value as *mut i32).cast(),
            &mut len,
        )
    })?;
    Ok(value)
}

/// The pending error of a socket (`SO_ERROR`), cleared by reading it.
///
/// # Errors
///
/// The error of the `getsockopt` call itself.
pub fn take_error(fd: impl AsFd) -> io::Result<Option<io::Error>> {
    let e = int_option(fd, libc::SOL_SOCKET, libc::SO_ERROR)?;
    Ok((e != 0).then(|| io::Error::from_raw_os_error(e)))
}

/// `getsockname(2)`: the address the socket is bound to.
///
/// # Errors
///
/// The kernel's error.
pub fn local_addr(fd: impl AsFd) -> io::Result<SockAddr> {
    let mut addr = SockAddr::empty();
    // SAFETY: the storage has room for any address, whose size the length
    // says; the kernel writes both.
    cvt(unsafe {
        libc::getsockname(
            fd.as_fd().as_raw_fd(),
            addr.as_mut_ptr(),
            addr.len_mut_ptr(),
        )
    })?;
    Ok(addr)
}

/// `getpeername(2)`: the address of the connected peer.
///
/// # Errors
///
/// `ENOTCONN` if the socket is not connected; the kernel's other errors.
pub fn peer_addr(fd: impl AsFd) -> io::Result<SockAddr> {
    let mut addr = SockAddr::empty();
    // SAFETY: as in `local_addr`.
    cvt(unsafe {
        libc::getpeername(
            fd.as_fd().as_raw_fd(),
            addr.as_mut_ptr(),
            addr.len_mut_ptr(),
        )
    })?;
    Ok(addr)
}

/// Clears or sets `O_NONBLOCK` (nothing to do if it is already so).
/// io_uring needs neither (it waits on blocking sockets with its internal
/// poll). Under the thread-pool driver, sockets that wait for readiness
/// (accepting, connecting) are switched to non-blocking; sockets handed
/// to std (`into_std`) are set back to blocking.
///
/// # Errors
///
/// The kernel's error.
pub fn set_nonblocking(fd: impl AsFd, nonblocking: bool) -> io::Result<()> {
    let raw = fd.as_fd().as_raw_fd();
    // SAFETY: F_GETFL takes no pointer.
    let flags = cvt(unsafe { libc::fcntl(raw, libc::F_GETFL) })?;
    let new = if nonblocking {
        flags | libc::O_NONBLOCK
    } else {
        flags & !libc::O_NONBLOCK
    };
    if new != flags {
        // SAFETY: F_SETFL takes an int, no pointer.
        cvt(unsafe { libc::fcntl(raw, libc::F_SETFL, new) })?;
    }
    Ok(())
}
