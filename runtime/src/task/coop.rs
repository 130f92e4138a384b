//! Cooperative scheduling: a budget of ready results per task poll.
//!
//! A task gives its worker back only when a poll returns `Pending`. A task
//! whose every await is ready at once (a socket with bytes always queued,
//! a `timeout` of zero, a sleep already due, a join of a finished task)
//! would never return, so the worker would neither run its other tasks
//! nor enter the ring. So each poll of a task starts with a budget of
//! [`TASK_BUDGET`] ready results: every ringbolt future that completes
//! (an op, a stream read, a sleep, a join) spends one, and once the budget
//! is spent they all return `Pending` and wake the task at once, which
//! goes to the back of the run queue, as tokio's coop budget does. A
//! future that returns `Pending` on its own spends nothing.
//!
//! Outside a task's poll (a blocking-pool thread, code outside any
//! runtime) and inside [`unconstrained`] there is no budget.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Ready results one poll of a task may see before it has to yield
/// (tokio's figure).
pub const TASK_BUDGET: u8 = 128;

/// The budget's value where none applies.
const UNCONSTRAINED: u8 = u8::MAX;
const _: () = assert!(
    TASK_BUDGET < UNCONSTRAINED,
    "the task budget is not the marker"
);

thread_local! {
    static BUDGET: Cell<u8> = const { Cell::new(UNCONSTRAINED) };
}

/// Runs `f` (one poll of a task) with a fresh budget, and restores the
/// budget of the poll around it after (a future polled inside another,
/// `block_on` inside a task's poll, keeps its own count).
pub(crate) fn with_budget<R>(f: impl FnOnce() -> R) -> R {
    with(TASK_BUDGET, f)
}

fn with<R>(budget: u8, f: impl FnOnce() -> R) -> R {
    struct Restore(u8);
    impl Drop for Restore {
        fn drop(&mut self) {
            BUDGET.with(|b| b.set(self.0));
        }
    }
    let _restore = Restore(BUDGET.with(|b| b.replace(budget)));
    f()
}

/// `Pending` (and the task woken to be polled again) once this poll's
/// budget is spent; `Ready` while results may still be handed out. A
/// future checks it before it takes its result, and calls
/// [`spend`] once it returns one.
#[inline]
pub(crate) fn poll_proceed(cx: &mut Context<'_>) -> Poll<()> {
    if BUDGET.with(Cell::get) == 0 {
        cx.waker().wake_by_ref();
        return Poll::Pending;
    }
    Poll::Ready(())
}

/// Whether this poll's budget has any unit left (always, outside a
/// task or inside [`unconstrained`]).
#[inline]
pub(crate) fn has_budget() -> bool {
    BUDGET.with(Cell::get) != 0
}

/// Runs `f` with no budget: what it polls is never held back by the
/// budget, and spends none of it.
pub(crate) fn without_budget<R>(f: impl FnOnce() -> R) -> R {
    with(UNCONSTRAINED, f)
}

/// Spends one unit of this poll's budget: a ready result was handed out.
#[inline]
pub(crate) fn spend() {
    BUDGET.with(|b| {
        let n = b.get();
        if n != UNCONSTRAINED && n > 0 {
            b.set(n - 1);
        }
    });
}

/// Polls `f` under the budget: `Pending` without calling it once the
/// budget is spent; a unit spent if it is ready.
#[inline]
pub(crate) fn budgeted<T>(
    cx: &mut Context<'_>,
    f: impl FnOnce(&mut Context<'_>) -> Poll<T>,
) -> Poll<T> {
    std::task::ready!(poll_proceed(cx));
    let polled = f(cx);
    if polled.is_ready() {
        spend();
    }
    polled
}

/// Spends one unit of the current task's budget, yielding first if it is
/// spent: a long computation that awaits nothing else (or only futures of
/// other crates) calls it now and then to let the worker run its other
/// tasks and the ring.
///
/// # Examples
///
/// ```
/// ringbolt_runtime::run(async {
///     let mut sum = 0u64;
///     for i in 0..10_000u64 {
///         sum += i;
///         ringbolt_runtime::task::consume_budget().await;
///     }
///     assert_eq!(sum, 49_995_000);
/// });
/// ```
pub async fn consume_budget() {
    std::future::poll_fn(|cx| budgeted(cx, |_| Poll::Ready(()))).await
}

/// Runs `future` without a budget: ringbolt's futures inside it never
/// yield for the budget's sake (they still return `Pending` while they
/// wait). For a future that must finish what is ready before anything
/// else runs; a loop inside it that never waits starves the worker.
///
/// # Examples
///
/// ```
/// use ringbolt_runtime::task::unconstrained;
///
/// ringbolt_runtime::run(async {
///     let n = unconstrained(async {
///         let mut n = 0;
///         for _ in 0..1_000 {
///             ringbolt_runtime::task::consume_budget().await;
///             n += 1;
///         }
///         n
///     })
///     .await;
///     assert_eq!(n, 1_000);
/// });
/// ```
pub fn unconstrained<F: Future>(future: F) -> Unconstrained<F> {
    Unconstrained { future }
}

/// The future of [`unconstrained`].
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct Unconstrained<F> {
    future: F,
}

impl<F: Future> Future for Unconstrained<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `future` is structurally pinned: it is never moved out of
        // `self` nor reached unpinned.
        let future = unsafe { self.map_unchecked_mut(|u| &mut u.future) };
        with(UNCONSTRAINED, || future.poll(cx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_runs_out_and_is_restored_after_the_poll() {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert!(poll_proceed(&mut cx).is_ready(), "no budget outside a task");
        with_budget(|| {
            for _ in 0..TASK_BUDGET {
                assert!(budgeted(&mut cx, |_| Poll::Ready(())).is_ready());
            }
            assert!(budgeted(&mut cx, |_| Poll::Ready(())).is_pending());
            // Pending results spend nothing, and a nested poll has its own.
            with_budget(|| assert!(budgeted(&mut cx, |_| Poll::<()>::Pending).is_pending()));
            assert!(poll_proceed(&mut cx).is_pending());
        });
        assert!(poll_proceed(&mut cx).is_ready());
        with_budget(|| {
            assert!(budgeted(&mut cx, |_| Poll::<()>::Pending).is_pending());
            assert_eq!(BUDGET.with(Cell::get), TASK_BUDGET);
        });
    }
}
