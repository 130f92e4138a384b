//! IORING_OP_WRITE_FIXED: a positional write from a registered buffer;
//! `pwrite(2)` when run synchronously.

use std::io;

use io_uring::{opcode, squeue, types};

use super::fixed_buf::FixedBuf;
use crate::buf::IoBuf;
use crate::fd::SharedFd;
use crate::op::{Completion, Op, OpCode, Write};

/// Writes the bytes of a [`FixedBuf`] (its length) at `offset` (or at the
/// file position when `offset` is `u64::MAX`).
#[derive(Debug)]
pub struct WriteFixed {
    fd: SharedFd,
    buf: FixedBuf,
    offset: u64,
}

// SAFETY: the SQE points into the FixedBuf's memory, which the IoBuf
// contract keeps valid and fixed while the op owns the buffer, and which is
// registered with the ring (checked by `write_fixed` before submission);
// the kernel only reads it. The fd is kept open by the SharedFd clone.
unsafe impl OpCode for WriteFixed {
    fn sqe(&mut self) -> squeue::Entry {
        let len = self.buf.bytes_init().min(crate::op::MAX_RW) as u32;
        opcode::WriteFixed::new(
            types::Fd(self.fd.as_raw_fd()),
            self.buf.stable_ptr(),
            len,
            self.buf.index(),
        )
        .offset(self.offset)
        .build()
    }

    fn run_blocking(&mut self) -> io::Result<u32> {
        let len = self.buf.bytes_init();
        let ptr = self.buf.stable_ptr().cast();
        // SAFETY: `ptr` is valid for `len` initialised bytes (IoBuf contract).
        let n = unsafe {
            if self.offset == u64::MAX {
                libc::write(self.fd.as_raw_fd(), ptr, len)
            } else {
                libc::pwrite(self.fd.as_raw_fd(), ptr, len, self.offset as libc::off_t)
            }
        };
        crate::sys::cvt(n).map(|n| n as u32)
    }
}

/// Writes `buf` at `offset`: with WRITE_FIXED on the worker that registered
/// the buffer's pool, with a plain WRITE elsewhere. Returns the result and
/// the buffer.
pub async fn write_fixed(fd: SharedFd, buf: FixedBuf, offset: u64) -> (io::Result<u32>, FixedBuf) {
    // Checked in the same poll that submits the op, on the thread whose
    // ring gets the SQE.
    if buf.registered_here() {
        let Completion { result, data, .. } = Op::new(WriteFixed { fd, buf, offset }).await;
        (result, data.buf)
    } else {
        let Completion { result, data, .. } = Op::new(Write::new(fd, buf, offset)).await;
        (result, data.into_buf())
    }
}
