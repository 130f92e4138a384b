//! [`SendGate`]: one detached send at a time on a descriptor, and the
//! descriptor's reference count in the same word.
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
//! # One word for the phase and the references
//!
//! The detached send must keep its descriptor open until its CQE, so it
//! holds a reference of its own. The gate's phase and the
//! [`SharedFd`](super::SharedFd)'s reference count share one atomic word
//! (the phase in the low two bits, the count above them), so that a claim
//! takes the gate *and* the send's reference in one compare-exchange, and
//! the completion gives both back in another. On a server's request path
//! every locked instruction shows: apart, the claim, the reference's
//! increment, the gate's release and the reference's decrement were four.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

/// The low bits of the word: the phase.
const PHASE: usize = 0b11;
/// No send in flight, nothing to report.
const IDLE: usize = 0;
/// A send is in flight (the gate is claimed).
const BUSY: usize = 1;
/// A send is in flight and someone waits for it (in `Slow::waiters`).
const BUSY_WAITED: usize = 2;
/// The last send failed; its error waits in `Slow::error`.
const FAILED: usize = 3;
/// One reference, in the word.
const REF: usize = PHASE + 1;
/// Past this many references the count is about to overflow into
/// nonsense: abort, as `Arc` does.
const MAX_REFS: usize = (isize::MAX as usize) / REF;

/// The token for the one detached send in flight on a descriptor (see
/// the module docs), holding the descriptor's reference count too.
/// Reached through [`SharedFd::send_gate`]; claimed with
/// [`SharedFd::claim_send`] and finished with [`SharedFd::finish_send`].
///
/// The fast paths touch one atomic word: checking that the gate is idle,
/// claiming an idle gate, and finishing a send nobody waits for. The lock
/// is taken only to wait, and to record an error.
///
/// [`SharedFd::send_gate`]: super::SharedFd::send_gate
/// [`SharedFd::claim_send`]: super::SharedFd::claim_send
/// [`SharedFd::finish_send`]: super::SharedFd::finish_send
#[repr(C)]
pub struct SendGate {
    /// References × `REF`, plus IDLE, BUSY, BUSY_WAITED or FAILED.
    word: AtomicUsize,
    slow: Mutex<Slow>,
}

#[derive(Default)]
struct Slow {
    error: Option<io::Error>,
    waiters: Vec<Waker>,
}

impl SendGate {
    /// An idle gate with one reference.
    pub(super) const fn new() -> SendGate {
        SendGate {
            word: AtomicUsize::new(REF | IDLE),
            slow: Mutex::new(Slow {
                error: None,
                waiters: Vec::new(),
            }),
        }
    }

    /// One more reference (a clone of the descriptor).
    #[inline]
    pub(super) fn acquire_ref(&self) {
        // Relaxed, as `Arc::clone`: a new reference is made from an
        // existing one, which keeps the object alive meanwhile.
        let old = self.word.fetch_add(REF, Ordering::Relaxed);
        if old / REF > MAX_REFS {
            std::process::abort();
        }
    }

    /// One reference fewer; `true` if it was the last one, and the caller
    /// must now free the object (everything every other holder did to it
    /// is visible to this thread).
    #[inline]
    pub(super) fn release_ref(&self) -> bool {
        if self.word.fetch_sub(REF, Ordering::Release) / REF != 1 {
            return false;
        }
        // Pairs with the Release decrements of the other holders, as in
        // `Arc`'s drop.
        std::sync::atomic::fence(Ordering::Acquire);
        true
    }

    /// Gives up the one reference, if it is the only one: `false` (and
    /// nothing changed) while others exist.
    pub(super) fn release_unique(&self) -> bool {
        self.word
            .fetch_update(Ordering::Acquire, Ordering::Relaxed, |w| {
                (w / REF == 1).then(|| w - REF)
            })
            .is_ok()
    }

    /// Whether no send is in flight and no failure waits to be reported:
    /// a write may go ahead without [`poll_settle`](SendGate::poll_settle).
    #[inline]
    pub fn is_idle(&self) -> bool {
        self.word.load(Ordering::Acquire) & PHASE == IDLE
    }

    /// Claims an idle gate and takes one more reference with it, in one
    /// compare-exchange; `false` if a send is in flight or a failure waits
    /// (settle first).
    #[inline]
    pub(super) fn claim_with_ref(&self) -> bool {
        let claimed = self
            .word
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |w| {
                (w & PHASE == IDLE).then(|| w + REF + BUSY)
            });
        match claimed {
            Ok(old) if old / REF > MAX_REFS => std::process::abort(),
            Ok(_) => true,
            Err(_) => false,
        }
    }

    /// Ends a claim and gives up the reference that came with it: the
    /// send is over with `outcome` (`Ok` also when a claim ends without a
    /// send). An error is kept for the next
    /// [`poll_settle`](SendGate::poll_settle); whoever waits is woken.
    /// `true` if that reference was the last one (see
    /// [`release_ref`](SendGate::release_ref)).
    pub(super) fn finish_and_release(&self, outcome: io::Result<()>) -> bool {
        if outcome.is_ok() {
            // The fast path: nobody waits, so the phase goes back to idle
            // and the reference goes, in one step.
            let released = self
                .word
                .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |w| {
                    (w & PHASE == BUSY).then(|| w - REF - BUSY)
                });
            if let Ok(old) = released {
                if old / REF != 1 {
                    return false;
                }
                std::sync::atomic::fence(Ordering::Acquire);
                return true;
            }
        }
        // Someone waits, or the send failed: set the phase under the lock
        // (a waiter moves BUSY to BUSY_WAITED under it), wake outside it,
        // and only then give up the reference, which keeps the gate alive
        // until here.
        let waiters = {
            let mut slow = self.lock();
            let phase = match outcome {
                Ok(()) => IDLE,
                Err(e) => {
                    slow.error = Some(e);
                    FAILED
                }
            };
            self.set_phase(phase);
            std::mem::take(&mut slow.waiters)
        };
        for w in waiters {
            w.wake();
        }
        self.release_ref()
    }

    /// Ready once no send is in flight: `Ok` if the last one succeeded (or
    /// its failure was already reported), else its error, reported once
    /// (the gate is idle again afterwards). Registers `cx`'s waker while a
    /// send is in flight.
    pub fn poll_settle(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut slow = self.lock();
        loop {
            let word = self.word.load(Ordering::Acquire);
            match word & PHASE {
                IDLE => return Poll::Ready(Ok(())),
                FAILED => {
                    self.set_phase(IDLE);
                    let e = slow
                        .error
                        .take()
                        .unwrap_or_else(|| io::Error::other("an earlier send failed"));
                    return Poll::Ready(Err(e));
                }
                phase => {
                    // BUSY → BUSY_WAITED under the lock, so that the
                    // finish, seeing BUSY_WAITED, takes the lock and finds
                    // this waker.
                    if phase == BUSY
                        && self
                            .word
                            .compare_exchange(
                                word,
                                word - BUSY + BUSY_WAITED,
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

    /// Sets the phase, keeping the references (which other threads may
    /// change meanwhile). Called with the lock held.
    fn set_phase(&self, phase: usize) {
        let _ = self
            .word
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |w| {
                Some((w & !PHASE) | phase)
            });
    }

    /// The lock, whether or not a waker panicked while it was held.
    fn lock(&self) -> MutexGuard<'_, Slow> {
        self.slow.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl std::fmt::Debug for SendGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let phase = match self.word.load(Ordering::Acquire) & PHASE {
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

    fn refs(gate: &SendGate) -> usize {
        gate.word.load(Ordering::SeqCst) / REF
    }

    #[test]
    fn one_claim_at_a_time_and_each_holds_a_reference() {
        let gate = SendGate::new();
        assert!(gate.is_idle());
        assert!(gate.claim_with_ref());
        assert_eq!(refs(&gate), 2);
        assert!(!gate.is_idle());
        assert!(!gate.claim_with_ref(), "a second claim while one is held");
        assert_eq!(refs(&gate), 2, "a refused claim takes no reference");
        assert!(!gate.finish_and_release(Ok(())));
        assert_eq!(refs(&gate), 1);
        assert!(gate.is_idle());
        assert!(gate.claim_with_ref());
    }

    #[test]
    fn the_claim_may_hold_the_last_reference() {
        let gate = SendGate::new();
        assert!(gate.claim_with_ref());
        assert!(!gate.release_ref(), "the claim's reference is left");
        assert!(gate.finish_and_release(Ok(())), "the finish frees");

        let gate = SendGate::new();
        let (count, w) = waker();
        let mut cx = Context::from_waker(&w);
        assert!(gate.claim_with_ref());
        assert!(gate.poll_settle(&mut cx).is_pending());
        assert!(!gate.release_ref());
        assert!(gate.finish_and_release(Err(io::ErrorKind::BrokenPipe.into())));
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn release_unique_only_for_the_only_reference() {
        let gate = SendGate::new();
        gate.acquire_ref();
        assert!(!gate.release_unique());
        assert!(!gate.release_ref());
        assert!(gate.release_unique());
        assert_eq!(refs(&gate), 0);
    }

    #[test]
    fn a_waiter_is_woken_when_the_send_finishes() {
        let gate = SendGate::new();
        let (count, w) = waker();
        let mut cx = Context::from_waker(&w);
        assert!(gate.claim_with_ref());
        assert!(gate.poll_settle(&mut cx).is_pending());
        // The same waker twice is kept once.
        assert!(gate.poll_settle(&mut cx).is_pending());
        // References change while the phase is BUSY_WAITED.
        gate.acquire_ref();
        assert!(!gate.release_ref());
        assert!(!gate.finish_and_release(Ok(())));
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert_eq!(refs(&gate), 1);
        assert!(matches!(gate.poll_settle(&mut cx), Poll::Ready(Ok(()))));
    }

    #[test]
    fn a_failure_is_reported_once_and_blocks_claims_until_then() {
        let gate = SendGate::new();
        let (count, w) = waker();
        let mut cx = Context::from_waker(&w);
        assert!(gate.claim_with_ref());
        assert!(gate.poll_settle(&mut cx).is_pending());
        assert!(!gate.finish_and_release(Err(io::Error::from(io::ErrorKind::ConnectionReset))));
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert_eq!(refs(&gate), 1);
        assert!(!gate.is_idle());
        assert!(!gate.claim_with_ref(), "claimed over an unreported failure");
        match gate.poll_settle(&mut cx) {
            Poll::Ready(Err(e)) => assert_eq!(e.kind(), io::ErrorKind::ConnectionReset),
            other => panic!("expected the send's error, got {other:?}"),
        }
        assert_eq!(refs(&gate), 1);
        assert!(matches!(gate.poll_settle(&mut cx), Poll::Ready(Ok(()))));
        assert!(gate.claim_with_ref());
    }
}
