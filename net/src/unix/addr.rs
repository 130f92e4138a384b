//! [`SocketAddr`]: the address of a Unix-domain socket.

use std::fmt;
use std::path::{Path, PathBuf};

use ringbolt_runtime::op::net::{SockAddr, UnixName};

#[derive(Clone, PartialEq, Eq)]
enum Name {
    Unnamed,
    Pathname(PathBuf),
    Abstract(Vec<u8>),
}

/// The address of a Unix-domain socket: a path, a name in Linux's abstract
/// namespace, or nothing (an unbound socket). The methods are those of
/// `std::os::unix::net::SocketAddr`.
#[derive(Clone, PartialEq, Eq)]
pub struct SocketAddr {
    name: Name,
}

impl SocketAddr {
    pub(crate) fn from_sockaddr(addr: &SockAddr) -> SocketAddr {
        let name = match addr.unix_name() {
            Some(UnixName::Pathname(p)) => Name::Pathname(p.to_path_buf()),
            Some(UnixName::Abstract(a)) => Name::Abstract(a.to_vec()),
            Some(UnixName::Unnamed) | None => Name::Unnamed,
        };
        SocketAddr { name }
    }

    /// Whether the address is unnamed (the socket is not bound).
    pub fn is_unnamed(&self) -> bool {
        self.name == Name::Unnamed
    }

    /// The path, for a pathname address.
    pub fn as_pathname(&self) -> Option<&Path> {
        match &self.name {
            Name::Pathname(p) => Some(p),
            _ => None,
        }
    }

    /// The name (without the leading NUL byte), for an address in Linux's
    /// abstract namespace.
    pub fn as_abstract_name(&self) -> Option<&[u8]> {
        match &self.name {
            Name::Abstract(a) => Some(a),
            _ => None,
        }
    }
}

impl fmt::Debug for SocketAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Name::Unnamed => f.write_str("(unnamed)"),
            Name::Pathname(p) => write!(f, "{p:?} (pathname)"),
            Name::Abstract(a) => write!(f, "\"{}\" (abstract)", a.escape_ascii()),
        }
    }
}
