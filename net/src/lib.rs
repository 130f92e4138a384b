//! ringbolt-net: TCP, UDP and Unix-domain sockets over the io_uring driver.
//!
//! Every `bind`, `connect` and `accept` is `async`; reads and writes take
//! owned buffers and give them back (`BufResult`), as everywhere in
//! ringbolt. Reads fill a buffer from its start up to its capacity.
//!
//! All socket types hold a `SharedFd`, so they are `Send + Sync` (like
//! std's) and a task doing socket I/O can be started with `spawn`; an
//! operation in flight keeps the descriptor open, so it is closed exactly
//! once, never while the kernel uses it.
//!
//! # Choices
//!
//! - **No SIGPIPE.** Every send carries `MSG_NOSIGNAL`, and vectored writes
//!   use SENDMSG (WRITEV cannot carry the flag): writing to a reset peer
//!   fails with `EPIPE`/`ECONNRESET`, whatever SIGPIPE's disposition is.
//! - **Blocking sockets.** io_uring waits on a blocking socket with its
//!   internal poll, so sockets are never `O_NONBLOCK`; `from_std` clears
//!   the flag.
//! - **Accepting.** `accept` is one IORING_OP_ACCEPT with the peer address
//!   boxed in the op. `incoming()` is one multishot accept for all
//!   connections (single-shot accepts on kernels before 5.19). A dropped
//!   accept, or a dropped `incoming()` stream, loses no connection: one the
//!   kernel accepted for it anyway is queued on the listener, and its next
//!   `accept` or stream hands it out.
//! - **Receive buffers.** A `TcpStream` reads through a multishot receive
//!   into its worker's shared provided buffer ring (Linux 6.0+): idle
//!   connections pin no receive memory (`readable()` waits without a
//!   buffer; 10,000 idle connections measured +6.6 MiB RSS against
//!   +162 MiB with a 16 KiB pending read each), and `read` copies the
//!   received chunks into the caller's buffer. A read future dropped while
//!   waiting loses nothing: received bytes stay queued in the stream. The
//!   thread-pool driver, `Feature::Multishot` switched off and older
//!   kernels use a plain receive into the caller's buffer (under the
//!   thread-pool driver, a non-blocking `recv` once epoll reports the
//!   socket readable, so a dropped read loses nothing there either).
//! - **Zero-copy sends.** `TcpStream::write_zc` sends with
//!   IORING_OP_SEND_ZC and returns the buffer after the kernel's
//!   notification. Over loopback it never beat a plain send (the loopback
//!   device copies the pages anyway and the notification costs a second
//!   completion), so `write` does not switch to it by itself.
//! - **Write-behind.** `write_behind` queues a send as an op without a
//!   future and returns; the task goes on to its next read instead of
//!   waking once more for the send's completion (in an echo or
//!   request/response server, one task poll per request instead of
//!   about 1.7). One such send is in flight per stream, so bytes keep
//!   their order; every other write, `shutdown` and `flush` wait for it,
//!   and the next of them reports its error. `MSG_WAITALL` makes the
//!   kernel send all of it or fail; a send that still stops short is
//!   resumed for the rest.
//! - **Addresses.** IP addresses are `std::net::SocketAddr`; Unix addresses
//!   are [`unix::SocketAddr`] (std's cannot be built from raw parts).
//!   Host names given to `bind`/`connect` are resolved with the system
//!   resolver, which blocks like std's; pass a `SocketAddr` to avoid that.
//! - **Unix socket files** are never removed automatically.
//!
//! # Examples
//!
//! An echo round trip:
//!
//! ```
//! use ringbolt_net::{TcpListener, TcpStream};
//!
//! ringbolt_runtime::run(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let addr = listener.local_addr()?;
//!     let server = ringbolt_runtime::spawn(async move {
//!         let (stream, _) = listener.accept().await?;
//!         let (n, buf) = stream.read(vec![0; 1024]).await;
//!         let n = n?;
//!         let (res, _) = stream.write_all(buf[..n].to_vec()).await;
//!         res
//!     });
//!     let client = TcpStream::connect(addr).await?;
//!     let (res, _) = client.write_all(b"hello".to_vec()).await;
//!     res?;
//!     let (n, buf) = client.read(Vec::with_capacity(1024)).await;
//!     assert_eq!(&buf[..n?], b"hello");
//!     server.await.unwrap()
//! })
//! .unwrap();
//! ```

#![forbid(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

mod addr;
mod behind;
mod incoming;
mod into_std;
mod io;
mod tcp;
mod udp;
pub mod unix;

pub use incoming::Incoming;
pub use tcp::{ListenOptions, TcpListener, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixDatagram, UnixListener, UnixStream};

/// Compile-time checks: every socket type is `Send + Sync`, and so are the
/// futures of its operations (so a task doing socket I/O can be spawned).
#[allow(dead_code)]
fn _assert_send_sync() {
    fn is_send_sync<T: Send + Sync>() {}
    fn is_send<T: Send>(_: &T) {}
    is_send_sync::<TcpListener>();
    is_send_sync::<TcpStream>();
    is_send_sync::<UdpSocket>();
    is_send_sync::<UnixListener>();
    is_send_sync::<UnixStream>();
    is_send_sync::<UnixDatagram>();
    is_send_sync::<unix::SocketAddr>();
    is_send_sync::<ListenOptions>();
    fn _futures(l: &TcpListener, s: &TcpStream, u: &UdpSocket) {
        is_send(&l.accept());
        is_send(&l.incoming());
        is_send(&s.read(Vec::new()));
        is_send(&s.write_all(Vec::new()));
        is_send(&s.write_zc(Vec::new()));
        is_send(&u.recv_from(Vec::new()));
        is_send(&TcpStream::connect("127.0.0.1:1"));
    }
}
