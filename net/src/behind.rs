//! Write-behind sends: `write_behind` queues a send and returns without
//! waiting for its completion; `flush` waits for it.
//!
//! A stream has at most one write-behind send in flight. Two sends in
//! flight on one socket could interleave their bytes: the kernel retries
//! a send that found the socket buffer full later, while a send issued
//! after it may already go out. So every write on the stream (a
//! `write_behind`, `write`, `write_all`, `writev`, a shutdown, `flush`)
//! first waits for the send in flight, and reports its error if it
//! failed.
//!
//! The send is a detached op (`ringbolt_runtime::op::submit_detached`)
//! carrying `MSG_WAITALL`, with which the kernel keeps sending until every
//! byte is out or the connection fails; should it still stop early, the
//! completion sends the rest the same way. The driver holds the buffer
//! until the last CQE and then drops it; the completion records the outcome here and
//! wakes whoever waits. What a server saves is the task's second wake-up
//! per request: it no longer sleeps until the send's CQE before it reads
//! on.
//!
//! Where no ring takes the send (thread-pool driver, outside a runtime),
//! `write_behind` sends at once and waits, like `write_all`.

use std::future::poll_fn;
use std::io;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Poll, Waker};

use ringbolt_runtime::buf::IoBuf;
use ringbolt_runtime::op::{self, net};
use ringbolt_runtime::SharedFd;

/// No send in flight, nothing to report.
const IDLE: u8 = 0;
/// A send is in flight.
const BUSY: u8 = 1;
/// A send is in flight and someone waits for it (in `Slow::waiters`).
const BUSY_WAITED: u8 = 2;
/// The last send failed; its error waits in `Slow::error`.
const FAILED: u8 = 3;

/// The write-behind state of one stream, created on its first
/// `write_behind` (streams that never use it pay one atomic load per
/// write).
#[derive(Default)]
pub(crate) struct Behind(OnceLock<Arc<State>>);

struct State {
    /// IDLE, BUSY, BUSY_WAITED or FAILED. The fast paths (start a send,
    /// complete it with nobody waiting) touch only this.
    phase: AtomicU8,
    slow: Mutex<Slow>,
}

#[derive(Default)]
struct Slow {
    error: Option<io::Error>,
    waiters: Vec<Waker>,
}

impl Behind {
    /// Waits until no write-behind send is in flight; the error of the
    /// last one if it failed (reported once).
    pub(crate) async fn settle(&self) -> io::Result<()> {
        // The common case, no lock: nothing in flight, nothing to report.
        let Some(state) = self.0.get() else {
            return Ok(());
        };
        if state.phase.load(Ordering::Acquire) == IDLE {
            return Ok(());
        }
        poll_fn(|cx| {
            let mut slow = lock(&state.slow);
            loop {
                match state.phase.load(Ordering::Acquire) {
                    IDLE => return Poll::Ready(Ok(())),
                    FAILED => {
                        state.phase.store(IDLE, Ordering::Release);
                        let e = slow.error.take().unwrap_or_else(|| {
                            io::Error::other("write_behind: an earlier send failed")
                        });
                        return Poll::Ready(Err(e));
                    }
                    phase => {
                        // BUSY → BUSY_WAITED under the lock, so that the
                        // completion, seeing BUSY_WAITED, takes the lock
                        // and finds this waker.
                        if phase == BUSY
                            && state
                                .phase
                                .compare_exchange(
                                    BUSY,
                                    BUSY_WAITED,
                                    Ordering::AcqRel,
                                    Ordering::Acquire,
                                )
                                .is_err()
                        {
                            continue;
                        }
                        if !slow.waiters.iter().any(|w| w.will_wake(cx.waker())) {
                            slow.waiters.push(cx.waker().clone());
                        }
                        return Poll::Pending;
                    }
                }
            }
        })
        .await
    }

    /// Queues all of `buf` for sending on `fd` and returns once it is
    /// queued (see the module docs).
    pub(crate) async fn write_behind<B>(&self, fd: &SharedFd, buf: B) -> io::Result<()>
    where
        B: IoBuf + Send,
    {
        let state = self.0.get_or_init(|| {
            Arc::new(State {
                phase: AtomicU8::new(IDLE),
                slow: Mutex::new(Slow::default()),
            })
        });
        // Claim the stream's one send: wait for the one in flight first.
        loop {
            self.settle().await?;
            if state
                .phase
                .compare_exchange(IDLE, BUSY, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                break;
            }
        }
        let claim = Claim(state);
        if buf.bytes_init() == 0 {
            return Ok(());
        }
        let send = net::Send::new(fd.clone(), buf, libc::MSG_WAITALL);
        match submit(Arc::clone(state), send) {
            Ok(()) => {
                // The completion releases the claim.
                std::mem::forget(claim);
                Ok(())
            }
            // No ring takes it here: send it now (the claim is released
            // when this returns).
            Err(send) => crate::io::write_all(None, fd, send.into_buf()).await.0,
        }
    }
}

/// Submits `send` as the stream's detached send; gives it back when no ring
/// here takes it.
fn submit<B: IoBuf + Send>(state: Arc<State>, send: net::Send<B>) -> Result<(), net::Send<B>> {
    let done = move |res, send| sent(state, res, send);
    op::submit_detached(send, done).map_err(|(send, _)| send)
}

/// The detached send completed. A short count is resumed: `MSG_WAITALL`
/// makes the kernel retry a full socket buffer, but it may still stop early
/// (a signal, an allocation failure, more than one SQE can carry), and the
/// rest is then sent as a new detached send, still the stream's one send in
/// flight. Otherwise the outcome is recorded.
fn sent<B: IoBuf + Send>(state: Arc<State>, res: io::Result<u32>, send: net::Send<B>) {
    let outcome = match res {
        Ok(n) if (n as usize) < send.remaining() => {
            if n == 0 {
                Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "write_behind: the socket took no bytes",
                ))
            } else {
                match submit(Arc::clone(&state), send.advance(n as usize)) {
                    Ok(()) => return,
                    // Only when the runtime is going away.
                    Err(_) => Err(io::Error::other(
                        "write_behind: the rest of a short send could not be queued",
                    )),
                }
            }
        }
        Ok(_) => Ok(()),
        Err(e) => Err(e),
    };
    state.complete(outcome);
}

impl State {
    /// The stream's send finished with `outcome`: releases the stream's
    /// send and wakes whoever waits for it.
    fn complete(&self, outcome: io::Result<()>) {
        let error = outcome.err();
        let waiters = match error {
            None => {
                if self.phase.swap(IDLE, Ordering::AcqRel) != BUSY_WAITED {
                    return;
                }
                std::mem::take(&mut lock(&self.slow).waiters)
            }
            Some(e) => {
                let mut slow = lock(&self.slow);
                slow.error = Some(e);
                self.phase.store(FAILED, Ordering::Release);
                std::mem::take(&mut slow.waiters)
            }
        };
        for w in waiters {
            w.wake();
        }
    }
}

/// The stream's send, claimed by a `write_behind` that has not handed it
/// to a detached send: released when dropped (the write finished here, or
/// its future was dropped).
struct Claim<'a>(&'a Arc<State>);

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        let waiters = {
            let mut slow = lock(&self.0.slow);
            self.0.phase.store(IDLE, Ordering::Release);
            std::mem::take(&mut slow.waiters)
        };
        for w in waiters {
            w.wake();
        }
    }
}

/// The lock, whether or not a waker panicked while it was held.
fn lock(m: &Mutex<Slow>) -> std::sync::MutexGuard<'_, Slow> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
