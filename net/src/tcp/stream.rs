//! [`TcpStream`]: a TCP connection over the ring.

use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::Duration;

use ringbolt_runtime::buf::{BufResult, IoBuf, IoBufMut, RecvBuf};
use ringbolt_runtime::op::net::{self as op, sys, RingRecv, SockAddr};
use ringbolt_runtime::SharedFd;

use crate::addr;
use crate::io as sio;

/// A TCP connection.
///
/// Reads and writes take owned buffers and give them back
/// ([`BufResult`]); several may be in flight at once (they take `&self`).
/// The type is `Send + Sync`: a task doing socket I/O can be started with
/// `ringbolt::spawn`. Dropping the stream closes the socket once no
/// operation uses it any more.
///
/// # Examples
///
/// ```
/// use ringbolt_net::{TcpListener, TcpStream};
///
/// ringbolt_runtime::run(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await?;
///     let client = TcpStream::connect(listener.local_addr()?).await?;
///     let (server, _) = listener.accept().await?;
///     let (res, _) = client.write_all(b"ping".to_vec()).await;
///     res?;
///     let (n, buf) = server.read(Vec::with_capacity(16)).await;
///     assert_eq!(&buf[..n?], b"ping");
///     Ok::<(), std::io::Error>(())
/// })
/// .unwrap();
/// ```
pub struct TcpStream {
    fd: SharedFd,
    /// The read side: multishot receives into the worker's buffer ring,
    /// or plain receives (see `crate::io`).
    recv: RingRecv,
}

impl TcpStream {
    pub(crate) fn from_owned(fd: OwnedFd) -> Self {
        TcpStream::from_shared(SharedFd::new(fd))
    }

    fn from_shared(fd: SharedFd) -> Self {
        TcpStream {
            fd,
            recv: RingRecv::tcp(),
        }
    }

    /// Opens a connection to `addr`, trying each address it resolves to in
    /// turn. The socket is created through the ring (IORING_OP_SOCKET,
    /// close-on-exec) and connected with IORING_OP_CONNECT.
    ///
    /// A host name is resolved with the system resolver, which blocks the
    /// thread (as `std::net::TcpStream::connect` does); pass a
    /// [`SocketAddr`] to avoid that.
    ///
    /// # Errors
    ///
    /// The last address's error: [`io::ErrorKind::ConnectionRefused`] when
    /// nothing listens, ...
    pub async fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        addr::try_each(addr::resolve(addr)?, Self::connect_addr).await
    }

    async fn connect_addr(addr: SocketAddr) -> io::Result<TcpStream> {
        let fd = op::socket(addr::domain(&addr), libc::SOCK_STREAM, 0).await?;
        let fd = SharedFd::new(fd);
        op::connect(fd.clone(), SockAddr::from_inet(addr)).await?;
        Ok(TcpStream::from_shared(fd))
    }

    /// Opens a connection to `addr`, giving up after `timeout` (the
    /// pending connect is cancelled and its socket closed).
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::TimedOut`] when the time is up; otherwise as
    /// [`connect`](TcpStream::connect).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use ringbolt_net::{TcpListener, TcpStream};
    ///
    /// ringbolt_runtime::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let addr = listener.local_addr()?;
    ///     let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).await?;
    ///     assert_eq!(s.peer_addr()?, addr);
    ///     Ok::<(), std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn connect_timeout(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        ringbolt_runtime::time::timeout(timeout, Self::connect_addr(*addr)).await?
    }

    /// Reads into `buf`, from its start up to its capacity: the number of
    /// bytes read, and the buffer with its length covering them. 0 means
    /// the peer closed its sending side (or `buf` has no capacity).
    ///
    /// Where the kernel has them, bytes are received into the worker's
    /// provided buffer ring by a multishot receive and copied into `buf`
    /// (see the crate docs); otherwise `buf` is the receive's buffer.
    ///
    /// # Errors
    ///
    /// The kernel's error (`ECONNRESET`, ...); the buffer comes back too.
    pub async fn read<B: IoBufMut + Send>(&self, buf: B) -> BufResult<usize, B> {
        self.recv.read(&self.fd, buf).await
    }

    /// Receives the next chunk of bytes without copying them: a
    /// [`RecvBuf`] holding the ring buffer the kernel received them into
    /// (or, where buffer rings are unavailable, a `Vec` a plain receive
    /// filled). `None` means the peer closed its sending side.
    ///
    /// A chunk is what one receive got: its size depends on how the bytes
    /// arrived, up to the ring's buffer size. Bytes a [`read`] left queued
    /// come first. The `RecvBuf` can be written on as it is; dropping it
    /// gives the buffer back to the ring.
    ///
    /// [`read`]: TcpStream::read
    ///
    /// # Errors
    ///
    /// The kernel's error (`ECONNRESET`, ...), after the chunks received
    /// before it.
    ///
    /// # Examples
    ///
    /// An echo that copies nothing in user space:
    ///
    /// ```
    /// use ringbolt_net::{TcpListener, TcpStream};
    ///
    /// ringbolt_runtime::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let client = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (server, _) = listener.accept().await?;
    ///     let (res, _) = client.write_all(b"ping".to_vec()).await;
    ///     res?;
    ///     if let Some(chunk) = server.read_chunk().await? {
    ///         assert_eq!(&chunk[..], b"ping");
    ///         let (res, _chunk) = server.write_all(chunk).await;
    ///         res?;
    ///     }
    ///     let (n, buf) = client.read(Vec::with_capacity(16)).await;
    ///     assert_eq!(&buf[..n?], b"ping");
    ///     Ok::<(), std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn read_chunk(&self) -> io::Result<Option<RecvBuf>> {
        self.recv.read_chunk(&self.fd).await
    }

    /// Waits until a [`read`](TcpStream::read) would not wait: bytes have
    /// arrived, the peer closed its side, or an error is pending. With
    /// buffer rings it holds no buffer, so a server can wait on many idle
    /// connections and allocate a read buffer only once data is there.
    ///
    /// # Errors
    ///
    /// The kernel's error.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringbolt_net::{TcpListener, TcpStream};
    ///
    /// ringbolt_runtime::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let client = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (server, _) = listener.accept().await?;
    ///     let (res, _) = client.write_all(b"hi".to_vec()).await;
    ///     res?;
    ///     server.readable().await?;
    ///     let (n, buf) = server.read(Vec::with_capacity(16)).await;
    ///     assert_eq!(&buf[..n?], b"hi");
    ///     Ok::<(), std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn readable(&self) -> io::Result<()> {
        self.recv.readable(&self.fd).await
    }

    /// Reads into the buffers in order (each from its start up to its
    /// capacity), in one RECVMSG.
    ///
    /// # Errors
    ///
    /// As [`read`](TcpStream::read).
    pub async fn readv<B: IoBufMut + Send>(&self, bufs: Vec<B>) -> BufResult<usize, Vec<B>> {
        self.recv.readv(&self.fd, bufs).await
    }

    /// Writes the initialised bytes of `buf` (some of them, maybe not all):
    /// the number written, and the buffer.
    ///
    /// # Errors
    ///
    /// The kernel's error: `EPIPE` or `ECONNRESET` when the peer is gone —
    /// never SIGPIPE, since every send carries `MSG_NOSIGNAL`.
    pub async fn write<B: IoBuf + Send>(&self, buf: B) -> BufResult<usize, B> {
        sio::write(&self.fd, buf).await
    }

    /// Writes the initialised bytes of `buf` without copying them into the
    /// kernel (IORING_OP_SEND_ZC; a plain send on kernels before 6.0). The
    /// buffer comes back once the kernel no longer references it.
    ///
    /// Zero-copy pays for large buffers sent to a real network device; on
    /// loopback it is slower than [`write`](TcpStream::write) (see the
    /// crate docs).
    ///
    /// # Errors
    ///
    /// As [`write`](TcpStream::write).
    pub async fn write_zc<B: IoBuf + Send>(&self, buf: B) -> BufResult<usize, B> {
        sio::write_zc(&self.fd, buf).await
    }

    /// Writes every initialised byte of `buf`.
    ///
    /// # Errors
    ///
    /// The first failing write's error ([`io::ErrorKind::WriteZero`] if the
    /// kernel accepted nothing); how much was written before is unknown.
    pub async fn write_all<B: IoBuf + Send>(&self, buf: B) -> BufResult<(), B> {
        sio::write_all(true, &self.fd, buf).await
    }

    /// Queues every initialised byte of `buf` for sending and returns
    /// without waiting for the send to complete: the task goes on (to its
    /// next read, say) while the kernel sends. The buffer is dropped once
    /// sent (a [`RecvBuf`] goes back to its ring then).
    ///
    /// One write-behind send is in flight per stream at a time, so bytes
    /// go out in the order they were written: this waits for the one
    /// before, and so does every other write on the stream, `shutdown` and
    /// [`flush`](TcpStream::flush). The kernel keeps sending until every
    /// byte is out or the connection fails (`MSG_WAITALL`); a send that
    /// still stops short is resumed for the rest.
    ///
    /// Without a ring (the thread-pool driver) the bytes are sent before
    /// this returns, as [`write_all`](TcpStream::write_all) does.
    ///
    /// A send still in flight when the runtime shuts down is cancelled,
    /// like every other op then; [`flush`](TcpStream::flush) first to be
    /// sure it went out.
    ///
    /// # Errors
    ///
    /// A send's failure is reported by the next write, `flush` or
    /// `shutdown` on the stream (once): `EPIPE`/`ECONNRESET` and the like.
    /// This call returns the error of the send before it, if
    /// that one failed, and then queues nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringbolt_net::{TcpListener, TcpStream};
    ///
    /// ringbolt_runtime::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let client = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (server, _) = listener.accept().await?;
    ///     client.write_behind(&b"hello "[..]).await?;
    ///     client.write_behind(b"world".to_vec()).await?;
    ///     client.flush().await?;
    ///     let (res, buf) = server.read(Vec::with_capacity(64)).await;
    ///     let mut got = buf[..res?].to_vec();
    ///     while got.len() < 11 {
    ///         let (res, buf) = server.read(Vec::with_capacity(64)).await;
    ///         got.extend_from_slice(&buf[..res?]);
    ///     }
    ///     assert_eq!(got, b"hello world");
    ///     Ok::<(), std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn write_behind<B: IoBuf + Send>(&self, buf: B) -> io::Result<()> {
        crate::behind::write_behind(&self.fd, buf).await
    }

    /// Waits until the [`write_behind`](TcpStream::write_behind) send in
    /// flight, if any, has completed.
    ///
    /// # Errors
    ///
    /// That send's error, if it failed (reported once).
    pub async fn flush(&self) -> io::Result<()> {
        crate::behind::settle(&self.fd).await
    }

    /// Writes the initialised bytes of the buffers in order (some of them,
    /// maybe not all), in one SENDMSG.
    ///
    /// # Errors
    ///
    /// As [`write`](TcpStream::write).
    pub async fn writev<B: IoBuf + Send>(&self, bufs: Vec<B>) -> BufResult<usize, Vec<B>> {
        sio::writev(&self.fd, bufs).await
    }

    /// Shuts down the reading side, the writing side or both. After
    /// `shutdown(Write)` the peer reads 0 (end of stream) while this side
    /// can still read.
    ///
    /// # Errors
    ///
    /// The kernel's error (`ENOTCONN`, ...).
    pub async fn shutdown(&self, how: std::net::Shutdown) -> io::Result<()> {
        sio::shutdown(&self.fd, how).await
    }

    /// Sets `TCP_NODELAY` (disables Nagle's algorithm when `true`).
    ///
    /// # Errors
    ///
    /// The kernel's error.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        sys::set_int_option(
            &self.fd,
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            i32::from(nodelay),
        )
    }

    /// Whether `TCP_NODELAY` is set.
    ///
    /// # Errors
    ///
    /// The kernel's error.
    pub fn nodelay(&self) -> io::Result<bool> {
        sys::int_option(&self.fd, libc::IPPROTO_TCP, libc::TCP_NODELAY).map(|v| v != 0)
    }

    /// The address of the remote peer.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::NotConnected`] if the connection is gone.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        addr::inet(&sys::peer_addr(&self.fd)?)
    }

    /// The local address of the connection.
    ///
    /// # Errors
    ///
    /// The kernel's error.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        addr::inet(&sys::local_addr(&self.fd)?)
    }

    /// The socket's pending error (`SO_ERROR`), cleared by reading it.
    ///
    /// # Errors
    ///
    /// The error of the query itself.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        sys::take_error(&self.fd)
    }

    /// Wraps a connected std stream. It is switched to blocking mode:
    /// io_uring waits on blocking sockets with its internal poll, and the
    /// synchronous fallbacks need blocking mode.
    ///
    /// # Errors
    ///
    /// If the mode cannot be changed.
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        stream.set_nonblocking(false)?;
        Ok(TcpStream::from_owned(OwnedFd::from(stream)))
    }

    /// A std stream for the same connection, in blocking mode as std's
    /// own streams are (under the thread-pool driver, `connect` switches
    /// the socket to non-blocking mode). The descriptor is duplicated
    /// (`dup(2)`, close-on-exec); this stream's own descriptor closes once
    /// the operations still using it are done.
    ///
    /// Bytes this stream already received into its worker's buffer ring
    /// and did not hand out through `read` are dropped with it: convert a
    /// stream before reading from it, or read it to a protocol boundary.
    /// A [`write_behind`](TcpStream::write_behind) send still in flight
    /// goes out all the same; [`flush`](TcpStream::flush) first to learn
    /// how it ended.
    ///
    /// # Errors
    ///
    /// If the descriptor cannot be duplicated (`EMFILE`) or its mode
    /// changed.
    pub fn into_std(self) -> io::Result<std::net::TcpStream> {
        crate::into_std::blocking_dup(&self.fd).map(std::net::TcpStream::from)
    }
}

impl AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for TcpStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("TcpStream");
        if let Ok(a) = self.local_addr() {
            d.field("addr", &a);
        }
        if let Ok(a) = self.peer_addr() {
            d.field("peer", &a);
        }
        d.field("fd", &self.fd.as_raw_fd())
            .field("recv", &self.recv)
            .finish()
    }
}
