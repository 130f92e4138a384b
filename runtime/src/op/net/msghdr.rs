//! [`MsgHdr`]: the boxed `msghdr`, iovec array and address of a SENDMSG or
//! RECVMSG, so the kernel's pointers into them survive moves of the op.

use std::fmt;
use std::mem;
use std::ptr;

use super::SockAddr;

/// A `msghdr` on the heap pointing to an iovec array and (optionally) an
/// address, both on the heap and owned here too.
pub(super) struct MsgHdr {
    hdr: Box<libc::msghdr>,
    iovecs: Box<[libc::iovec]>,
    addr: Option<SockAddr>,
}

// SAFETY: the raw pointers in `hdr` and `iovecs` point into memory owned by
// this value (the iovec array and the address) or by the buffers owned by
// the same op, which are `Send`; sending the whole op to another thread
// sends all of it together, and nothing dereferences the pointers except the
// kernel or the op's own blocking call.
unsafe impl Send for MsgHdr {}

impl MsgHdr {
    /// A header over `iovecs` with the address `addr` (a destination for a
    /// send, room for the source for a receive).
    pub(super) fn new(iovecs: Vec<libc::iovec>, mut addr: Option<SockAddr>) -> Self {
        let mut iovecs = iovecs.into_boxed_slice();
        // SAFETY: `msghdr` is plain C data for which all-zero bytes are a
        // valid value (null pointers, zero lengths).
        let mut hdr: Box<libc::msghdr> = Box::new(unsafe { mem::zeroed() });
        hdr.msg_iov = iovecs.as_mut_ptr();
        hdr.msg_iovlen = iovecs.len() as _;
        if let Some(a) = addr.as_mut() {
            hdr.msg_name = a.as_mut_ptr().cast();
            hdr.msg_namelen = a.socklen();
        } else {
            hdr.msg_name = ptr::null_mut();
            hdr.msg_namelen = 0;
        }
        MsgHdr { hdr, iovecs, addr }
    }

    /// The header, for the kernel to read (stable while `self` lives).
    pub(super) fn as_ptr(&self) -> *const libc::msghdr {
        &*self.hdr
    }

    /// The header, for the kernel to write (`msg_namelen`, `msg_flags`).
    pub(super) fn as_mut_ptr(&mut self) -> *mut libc::msghdr {
        &mut *self.hdr
    }

    /// The address, with the length the kernel wrote into the header.
    pub(super) fn take_addr(&mut self) -> Option<SockAddr> {
        let len = self.hdr.msg_namelen;
        let mut addr = self.addr.take()?;
        addr.set_socklen(len);
        Some(addr)
    }

    /// The flags the kernel reported for a received message (`MSG_TRUNC`).
    pub(super) fn flags(&self) -> i32 {
        self.hdr.msg_flags
    }
}

impl fmt::Debug for MsgHdr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MsgHdr")
            .field("iovecs", &self.iovecs.len())
            .field("addr", &self.addr)
            .finish()
    }
}
