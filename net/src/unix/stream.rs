//! [`UnixStream`]: a Unix-domain stream connection.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::Path;

use ringbolt_runtime::buf::{BufResult, IoBuf, IoBufMut, RecvBuf};
use ringbolt_runtime::op::net::{self as op, sys, RingRecv};
use ringbolt_runtime::SharedFd;

use super::{path_addr, SocketAddr};
use crate::io as sio;

/// A Unix-domain stream connection: the read/write shape of
/// [`TcpStream`](crate::TcpStream).
pub struct UnixStream {
    fd: SharedFd,
    /// The read side, as a TCP stream's (see `crate::io`).
    recv: RingRecv,
}

impl UnixStream {
    pub(crate) fn from_owned(fd: OwnedFd) -> Self {
        UnixStream::from_shared(SharedFd::new(fd))
    }

    fn from_shared(fd: SharedFd) -> Self {
        UnixStream {
            fd,
            recv: RingRecv::new(),
        }
    }

    /// Connects to the socket at `path`.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::NotFound`] if no file is there,
    /// [`io::ErrorKind::ConnectionRefused`] if nobody listens on it;
    /// [`io::ErrorKind::InvalidInput`] for a path with a NUL byte.
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        let addr = path_addr(path)?;
        let fd = SharedFd::new(op::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0).await?);
        op::connect(fd.clone(), addr).await?;
        Ok(UnixStream::from_shared(fd))
    }

    /// Two connected streams (`socketpair(2)`).
    ///
    /// # Errors
    ///
    /// The kernel's error (`EMFILE`, ...).
    ///
    /// # Examples
    ///
    /// ```
    /// use ringbolt_net::UnixStream;
    ///
    /// ringbolt_runtime::run(async {
    ///     let (a, b) = UnixStream::pair()?;
    ///     let (res, _) = a.write_all(&b"hey"[..]).await;
    ///     res?;
    ///     let (n, buf) = b.read(vec![0; 8]).await;
    ///     assert_eq!(&buf[..n?], b"hey");
    ///     Ok::<(), std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = sys::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0)?;
        Ok((UnixStream::from_owned(a), UnixStream::from_owned(b)))
    }

    /// Reads into `buf` from its start up to its capacity; 0 means the peer
    /// closed its sending side.
    ///
    /// # Errors
    ///
    /// The kernel's error; the buffer comes back too.
    pub async fn read<B: IoBufMut + Send>(&self, buf: B) -> BufResult<usize, B> {
        self.recv.read(&self.fd, buf).await
    }

    /// Receives the next chunk of bytes without copying it, as
    /// [`TcpStream::read_chunk`](crate::TcpStream::read_chunk) does: in a
    /// ring buffer where the worker has a buffer ring, else up to
    /// [`READ_CHUNK_FALLBACK`](ringbolt_runtime::op::net::READ_CHUNK_FALLBACK)
    /// bytes in a new `Vec`. `None` means the peer closed its sending side.
    ///
    /// # Errors
    ///
    /// The kernel's error.
    pub async fn read_chunk(&self) -> io::Result<Option<RecvBuf>> {
        self.recv.read_chunk(&self.fd).await
    }

    /// Reads into the buffers in order, in one RECVMSG.
    ///
    /// # Errors
    ///
    /// The kernel's error.
    pub async fn readv<B: IoBufMut + Send>(&self, bufs: Vec<B>) -> BufResult<usize, Vec<B>> {
        self.recv.readv(&self.fd, bufs).await
    }

    /// Writes the initialised bytes of `buf` (some of them, maybe not all).
    ///
    /// # Errors
    ///
    /// `EPIPE`/`ECONNRESET` when the peer is gone (never SIGPIPE); the
    /// kernel's other errors.
    pub async fn write<B: IoBuf + Send>(&self, buf: B) -> BufResult<usize, B> {
        sio::write(&self.fd, buf).await
    }

    /// Writes every initialised byte of `buf`.
    ///
    /// # Errors
    ///
    /// The first failing write's error.
    pub async fn write_all<B: IoBuf + Send>(&self, buf: B) -> BufResult<(), B> {
        sio::write_all(true, &self.fd, buf).await
    }

    /// Queues every initialised byte of `buf` for sending and returns
    /// without waiting for the send to complete, as
    /// [`TcpStream::write_behind`](crate::TcpStream::write_behind) does.
    ///
    /// # Errors
    ///
    /// As [`TcpStream::write_behind`](crate::TcpStream::write_behind): an
    /// earlier send's failure, reported once by the next write, `flush` or
    /// `shutdown`.
    pub async fn write_behind<B: IoBuf + Send>(&self, buf: B) -> io::Result<()> {
        crate::behind::write_behind(&self.fd, buf).await
    }

    /// Waits until the [`write_behind`](UnixStream::write_behind) send in
    /// flight, if any, has completed.
    ///
    /// # Errors
    ///
    /// That send's error, if it failed (reported once).
    pub async fn flush(&self) -> io::Result<()> {
        crate::behind::settle(&self.fd).await
    }

    /// Writes the initialised bytes of the buffers in order, in one SENDMSG.
    ///
    /// # Errors
    ///
    /// As [`write`](UnixStream::write).
    pub async fn writev<B: IoBuf + Send>(&self, bufs: Vec<B>) -> BufResult<usize, Vec<B>> {
        sio::writev(&self.fd, bufs).await
    }

    /// Shuts down the reading side, the writing side or both.
    ///
    /// # Errors
    ///
    /// The kernel's error.
    pub async fn shutdown(&self, how: std::net::Shutdown) -> io::Result<()> {
        sio::shutdown(&self.fd, how).await
    }

    /// The address of this end.
    ///
    /// # Errors
    ///
    /// The kernel's error.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(SocketAddr::from_sockaddr(&sys::local_addr(&self.fd)?))
    }

    /// The address of the peer.
    ///
    /// # Errors
    ///
    /// The kernel's error.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        Ok(SocketAddr::from_sockaddr(&sys::peer_addr(&self.fd)?))
    }

    /// Wraps a std stream, switched to blocking mode.
    ///
    /// # Errors
    ///
    /// If the mode cannot be changed.
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        stream.set_nonblocking(false)?;
        Ok(UnixStream::from_owned(OwnedFd::from(stream)))
    }

    /// A std stream for the same connection (the descriptor is
    /// duplicated), in blocking mode as std's own streams are (under the
    /// thread-pool driver, `connect` switches the socket to non-blocking
    /// mode). Bytes this stream received and did not hand out through
    /// `read` are dropped with it, as for
    /// [`TcpStream::into_std`](crate::TcpStream::into_std).
    ///
    /// # Errors
    ///
    /// If the descriptor cannot be duplicated or its mode changed.
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixStream> {
        crate::into_std::blocking_dup(&self.fd).map(std::os::unix::net::UnixStream::from)
    }
}

impl AsRawFd for UnixStream {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for UnixStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixStream")
            .field("fd", &self.fd.as_raw_fd())
            .field("recv", &self.recv)
            .finish()
    }
}
