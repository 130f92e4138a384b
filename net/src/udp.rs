//! [`UdpSocket`]: UDP over the ring.

use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use ringbolt_runtime::buf::{BufResult, IoBuf, IoBufMut};
use ringbolt_runtime::op::net::{self as op, sys, DgramRecv, SockAddr};
use ringbolt_runtime::SharedFd;

use crate::addr;

/// A UDP socket.
///
/// `send_to`/`recv_from` go through SENDMSG/RECVMSG with the address boxed
/// in the op; after [`connect`](UdpSocket::connect), `send`/`recv` use plain
/// SEND/RECV. `Send + Sync`; operations take `&self`.
///
/// # Examples
///
/// ```
/// use ringbolt_net::UdpSocket;
///
/// ringbolt_runtime::run(async {
///     let a = UdpSocket::bind("127.0.0.1:0").await?;
///     let b = UdpSocket::bind("127.0.0.1:0").await?;
///     let (res, _) = a.send_to(b"hi".to_vec(), b.local_addr()?).await;
///     res?;
///     let (res, buf) = b.recv_from(Vec::with_capacity(64)).await;
///     let (n, from) = res?;
///     assert_eq!(&buf[..n], b"hi");
///     assert_eq!(from, a.local_addr()?);
///     Ok::<(), std::io::Error>(())
/// })
/// .unwrap();
/// ```
pub struct UdpSocket {
    fd: SharedFd,
    /// The receive side: a dropped receive loses no datagram.
    recv: DgramRecv,
}

impl UdpSocket {
    /// Creates a UDP socket bound to `addr` (port 0 picks a free port).
    /// Each address `addr` resolves to is tried in turn.
    ///
    /// # Errors
    ///
    /// The last address's error ([`io::ErrorKind::AddrInUse`], ...).
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        addr::try_each(addr::resolve(addr)?, |a| async move {
            let fd = op::socket(addr::domain(&a), libc::SOCK_DGRAM, 0).await?;
            sys::bind(&fd, &SockAddr::from_inet(a))?;
            Ok(UdpSocket {
                fd: SharedFd::new(fd),
                recv: DgramRecv::new(),
            })
        })
        .await
    }

    /// Sets the default destination of [`send`](UdpSocket::send) and the
    /// only source [`recv`](UdpSocket::recv) accepts datagrams from.
    ///
    /// # Errors
    ///
    /// The last address's error.
    pub async fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        addr::try_each(addr::resolve(addr)?, |a| {
            op::connect(self.fd.clone(), SockAddr::from_inet(a))
        })
        .await
    }

    /// Sends the initialised bytes of `buf` as one datagram to `addr` (the
    /// first address it resolves to).
    ///
    /// # Errors
    ///
    /// The kernel's error (`EMSGSIZE` for a datagram too large, ...).
    pub async fn send_to<B: IoBuf + Send>(
        &self,
        buf: B,
        addr: impl ToSocketAddrs,
    ) -> BufResult<usize, B> {
        let target = match addr::resolve_first(addr) {
            Ok(a) => a,
            Err(e) => return (Err(e), buf),
        };
        op::send_to(self.fd.clone(), buf, SockAddr::from_inet(target)).await
    }

    /// Receives one datagram into `buf` (from its start up to its
    /// capacity): its length and sender. The part of a datagram longer than
    /// the buffer is lost.
    ///
    /// # Errors
    ///
    /// The kernel's error.
    pub async fn recv_from<B: IoBufMut + Send>(&self, buf: B) -> BufResult<(usize, SocketAddr), B> {
        let (res, buf) = self.recv.recv_from(&self.fd, buf).await;
        let res = res.and_then(|(n, from)| Ok((n, addr::inet(&from)?)));
        (res, buf)
    }

    /// Sends one datagram to the connected peer.
    ///
    /// # Errors
    ///
    /// `ENOTCONN`/`EDESTADDRREQ` if not connected; `ECONNREFUSED` after the
    /// peer reported an unreachable port; ...
    pub async fn send<B: IoBuf + Send>(&self, buf: B) -> BufResult<usize, B> {
        op::send(self.fd.clone(), buf, 0).await
    }

    /// Receives one datagram from the connected peer into `buf`.
    ///
    /// # Errors
    ///
    /// The kernel's error (`ECONNREFUSED`, ...).
    pub async fn recv<B: IoBufMut + Send>(&self, buf: B) -> BufResult<usize, B> {
        self.recv.recv(&self.fd, buf).await
    }

    /// The address the socket is bound to.
    ///
    /// # Errors
    ///
    /// The kernel's error.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        addr::inet(&sys::local_addr(&self.fd)?)
    }

    /// The address of the connected peer.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::NotConnected`] if not connected.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        addr::inet(&sys::peer_addr(&self.fd)?)
    }

    /// Sets `SO_BROADCAST`.
    ///
    /// # Errors
    ///
    /// The kernel's error.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        sys::set_int_option(
            &self.fd,
            libc::SOL_SOCKET,
            libc::SO_BROADCAST,
            i32::from(on),
        )
    }

    /// Wraps a std socket, switched to blocking mode (io_uring needs no
    /// `O_NONBLOCK`).
    ///
    /// # Errors
    ///
    /// If the mode cannot be changed.
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        socket.set_nonblocking(false)?;
        Ok(UdpSocket {
            fd: SharedFd::new(OwnedFd::from(socket)),
            recv: DgramRecv::new(),
        })
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
    pub fn into_std(self) -> io::Result<std::net::UdpSocket> {
        crate::into_std::blocking_dup(&self.fd).map(std::net::UdpSocket::from)
    }
}

impl AsRawFd for UdpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for UdpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("UdpSocket");
        if let Ok(a) = self.local_addr() {
            d.field("addr", &a);
        }
        d.field("fd", &self.fd.as_raw_fd()).finish()
    }
}
