//! IORING_OP_READV: a positional read into several owned buffers;
//! `preadv2(2)` when run synchronously.

use std::io;

use io_uring::{opcode, squeue, types};

use super::iovecs::IoVecs;
use crate::buf::IoBufMut;
use crate::fd::SharedFd;
use crate::op::OpCode;

/// Reads into `bufs` in order, each from its start up to its capacity, at
/// `offset` (or at the file position when `offset` is `u64::MAX`).
#[derive(Debug)]
pub struct Readv<B> {
    fd: SharedFd,
    bufs: Vec<B>,
    iovecs: IoVecs,
    offset: u64,
}

impl<B: IoBufMut + Send> Readv<B> {
    /// A vectored read of `fd` at `offset` into `bufs`.
    pub fn new(fd: SharedFd, mut bufs: Vec<B>, offset: u64) -> Self {
        let iovecs = IoVecs::new(bufs.iter_mut().map(|b| libc::iovec {
            iov_base: b.stable_mut_ptr().cast(),
            iov_len: b.bytes_total(),
        }));
        Readv {
            fd,
            bufs,
            iovecs,
            offset,
        }
    }

    /// The buffers, with their lengths set to cover the bytes read (`n`
    /// from a successful completion, spread over the buffers in order).
    pub fn into_bufs(self, n: io::Result<u32>) -> Vec<B> {
        let mut bufs = self.bufs;
        if let Ok(n) = n {
            let mut left = n as usize;
            for buf in &mut bufs {
                let k = left.min(buf.bytes_total());
                // SAFETY: the kernel (or preadv2) filled the iovecs in order,
                // so this buffer's first `k` bytes are initialised, and `k`
                // <= bytes_total, the length its iovec was given.
                unsafe { buf.set_init(k) };
                left -= k;
            }
        }
        bufs
    }
}

// SAFETY: the SQE points to the boxed iovec array, which does not move with
// the op, and whose entries point into the buffers' memory, which the
// IoBufMut contract keeps valid, fixed and exclusively owned while the op
// owns the buffers. The fd is kept open by the SharedFd clone held here.
unsafe impl<B: IoBufMut + Send> OpCode for Readv<B> {
    fn sqe(&mut self) -> squeue::Entry {
        opcode::Readv::new(
            types::Fd(self.fd.as_raw_fd()),
            self.iovecs.as_ptr(),
            self.iovecs.len(),
        )
        .offset(self.offset)
        .build()
    }

    fn run_blocking(&mut self) -> io::Result<u32> {
        // SAFETY: the iovecs describe writable memory owned by `bufs`.
        let n = unsafe {
            libc::preadv2(
                self.fd.as_raw_fd(),
                self.iovecs.as_ptr(),
                self.iovecs.len() as libc::c_int,
                self.offset as libc::off_t,
                0,
            )
        };
        crate::sys::cvt(n).map(|n| n as u32)
    }
}
