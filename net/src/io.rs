//! The stream I/O shared by [`TcpStream`](crate::TcpStream) and
//! [`UnixStream`](crate::UnixStream): writes, vectored writes and
//! shutdown on a connected socket. Reads go through each stream's
//! [`RingRecv`].
//!
//! # Reads and provided buffer rings
//!
//! A read takes an owned buffer and gives it back filled (from its start up
//! to its capacity). Where the kernel has multishot receives and provided
//! buffer rings (Linux 6.0+, the io_uring driver, [`Feature::Multishot`]
//! not switched off), the stream's [`RingRecv`] keeps one multishot RECV
//! with IOSQE_BUFFER_SELECT armed on its worker's shared `BufRing`: the
//! kernel picks a ring buffer only when bytes arrive, so an idle connection
//! pins no receive memory (`TcpStream::readable` waits without any
//! buffer). Received chunks queue in the stream and `read` copies them
//! into the caller's buffer, keeping any remainder for the next read;
//! `read_chunk` hands a chunk out in its ring buffer instead (a
//! [`RecvBuf`], no copy), which goes back to the ring when dropped.
//! Elsewhere (thread-pool driver, multishot off, older kernels) a read is
//! a plain receive straight into the caller's buffer. The signature —
//! owned buffer in, same buffer out — is the same on both paths, and so
//! is cancellation: a read whose future is dropped loses no byte (bytes a
//! cancelled plain receive got anyway come first in the next read).
//!
//! [`Feature::Multishot`]: ringbolt_runtime::Feature::Multishot
//! [`RingRecv`]: ringbolt_runtime::op::net::RingRecv
//! [`RecvBuf`]: ringbolt_runtime::buf::RecvBuf
//!
//! # Writes
//!
//! Writes are IORING_OP_SEND with `MSG_NOSIGNAL` (never SIGPIPE). Vectored
//! writes use SENDMSG, since WRITEV cannot carry that flag. Every write
//! first waits for the stream's write-behind send, if one is in flight
//! (see [`crate::behind`]). Zero-copy sends
//! (IORING_OP_SEND_ZC) are available explicitly as `write_zc`; `write`
//! uses them only for buffers of at least [`ZC_THRESHOLD`] bytes, if set.

use std::io;

use ringbolt_runtime::buf::{BufResult, IoBuf};
use ringbolt_runtime::op::net;
use ringbolt_runtime::op::Op;
use ringbolt_runtime::SharedFd;

use crate::behind;

/// The write size from which `write` sends without copying
/// (IORING_OP_SEND_ZC). `None`: never implicitly — on loopback a zero-copy
/// send never beat a plain send (see the crate docs).
pub(crate) const ZC_THRESHOLD: Option<usize> = None;

pub(crate) async fn write<B: IoBuf + Send>(fd: &SharedFd, buf: B) -> BufResult<usize, B> {
    if ZC_THRESHOLD.is_some_and(|t| buf.bytes_init() >= t) {
        return write_zc(fd, buf).await;
    }
    if let Err(e) = behind::settle(fd).await {
        return (Err(e), buf);
    }
    net::send_on(fd, buf, 0).await
}

pub(crate) async fn write_zc<B: IoBuf + Send>(fd: &SharedFd, buf: B) -> BufResult<usize, B> {
    if let Err(e) = behind::settle(fd).await {
        return (Err(e), buf);
    }
    net::send_zc(fd.clone(), buf, 0).await
}

pub(crate) async fn writev<B: IoBuf + Send>(
    fd: &SharedFd,
    bufs: Vec<B>,
) -> BufResult<usize, Vec<B>> {
    if let Err(e) = behind::settle(fd).await {
        return (Err(e), bufs);
    }
    net::send_vectored(fd.clone(), bufs).await
}

/// Writes every initialised byte of `buf`, in as many sends as it takes,
/// after the write-behind send in flight on `fd` (`settle: false`: called
/// by the holder of that send).
pub(crate) async fn write_all<B: IoBuf + Send>(
    settle: bool,
    fd: &SharedFd,
    buf: B,
) -> BufResult<(), B> {
    if settle {
        if let Err(e) = behind::settle(fd).await {
            return (Err(e), buf);
        }
    }
    let total = buf.bytes_init();
    let mut done = 0;
    let mut buf = buf;
    let by_readiness = net::sockets_by_readiness();
    while done < total {
        let slice = buf.slice(done..total);
        let (res, slice) = if ZC_THRESHOLD.is_some_and(|t| total - done >= t) {
            net::send_zc(fd.clone(), slice, 0).await
        } else if by_readiness {
            // No ring: the send(2) runs from this future, no op.
            net::send_on(fd, slice, 0).await
        } else {
            // The op awaited right here, not through `write` and `send`:
            // each async layer moves the buffer into its own state again.
            let sent = Op::new(net::Send::new(fd.clone(), slice, 0)).await;
            (sent.result.map(|n| n as usize), sent.data.into_buf())
        };
        buf = slice.into_inner();
        match res {
            Ok(0) => {
                let e = io::Error::new(io::ErrorKind::WriteZero, "failed to write whole buffer");
                return (Err(e), buf);
            }
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (Err(e), buf),
        }
    }
    (Ok(()), buf)
}

/// Shuts `fd` down once its write-behind send in flight is out (its
/// error, if it failed: the shutdown still happens).
pub(crate) async fn shutdown(fd: &SharedFd, how: std::net::Shutdown) -> io::Result<()> {
    let pending = behind::settle(fd).await;
    net::shutdown(fd.clone(), how).await?;
    pending
}
