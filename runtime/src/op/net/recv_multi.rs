//! IORING_OP_RECV with IORING_RECV_MULTISHOT and IOSQE_BUFFER_SELECT: one
//! SQE receives every chunk that arrives on a stream socket, each into a
//! buffer the kernel picks from a [`BufRing`]. Use it with
//! [`MultiOp`](crate::op::MultiOp). [`RingRecv`](super::RingRecv), a
//! stream's read side, submits it as a streaming op instead, whose CQEs
//! the driver delivers into the stream's queue as it reaps them.

use std::io;

use io_uring::{cqueue, opcode, squeue};

use crate::bufring::BufRing;
use crate::fd::SharedFd;
use crate::op::OpCode;

/// A multishot receive into the buffers of a [`BufRing`]: one completion
/// per received chunk, its result the byte count and its flags naming the
/// buffer (`io_uring::cqueue::buffer_select`); 0 is the end of the stream,
/// `ENOBUFS` means the ring ran dry (the data stays in the socket).
///
/// Only on a ring with multishot ops: there is no synchronous equivalent
/// (`run_blocking` fails with `Unsupported`). Buffers named by CQEs that
/// arrive after the op's stream was dropped are recycled.
#[derive(Debug)]
pub struct RecvMulti {
    fd: SharedFd,
    ring: BufRing,
}

impl RecvMulti {
    /// Receives on `fd` into the buffers of `ring` until cancelled, an
    /// error, the end of the stream or a dry ring.
    pub fn new(fd: SharedFd, ring: BufRing) -> Self {
        RecvMulti { fd, ring }
    }

    /// The ring the op selects from.
    pub fn ring(&self) -> &BufRing {
        &self.ring
    }
}

// SAFETY: the SQE points to no memory of its own; the kernel writes into
// buffers of `ring`, whose memory the `BufRing` handle held here keeps
// alive (and registered or unusable by anyone else) until this op is
// dropped, which the driver does only after the op's last CQE. The fd is
// kept open by the SharedFd clone held here.
unsafe impl OpCode for RecvMulti {
    fn multishot(&self) -> bool {
        true
    }

    fn sqe(&mut self) -> squeue::Entry {
        let bgid = self.ring.bgid();
        sqe_on_fd!(self.fd, |fd| opcode::RecvMulti::new(fd, bgid).build())
    }

    fn run_blocking(&mut self) -> io::Result<u32> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "ringbolt: a multishot receive into a buffer ring needs the io_uring driver",
        ))
    }

    fn orphan_completed(&mut self, _res: i32, flags: u32) {
        if let Some(bid) = cqueue::buffer_select(flags) {
            // SAFETY: the bid comes from a CQE of this op, which selects
            // from `self.ring`; the driver hands each CQE over once.
            unsafe { self.ring.give_back(bid) };
        }
    }
}
