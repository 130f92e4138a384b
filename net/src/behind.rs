//! Write-behind sends: `write_behind` queues a send and returns without
//! waiting for its completion; `flush` waits for it.
//!
//! A stream has at most one write-behind send in flight: the send holds
//! its descriptor's [`SendGate`] from its submission to its completion.
//! Two sends in flight on one socket could interleave their bytes (the
//! kernel retries a send that found the socket buffer full later, while a
//! send issued after it may already go out), so every write on the stream
//! (a `write_behind`, `write`, `write_all`, `writev`, a shutdown, `flush`)
//! first waits until the gate is idle, and reports the error of a send
//! that failed.
//!
//! The send is a detached op (`ringbolt_runtime::op::submit_detached`)
//! carrying `MSG_WAITALL`, with which the kernel keeps sending until every
//! byte is out or the connection fails; should it still stop early, the
//! completion sends the rest the same way. The driver holds the buffer
//! until the last CQE and then drops it; the completion finishes the gate
//! with the outcome, which wakes whoever waits. What a server saves is the
//! task's second wake-up per request: it no longer sleeps until the send's
//! CQE before it reads on.
//!
//! Where no ring takes the send (thread-pool driver, outside a runtime),
//! `write_behind` sends at once, without blocking, as tokio's writes do:
//! it returns as soon as the socket took every byte, with nothing
//! allocated; only a full socket makes it wait (for room, through the
//! worker's readiness table) for the rest, like `write_all`. Either way it
//! returns the send's error itself.
//!
//! [`SendGate`]: ringbolt_runtime::SendGate

use std::future::poll_fn;
use std::io;

use ringbolt_runtime::buf::IoBuf;
use ringbolt_runtime::op::{self, net};
use ringbolt_runtime::SharedFd;

/// Waits until no write-behind send is in flight on `fd`; the error of
/// the last one if it failed (reported once).
pub(crate) async fn settle(fd: &SharedFd) -> io::Result<()> {
    let gate = fd.send_gate();
    // The common case, no lock: nothing in flight, nothing to report.
    if gate.is_idle() {
        return Ok(());
    }
    poll_fn(|cx| gate.poll_settle(cx)).await
}

/// Queues all of `buf` for sending on `fd` and returns once it is queued
/// (see the module docs).
///
/// The common case, an idle gate and a ring that takes the send, is done
/// before the first await, so this future holds little more than `buf`:
/// it lives in the caller's task, which a server keeps per connection and
/// touches on every request, so its size is cache lines on the hot path.
/// Waiting for an earlier send and the fallback without a ring are boxed.
pub(crate) async fn write_behind<B>(fd: &SharedFd, buf: B) -> io::Result<()>
where
    B: IoBuf + Send,
{
    match try_write_behind(fd, buf) {
        Fast::Done(res) => res,
        Fast::Busy(buf) => Box::pin(write_behind_slow(fd, buf)).await,
        Fast::Full(claimed, buf, sent) => Box::pin(send_rest(fd, claimed, buf, sent)).await,
    }
}

/// How far `write_behind` got without waiting.
enum Fast<B> {
    /// Queued (or, with no ring, sent), or failed.
    Done(io::Result<()>),
    /// The gate is busy or holds a failure: `buf` back.
    Busy(B),
    /// With no ring here, the socket took the first `usize` bytes and is
    /// full: the claim and the buffer, to send the rest once it has room.
    Full(SharedFd, B, usize),
}

/// Claims an idle gate and queues the send (or sends at once where no
/// ring takes it).
fn try_write_behind<B: IoBuf + Send>(fd: &SharedFd, buf: B) -> Fast<B> {
    let Some(claimed) = fd.claim_send() else {
        return Fast::Busy(buf);
    };
    match queue(claimed, buf) {
        Ok(()) => Fast::Done(Ok(())),
        Err((claimed, buf)) => match send_at_once(fd, claimed, buf) {
            Ok(res) => Fast::Done(res),
            Err((claimed, buf, sent)) => Fast::Full(claimed, buf, sent),
        },
    }
}

/// No ring takes the send here (thread-pool driver, outside a runtime):
/// sends now, without blocking, as much as the socket takes, holding the
/// gate's `claimed` until then: its outcome, or, when the socket is full,
/// the claim, the buffer and the bytes sent, for [`send_rest`].
fn send_at_once<B: IoBuf + Send>(
    fd: &SharedFd,
    claimed: SharedFd,
    buf: B,
) -> Result<io::Result<()>, (SharedFd, B, usize)> {
    let total = buf.bytes_init();
    let mut sent = 0;
    let res = loop {
        if sent == total {
            break Ok(());
        }
        match net::send_now(fd, &buf, sent, 0) {
            Ok(0) => break Err(io::Error::from(io::ErrorKind::WriteZero)),
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Err((claimed, buf, sent)),
            Err(e) => break Err(e),
        }
    };
    // Sent (or failed) here, reported here: nothing for the gate to keep.
    claimed.finish_send(Ok(()));
    Ok(res)
}

/// Sends the bytes of `buf` after the first `sent` once the socket has
/// room, holding the gate's `claimed` until that returns (or the future
/// is dropped).
async fn send_rest<B: IoBuf + Send>(
    fd: &SharedFd,
    claimed: SharedFd,
    buf: B,
    sent: usize,
) -> io::Result<()> {
    let _claim = Claim(Some(claimed));
    crate::io::write_all(false, fd, buf.slice(sent..)).await.0
}

/// `write_behind` when the gate was busy: waits for it, then queues the
/// send (or, with no ring here, sends at once).
async fn write_behind_slow<B: IoBuf + Send>(fd: &SharedFd, buf: B) -> io::Result<()> {
    // While another send is in flight (or its failure waits), wait for it.
    let claimed = loop {
        settle(fd).await?;
        if let Some(claimed) = fd.claim_send() {
            break claimed;
        }
    };
    let Err((claimed, buf)) = queue(claimed, buf) else {
        return Ok(());
    };
    match send_at_once(fd, claimed, buf) {
        Ok(res) => res,
        Err((claimed, buf, sent)) => send_rest(fd, claimed, buf, sent).await,
    }
}

/// Queues `buf` as the detached send that holds `claimed` (the gate's
/// claim, which is also the send's reference to the descriptor; the
/// completion finishes it). The claim and the buffer back when no ring
/// here takes the send.
fn queue<B: IoBuf + Send>(claimed: SharedFd, buf: B) -> Result<(), (SharedFd, B)> {
    if buf.bytes_init() == 0 {
        claimed.finish_send(Ok(()));
        return Ok(());
    }
    submit(net::Send::new(claimed, buf, libc::MSG_WAITALL)).map_err(net::Send::into_parts)
}

/// Submits `send` as its stream's detached send; gives it back when no
/// ring here takes it.
fn submit<B: IoBuf + Send>(send: net::Send<B>) -> Result<(), net::Send<B>> {
    op::submit_detached(send, sent::<B>).map_err(|(send, _)| send)
}

/// The detached send completed. A short count is resumed: `MSG_WAITALL`
/// makes the kernel retry a full socket buffer, but it may still stop early
/// (a signal, an allocation failure, more than one SQE can carry), and the
/// rest is then sent as a new detached send, still holding the gate.
/// Otherwise the gate is finished with the outcome.
fn sent<B: IoBuf + Send>(res: io::Result<u32>, send: net::Send<B>) {
    let outcome = match res {
        Ok(n) if (n as usize) < send.remaining() => {
            if n == 0 {
                Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "write_behind: the socket took no bytes",
                ))
            } else {
                match submit(send.advance(n as usize)) {
                    Ok(()) => return,
                    // Only when the runtime is going away.
                    Err(send) => {
                        let e = io::Error::other(
                            "write_behind: the rest of a short send could not be queued",
                        );
                        send.into_parts().0.finish_send(Err(e));
                        return;
                    }
                }
            }
        }
        Ok(_) => Ok(()),
        Err(e) => Err(e),
    };
    // The send's descriptor is the claim (see `SharedFd::claim_send`).
    let (claimed, buf) = send.into_parts();
    drop(buf);
    claimed.finish_send(outcome);
}

/// The stream's send, claimed by a `write_behind` that has not handed it
/// to a detached send: released when dropped (the write finished here, or
/// its future was dropped).
struct Claim(Option<SharedFd>);

impl Drop for Claim {
    fn drop(&mut self) {
        if let Some(claimed) = self.0.take() {
            claimed.finish_send(Ok(()));
        }
    }
}
