//! The task side of a group child: a child that fails cancels its group at
//! once, and a child of a cancelled group stops at its next suspension,
//! whether or not anyone is joining the group yet.
//!
//! [`FailFast`] wraps the future a child runs. When the future returns
//! `Err` or panics, it fires the group's token before the task ends. Every
//! child also watches that token: woken by it, it is polled once more, and
//! when its future suspends again (returns `Pending`), the future is dropped
//! there, which cancels its in-flight operations, and the child ends as
//! cancelled. So a child that was already about to fail (woken in the same
//! tick as the first failure) still reports its own error, as two errors
//! raised at once.

use std::future::Future;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use ringbolt_sync::{CancellationToken, WaitForCancellationFutureOwned};

/// How a child task ended.
pub(super) enum Ended<T, E> {
    /// Its future finished with this result.
    Done(Result<T, E>),
    /// The group was cancelled first; its future was dropped unfinished.
    Cancelled,
}

/// A child's future, run so that a failure cancels the group and a
/// cancelled group stops the child (see the module docs).
pub(super) struct FailFast<F> {
    /// `None` once finished or dropped for a cancellation. Structurally
    /// pinned: never moved out, only dropped in place.
    inner: Option<F>,
    /// The group's token, as this child watches and fires it.
    watch: Watch,
}

/// A child's hold on its group's token.
struct Watch {
    /// The group's token, fired on a failure.
    token: CancellationToken,
    /// Wakes this child when the token fires.
    cancelled: WaitForCancellationFutureOwned,
    /// The waker `cancelled` was last polled with: polled again only for
    /// another waker, so that a child's polls do not all take the token's
    /// lock (which every child of the group shares).
    registered: Option<Waker>,
}

impl<F> FailFast<F> {
    pub(super) fn new(inner: F, token: CancellationToken) -> Self {
        FailFast {
            inner: Some(inner),
            watch: Watch {
                cancelled: token.clone().cancelled_owned(),
                token,
                registered: None,
            },
        }
    }
}

impl Watch {
    /// Whether the group is cancelled; if not, the token will wake this
    /// child (with `cx`'s waker) when it fires.
    fn group_cancelled(&mut self, cx: &mut Context<'_>) -> bool {
        if self.token.is_cancelled() {
            return true;
        }
        if let Some(w) = &self.registered {
            if w.will_wake(cx.waker()) {
                return false;
            }
        }
        self.registered = Some(cx.waker().clone());
        Pin::new(&mut self.cancelled).poll(cx).is_ready()
    }
}

impl<F, T, E> Future for FailFast<F>
where
    F: Future<Output = Result<T, E>>,
{
    type Output = Ended<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Ended<T, E>> {
        // SAFETY: `inner` is pinned structurally: it is only reached through
        // `Pin<&mut Option<F>>` below and dropped in place by `Pin::set`,
        // never moved. `watch` is `Unpin` and not pinned.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above; `this` is not used to move `inner`.
        let mut inner = unsafe { Pin::new_unchecked(&mut this.inner) };
        let Some(future) = inner.as_mut().as_pin_mut() else {
            // Polled after it ended (a task never does that).
            return Poll::Ready(Ended::Cancelled);
        };
        // The unwind is resumed at once; nothing observes the future's
        // state in between.
        match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
            Ok(Poll::Ready(res)) => {
                if res.is_err() {
                    this.watch.token.cancel();
                }
                inner.set(None);
                Poll::Ready(Ended::Done(res))
            }
            Ok(Poll::Pending) => {
                if this.watch.group_cancelled(cx) {
                    // Suspended in a cancelled group: it stops here.
                    inner.set(None);
                    return Poll::Ready(Ended::Cancelled);
                }
                Poll::Pending
            }
            Err(panic) => {
                this.watch.token.cancel();
                resume_unwind(panic)
            }
        }
    }
}
