//! [`SockAddr`]: a socket address in the kernel's layout, boxed so that the
//! kernel's pointer to it survives moves of the op that owns it.

use std::ffi::OsStr;
use std::fmt;
use std::io;
use std::mem;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// The storage and its length, together on the heap: ACCEPT and RECVMSG
/// write both.
#[repr(C)]
struct Raw {
    storage: libc::sockaddr_storage,
    len: libc::socklen_t,
}

/// A socket address of any family (IPv4, IPv6, Unix), in the layout the
/// kernel reads and writes.
pub struct SockAddr {
    raw: Box<Raw>,
}

/// The name of a Unix-domain socket address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnixName<'a> {
    /// No name (an unbound socket, or a client that did not bind).
    Unnamed,
    /// A filesystem path.
    Pathname(&'a Path),
    /// A name in the Linux abstract namespace (without the leading NUL).
    Abstract(&'a [u8]),
}

/// Offset of `sun_path` in `sockaddr_un`: the size of an unnamed address.
const SUN_PATH_OFFSET: usize = mem::offset_of!(libc::sockaddr_un, sun_path);

impl SockAddr {
    fn zeroed() -> Self {
        SockAddr {
            // SAFETY: `sockaddr_storage` and `socklen_t` are plain C data for
            // which all-zero bytes are a valid value.
            raw: Box::new(unsafe { mem::zeroed::<Raw>() }),
        }
    }

    /// Room for any address, for the kernel to fill (accept, recvmsg,
    /// getsockname): its length is the storage's size until then.
    pub fn empty() -> Self {
        let mut a = SockAddr::zeroed();
        a.raw.len = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        a
    }

    /// An IPv4 or IPv6 address.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringbolt_runtime::op::net::SockAddr;
    ///
    /// let addr = "127.0.0.1:80".parse().unwrap();
    /// assert_eq!(SockAddr::from_inet(addr).to_inet(), Some(addr));
    /// ```
    pub fn from_inet(addr: SocketAddr) -> Self {
        let mut a = SockAddr::zeroed();
        match addr {
            SocketAddr::V4(v4) => {
                let sin = libc::sockaddr_in {
                    sin_family: libc::AF_INET as libc::sa_family_t,
                    sin_port: v4.port().to_be(),
                    sin_addr: libc::in_addr {
                        s_addr: u32::from_ne_bytes(v4.ip().octets()),
                    },
                    sin_zero: [0; 8],
                };
                // SAFETY: `sockaddr_storage` is larger than and suitably
                // aligned for every `sockaddr_*` type, by definition.
                unsafe { (&mut a.raw.storage as *mut _ as *mut libc::sockaddr_in).write(sin) };
                a.raw.len = mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            }
            SocketAddr::V6(v6) => {
                let sin6 = libc::sockaddr_in6 {
                    sin6_family: libc::AF_INET6 as libc::sa_family_t,
                    sin6_port: v6.port().to_be(),
                    sin6_flowinfo: v6.flowinfo(),
                    sin6_addr: libc::in6_addr {
                        s6_addr: v6.ip().octets(),
                    },
                    sin6_scope_id: v6.scope_id(),
                };
                // SAFETY: as above, the storage fits any sockaddr type.
                unsafe { (&mut a.raw.storage as *mut _ as *mut libc::sockaddr_in6).write(sin6) };
                a.raw.len = mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t;
            }
        }
        a
    }

    /// A Unix-domain address naming the filesystem path `path`.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidInput`] if the path contains a NUL byte or is
    /// too long for `sun_path` (108 bytes with the terminating NUL).
    ///
    /// # Examples
    ///
    /// ```
    /// use ringbolt_runtime::op::net::{SockAddr, UnixName};
    ///
    /// let a = SockAddr::unix_path("/tmp/x.sock".as_ref())?;
    /// assert_eq!(a.unix_name(), Some(UnixName::Pathname("/tmp/x.sock".as_ref())));
    /// assert!(SockAddr::unix_path("a\0b".as_ref()).is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn unix_path(path: &Path) -> io::Result<Self> {
        let bytes = path.as_os_str().as_bytes();
        if bytes.contains(&0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("path contains a NUL byte: {}", path.display()),
            ));
        }
        if bytes.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "empty path for a Unix socket address",
            ));
        }
        Self::unix_bytes(bytes, bytes.len() + 1)
    }

    /// A Unix-domain address in the Linux abstract namespace (`name` without
    /// the leading NUL byte).
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidInput`] if the name is longer than 107 bytes.
    pub fn unix_abstract(name: &[u8]) -> io::Result<Self> {
        let mut bytes = Vec::with_capacity(name.len() + 1);
        bytes.push(0);
        bytes.extend_from_slice(name);
        Self::unix_bytes(&bytes, bytes.len())
    }

    /// `sun_path` set to `bytes` (the rest zero), counting `path_len` bytes
    /// of it in the address length.
    fn unix_bytes(bytes: &[u8], path_len: usize) -> io::Result<Self> {
        let mut sun = libc::sockaddr_un {
            sun_family: libc::AF_UNIX as libc::sa_family_t,
            sun_path: [0; 108],
        };
        if path_len > sun.sun_path.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "path too long for a Unix socket address (at most 107 bytes)",
            ));
        }
        for (dst, src) in sun.sun_path.iter_mut().zip(bytes) {
            *dst = *src as libc::c_char;
        }
        let mut a = SockAddr::zeroed();
        // SAFETY: the storage fits any sockaddr type, `sockaddr_un` included.
        unsafe { (&mut a.raw.storage as *mut _ as *mut libc::sockaddr_un).write(sun) };
        a.raw.len = (SUN_PATH_OFFSET + path_len) as libc::socklen_t;
        Ok(a)
    }

    /// The address family (`libc::AF_INET`, `AF_INET6`, `AF_UNIX`, ...).
    pub fn family(&self) -> i32 {
        i32::from(self.raw.storage.ss_family)
    }

    /// The address's length in bytes, as the kernel reported or was given it.
    pub fn len(&self) -> usize {
        (self.raw.len as usize).min(mem::size_of::<libc::sockaddr_storage>())
    }

    /// Whether the address is empty (length 0: the kernel gave no address).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The IP address, for the `AF_INET` and `AF_INET6` families.
    pub fn to_inet(&self) -> Option<SocketAddr> {
        let len = self.len();
        match self.family() {
            libc::AF_INET if len >= mem::size_of::<libc::sockaddr_in>() => {
                // SAFETY: the family says the storage holds a `sockaddr_in`,
                // and the storage is large and aligned enough for one.
                let sin = unsafe { &*(&self.raw.storage as *const _ as *const libc::sockaddr_in) };
                let ip = Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
                Some(SocketAddr::V4(SocketAddrV4::new(
                    ip,
                    u16::from_be(sin.sin_port),
                )))
            }
            libc::AF_INET6 if len >= mem::size_of::<libc::sockaddr_in6>() => {
                // SAFETY: as above, for a `sockaddr_in6`.
                let sin6 =
                    unsafe { &*(&self.raw.storage as *const _ as *const libc::sockaddr_in6) };
                Some(SocketAddr::V6(SocketAddrV6::new(
                    Ipv6Addr::from(sin6.sin6_addr.s6_addr),
                    u16::from_be(sin6.sin6_port),
                    sin6.sin6_flowinfo,
                    sin6.sin6_scope_id,
                )))
            }
            _ => None,
        }
    }

    /// The name, for the `AF_UNIX` family (an address of length 0, as
    /// `accept` reports for an unnamed peer on some kernels, is unnamed too).
    pub fn unix_name(&self) -> Option<UnixName<'_>> {
        let len = self.len();
        if len == 0 {
            return Some(UnixName::Unnamed);
        }
        if self.family() != libc::AF_UNIX {
            return None;
        }
        if len <= SUN_PATH_OFFSET {
            return Some(UnixName::Unnamed);
        }
        // SAFETY: the family says the storage holds a `sockaddr_un`, and the
        // storage is large and aligned enough for one.
        let sun = unsafe { &*(&self.raw.storage as *const _ as *const libc::sockaddr_un) };
        let path_len = (len - SUN_PATH_OFFSET).min(sun.sun_path.len());
        // SAFETY: `sun_path` is `path_len` (<= its length) initialised
        // `c_char`s, which have the size and alignment of `u8`.
        let path: &[u8] =
            unsafe { std::slice::from_raw_parts(sun.sun_path.as_ptr().cast(), path_len) };
        if path[0] == 0 {
            return Some(UnixName::Abstract(&path[1..]));
        }
        let end = path.iter().position(|&b| b == 0).unwrap_or(path.len());
        Some(UnixName::Pathname(Path::new(OsStr::from_bytes(
            &path[..end],
        ))))
    }

    /// Pointer to the address, for the kernel to read (stable while `self`
    /// lives, also across moves).
    pub(crate) fn as_ptr(&self) -> *const libc::sockaddr {
        (&self.raw.storage as *const libc::sockaddr_storage).cast()
    }

    /// Pointer to the address, for the kernel to write.
    pub(crate) fn as_mut_ptr(&mut self) -> *mut libc::sockaddr {
        (&mut self.raw.storage as *mut libc::sockaddr_storage).cast()
    }

    /// Pointer to the length, for the kernel to read and write.
    pub(crate) fn len_mut_ptr(&mut self) -> *mut libc::socklen_t {
        &mut self.raw.len
    }

    /// The length as the kernel takes it.
    pub(crate) fn socklen(&self) -> libc::socklen_t {
        self.raw.len
    }

    /// Records the length the kernel wrote elsewhere (a `msghdr`).
    pub(crate) fn set_socklen(&mut self, len: libc::socklen_t) {
        self.raw.len = len;
    }
}

impl From<SocketAddr> for SockAddr {
    fn from(addr: SocketAddr) -> Self {
        SockAddr::from_inet(addr)
    }
}

impl Clone for SockAddr {
    fn clone(&self) -> Self {
        SockAddr {
            raw: Box::new(Raw {
                storage: self.raw.storage,
                len: self.raw.len,
            }),
        }
    }
}

impl fmt::Debug for SockAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(inet) = self.to_inet() {
            return fmt::Debug::fmt(&inet, f);
        }
        match self.unix_name() {
            Some(name) => f.debug_tuple("Unix").field(&name).finish(),
            None => f
                .debug_struct("SockAddr")
                .field("family", &self.family())
                .field("len", &self.len())
                .finish(),
        }
    }
}
