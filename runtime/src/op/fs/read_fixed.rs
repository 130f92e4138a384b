//! IORING_OP_READ_FIXED: a positional read into a registered buffer;
//! `pread(2)` when run synchronously.

use std::io;

use io_uring::{opcode, squeue, types};

use super::fixed_buf::FixedBuf;
use crate::buf::{IoBuf, IoBufMut};
use crate::fd::SharedFd;
use crate::op::{Completion, Op, OpCode, Read};

/// Reads into a [`FixedBuf`] from its start up to its capacity, at
/// `offset` (or at the file position when `offset` is `u64::MAX`).
#[derive(Debug)]
pub struct ReadFixed {
    fd: SharedFd,
    buf: FixedBuf,
    offset: u64,
}

impl ReadFixed {
    /// The buffer with its length set to the bytes read (`n` from a
    /// successful completion).
    pub fn into_buf(self, n: io::Result<u32>) -> FixedBuf {
        let mut buf = self.buf;
        if let Ok(n) = n {
            // SAFETY: the kernel (or pread) initialised `n` bytes from the
            // buffer's start, and `n` <= bytes_total, the read's length.
            unsafe { buf.set_init(n as usize) };
        }
        buf
    }
}

// SAFETY: the SQE points into the FixedBuf's memory, which the IoBufMut
// contract keeps valid, fixed and exclusive while the op owns the buffer,
// and which is registered with the ring (checked by `read_fixed` before
// submission: the op is only built on the pool's worker). The fd is kept
// open by the SharedFd clone held here.
unsafe impl OpCode for ReadFixed {
    fn sqe(&mut self) -> squeue::Entry {
        let len = self.buf.bytes_total().min(crate::op::MAX_RW) as u32;
        opcode::ReadFixed::new(
            types::Fd(self.fd.as_raw_fd()),
            self.buf.stable_mut_ptr(),
            len,
            self.buf.index(),
        )
        .offset(self.offset)
        .build()
    }

    fn run_blocking(&mut self) -> io::Result<u32> {
        let len = self.buf.bytes_total();
        let ptr = self.buf.stable_mut_ptr().cast();
        // SAFETY: `ptr` is valid for `len` writable bytes (IoBufMut contract).
        let n = unsafe {
            if self.offset == u64::MAX {
                libc::read(self.fd.as_raw_fd(), ptr, len)
            } else {
                libc::pread(self.fd.as_raw_fd(), ptr, len, self.offset as libc::off_t)
            }
        };
        crate::sys::cvt(n).map(|n| n as u32)
    }
}

/// Reads into `buf` at `offset`: with READ_FIXED on the worker that
/// registered the buffer's pool, with a plain READ elsewhere. Returns the
/// result and the buffer, its length set to the bytes read.
pub async fn read_fixed(fd: SharedFd, buf: FixedBuf, offset: u64) -> (io::Result<u32>, FixedBuf) {
    // Checked in the same poll that submits the op (the first poll of the
    // Op below), on the thread whose ring gets the SQE.
    if buf.registered_here() {
        let Completion { result, data, .. } = Op::new(ReadFixed { fd, buf, offset }).await;
        let n = result
            .as_ref()
            .map(|n| *n)
            .map_err(|_| io::ErrorKind::Other.into());
        (result, data.into_buf(n))
    } else {
        let Completion { result, data, .. } = Op::new(Read::new(fd, buf, offset)).await;
        let n = result
            .as_ref()
            .map(|n| *n)
            .map_err(|_| io::ErrorKind::Other.into());
        (result, data.into_buf(n))
    }
}
