//! Unix-domain sockets: [`UnixListener`], [`UnixStream`], [`UnixDatagram`]
//! and their [`SocketAddr`].
//!
//! Pathname sockets create a file when bound. Nothing here removes it: not
//! `bind` (binding over an existing file fails with
//! [`AddrInUse`](std::io::ErrorKind::AddrInUse), as with std), not `Drop`.
//! Remove the file yourself, before binding or after closing.

mod addr;
mod datagram;
mod listener;
mod stream;

pub use addr::SocketAddr;
pub use datagram::UnixDatagram;
pub use listener::UnixListener;
pub use stream::UnixStream;

use std::io;
use std::path::Path;

use ringbolt_runtime::op::net::SockAddr;

/// The kernel address for a pathname socket at `path`.
fn path_addr(path: impl AsRef<Path>) -> io::Result<SockAddr> {
    SockAddr::unix_path(path.as_ref())
}
