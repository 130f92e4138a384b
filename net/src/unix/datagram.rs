//! [`UnixDatagram`]: a Unix-domain datagram socket.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::Path;

use ringbolt_runtime::buf::{BufResult, IoBuf, IoBufMut};
use ringbolt_runtime::op::net::{self as op, sys, DgramRecv};
use ringbolt_runtime::SharedFd;

use super::{path_addr, SocketAddr};

/// A Unix-domain datagram socket.
///
/// # Examples
///
/// ```
/// use ringbolt_net::UnixDatagram;
///
/// ringbolt_runtime::run(async {
///     let (a, b) = UnixDatagram::pair()?;
///     let (res, _) = a.send(b"one".to_vec()).await;
///     res?;
///     let (n, buf) = b.recv(Vec::with_capacity(16)).await;
///     assert_eq!(&buf[..n?], b"one");
///     Ok::<(), std::io::Error>(())
/// })
/// .unwrap();
/// ```
pub struct UnixDatagram {
    fd: SharedFd,
    /// The receive side: a dropped receive loses no datagram.
    recv: DgramRecv,
}

impl UnixDatagram {
    fn from_owned(fd: OwnedFd) -> Self {
        UnixDatagram {
            fd: SharedFd::new(fd),
            recv: DgramRecv::new(),
        }
    }

    /// Creates a socket bound to a new socket file at `path`.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::AddrInUse`] if the file exists;
    /// [`io::ErrorKind::InvalidInput`] for a bad path.
    pub async fn bind(path: impl AsRef<Path>) -> io::Result<UnixDatagram> {
        let addr = path_addr(path)?;
        let fd = op::socket(libc::AF_UNIX, libc::SOCK_DGRAM, 0).await?;
        sys::bind(&fd, &addr)?;
        Ok(UnixDatagram::from_owned(fd))
    }

    /// Creates a socket bound to no address (it can send, and receive
    /// replies only after [`connect`](UnixDatagram::connect)ing or from
    /// peers that know it through a pair).
    ///
    /// # Errors
    ///
    /// The kernel's error.
    pub fn unbound() -> io::Result<UnixDatagram> {
        Ok(UnixDatagram::from_owned(sys::socket(
            libc::AF_UNIX,
            libc::SOCK_DGRAM,
            0,
        )?))
    }

    /// Two connected sockets (`socketpair(2)`).
    ///
    /// # Errors
    ///
    /// The kernel's error.
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = sys::socketpair(libc::AF_UNIX, libc::SOCK_DGRAM, 0)?;
        Ok((UnixDatagram::from_owned(a), UnixDatagram::from_owned(b)))
    }

    /// Sets the default destination of [`send`](UnixDatagram::send) and the
    /// only source [`recv`](UnixDatagram::recv) accepts.
    ///
    /// # Errors
    ///
    /// The kernel's error (`ENOENT`, `ECONNREFUSED`, ...).
    pub async fn connect(&self, path: impl AsRef<Path>) -> io::Result<()> {
        op::connect(self.fd.clone(), path_addr(path)?).await
    }

    /// Sends one datagram to the socket at `path`.
    ///
    /// # Errors
    ///
    /// The kernel's error (`ENOENT`, `EMSGSIZE`, ...).
    pub async fn send_to<B: IoBuf + Send>(
        &self,
        buf: B,
        path: impl AsRef<Path>,
    ) -> BufResult<usize, B> {
        match path_addr(path) {
            Ok(addr) => op::send_to(self.fd.clone(), buf, addr).await,
            Err(e) => (Err(e), buf),
        }
    }

    /// Receives one datagram into `buf` (from its start up to its
    /// capacity): its length and sender.
    ///
    /// # Errors
    ///
    /// The kernel's error.
    pub async fn recv_from<B: IoBufMut + Send>(&self, buf: B) -> BufResult<(usize, SocketAddr), B> {
        let (res, buf) = self.recv.recv_from(&self.fd, buf).await;
        (res.map(|(n, a)| (n, SocketAddr::from_sockaddr(&a))), buf)
    }

    /// Sends one datagram to the connected peer.
    ///
    /// # Errors
    ///
    /// The kernel's error (`ENOTCONN`, ...).
    pub async fn send<B: IoBuf + Send>(&self, buf: B) -> BufResult<usize, B> {
        op::send(self.fd.clone(), buf, 0).await
    }

    /// Receives one datagram from the connected peer.
    ///
    /// # Errors
    ///
    /// The kernel's error.
    pub async fn recv<B: IoBufMut + Send>(&self, buf: B) -> BufResult<usize, B> {
        self.recv.recv(&self.fd, buf).await
    }

    /// The address the socket is bound to.
    ///
    /// # Errors
    ///
    /// The kernel's error.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(SocketAddr::from_sockaddr(&sys::local_addr(&self.fd)?))
    }

    /// The address of the connected peer.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::NotConnected`] if not connected.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        Ok(SocketAddr::from_sockaddr(&sys::peer_addr(&self.fd)?))
    }

    /// Wraps a std socket, switched to blocking mode.
    ///
    /// # Errors
    ///
    /// If the mode cannot be changed.
    pub fn from_std(socket: std::os::unix::net::UnixDatagram) -> io::Result<UnixDatagram> {
        socket.set_nonblocking(false)?;
        Ok(UnixDatagram::from_owned(OwnedFd::from(socket)))
    }

    /// A std socket for the same socket (the descriptor is duplicated), in
    /// blocking mode as std's own sockets are (under the thread-pool
    /// driver, `connect` switches the socket to non-blocking mode). A
    /// datagram that a cancelled receive took and no receive handed out
    /// yet is dropped with this socket.
    ///
    /// # Errors
    ///
    /// If the descriptor cannot be duplicated or its mode changed.
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixDatagram> {
        crate::into_std::blocking_dup(&self.fd).map(std::os::unix::net::UnixDatagram::from)
    }
}

impl AsRawFd for UnixDatagram {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for UnixDatagram {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl fmt::Debug for UnixDatagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixDatagram")
            .field("fd", &self.fd.as_raw_fd())
            .finish()
    }
}
