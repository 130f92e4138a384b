//! Socket operations (socket, connect, accept, send, recv, ...), used by
//! `ringbolt-net`.
//!
//! One operation per file, each with its SQE and its synchronous equivalent
//! (the blocking system call). Everything the kernel reads or writes after
//! the submission — socket addresses, `msghdr`s, iovec arrays — is boxed
//! inside the op, so it stays at the same address when the op moves (the
//! driver moves an op's data into its slab when its future is dropped).
//!
//! Sends always carry `MSG_NOSIGNAL`: a send to a reset peer fails with
//! `EPIPE`/`ECONNRESET` and never raises SIGPIPE, whatever the program's
//! SIGPIPE disposition is. Vectored socket I/O goes through SENDMSG/RECVMSG
//! (not WRITEV/READV) for the same reason: `writev(2)` cannot take flags.
//!
//! The few socket calls that never block (`bind`, `listen`, socket options,
//! `getsockname`) are plain system calls in [`sys`]. Opcodes newer than the
//! basic socket set fall back without a thread: IORING_OP_SOCKET (5.19) to
//! `socket(2)`, IORING_OP_SHUTDOWN (5.11) to `shutdown(2)`, SEND_ZC (6.0) to
//! SEND, multishot accept (5.19) to single-shot accepts, buffer-ring
//! receives ([`RingRecv`], 6.0) to plain receives into the caller's buffer.

/// Builds an SQE on a `SharedFd`: through its slot in this ring's
/// fixed-file table when it has one (`types::Fixed`, IOSQE_FIXED_FILE),
/// else on the plain descriptor (`types::Fd`). `$t` names the target in
/// `$build`.
macro_rules! sqe_on_fd {
    ($fd:expr, |$t:ident| $build:expr) => {
        match $fd.fixed_slot() {
            Some(slot) => {
                let $t = io_uring::types::Fixed(slot);
                $build
            }
            None => {
                let $t = io_uring::types::Fd($fd.as_raw_fd());
                $build
            }
        }
    };
}

mod accept;
mod accept_multi;
mod acceptor;
mod connect;
mod msghdr;
mod ready_io;
mod recv;
mod recv_dgram;
mod recv_multi;
mod recv_ring;
mod recv_salvage;
mod recvmsg;
mod send;
mod send_zc;
mod sendmsg;
mod shutdown;
mod signal;
mod sockaddr;
mod socket;
pub mod sys;

use std::os::fd::{FromRawFd, OwnedFd};

use crate::executor::context;

pub use accept::{accept, Accept};
pub use accept_multi::{AcceptMulti, AcceptStream};
pub use acceptor::Acceptor;
pub use connect::{connect, Connect};
pub use recv::{recv, recv_chunk, Recv, READ_CHUNK_FALLBACK};
pub use recv_dgram::DgramRecv;
pub use recv_multi::RecvMulti;
pub use recv_ring::RingRecv;
pub use recvmsg::{recv_from, recv_vectored, RecvMsg};
pub use send::{send, send_now, send_on, sockets_by_readiness, Send};
pub use send_zc::{send_zc, SendZc};
pub use sendmsg::{send_to, send_vectored, SendMsg};
pub use shutdown::{shutdown, Shutdown};
pub use signal::ctrl_c;
pub use sockaddr::{SockAddr, UnixName};
pub use socket::{socket, Socket};

/// Whether the ring of this thread's worker supports `opcode` (the probe
/// taken at start-up); `None` outside a runtime.
fn supported(opcode: u8) -> Option<bool> {
    context::with_current(|w| {
        w.ring()
            .is_some_and(|r| r.borrow().features().supports(opcode))
    })
}

/// Takes ownership of the descriptor a successful SOCKET or ACCEPT
/// completion (or its system call) returned.
///
/// # Safety
///
/// `fd` must be a descriptor that the kernel just created for this caller
/// and that nothing else owns or will close.
unsafe fn owned_fd(fd: u32) -> OwnedFd {
    // SAFETY: the caller guarantees that `fd` is a fresh descriptor owned by
    // nobody else, so this `OwnedFd` closes it exactly once.
    unsafe { OwnedFd::from_raw_fd(fd as i32) }
}

/// Closes a descriptor that a completion nobody collects returned (an
/// accept or socket that finished after its future was dropped).
fn close_orphan_fd(res: i32) {
    if res >= 0 {
        // SAFETY: a non-negative SOCKET/ACCEPT result is a fresh descriptor
        // that only this op knows about; its future is gone, so nothing else
        // will take ownership of it.
        drop(unsafe { owned_fd(res as u32) });
    }
}
