//! [`SendGate`]: one detached send at a time on a descriptor.
//!
//! A send that nobody awaits (a detached op, see
//! [`submit_detached`](crate::op::submit_detached)) must still be ordered
//! with the other writes on its socket: two sends in flight could
//! interleave their bytes, since the kernel retries a send that found the
//! socket buffer full later, while a send issued after it may already go
//! out. The gate is the descriptor's token for that: a writer claims it
//! before submitting the detached send, the send's completion finishes it
//! with the outcome, and every other write first waits until the gate is
//! idle again (and learns the error of a send that failed, once).
//!
//! The gate lives in the descriptor's [`SharedFd`](super::SharedFd)
//! allocation, next to its reference count: the send op already holds a
//! clone of the descriptor, so its completion reaches the gate without a
//! second reference, and claiming it touches a cache line the send's
//! submission touches anyway.

use std::io;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

/// No send in flight, nothing to report.
const IDLE: u8 = 0;
/// A send is in flight (the gate is claimed).
const BUSY: u8 = 1;
/// A send is in flight and someone waits for it (in `Slow::waiters`).
const BUSY_WAITED: u8 = 2;
/// The last send failed; its error waits in `Slow::error`.
const FAILED: u8 = 3;

/// The token for the one detached send in flight on a descriptor (see
/// the module docs). Reached through [`SharedFd::send_gate`].
///
/// The fast paths touch one atomic: checking that the gate is idle,
/// claiming an idle gate, and finishing a send nobody waits for. The lock
/// is taken only to wait, and to record an error.
///
/// [`SharedFd::send_gate`]: super::SharedFd::send_gate
#[repr(C)]
pub struct SendGate {
    /// IDLE, BUSY, BUSY_WAITED or FAILED.
    phase: AtomicU8,
    slow: Mutex<Slow>,
}

#[derive(Default)]
struct Slow {
    error: Option<io::Error>,
    waiters: Vec<Waker>,
}

impl SendGate {
    pub(super) const fn new() -> SendGate {
        SendGate {
            phase: AtomicU8::new(IDLE),
            slow: Mutex::new(Slow {
                error: None,
                waiters: Vec::new(),
            }),
        }
    }

    /// Whether no send is in flight and no failure waits to be reported:
    /// a write may go ahead without [`poll_settle`](SendGate::poll_settle).
    #[inline]
    pub fn is_idle(&self) -> bool {
        self.phase.load(Ordering::Acquire) == IDLE
    }

    /// Claims an idle gate for a send about to be submitted; `false` if a
    /// send is in flight or a failure waits (settle first). The claimer
    /// must [`finish`](SendGate::finish) it.
    #[inline]
    pub fn try_claim(&self) -> bool {
        self.phase
            .compare_exchange(IDLE, BUSY, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Ready once no send is in flight: `Ok` if the last one succeeded (or
    /// its failure was already reported), else its error, reported once
    /// (the gate is idle again afterwards). Registers `cx`'s waker while a
    /// send is in flight.
    pub fn poll_settle(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut slow = self.lock();
        loop {
            match self.phase.load(Ordering::Acquire) {
                IDLE => return Poll::Ready(Ok(())),
                FAILED => {
                    self.phase.store(IDLE, Ordering::Release);
                    let e = slow
                        .error
                        .take()
                        .unwrap_or_else(|| io::Error::other("an earlier send failed"));
                    return Poll::Ready(Err(e));
                }
                phase => {
                    // BUSY → BUSY_WAITED under the lock, so that `finish`,
                    // seeing BUSY_WAITED, takes the lock and finds this
                    // waker.
                    if phase == BUSY
                        && self
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
    }

    /// Ends a claim: the send is over with `outcome` (`Ok` also when a
    /// claim ends without a send). An error is kept for the next
    /// [`poll_settle`](SendGate::poll_settle); whoever waits is woken.
    pub fn finish(&self, outcome: io::Result<()>) {
        let waiters = match outcome {
            Ok(()) => {
                if self.phase.swap(IDLE, Ordering::AcqRel) != BUSY_WAITED {
                    return;
                }
                std::mem::take(&mut self.lock().waiters)
            }
            Err(e) => {
                let mut slow = self.lock();
                slow.error = Some(e);
                self.phase.store(FAILED, Ordering::Release);
                std::mem::take(&mut slow.waiters)
            }
        };
        for w in waiters {
            w.wake();
        }
    }

    /// The lock, whether or not a waker panicked while it was held.
    fn lock(&self) -> MutexGuard<'_, Slow> {
        self.slow.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl std::fmt::Debug for SendGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let phase = match self.phase.load(Ordering::Acquire) {
            IDLE => "idle",
            BUSY => "busy",
            BUSY_WAITED => "busy, waited for",
            _ => "failed",
        };
        f.debug_tuple("SendGate").field(&phase).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::task::Wake;

    struct Count(std::sync::atomic::AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn waker() -> (Arc<Count>, Waker) {
        let count = Arc::new(Count(Default::default()));
        (count.clone(), Waker::from(count))
    }

    #[test]
    fn one_claim_at_a_time() {
        let gate = SendGate::new();
        assert!(gate.is_idle());
        assert!(gate.try_claim());
        assert!(!gate.is_idle());
        assert!(!gate.try_claim(), "a second claim while one is held");
        gate.finish(Ok(()));
        assert!(gate.is_idle());
        assert!(gate.try_claim());
    }

    #[test]
    fn a_waiter_is_woken_when_the_send_finishes() {
        let gate = SendGate::new();
        let (count, w) = waker();
        let mut cx = Context::from_waker(&w);
        assert!(gate.try_claim());
        assert!(gate.poll_settle(&mut cx).is_pending());
        // The same waker twice is kept once.
        assert!(gate.poll_settle(&mut cx).is_pending());
        gate.finish(Ok(()));
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert!(matches!(gate.poll_settle(&mut cx), Poll::Ready(Ok(()))));
    }

    #[test]
    fn a_failure_is_reported_once_and_blocks_claims_until_then() {
        let gate = SendGate::new();
        let (count, w) = waker();
        let mut cx = Context::from_waker(&w);
        assert!(gate.try_claim());
        assert!(gate.poll_settle(&mut cx).is_pending());
        gate.finish(Err(io::Error::from(io::ErrorKind::ConnectionReset)));
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert!(!gate.is_idle());
        assert!(!gate.try_claim(), "claimed over an unreported failure");
        match gate.poll_settle(&mut cx) {
            Poll::Ready(Err(e)) => assert_eq!(e.kind(), io::ErrorKind::ConnectionReset),
            other => panic!("expected the send's error, got {other:?}"),
        }
        assert!(matches!(gate.poll_settle(&mut cx), Poll::Ready(Ok(()))));
        assert!(gate.try_claim());
    }
}
