//! [`UnixListener`]: a listening Unix-domain stream socket.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::Path;

use ringbolt_runtime::op::net::{self as op, sys, Acceptor};
use ringbolt_runtime::SharedFd;

use super::{path_addr, SocketAddr, UnixStream};
use crate::incoming::Incoming;

/// A Unix-domain stream socket listening for connections at a path.
///
/// The socket file is not removed on drop (see the [module](crate::unix)
/// docs).
///
/// # Examples
///
/// ```
/// use ringbolt_net::{UnixListener, UnixStream};
///
/// let dir = std::env::temp_dir().join(format!("ringbolt-doc-ul-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let path = dir.join("sock");
/// let _ = std::fs::remove_file(&path);
/// ringbolt_runtime::run(async {
///     let listener = UnixListener::bind(&path).await?;
///     let client = UnixStream::connect(&path).await?;
///     let (server, _peer) = listener.accept().await?;
///     let (res, _) = client.write_all(b"hi".to_vec()).await;
///     res?;
///     let (n, buf) = server.read(Vec::with_capacity(8)).await;
///     assert_eq!(&buf[..n?], b"hi");
///     Ok::<(), std::io::Error>(())
/// })?;
/// std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UnixListener {
    fd: SharedFd,
    /// Single-shot accepts: a dropped one loses no connection.
    acceptor: Acceptor,
}

impl UnixListener {
    /// Creates a socket file at `path` and listens on it (backlog 1024).
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::AddrInUse`] if the file exists;
    /// [`io::ErrorKind::InvalidInput`] for a path with a NUL byte or longer
    /// than 107 bytes; the kernel's other errors.
    pub async fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        let addr = path_addr(path)?;
        let fd = op::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0).await?;
        sys::bind(&fd, &addr)?;
        sys::listen(&fd, 1024)?;
        Ok(UnixListener {
            fd: SharedFd::new(fd),
            acceptor: Acceptor::new(),
        })
    }

    /// Accepts one connection: the stream and the peer's address (usually
    /// unnamed: clients rarely bind).
    ///
    /// # Errors
    ///
    /// The kernel's error.
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (fd, peer) = self.acceptor.accept(&self.fd).await?;
        Ok((UnixStream::from_owned(fd), SocketAddr::from_sockaddr(&peer)))
    }

    /// The incoming connections as a stream (multishot accept where the
    /// kernel has it); see [`TcpListener::incoming`](crate::TcpListener::incoming).
    pub fn incoming(&self) -> Incoming<UnixStream> {
        Incoming::new(
            self.acceptor.incoming(self.fd.clone()),
            UnixStream::from_owned,
        )
    }

    /// The address the listener is bound to.
    ///
    /// # Errors
    ///
    /// The kernel's error.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(SocketAddr::from_sockaddr(&sys::local_addr(&self.fd)?))
    }

    /// Wraps a listening std socket, switched to blocking mode.
    ///
    /// # Errors
    ///
    /// If the mode cannot be changed.
    pub fn from_std(listener: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        listener.set_nonblocking(false)?;
        Ok(UnixListener {
            fd: SharedFd::new(OwnedFd::from(listener)),
            acceptor: Acceptor::new(),
        })
    }

    /// A std listener for the same socket (the descriptor is duplicated),
    /// in blocking mode, as std's own listeners are (under the thread-pool
    /// driver, accepts switch the socket to non-blocking mode).
    ///
    /// # Errors
    ///
    /// If the descriptor cannot be duplicated or its mode changed.
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixListener> {
        crate::into_std::blocking_dup(&self.fd).map(std::os::unix::net::UnixListener::from)
    }
}

impl AsRawFd for UnixListener {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for UnixListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("UnixListener");
        if let Ok(a) = self.local_addr() {
            d.field("addr", &a);
        }
        d.field("fd", &self.fd.as_raw_fd()).finish()
    }
}
