//! Socket address helpers: resolving `ToSocketAddrs`, trying each address,
//! and turning the kernel's addresses into std's types. (The raw `sockaddr`
//! code is in `ringbolt_runtime::op::net::SockAddr`, since it is unsafe.)

use std::future::Future;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

use ringbolt_runtime::op::net::SockAddr;

/// Resolves `addr` into its list of addresses (no I/O for literal
/// addresses; a host name is looked up with the system resolver, which
/// blocks the calling thread like std's does).
pub(crate) fn resolve(addr: impl ToSocketAddrs) -> io::Result<Vec<SocketAddr>> {
    let addrs: Vec<SocketAddr> = addr.to_socket_addrs()?.collect();
    if addrs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "could not resolve to any addresses",
        ));
    }
    Ok(addrs)
}

/// The first address `addr` resolves to (for `send_to`, as std does).
pub(crate) fn resolve_first(addr: impl ToSocketAddrs) -> io::Result<SocketAddr> {
    resolve(addr).map(|a| a[0])
}

/// Runs `f` on each address in turn until one succeeds; the last error
/// otherwise (std's behaviour for `bind` and `connect`).
pub(crate) async fn try_each<T, F, Fut>(addrs: Vec<SocketAddr>, mut f: F) -> io::Result<T>
where
    F: FnMut(SocketAddr) -> Fut,
    Fut: Future<Output = io::Result<T>>,
{
    let mut last = None;
    for addr in addrs {
        match f(addr).await {
            Ok(t) => return Ok(t),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "could not resolve to any addresses",
        )
    }))
}

/// The IP address in a kernel address.
pub(crate) fn inet(addr: &SockAddr) -> io::Result<SocketAddr> {
    addr.to_inet().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("not an IP socket address: {addr:?}"),
        )
    })
}

/// The socket domain of an IP address.
pub(crate) fn domain(addr: &SocketAddr) -> i32 {
    match addr {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    }
}
