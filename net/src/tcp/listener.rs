//! [`TcpListener`]: a listening TCP socket.

use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use ringbolt_runtime::op::net::{self as op, sys, Acceptor, SockAddr};
use ringbolt_runtime::SharedFd;

use super::{ListenOptions, TcpStream};
use crate::addr;
use crate::incoming::Incoming;

/// A TCP socket listening for connections.
///
/// `Send + Sync`; accepts take `&self`, so several tasks may accept on one
/// listener. Dropping it closes the socket once no accept uses it.
///
/// # Examples
///
/// ```
/// use ringbolt_net::{TcpListener, TcpStream};
///
/// ringbolt_runtime::run(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await?;
///     let addr = listener.local_addr()?;
///     let client = TcpStream::connect(addr).await?;
///     let (_server, peer) = listener.accept().await?;
///     assert_eq!(peer, client.local_addr()?);
///     Ok::<(), std::io::Error>(())
/// })
/// .unwrap();
/// ```
pub struct TcpListener {
    fd: SharedFd,
    /// Single-shot accepts: a dropped one loses no connection.
    acceptor: Acceptor,
}

impl TcpListener {
    /// Binds to `addr` and listens, with `SO_REUSEADDR` and a backlog of
    /// 1024 (see [`ListenOptions`]). Port 0 picks a free port: ask
    /// [`local_addr`](TcpListener::local_addr) which. Each address `addr`
    /// resolves to is tried in turn.
    ///
    /// # Errors
    ///
    /// The last address's error ([`io::ErrorKind::AddrInUse`], ...).
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        Self::bind_with(addr, &ListenOptions::default()).await
    }

    /// Binds to `addr` and listens, with the socket options of `opts`
    /// (`SO_REUSEPORT`, backlog, ...).
    ///
    /// # Errors
    ///
    /// As [`bind`](TcpListener::bind), and a socket option's error.
    pub async fn bind_with(
        addr: impl ToSocketAddrs,
        opts: &ListenOptions,
    ) -> io::Result<TcpListener> {
        addr::try_each(addr::resolve(addr)?, |a| Self::bind_addr(a, opts)).await
    }

    async fn bind_addr(addr: SocketAddr, opts: &ListenOptions) -> io::Result<TcpListener> {
        let fd = op::socket(addr::domain(&addr), libc::SOCK_STREAM, 0).await?;
        if opts.reuse_addr {
            sys::set_int_option(&fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
        }
        if opts.reuse_port {
            sys::set_int_option(&fd, libc::SOL_SOCKET, libc::SO_REUSEPORT, 1)?;
        }
        if let (Some(v6only), SocketAddr::V6(_)) = (opts.only_v6, addr) {
            sys::set_int_option(
                &fd,
                libc::IPPROTO_IPV6,
                libc::IPV6_V6ONLY,
                i32::from(v6only),
            )?;
        }
        sys::bind(&fd, &SockAddr::from_inet(addr))?;
        sys::listen(&fd, opts.backlog)?;
        Ok(TcpListener {
            fd: SharedFd::new(fd),
            acceptor: Acceptor::new(),
        })
    }

    /// Accepts one connection: the stream and the peer's address.
    ///
    /// Dropping the future before it completes cancels the accept; a
    /// connection the kernel accepted in the meantime is kept for the next
    /// `accept` (one already waiting takes it), neither lost nor leaked.
    ///
    /// # Errors
    ///
    /// The kernel's error (`EMFILE` when out of descriptors, ...).
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (fd, peer) = self.acceptor.accept(&self.fd).await?;
        let stream = TcpStream::from_owned(fd);
        let peer = match addr::inet(&peer) {
            Ok(a) => a,
            Err(_) => stream.peer_addr()?,
        };
        Ok((stream, peer))
    }

    /// The incoming connections, as a stream (a `futures_core::Stream`, or
    /// [`Incoming::next`]). One multishot accept serves them all where the
    /// kernel has it (5.19+), single-shot accepts otherwise.
    ///
    /// The stream holds its own reference to the socket, never ends by
    /// itself, and yields errors (such as `EMFILE`) without ending. Dropping
    /// it cancels the accept and loses no connection: those its multishot
    /// accept took in but did not yield are handed out by this listener's
    /// next `accept` or `incoming()` (see [`Incoming`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use ringbolt_net::{TcpListener, TcpStream};
    ///
    /// ringbolt_runtime::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let mut incoming = listener.incoming();
    ///     let _a = TcpStream::connect(listener.local_addr()?).await?;
    ///     let _b = TcpStream::connect(listener.local_addr()?).await?;
    ///     for _ in 0..2 {
    ///         let stream = incoming.next().await.unwrap()?;
    ///         stream.peer_addr()?;
    ///     }
    ///     Ok::<(), std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn incoming(&self) -> Incoming<TcpStream> {
        Incoming::new(
            self.acceptor.incoming(self.fd.clone()),
            TcpStream::from_owned,
        )
    }

    /// The address the listener is bound to.
    ///
    /// # Errors
    ///
    /// The kernel's error.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        addr::inet(&sys::local_addr(&self.fd)?)
    }

    /// Wraps a listening std socket, switched to blocking mode (io_uring
    /// needs no `O_NONBLOCK`).
    ///
    /// # Errors
    ///
    /// If the mode cannot be changed.
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        listener.set_nonblocking(false)?;
        Ok(TcpListener {
            fd: SharedFd::new(OwnedFd::from(listener)),
            acceptor: Acceptor::new(),
        })
    }

    /// A std listener for the same socket, in blocking mode as std's own
    /// listeners are (under the thread-pool driver, accepts switch the
    /// socket to non-blocking mode). The descriptor is duplicated (`dup(2)`,
    /// close-on-exec); this listener's own descriptor closes once the
    /// operations still using it are done. An [`Incoming`] of this
    /// listener that still accepts under the thread-pool driver switches
    /// the socket, which the two share, back to non-blocking mode.
    ///
    /// # Errors
    ///
    /// If the descriptor cannot be duplicated or its mode changed.
    pub fn into_std(self) -> io::Result<std::net::TcpListener> {
        crate::into_std::blocking_dup(&self.fd).map(std::net::TcpListener::from)
    }
}

impl AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for TcpListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("TcpListener");
        if let Ok(a) = self.local_addr() {
            d.field("addr", &a);
        }
        d.field("fd", &self.fd.as_raw_fd()).finish()
    }
}
